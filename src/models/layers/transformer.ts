/** The transformer layer the project's transformers share (MobileViT's blocks, ViT, NesT, the MAE decoder). */
import * as tf from "@tensorflow/tfjs";
import { MultiHeadSelfAttention } from "./attention";
import { LayerNorm } from "./layernorm";
import { Seeds } from "./init";

type SymTensor = tf.SymbolicTensor;

/** Attention heads unless a model says otherwise (MobileViT's). */
const HEADS = 4;

/** Pre-norm transformer layer: x + MHSA(LN(x)), then x + MLP(LN(x)) with SiLU (or `act`); MobileViT, ViT, NesT and the MAE decoder use it. */
export function transformerLayer(
  x: SymTensor,
  o: {
    dim: number;
    ffn: number;
    name: string;
    seeds: Seeds;
    heads?: number;
    act?: "swish" | "gelu";
  },
): SymTensor {
  const ln1 = new LayerNorm({ epsilon: 1e-5, name: `${o.name}_ln1` }).apply(x) as SymTensor;
  const attn = new MultiHeadSelfAttention({
    dim: o.dim,
    heads: o.heads ?? HEADS,
    seed: o.seeds.int(),
    name: `${o.name}_attn`,
  }).apply(ln1) as SymTensor;
  const x1 = tf.layers.add({ name: `${o.name}_add1` }).apply([x, attn]) as SymTensor;
  const ln2 = new LayerNorm({ epsilon: 1e-5, name: `${o.name}_ln2` }).apply(x1) as SymTensor;
  const h = tf.layers
    .dense({
      units: o.ffn,
      activation: o.act ?? "swish",
      name: `${o.name}_mlp1`,
      kernelInitializer: o.seeds.glorotUniform(),
    })
    .apply(ln2) as SymTensor;
  const m = tf.layers
    .dense({ units: o.dim, name: `${o.name}_mlp2`, kernelInitializer: o.seeds.glorotUniform() })
    .apply(h) as SymTensor;
  return tf.layers.add({ name: `${o.name}_add2` }).apply([x1, m]) as SymTensor;
}
