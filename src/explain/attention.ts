import * as tf from "@tensorflow/tfjs";
import { MultiHeadSelfAttention } from "../models/layers/attention";

/**
 * MobileViT attention maps: for each MobileViT block, how much attention each patch receives
 * (averaged over heads, queries and the p x p pixel positions), upsampled to the image.
 * Attention in MobileViT runs between patches at the same in-patch position, so "received
 * attention" is the natural per-patch picture of where the global mixing looks.
 */
export interface AttentionBlock {
  /** The MobileViT block, e.g. layer3_mvit. */
  block: string;
  /** Patches each sequence attends over: 1 means the block's attention is the identity. */
  patches: number;
  /** Per image, size*size received attention rescaled to 0..1 (all 0 when patches is 1). */
  maps: Float32Array[];
}

export function attentionMaps(model: tf.LayersModel, images: tf.Tensor4D): AttentionBlock[] {
  const layers = model.layers.filter(
    (l) => l instanceof MultiHeadSelfAttention,
  ) as MultiHeadSelfAttention[];
  if (layers.length === 0)
    throw new Error(`${model.name} has no attention layers (attention maps are for MobileViT)`);
  const captures = layers.map((l) => (l.capture = { maps: null as tf.Tensor | null }));
  try {
    tf.tidy(() => void model.predict(images));
    const [n, size] = images.shape;
    const byBlock = new Map<string, tf.Tensor[]>();
    layers.forEach((l, i) => {
      const block = l.name.replace(/_t\d+_attn$/, "");
      byBlock.set(block, [...(byBlock.get(block) ?? []), captures[i].maps!]);
    });
    return [...byBlock.entries()].map(([block, maps]) => {
      const patches = maps[0].shape[3] as number;
      const out = tf.tidy(() => {
        // [n*p*p, heads, N, N] -> received attention per key patch: [n, N]
        const received = tf.mean(tf.stack(maps.map((m) => tf.mean(m, [1, 2]))), 0) as tf.Tensor2D;
        const tokens = received.shape[1];
        const pp = received.shape[0] / n;
        const perImage = tf.mean(tf.reshape(received, [n, pp, tokens]), 1);
        const grid = Math.round(Math.sqrt(tokens));
        const img = tf.reshape(perImage, [n, grid, tokens / grid, 1]) as tf.Tensor4D;
        const up = tf.image.resizeBilinear(img, [size, size]);
        const lo = tf.min(up, [1, 2, 3], true);
        const hi = tf.max(up, [1, 2, 3], true);
        return tf.div(tf.sub(up, lo), tf.maximum(tf.sub(hi, lo), 1e-12)).dataSync() as Float32Array;
      });
      const per = size * size;
      return {
        block,
        patches,
        maps: Array.from({ length: n }, (_, i) => out.slice(i * per, (i + 1) * per)),
      };
    });
  } finally {
    layers.forEach((l, i) => {
      captures[i].maps?.dispose();
      l.capture = null;
    });
  }
}
