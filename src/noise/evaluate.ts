import * as path from "path";
import { mean, sampleSd } from "../util/stats";
import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { splitFile } from "../data/generate";
import { loadRunModel } from "../experiment/run";
import { ContestConfig, contestRunName } from "../experiment/contest";
import { addNoise, NoiseBand, NoiseSpec, validateNoise } from "./filtered";

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
  band: NoiseBand;
  strength: number;
  acc_per_seed: number[];
  acc_mean: number;
  acc_sd: number;
  /** Test images per seed. */
  count: number;
}

/**
 * Noise curves of every finished contest run (notebook 06's runs: `runsDir/<contest>/<run>`), on
 * its task's test split, averaged over seeds.
 */
export async function contestNoiseCurves(
  c: ContestConfig,
  paths: { runsDir: string; dataDir: string },
  bands: NoiseBand[],
  strengths: number[],
  seed: number,
  opts: { limit?: number; log?: (l: string) => void } = {},
): Promise<NoiseCurveRow[]> {
  const rows: NoiseCurveRow[] = [];
  for (const task of c.tasks) {
    const reader = new SplitReader(
      splitFile(path.join(paths.dataDir, `${c.name}-${task}`), "test"),
    );
    try {
      for (const model of c.models) {
        const perSeed: NoiseRow[][] = [];
        for (const s of c.seeds) {
          const m = await loadRunModel(
            path.join(paths.runsDir, c.name),
            contestRunName(model, task, s),
          );
          try {
            perSeed.push(noiseCurves(m, reader, bands, strengths, seed, opts));
          } finally {
            m.dispose();
          }
        }
        perSeed[0].forEach((r, i) => {
          const accs = perSeed.map((p) => p[i].acc);
          rows.push({
            model,
            task,
            band: r.band,
            strength: r.strength,
            acc_per_seed: accs,
            acc_mean: mean(accs),
            acc_sd: sampleSd(accs),
            count: r.count,
          });
        });
        opts.log?.(
          `${task} ${model}: ${bands.length} bands x ${strengths.length} strengths on ${perSeed[0][0].count} test images, ${c.seeds.length} seeds`,
        );
      }
    } finally {
      reader.close();
    }
  }
  return rows;
}

/** Accuracy vs noise strength: one line per model, one panel per band (columns) and task (rows). */
export function noiseCurvesSpec(rows: NoiseCurveRow[], title: string): Record<string, unknown> {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: { values: rows },
    facet: {
      column: { field: "band", type: "nominal", title: "noise band" },
      row: { field: "task", type: "nominal" },
    },
    spec: {
      width: 220,
      height: 180,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "strength", type: "quantitative", title: "noise RMS (0..1 pixel units)" },
        y: {
          field: "acc_mean",
          type: "quantitative",
          scale: { domain: [0, 1] },
          title: "test accuracy (mean over seeds)",
        },
        color: { field: "model", type: "nominal" },
        tooltip: [
          { field: "model" },
          { field: "strength" },
          { field: "acc_mean", format: ".3f" },
          { field: "acc_sd", format: ".3f" },
        ],
      },
    },
  };
}
