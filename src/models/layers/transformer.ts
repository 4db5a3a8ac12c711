/**
 * The transformer layer the project's transformers share (MobileViT's blocks, ViT, NesT, the MAE
 * decoder), and the pre-norm residual sub-layer it and mmLiT's layer are made of.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiHeadSelfAttention } from "./attention";
import { LayerNorm } from "./layernorm";
import { Seeds } from "./init";

type SymTensor = tf.SymbolicTensor;

/** Attention heads unless a model says otherwise (MobileViT's). */
const HEADS = 4;

/**
 * A pre-norm residual sub-layer, x + f(LN(x)): layers `${name}_ln${i}`, then f's own, then
 * `${name}_add${i}`. Every transformer layer here is two of them (mmLiT's with its own f).
 */
export function preNormResidual(
  x: SymTensor,
  name: string,
  i: number,
  f: (normed: SymTensor) => SymTensor,
): SymTensor {
  const normed = new LayerNorm({ epsilon: 1e-5, name: `${name}_ln${i}` }).apply(x) as SymTensor;
  const y = f(normed);
  return tf.layers.add({ name: `${name}_add${i}` }).apply([x, y]) as SymTensor;
}

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
  const x1 = preNormResidual(x, o.name, 1, (normed) => {
    const attn = new MultiHeadSelfAttention({
      dim: o.dim,
      heads: o.heads ?? HEADS,
      seed: o.seeds.int(),
      name: `${o.name}_attn`,
    });
    return attn.apply(normed) as SymTensor;
  });
  return preNormResidual(x1, o.name, 2, (normed) => {
    const h = tf.layers
      .dense({
        units: o.ffn,
        activation: o.act ?? "swish",
        name: `${o.name}_mlp1`,
        kernelInitializer: o.seeds.glorotUniform(),
      })
      .apply(normed) as SymTensor;
    return tf.layers
      .dense({ units: o.dim, name: `${o.name}_mlp2`, kernelInitializer: o.seeds.glorotUniform() })
      .apply(h) as SymTensor;
  });
}
