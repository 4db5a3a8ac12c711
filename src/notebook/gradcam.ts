/**
 * Notebook 04's work: which runs to explain, the Grad-CAM grids and heat table per run (shown and
 * saved beside the run), and MobileViT's attention maps. The notebook holds narrative and knobs.
 */
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { splitFile } from "../data/spec";
import { imagesToTensor } from "../data/batches";
import { Paths } from "../experiment/protocol";
import { STAGE_LABELS } from "../experiment/stages";
import { verdict } from "../experiment/results";
import { BUDGETS, ExperimentConfig } from "../experiment/config";
import { fieldKnob, Mode, resolveConfig } from "../util/knobs";
import { loadRunModel } from "../experiment/run";
import { readRun } from "../experiment/rundir";
import { createCanvas, Canvas } from "canvas";
import { canvasGrid, compactPNG, drawTile, fitText, tileSide } from "./figures";
import { liveLine, showMarkdown, showPNG } from "./display";
import { experimentRuns, requireFinishedRuns } from "./runs";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic";
import { CamMethod } from "../explain/gradcam";
import {
  explainSplit,
  Explained,
  ExplainedSample,
  HeatRow,
  heatTable,
  heatTableMarkdown,
} from "../explain/analysis";
import { overlay } from "../explain/overlay";
import { attentionMaps } from "../explain/attention";
import { verdictBaseline } from "../util/stats";

