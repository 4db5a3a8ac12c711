import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "./format";
import { rngFor, shuffled } from "../util/rng";

export interface Batch {
  /** [B, H, W, 3] in 0..1 */
  xs: tf.Tensor4D;
  labels: Int32Array;
  indices: number[];
}

/**
 * RGB images (bytes: one array per image, or the images back to back) as one [n, height, width, 3]
 * float tensor in 0..1: the models' input.
 */
export function imagesToTensor(
  images: Uint8Array[] | Uint8Array,
  height: number,
  width: number,
): tf.Tensor4D {
  const per = height * width * 3;
  const n = images instanceof Uint8Array ? images.length / per : images.length;
  const floats = new Float32Array(n * per);
  if (images instanceof Uint8Array) for (let i = 0; i < n * per; i++) floats[i] = images[i] / 255;
  else
    images.forEach((img, k) => {
      for (let i = 0; i < per; i++) floats[k * per + i] = img[i] / 255;
    });
  return tf.tensor4d(floats, [n, height, width, 3]);
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
  const { height, width } = reader.header.image;
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    yield {
      xs: imagesToTensor(
        indices.map((idx) => reader.image(idx)),
        height,
        width,
      ),
      labels: Int32Array.from(indices, (i) => reader.records.labels[i]),
      indices,
    };
  }
}
