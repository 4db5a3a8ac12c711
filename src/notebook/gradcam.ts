/**
 * Notebook 04's work: which runs to explain, the Grad-CAM grids and heat table per run (shown and
 * saved beside the run), and MobileViT's attention maps. The notebook holds narrative and knobs.
 */
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { splitFile } from "../data/spec";
import { imagesToTensor } from "../data/batches";
import { dataDirs, Paths, protocolRuns } from "../experiment/protocol";
import { Stage } from "../experiment/stages";
import { ExperimentConfig, Track } from "../experiment/config";
import { loadRunModel } from "../experiment/run";
import { canvasGrid } from "./figures";
import { showMarkdown, showPNG } from "./display";
import { requireFinishedRuns } from "./runs";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic";
import { CamMethod } from "../explain/gradcam";
import {
  explainSplit,
  Explained,
  HeatRow,
  heatTable,
  heatTableMarkdown,
} from "../explain/analysis";
import { overlay } from "../explain/overlay";
import { attentionMaps } from "../explain/attention";

/** The knobs of notebook 04. */
export interface GradcamKnobs {
  /** Test puzzles explained per run. */
  samples: number;
  method: CamMethod;
  /** Explain the model's answer (default) or the true class. */
  explain: Explained;
  /** Unfinished or missing runs: stop with what to run first ("refuse"), or explain what exists, marked ("warn"). */
  unfinished: "refuse" | "warn";
  /** Heatmaps per grid (correct and wrong answers each get one). */
  perGrid: number;
}

export const DEFAULT_GRADCAM_KNOBS: GradcamKnobs = {
  samples: 48,
  method: "gradcam",
  explain: "predicted",
  unfinished: "refuse",
  perGrid: 8,
};

/** Knobs as a notebook's config cell gives them (strings from the environment), checked and typed. */
export type LooseKnobs = Partial<Record<keyof GradcamKnobs, string | number>>;

function validateKnobs(loose: LooseKnobs): GradcamKnobs {
  const known = Object.keys(DEFAULT_GRADCAM_KNOBS);
  for (const key of Object.keys(loose))
    if (!known.includes(key))
      throw new Error(`unknown Grad-CAM knob '${key}'; allowed: ${known.join(", ")}`);
  const k = { ...DEFAULT_GRADCAM_KNOBS, ...loose } as Record<keyof GradcamKnobs, string | number>;
  const oneOf = <T extends string>(name: keyof GradcamKnobs, allowed: readonly T[]): T => {
    if (!allowed.includes(k[name] as T))
      throw new Error(`${name} must be one of ${allowed.join(", ")}, got '${k[name]}'`);
    return k[name] as T;
  };
  const count = (name: keyof GradcamKnobs): number => {
    if (!Number.isInteger(k[name]) || (k[name] as number) < 1)
      throw new Error(`${name} must be an integer >= 1, got ${k[name]}`);
    return k[name] as number;
  };
  return {
    samples: count("samples"),
    perGrid: count("perGrid"),
    method: oneOf("method", ["gradcam", "gradcam++"] as const),
    explain: oneOf("explain", ["predicted", "true"] as const),
    unfinished: oneOf("unfinished", ["refuse", "warn"] as const),
  };
}

/** A run of the experiment with its place in the protocol, its data set, and the notebook that makes it. */
export interface ExplainableRun {
  name: string;
  track: Track;
  stage: Stage;
  /** Freeze group of a fine-tune, `none` otherwise. */
  arm: string;
  seed: number;
  /** Data set directory it was trained and tested on. */
  data: string;
  notebook: string;
}

/** Every run of the experiment (names from the protocol), CNN track first. */
export function experimentRuns(cfg: ExperimentConfig, paths: Paths): ExplainableRun[] {
  return protocolRuns(cfg, dataDirs(cfg, paths.dataDir), path.join(paths.runsDir, cfg.name)).map(
    (r) => ({
      name: r.config.name,
      track: r.track,
      stage: r.stage,
      arm: r.arm,
      seed: r.seed,
      data: r.config.data,
      notebook: r.stage === "stage1" ? "02_train_plain" : "03_warp_finetune",
    }),
  );
}

/**
 * Grad-CAM for every run of the experiment: per run a grid of correct and of wrong answers
 * (caption: true / predicted class; saved as runs/<experiment>/<run>/gradcam-{correct,wrong}.png)
 * and its heat table rows; then the whole table, also saved as runs/<experiment>/gradcam.json.
 * Unfinished runs stop it before any work, or with `unfinished: "warn"` are explained and marked.
 */
