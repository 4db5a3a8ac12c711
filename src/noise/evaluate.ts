import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
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
export function noisyAccuracy(model: tf.LayersModel, reader: SplitReader, n: NoiseSpec, opts: { batchSize?: number; limit?: number } = {}): { acc: number; count: number } {
  validateNoise(n);
  const side = reader.header.image.height;
  const count = Math.min(reader.count, opts.limit ?? reader.count);
  const bs = opts.batchSize ?? 64;
  let correct = 0;
  for (let start = 0; start < count; start += bs) {
    const idx = Array.from({ length: Math.min(bs, count - start) }, (_, k) => start + k);
    const data = new Float32Array(idx.length * side * side * 3);
    idx.forEach((i, k) => data.set(addNoise(reader.image(i), side, i, n), k * side * side * 3));
    const pred = tf.tidy(() => tf.argMax(model.predict(tf.tensor4d(data, [idx.length, side, side, 3])) as tf.Tensor, 1).dataSync());
    idx.forEach((i, k) => (correct += pred[k] === reader.records.labels[i] ? 1 : 0));
  }
  return { acc: correct / count, count };
}

/** Accuracy at every (band, strength); strength 0 (the clean test set) is measured once per band. */
export function noiseCurves(model: tf.LayersModel, reader: SplitReader, bands: NoiseBand[], strengths: number[], seed: number, opts: { limit?: number } = {}): NoiseRow[] {
  const rows: NoiseRow[] = [];
  for (const band of bands) for (const strength of strengths) rows.push({ band, strength, ...noisyAccuracy(model, reader, { band, strength, seed }, opts) });
  return rows;
}