/** The knobs of notebook 04. */
export interface GradcamKnobs {
  budget: string;
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

const K = fieldKnob<GradcamKnobs>;
const gradcamKnobs = (budget: string): GradcamKnobs => ({
  budget,
  samples: budget === "tiny" ? 16 : 48,
  method: "gradcam",
  explain: "predicted",
  unfinished: "refuse",
  perGrid: 8,
});

/** Notebook 04's Grad-CAM settings as a mode of the one knob table (same budgets as the experiment's). */
export const GRADCAM: Mode<GradcamKnobs> = {
  name: "Grad-CAM",
  knobs: [
    K("samples", "int", ["samples"], "test puzzles explained per run", { min: 1, max: 100_000 }),
    K("method", "string", ["method"], "gradcam | gradcam++", {
      choices: () => ["gradcam", "gradcam++"],
    }),
    K("explain", "string", ["explain"], "which class each map explains: predicted | true", {
      choices: () => ["predicted", "true"],
    }),
    K(
      "unfinished",
      "string",
      ["unfinished"],
      "unfinished runs: refuse (say what to run) | warn (explain what exists)",
      {
        choices: () => ["refuse", "warn"],
      },
    ),
    K("perGrid", "int", ["perGrid"], "heatmaps per grid (correct and wrong answers)", {
      min: 1,
      max: 64,
    }),
  ],
  budgets: Object.fromEntries(Object.keys(BUDGETS).map((b) => [b, () => gradcamKnobs(b)])),
  validate: (c) => c,
  file: null,
};

export { experimentRuns, ExplainableRun } from "./runs";

/** What a run's test accuracy says, from its metrics.json: the verdict its Grad-CAM must be read with. */
export interface RunReading {
  test_acc: number;
  /** 95 % Wilson interval of the test accuracy. */
  ci95: [number, number];
  /** The rung-blind baseline (chance where none was measured) and which it is. */
  baseline: number;
  baselineName: "rung-blind" | "chance";
  verdict: "learned" | "not learned";
}

/** The reading of a finished run (null when it is not finished). */
export function runReading(runsDir: string, name: string): RunReading | null {
  const rec = readRun(path.join(runsDir, name), name);
  if (rec.state !== "finished") return null;
  const m = rec.metrics!;
  const rungBlind = m.rung_blind_bayes ?? null;
  const baseline = verdictBaseline(rungBlind, m.chance);
  return {
    test_acc: m.test_acc,
    ci95: m.ci95,
    baseline,
    baselineName: rungBlind !== null && rungBlind >= m.chance ? "rung-blind" : "chance",
    verdict: verdict([m.test_acc], m.test_count, baseline),
  };
}

const pc = (v: number) => `${(100 * v).toFixed(1)} %`;

/** One line: test accuracy, its interval's lower bound against the baseline, and the verdict. */
export function readingLine(r: RunReading | null): string {
  if (!r) return "unfinished: no test accuracy yet";
  const cmp = r.verdict === "learned" ? ">" : "<=";
  return `test ${pc(r.test_acc)} (95 % CI ${pc(r.ci95[0])}-${pc(r.ci95[1])}); lower bound ${cmp} ${r.baselineName} ${pc(r.baseline)}: ${r.verdict}`;
}

/** Said beside the heat of a run that learned nothing. */
export const NOISE_CAVEAT =
  "not learned: a model at chance has no route to look at, so its maps and ratios describe noise";

/** Said over a map with no heat at all. */
export const ZERO_MAP = "map is all zero:\nnothing to show";

/** Whether a heatmap has no heat anywhere (Grad-CAM's ReLU removed everything). */
export const isZeroMap = (heat: Float32Array): boolean => heat.every((v) => v === 0);

/**
 * The colour scale of the overlays: what heat 0 .. 1 looks like over a white puzzle background
 * (drawn by the overlay itself, so the bar and the maps cannot disagree).
 */
export function colourBar(width: number, height: number): Canvas {
  const n = 64;
  const white = new Uint8Array(n * n * 3).fill(255);
  const ramp = new Float32Array(n * n).map((_, i) => (i % n) / (n - 1));
  const strip = overlay(white, ramp, n, 1);
  const bar = createCanvas(width, height);
  const ctx = bar.getContext("2d");
  ctx.drawImage(strip, 0, 0, n, 1, 0, 0, width, height);
  ctx.strokeStyle = "#888";
  ctx.strokeRect(0.5, 0.5, width - 1, height - 1);
  return bar;
}

/** Everything one run's figure says. */
export interface CamPanel {
  /** Run name (its folder). */
  name: string;
  /** Run name, marked when unfinished. */
  label: string;
  /** Model, stage, freeze arm. */
  what: string;
  reading: RunReading | null;
  /** e.g. "gradcam at block_13 (8x8 map), explaining the predicted class of 48 test puzzles". */
  method: string;
  samples: ExplainedSample[];
  size: number;
  perGrid: number;
}

/**
 * One figure per run, at most FIGURE_WIDTH wide: the run, its verdict (with the caveat when it
 * learned nothing), its correct and wrong answers side by side in rows, all-zero maps marked, and
 * the colour scale.
 */
export function camFigure(p: CamPanel): Canvas {
  const cols = Math.min(p.perGrid, 8);
  const side = tileSide(p.size * 3, cols);
  const zero = p.samples.filter((s) => isZeroMap(s.heat)).length;
  const head: Array<[string, string, string]> = [
    [p.label, "bold", "black"],
    [`${p.what}. ${readingLine(p.reading)}`, "", "black"],
    [p.method, "", "#444"],
  ];
  if (p.reading?.verdict !== "learned") head.push([NOISE_CAVEAT, "", "#b00020"]);
  if (zero)
    head.push([
      zero === p.samples.length
        ? `all ${zero} maps are zero: nothing to show`
        : `${zero} of ${p.samples.length} maps are all zero (veiled): nothing to show there`,
      "",
      "#b00020",
    ]);
  const groups = [true, false].map((correct) => {
    const all = p.samples.filter((s) => (s.predicted === s.label) === correct);
    return { correct, all, pick: all.slice(0, p.perGrid) };
  });
  const captionH = 18;
  const lineH = 19;
  const gridH = (n: number) => Math.ceil(n / cols) * (side + captionH + 6);
  const body = groups.reduce((h, g) => h + lineH + (g.pick.length ? gridH(g.pick.length) : 4), 0);
  const barH = 40;
  const width = cols * (side + 6) + 6;
  const canvas = createCanvas(Math.max(width, 560), 8 + head.length * lineH + 6 + body + barH);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let y = 8;
  for (const [text, weight, colour] of head) {
    ctx.fillStyle = colour;
    fitText(ctx, text, 6, y + 14, canvas.width - 12, weight ? 15 : 13, 10, weight);
    y += lineH;
  }
  y += 6;
  for (const g of groups) {
    ctx.fillStyle = "black";
    fitText(
      ctx,
      `${g.correct ? "correct" : "wrong"} answers: ${g.all.length} of ${p.samples.length}` +
        (g.pick.length < g.all.length ? `, the first ${g.pick.length} shown` : "") +
        (g.pick.length
          ? ` (caption: ${g.correct ? "the class" : "true class -> the model's answer"})`
          : ""),
      6,
      y + 14,
      canvas.width - 12,
      13,
      10,
      "bold",
    );
    y += lineH;
    g.pick.forEach((s, i) => {
      const x = 6 + (i % cols) * (side + 6);
      const ty = y + Math.floor(i / cols) * (side + captionH + 6);
      const tile = overlay(s.rgb, s.heat, p.size, 3);
      drawTile(ctx, tile, x, ty, side, isZeroMap(s.heat) ? ZERO_MAP : undefined);
      ctx.fillStyle = "black";
      fitText(
        ctx,
        g.correct ? `class ${s.label}` : `true ${s.label} -> ${s.predicted}`,
        x,
        ty + side + 14,
        side,
      );
    });
    y += g.pick.length ? gridH(g.pick.length) : 4;
  }
  drawScale(canvas, y, "Grad-CAM heat, each map scaled to its own maximum (1)");
  return canvas;
}

/** The colour scale (0, 0.5, 1) with its caption, drawn across `canvas` at height `y`. */
function drawScale(canvas: Canvas, y: number, caption: string): void {
  const ctx = canvas.getContext("2d");
  const barW = 220;
  ctx.drawImage(colourBar(barW, 12), 6, y + 6);
  ctx.fillStyle = "#333";
  ctx.font = `11px sans-serif`;
  ctx.fillText("0", 6, y + 31);
  ctx.textAlign = "center";
  ctx.fillText("0.5", 6 + barW / 2, y + 31);
  ctx.textAlign = "right";
  ctx.fillText("1", 6 + barW, y + 31);
  ctx.textAlign = "left";
  fitText(ctx, caption, barW + 16, y + 17, canvas.width - barW - 22, 12);
}

/** The colour scale under the attention maps (each min-max scaled to 0..1). */
function attentionScale(): Canvas {
  const canvas = createCanvas(560, 40);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  drawScale(
    canvas,
    0,
    "attention received, each map scaled from its own minimum (0) to its maximum (1)",
  );
  return canvas;
}

/** The summary: one row per run, its verdict first, and the caveat beside the ratios of a run that learned nothing. */
export function camSummaryMarkdown(
  runs: Array<{ label: string; reading: RunReading | null; row: HeatRow | undefined }>,
): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "");
  const sp = (s: HeatRow["routeRatio"]) =>
    s.n ? `${f(s.median)} (${f(s.q1)}-${f(s.q3)}), ${(100 * s.above1).toFixed(0)} % > 1` : "";
  return [
    "| run | test acc % (95 % CI) | baseline % | verdict | maps (all zero) | route / not taken: median (IQR), share > 1 | route circles / other circles | what the ratios show |",
    "|---|---|---|---|---|---|---|---|",
    ...runs.map(({ label, reading: r, row }) => {
      const acc = r
        ? `${(100 * r.test_acc).toFixed(1)} (${(100 * r.ci95[0]).toFixed(1)}-${(100 * r.ci95[1]).toFixed(1)})`
        : "unfinished";
      const base = r ? `${(100 * r.baseline).toFixed(1)} ${r.baselineName}` : "";
      const blank = row && row.blank ? ` (${row.blank})` : " (0)";
      const learned = r?.verdict === "learned";
      const allZero = row !== undefined && row.blank === row.n;
      const reading = allZero
        ? "nothing: every map is zero"
        : learned
          ? "where the model looks"
          : "**noise**: a model at chance has no route to look at";
      return `| ${label} | ${acc} | ${base} | ${r ? r.verdict : "no verdict"} | ${row ? row.n : 0}${blank} | ${row ? sp(row.routeRatio) : ""} | ${row ? sp(row.circleRatio) : ""} | ${reading} |`;
    }),
  ].join("\n");
}

