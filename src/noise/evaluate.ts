import { mean, sampleSd } from "../util/stats";
import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { splitFile } from "../data/spec";
import { loadRunModel } from "../experiment/run";
import { GridConfig, gridPlan } from "../experiment/grid";
import { runPlan } from "../experiment/runner";
import { everyBudget, fieldKnob, Mode } from "../util/knobs";
import { markdownTable, pct } from "../report/table";
import { validateName } from "../util/names";
import { addNoise, NOISE_BANDS, NoiseBand, NoiseSpec, validateNoise } from "./filtered";

/** One point of a noise-robustness curve. */
export interface NoiseRow {
  band: NoiseBand;
  /** RMS of the added noise (0..1 pixel units). */
  strength: number;
  /** Accuracy on the noisy test images. */
  acc: number;
  count: number;
}

/** Accuracy of `model` on the first `limit` images of `reader` with noise `n` added. */
export function noisyAccuracy(
  model: tf.LayersModel,
  reader: SplitReader,
  n: NoiseSpec,
  opts: { batchSize?: number; limit?: number } = {},
): { acc: number; count: number } {
  validateNoise(n);
  const side = reader.header.image.height;
  const count = Math.min(reader.count, opts.limit ?? reader.count);
  const bs = opts.batchSize ?? 64;
  let correct = 0;
  for (let start = 0; start < count; start += bs) {
    const idx = Array.from({ length: Math.min(bs, count - start) }, (_, k) => start + k);
    const data = new Float32Array(idx.length * side * side * 3);
    idx.forEach((i, k) => data.set(addNoise(reader.image(i), side, i, n), k * side * side * 3));
    const pred = tf.tidy(() =>
      tf
        .argMax(model.predict(tf.tensor4d(data, [idx.length, side, side, 3])) as tf.Tensor, 1)
        .dataSync(),
    );
    idx.forEach((i, k) => (correct += pred[k] === reader.records.labels[i] ? 1 : 0));
  }
  return { acc: correct / count, count };
}

/** Accuracy at every (band, strength); strength 0 (the clean test set) is measured once per band. */
export function noiseCurves(
  model: tf.LayersModel,
  reader: SplitReader,
  bands: NoiseBand[],
  strengths: number[],
  seed: number,
  opts: { limit?: number } = {},
): NoiseRow[] {
  const rows: NoiseRow[] = [];
  for (const band of bands)
    for (const strength of strengths)
      rows.push({
        band,
        strength,
        ...noisyAccuracy(model, reader, { band, strength, seed }, opts),
      });
  return rows;
}

/** One model's noise curve point over its training seeds. */
export interface NoiseCurveRow {
  model: string;
  task: string;
  difficulty: string;
  band: NoiseBand;
  strength: number;
  acc_per_seed: number[];
  acc_mean: number;
  acc_sd: number;
  /** Test images per seed. */
  count: number;
}

/** Notebook 07's settings: which contest's runs, and the noise. */
export interface NoiseConfig {
  /** The contest (grid) whose saved config and runs are read: runs/<name>/grid.json. */
  name: string;
  budget: string;
  bands: NoiseBand[];
  /** Noise RMS in 0..1 pixel units (0: the clean test set). */
  strengths: number[];
  /** Fixes every noise field. */
  noiseSeed: number;
  /** Test images per model (0: the whole test split). */
  limit: number;
}

export const NOISE_BUDGETS: Record<string, () => NoiseConfig> = {
  quick: () => ({
    name: "contest",
    budget: "quick",
    bands: ["low", "high"],
    strengths: [0, 0.05, 0.1, 0.2, 0.3],
    noiseSeed: 0,
    limit: 0,
  }),
  tiny: () => ({ ...NOISE_BUDGETS.quick(), budget: "tiny", strengths: [0, 0.2], limit: 16 }),
};

const K = fieldKnob<NoiseConfig>;

export const NOISE: Mode<NoiseConfig> = {
  name: "noise study",
  knobs: [
    K("name", "string", ["name"], "the contest whose runs are tested (notebook 06's name)"),
    K("bands", "strings", ["bands"], `noise bands: ${NOISE_BANDS.join(" | ")}`, {
      choices: () => NOISE_BANDS,
    }),
    K("strengths", "numbers", ["strengths"], "noise RMS in 0..1 pixel units (0: clean)", {
      min: 0,
      max: 10,
    }),
    K("noiseSeed", "int", ["noiseSeed"], "fixes every noise field", { min: 0, max: 2 ** 31 }),
    K("limit", "int", ["limit"], "test images per model (0: the whole test split)", {
      min: 0,
      max: 1e9,
    }),
  ],
  budgets: everyBudget(NOISE_BUDGETS),
  validate: (c) => {
    validateName("contest", c.name);
    if (c.bands.length === 0 || c.strengths.length === 0)
      throw new Error("bands and strengths need at least one value each");
    return c;
  },
  file: null,
};

/**
 * Noise curves of every cell of a finished grid (notebook 06's contest: its runs are reused, missing
 * ones trained), on each cell's test split, averaged over seeds.
 */
export async function gridNoiseCurves(
  g: GridConfig,
  n: NoiseConfig,
  paths: { runsDir: string; dataDir: string },
  opts: { log?: (l: string) => void; runLine?: (run: string, line: string) => void } = {},
): Promise<NoiseCurveRow[]> {
  const plan = gridPlan(g, paths);
  await runPlan(plan, { parallel: g.parallel, log: opts.log, runLine: opts.runLine });
  const rows: NoiseCurveRow[] = [];
  const groups = new Map<string, typeof plan.cells>();
  for (const c of plan.cells.filter((c) => c.cell.init === "scratch")) {
    const k = JSON.stringify(c.cell);
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  for (const cs of groups.values()) {
    const { cell } = cs[0];
    const reader = new SplitReader(splitFile(cs[0].run.config.data, "test"));
    try {
      const perSeed: NoiseRow[][] = [];
      for (const c of cs) {
        const m = await loadRunModel(plan.dir, c.run.config.name);
        try {
          perSeed.push(
            noiseCurves(m, reader, n.bands, n.strengths, n.noiseSeed, {
              limit: n.limit || undefined,
            }),
          );
        } finally {
          m.dispose();
        }
      }
      perSeed[0].forEach((r, i) => {
        const accs = perSeed.map((p) => p[i].acc);
        rows.push({
          model: cell.model,
          task: cell.task,
          difficulty: cell.difficulty,
          band: r.band,
          strength: r.strength,
          acc_per_seed: accs,
          acc_mean: mean(accs),
          acc_sd: sampleSd(accs),
          count: r.count,
        });
      });
      opts.log?.(
        `${cell.task} ${cell.model}: ${n.bands.length} bands x ${n.strengths.length} strengths on ${perSeed[0][0].count} test images, ${cs.length} seeds`,
      );
    } finally {
      reader.close();
    }
  }
  return rows;
}

/** The noise curves as a table: one row per task, model and band, one column per strength. */
export function noiseMarkdown(rows: NoiseCurveRow[], strengths: number[]): string {
  const keys = [...new Set(rows.map((r) => `${r.task}|${r.model}|${r.band}`))];
  return markdownTable(
    keys.map((k) => {
      const [task, model, band] = k.split("|");
      const at = (s: number) =>
        rows.find((r) => `${r.task}|${r.model}|${r.band}` === k && r.strength === s)!;
      return {
        task,
        model,
        band,
        ...Object.fromEntries(
          strengths.map((s) => [`${s}`, `${pct(at(s).acc_mean)} ± ${pct(at(s).acc_sd)}`]),
        ),
      };
    }),
  );
}
