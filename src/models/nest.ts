/**
 * NesT, "Nested Hierarchical Transformer" (Zhang et al., AAAI 2022), seed 003:
 *
 *   image -> patch embedding to a 16 x 16 token map -> for each level l = 0..L-1:
 *     add learned position embeddings -> split the map into non-overlapping b x b blocks ->
 *     T_l pre-norm transformer layers, attention only within a block -> put the blocks back;
 *     between levels, block aggregation: 3x3 conv (to the next width) -> layer norm ->
 *     3x3 max pool, stride 2 (four neighbouring blocks become one)
 *   -> layer norm -> global average pool -> linear classifier
 *
 * With a 16 x 16 map and 4 x 4 blocks the three levels hold 16, 4 and 1 blocks: the last level
 * attends globally, as in the paper (one block at the top). The patch side scales with the image
 * (size / 16) so every input size has this hierarchy.
 *
 * | name      | widths        | layers per level | heads     | MLP ratio | block |
 * |-----------|---------------|------------------|-----------|-----------|-------|
 * | nest_tiny | 64, 96, 128   | 2, 2, 2          | 2, 3, 4   | 4         | 4x4   |
 *
 * `nest_tiny` is sized near 1 M parameters (the paper's smallest, NesT-T, has 6 M); head width
 * 32 as in the paper, GELU MLPs, no stochastic depth.
 *
 * Layer names: `patch_rows`, `patch_embed`, `patch_map`, `level{l}_pos`, `level{l}_blocks`, `level{l}_t{i}_*`,
 * `level{l}_unblocks` (a [B, H, W, D] map: Grad-CAM cut points), `level{l}_agg_conv`,
 * `level{l}_agg_ln`, `level{l}_agg_pool`, `head_ln`, `pool`, `classifier`. Attention maps are
 * [batch * blocks, heads, b*b, b*b]: within-block attention.
 */
import * as tf from "@tensorflow/tfjs";
import { transformerLayer } from "./layers/transformer";
import { ModelEntry } from "./entry";
import { patchEmbedding } from "./vit";
import { Blockify, Unblockify } from "./layers/blocks";
import { PositionEmbedding } from "./layers/tokens";
import { LayerNorm } from "./layers/layernorm";
import { Seeds } from "./layers/init";

type SymTensor = tf.SymbolicTensor;

export interface NestConfig {
  /** Token width per level. */
  dims: number[];
  /** Transformer layers per level. */
  depths: number[];
  /** Block side, in tokens. */
  block: number;
  /** Token map side after the patch embedding. */
  grid: number;
  mlpRatio: number;
  headDim: number;
}

export const NEST_VARIANTS: Record<"tiny", NestConfig> = {
  tiny: { dims: [64, 96, 128], depths: [2, 2, 2], block: 4, grid: 16, mlpRatio: 4, headDim: 32 },
};
export type NestVariant = keyof typeof NEST_VARIANTS;

export interface NestOptions {
  variant: string;
  inputSize: number;
  classes: number;
  seed: number;
}

/** Token map side and blocks per image at each level. */
export function nestLevels(
  cfg: NestConfig,
): Array<{ side: number; blocks: number; tokensPerBlock: number }> {
  return cfg.dims.map((_, l) => {
    const side = cfg.grid / 2 ** l;
    return { side, blocks: (side / cfg.block) ** 2, tokensPerBlock: cfg.block * cfg.block };
  });
}

export function nest(o: NestOptions): tf.LayersModel {
  if (!(o.variant in NEST_VARIANTS))
    throw new Error(
      `unknown NesT variant '${o.variant}'; allowed: ${Object.keys(NEST_VARIANTS).join(", ")}`,
    );
  const cfg = NEST_VARIANTS[o.variant as NestVariant];
  if (o.inputSize % cfg.grid !== 0)
    throw new Error(`NesT needs an input size divisible by ${cfg.grid}, got ${o.inputSize}`);
  const seeds = new Seeds(o.seed);
  const patch = o.inputSize / cfg.grid;
  const input = tf.input({ shape: [o.inputSize, o.inputSize, 3], name: "image" });
  let x = patchEmbedding(input, { patch, grid: cfg.grid, dim: cfg.dims[0], seeds, map: true }); // [B, 16, 16, D0]
  nestLevels(cfg).forEach(({ side }, l) => {
    const dim = cfg.dims[l];
    x = new PositionEmbedding({ seed: seeds.int(), name: `level${l}_pos` }).apply(x) as SymTensor;
    let t = new Blockify({
      block: cfg.block,
      height: side,
      width: side,
      name: `level${l}_blocks`,
    }).apply(x) as SymTensor; // [B, s, s, D] -> [B*blocks, b*b, D]
    for (let i = 0; i < cfg.depths[l]; i++)
      t = transformerLayer(t, {
        dim,
        ffn: dim * cfg.mlpRatio,
        heads: dim / cfg.headDim,
        act: "gelu",
        name: `level${l}_t${i}`,
        seeds,
      });
    x = new Unblockify({
      block: cfg.block,
      height: side,
      width: side,
      name: `level${l}_unblocks`,
    }).apply(t) as SymTensor; // -> [B, s, s, D]
    if (l === cfg.dims.length - 1) return;
    x = tf.layers
      .conv2d({
        filters: cfg.dims[l + 1],
        kernelSize: 3,
        padding: "same",
        name: `level${l}_agg_conv`,
        kernelInitializer: seeds.glorotUniform(),
      })
      .apply(x) as SymTensor;
    x = new LayerNorm({ epsilon: 1e-5, name: `level${l}_agg_ln` }).apply(x) as SymTensor;
    x = tf.layers
      .maxPooling2d({ poolSize: 3, strides: 2, padding: "same", name: `level${l}_agg_pool` })
      .apply(x) as SymTensor; // [B, s, s, D'] -> [B, s/2, s/2, D']
  });
  x = new LayerNorm({ epsilon: 1e-5, name: "head_ln" }).apply(x) as SymTensor;
  x = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as SymTensor;
  const logits = tf.layers
    .dense({ units: o.classes, name: "classifier", kernelInitializer: seeds.glorotUniform() })
    .apply(x) as SymTensor;
  return tf.model({ inputs: input, outputs: logits, name: `nest_${o.variant}` });
}

/** nest_tiny: per level, attention inside each block of the token map. */
export const NEST_MODELS: ModelEntry[] = (Object.keys(NEST_VARIANTS) as NestVariant[]).map(
  (variant) => ({
    name: `nest_${variant}`,
    family: "nest",
    build: (o) => nest({ ...o, variant }),
    attention: () =>
      nestLevels(NEST_VARIANTS[variant]).map(({ side, blocks, tokensPerBlock }, l) => ({
        stage: `level${l}`,
        layers: NEST_VARIANTS[variant].depths[l],
        featureMap: [side, side] as [number, number],
        patches: tokensPerBlock,
        sequences: blocks,
      })),
  }),
);
