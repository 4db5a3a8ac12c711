import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "./format";
import { rngFor, shuffled } from "../util/rng";

export interface Batch {
  /** [B, H, W, 3] in 0..1 */
  xs: tf.Tensor4D;
  labels: Int32Array;
  indices: number[];
}

/** The visiting order of one epoch: a permutation fixed by (seed, epoch), or 0..n-1. */
export function epochOrder(count: number, seed: number, epoch: number, shuffle: boolean): number[] {
  return shuffle ? shuffled(rngFor(seed, "epoch", epoch), count) : Array.from({ length: count }, (_, i) => i);
}

/**
 * Streams batches from disk: only the batch being built is in memory as float32, never the whole
 * split. The caller owns (and disposes) each batch's tensor.
 */
export function* batches(reader: SplitReader, order: number[], batchSize: number): Generator<Batch> {
  const { height, width, channels } = reader.header.image;
  const per = height * width * channels;
  const bytes = new Uint8Array(batchSize * per);
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    const n = indices.length;
    indices.forEach((idx, k) => reader.image(idx, bytes, k * per));
    const floats = new Float32Array(n * per);
    for (let i = 0; i < floats.length; i++) floats[i] = bytes[i] / 255;
    yield {
      xs: tf.tensor4d(floats, [n, height, width, channels]),
      labels: Int32Array.from(indices, (i) => reader.records.labels[i]),
      indices,
    };
  }
}