/**
 * Grad-CAM for every run of the experiment. Leads with the summary table (one row per run: its
 * verdict, then the heat ratios with what they can show), then one figure per run (camFigure;
 * saved as runs/<experiment>/<run>/gradcam.png), then the table per group of answers (also saved
 * as runs/<experiment>/gradcam.json). A few outputs in all, so JupyterLab folds none of them away.
 * Unfinished runs stop it before any work, or with `unfinished: "warn"` are explained and marked.
 */
export async function gradcamReport(
  cfg: ExperimentConfig,
  paths: Paths,
  knobs: Partial<GradcamKnobs> = {},
): Promise<HeatRow[]> {
  const k = resolveConfig(
    GRADCAM,
    gradcamKnobs("quick"),
    Object.entries(knobs)
      .filter(([key]) => key !== "budget")
      .map(([key, value]) => ({ key, value: value as never, source: "cell" })),
  ).config;
  const runsDir = path.join(paths.runsDir, cfg.name);
  const runs = experimentRuns(cfg, paths);
  const states = requireFinishedRuns(runsDir, runs, { reader: "04_gradcam", mode: k.unfinished });
  const rows: HeatRow[] = [];
  const panels: CamPanel[] = [];
  const progress = liveLine();
  const t0 = Date.now();
  const todo = runs.filter((r) => states.find((s) => s.name === r.name)!.state !== "missing");
  for (const [i, run] of todo.entries()) {
    const state = states.find((s) => s.name === run.name)!;
    progress(`explaining ${run.name} (${i + 1} of ${todo.length})`);
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
      const panel: CamPanel = {
        name: run.name,
        label,
        what: `${cfg.models[run.track]}, ${STAGE_LABELS[run.stage]}${run.stage === "finetune" ? ` (frozen: ${run.arm})` : ""}, seed ${run.seed}`,
        reading: runReading(runsDir, run.name),
        method: `${k.method} at ${layer} (${side}x${side} map), explaining the ${k.explain} class of ${samples.length} test puzzles`,
        samples,
        size: reader.header.spec.difficulty.size,
        perGrid: k.perGrid,
      };
      panels.push(panel);
      rows.push(...heatTable(label, samples));
    } finally {
      reader.close();
      model.dispose();
    }
  }
  progress(
    `explained ${todo.length} runs in ${((Date.now() - t0) / 1000).toFixed(0)} s (${k.samples} test puzzles each)`,
  );
  showMarkdown(
    camSummaryMarkdown(
      panels.map((p) => ({
        label: p.label,
        reading: p.reading,
        row: rows.find((r) => r.run === p.label && r.group === "all"),
      })),
    ),
  );
  for (const p of panels) {
    const png = compactPNG(camFigure(p));
    showPNG(png);
    writeFileAtomic(path.join(runsDir, p.name, "gradcam.png"), png);
    p.samples = []; // the pixels are drawn; let them go
  }
  writeJsonAtomic(path.join(runsDir, "gradcam.json"), {
    method: k.method,
    explain: k.explain,
    samples: k.samples,
    verdicts: Object.fromEntries(panels.map((p) => [p.label, p.reading])),
    rows,
  });
  showMarkdown(
    `Per group of answers (all, correct, wrong); \`blank\`: maps that are all zero.\n\n${heatTableMarkdown(rows)}`,
  );
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
  opts: { run?: string; count?: number; unfinished?: GradcamKnobs["unfinished"] } = {},
): Promise<void> {
  const count = opts.count ?? 6;
  const unfinished = opts.unfinished ?? "refuse";
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
    const reading = runReading(runsDir, run.name);
    showMarkdown(
      `### ${run.name}\n\n${readingLine(reading)}` +
        (reading?.verdict === "learned"
          ? ""
          : `\n\n<span style="color:#b00020">${NOISE_CAVEAT}</span>`),
    );
    const single = blocks.filter((b) => b.patches === 1).map((b) => b.block);
    for (const b of blocks.filter((b) => b.patches > 1)) {
      showMarkdown(`attention received per patch, **${b.block}** (over ${b.patches} patches)`);
      showPNG(
        compactPNG(
          canvasGrid(
            b.maps.map((m, k) => overlay(imgs[k], m, size, 3)),
            idx.map((i) => `label ${reader.records.labels[i]}`),
            { cols: idx.length },
          ),
        ),
      );
    }
    showPNG(compactPNG(attentionScale()));
    if (single.length)
      showMarkdown(
        `Not shown: ${single.join(", ")} attend${single.length === 1 ? "s" : ""} over a single patch at ${size} px (attention is 1 everywhere).`,
      );
  } finally {
    reader.close();
    model.dispose();
  }
}
