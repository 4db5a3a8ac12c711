/**
 * mmLiT, a light ViT whose feed-forward layers are a mixture of SwiGLU experts (seed 004):
 *
 *   image -> patch embedding to an 8 x 8 token grid -> learned position embeddings ->
 *   L pre-norm layers: x + GQA(LN(x)), x + MoE(LN(x)) -> LN -> mean over tokens -> classifier
 *
 * - MoE: `experts` SwiGLU experts, a learned linear gate, each token sent to its top-k experts
 *   with renormalised softmax weights; the Switch-Transformer load-balancing loss
 *   (auxWeight * E * sum_e f_e P_e, see layers/moe.ts) joins the training loss through
 *   `model.calculateLosses()`.
 * - Grouped-query attention: `heads` query heads share `kvHeads` key/value heads.
 * - Depth-wise scaling: the experts' hidden width shrinks linearly from `ffnFirst` at the first
 *   layer to `ffnLast` at the last ("start big, get smaller"); token width is constant.
 *
 * Seed 004 is a summary without numbers; what it leaves open is chosen here:
 * - sizes: S / XS / XXS below, all under 1 M parameters at 5 classes, 64 px;
 * - 4 experts, top-2 routing, load-balancing weight 0.01 (Switch Transformer's value);
 * - experts do not share weights (004 mentions sharing between experts without saying which);
 * - mean-pooled tokens, no class token; patch side = size / 8 (64 tokens at every size);
 * - no biases in the experts (as in LLaMA-style SwiGLU); biases in attention.
 *
 * | name       | dim | depth | heads / kv heads | experts, top-k | expert hidden, first -> last |
 * |------------|-----|-------|------------------|----------------|------------------------------|
 * | mmlit_s    | 96  | 7     | 4 / 2            | 4, 2           | 112 -> 56                    |
 * | mmlit_xs   | 80  | 7     | 4 / 2            | 4, 2           | 96 -> 48                     |
 * | mmlit_xxs  | 64  | 6     | 4 / 1            | 4, 2           | 80 -> 40                     |
 *
 * Layer names: `patch_rows`, `patch_embed`, `patch_map`, `patch_tokens`, `pos_embed`, `encoder_t{i}_{ln1,attn,add1,ln2,moe,add2}`,
 * `encoder_ln`, `tokens_map` (the tokens as an [B, g, g, D] map: the Grad-CAM cut point), `pool`,
 * `classifier`.
 */
import * as tf from "@tensorflow/tfjs";
import { patchEmbedding } from "./vit";
import { ModelEntry } from "./entry";
import { GroupedQueryAttention } from "./layers/gqa";
import { SwiGLUMoE } from "./layers/moe";
import { MaskTokens, PositionEmbedding } from "./layers/tokens";
import { LayerNorm } from "./layers/layernorm";
import { Seeds } from "./layers/init";

type SymTensor = tf.SymbolicTensor;

export interface MmlitConfig {
  /** Token width. */
  dim: number;
  /** Transformer layers. */
  depth: number;
  /** Query heads and key/value heads (grouped-query attention). */
  heads: number;
  kvHeads: number;
  experts: number;
  topK: number;
  /** Expert hidden width at the first and at the last layer (linear in between). */
  ffnFirst: number;
  ffnLast: number;
  /** Weight of the load-balancing loss. */
  auxWeight: number;
}

const common = { experts: 4, topK: 2, auxWeight: 0.01 };
export const MMLIT_VARIANTS: Record<"s" | "xs" | "xxs", MmlitConfig> = {
  s: { dim: 96, depth: 7, heads: 4, kvHeads: 2, ffnFirst: 112, ffnLast: 56, ...common },
  xs: { dim: 80, depth: 7, heads: 4, kvHeads: 2, ffnFirst: 96, ffnLast: 48, ...common },
  xxs: { dim: 64, depth: 6, heads: 4, kvHeads: 1, ffnFirst: 80, ffnLast: 40, ...common },
};
export type MmlitVariant = keyof typeof MMLIT_VARIANTS;

/** Token grid side (patch side = size / grid). */
export const MMLIT_GRID = 8;

/** The expert hidden width of layer i (multiples of 8). */
export function mmlitHidden(cfg: MmlitConfig, i: number): number {
  const t = cfg.depth === 1 ? 0 : i / (cfg.depth - 1);
  return Math.max(8, Math.round((cfg.ffnFirst + (cfg.ffnLast - cfg.ffnFirst) * t) / 8) * 8);
}