export async function gradcamReport(
  cfg: ExperimentConfig,
  paths: Paths,
  knobs: LooseKnobs = {},
): Promise<HeatRow[]> {
  const k = validateKnobs({ ...DEFAULT_GRADCAM_KNOBS, ...knobs });
  const runsDir = path.join(paths.runsDir, cfg.name);
  const runs = experimentRuns(cfg, paths);
  const states = requireFinishedRuns(runsDir, runs, { reader: "04_gradcam", mode: k.unfinished });
  const rows: HeatRow[] = [];
  for (const run of runs) {
    const state = states.find((s) => s.name === run.name)!;
    if (state.state === "missing") continue;
    const label = state.state === "finished" ? run.name : `${run.name} (UNFINISHED)`;
    const model = await loadRunModel(runsDir, run.name);
    const reader = new SplitReader(splitFile(run.data, "test"));
    try {
      const { layer, samples } = explainSplit(model, reader, "test", {
        n: k.samples,
        method: k.method,
        explain: k.explain,
      });
      const side = (model.getLayer(layer).getOutputAt(0) as tf.SymbolicTensor).shape[1];
      showMarkdown(
        `### ${label}\n${k.method} at \`${layer}\` (${side}x${side} map), explaining the ${k.explain} class of ${samples.length} test puzzles`,
      );
      const size = reader.header.spec.difficulty.size;
      for (const correct of [true, false]) {
        const pick = samples
          .filter((s) => (s.predicted === s.label) === correct)
          .slice(0, k.perGrid);
        if (pick.length === 0) continue;
        showMarkdown(`${correct ? "correct" : "wrong"} answers (caption: true / predicted class)`);
        const png = canvasGrid(
          pick.map((s) => overlay(s.rgb, s.heat, size, 3)),
          pick.map((s) => `y ${s.label} / p ${s.predicted}`),
          { cols: k.perGrid },
        ).toBuffer("image/png");
        showPNG(png);
        writeFileAtomic(
          path.join(runsDir, run.name, `gradcam-${correct ? "correct" : "wrong"}.png`),
          png,
        );
      }
      rows.push(...heatTable(label, samples));
    } finally {
      reader.close();
      model.dispose();
    }
  }
  writeJsonAtomic(path.join(runsDir, "gradcam.json"), {
    method: k.method,
    explain: k.explain,
    samples: k.samples,
    rows,
  });
  showMarkdown(heatTableMarkdown(rows));
  return rows;
}

/**
 * MobileViT's attention on the first `count` test puzzles of a run (default: the first MobileViT
 * fine-tune): per MobileViT block, the attention each patch receives. Blocks that attend over a
 * single patch (their attention is the identity) get one line saying so instead of a blank panel.
 */
export async function attentionReport(
  cfg: ExperimentConfig,
  paths: Paths,
  opts: { run?: string; count?: number; unfinished?: string } = {},
): Promise<void> {
  const count = opts.count ?? 6;
  const { unfinished } = validateKnobs({ unfinished: opts.unfinished ?? "refuse" });
  const all = experimentRuns(cfg, paths);
  const run =
    opts.run === undefined
      ? all.find((r) => r.track === "vit" && r.stage === "finetune")
      : all.find((r) => r.name === opts.run);
  if (!run)
    throw new Error(
      `no run '${opts.run ?? "(a MobileViT fine-tune)"}' in experiment '${cfg.name}'; runs: ${all.map((r) => r.name).join(", ")}`,
    );
  const runsDir = path.join(paths.runsDir, cfg.name);
  if (
    requireFinishedRuns(runsDir, [run], { reader: "04_gradcam", mode: unfinished })[0].state ===
    "missing"
  )
    return;
  const model = await loadRunModel(runsDir, run.name);
  const reader = new SplitReader(splitFile(run.data, "test"));
  try {
    const size = reader.header.spec.difficulty.size;
    const idx = Array.from({ length: Math.min(count, reader.count) }, (_, i) => i);
    const imgs = idx.map((i) => reader.image(i));
    const x = imagesToTensor(imgs, size, size);
    const blocks = attentionMaps(model, x);
    x.dispose();
    showMarkdown(`### ${run.name}`);
    const single = blocks.filter((b) => b.patches === 1).map((b) => b.block);
    for (const b of blocks.filter((b) => b.patches > 1)) {
      showMarkdown(`attention received per patch, **${b.block}** (over ${b.patches} patches)`);
      showPNG(
        canvasGrid(
          b.maps.map((m, k) => overlay(imgs[k], m, size, 3)),
          idx.map((i) => `label ${reader.records.labels[i]}`),
          { cols: idx.length },
        ).toBuffer("image/png"),
      );
    }
    if (single.length)
      showMarkdown(
        `Not shown: ${single.join(", ")} attend${single.length === 1 ? "s" : ""} over a single patch at ${size} px (attention is 1 everywhere).`,
      );
  } finally {
    reader.close();
    model.dispose();
  }
}