function variantOf(variant: string): MmlitConfig {
  if (!(variant in MMLIT_VARIANTS))
    throw new Error(
      `unknown mmLiT variant '${variant}'; allowed: ${Object.keys(MMLIT_VARIANTS).join(", ")}`,
    );
  return MMLIT_VARIANTS[variant as MmlitVariant];
}

/** Image to normalised tokens [B, N, D]; with `mask` ([B, N] of 0/1) masked patches become a learned mask token. */
export function mmlitEncoder(
  image: SymTensor,
  o: { variant: string; inputSize: number; seeds: Seeds; mask?: SymTensor },
): SymTensor {
  const cfg = variantOf(o.variant);
  if (o.inputSize % MMLIT_GRID !== 0)
    throw new Error(`mmLiT needs an input size divisible by ${MMLIT_GRID}, got ${o.inputSize}`);
  const patch = o.inputSize / MMLIT_GRID;
  const s = o.seeds;
  let x = patchEmbedding(image, { patch, grid: MMLIT_GRID, dim: cfg.dim, seeds: s }); // [B, N, D]
  if (o.mask)
    x = new MaskTokens({ seed: s.int(), name: "mask_tokens" }).apply([x, o.mask]) as SymTensor;
  x = new PositionEmbedding({ seed: s.int(), name: "pos_embed" }).apply(x) as SymTensor;
  for (let i = 0; i < cfg.depth; i++) {
    const name = `encoder_t${i}`;
    const ln1 = new LayerNorm({ epsilon: 1e-5, name: `${name}_ln1` }).apply(x) as SymTensor;
    const attn = new GroupedQueryAttention({
      dim: cfg.dim,
      heads: cfg.heads,
      kvHeads: cfg.kvHeads,
      seed: s.int(),
      name: `${name}_attn`,
    }).apply(ln1) as SymTensor;
    x = tf.layers.add({ name: `${name}_add1` }).apply([x, attn]) as SymTensor;
    const ln2 = new LayerNorm({ epsilon: 1e-5, name: `${name}_ln2` }).apply(x) as SymTensor;
    const moe = new SwiGLUMoE({
      dim: cfg.dim,
      hidden: mmlitHidden(cfg, i),
      experts: cfg.experts,
      topK: cfg.topK,
      auxWeight: cfg.auxWeight,
      seed: s.int(),
      name: `${name}_moe`,
    }).apply(ln2) as SymTensor;
    x = tf.layers.add({ name: `${name}_add2` }).apply([x, moe]) as SymTensor;
  }
  return new LayerNorm({ epsilon: 1e-5, name: "encoder_ln" }).apply(x) as SymTensor;
}

export interface MmlitOptions {
  variant: string;
  inputSize: number;
  classes: number;
  seed: number;
}

export function mmlit(o: MmlitOptions): tf.LayersModel {
  const cfg = variantOf(o.variant);
  const seeds = new Seeds(o.seed);
  const input = tf.input({ shape: [o.inputSize, o.inputSize, 3], name: "image" });
  const tokens = mmlitEncoder(input, { variant: o.variant, inputSize: o.inputSize, seeds });
  let x = tf.layers
    .reshape({ targetShape: [MMLIT_GRID, MMLIT_GRID, cfg.dim], name: "tokens_map" })
    .apply(tokens) as SymTensor; // [B, N, D] -> [B, g, g, D]
  x = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as SymTensor;
  const logits = tf.layers
    .dense({ units: o.classes, name: "classifier", kernelInitializer: seeds.glorotUniform() })
    .apply(x) as SymTensor;
  return tf.model({ inputs: input, outputs: logits, name: `mmlit_${o.variant}` });
}

/** mmlit_s, _xs, _xxs: one encoder (grouped-query attention) over the fixed token grid. */
export const MMLIT_MODELS: ModelEntry[] = (Object.keys(MMLIT_VARIANTS) as MmlitVariant[]).map(
  (variant) => ({
    name: `mmlit_${variant}`,
    family: "mmlit",
    build: (o) => mmlit({ ...o, variant }),
    attention: () => [
      {
        stage: "encoder",
        layers: MMLIT_VARIANTS[variant].depth,
        featureMap: [MMLIT_GRID, MMLIT_GRID],
        patches: MMLIT_GRID * MMLIT_GRID,
        sequences: 1,
      },
    ],
  }),
);
