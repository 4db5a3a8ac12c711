/**
 * Vision Transformer (Dosovitskiy et al., ICLR 2021), as seed 001 trains it with vit-pytorch:
 *
 *   image -> p x p patches -> linear embedding (patchify + dense; see layers/patchify.ts) -> prepend a
 *   class token -> add learned position embeddings -> L pre-norm transformer layers
 *   (x + MHSA(LN(x)), x + MLP(LN(x)), GELU) -> LN -> class token -> linear classifier
 *
 * Variants (widths as the names say; `patch` is for 32 px input):
 *
 * | name          | patch @32 | dim | depth | heads | MLP | tokens |
 * |---------------|-----------|-----|-------|-------|-----|--------|
 * | vit_seed001   | 8         | 128 | 3     | 2     | 256 | 16 + 1 |
 * | vit_xxs       | 4         | 128 | 5     | 4     | 512 | 64 + 1 |
 *
 * `vit_seed001` is seed 001's configuration (image 32, patch 8, dim 128, depth 3, heads 2, mlp 256;
 * no dropout: the seed's dropout 0.1 is a regulariser our trainer does not otherwise use).
 * `vit_xxs` is sized near MobileViT-XXS (~1 M parameters at 5 classes).
 * At other image sizes the patch side scales with the image (patch = patch@32 * size / 32), so
 * every size sees the same token grid and each token the same fraction of the puzzle; the
 * patch-embedding weights and the parameter count grow with the patch.
 *
 * Layer names: `patch_rows`, `patch_embed`, `patch_map`, `patch_tokens`, `cls_token`, `pos_embed`, `encoder_t{i}_*`, `encoder_ln`,
 * `cls_select`, `classifier`. Grad-CAM can cut at `patch_map` (the one 4-D map: everything
 * after it is tokens); attention maps are [batch, heads, 1 + N, 1 + N] with the class token first.
 */
import * as tf from "@tensorflow/tfjs";
import { transformerLayer } from "./layers/transformer";
import { ModelEntry } from "./entry";
import { ClassToken, MaskTokens, PositionEmbedding, TakeToken } from "./layers/tokens";
import { Patchify } from "./layers/patchify";
import { LayerNorm } from "./layers/layernorm";
import { Seeds } from "./layers/init";

type SymTensor = tf.SymbolicTensor;

export interface VitConfig {
  /** Patch side at 32 px input (scaled with the image). */
  patch32: number;
  /** Token width. */
  dim: number;
  /** Transformer layers. */
  depth: number;
  heads: number;
  /** MLP hidden width. */
  mlp: number;
}

export const VIT_VARIANTS: Record<"seed001" | "xxs", VitConfig> = {
  seed001: { patch32: 8, dim: 128, depth: 3, heads: 2, mlp: 256 },
  xxs: { patch32: 4, dim: 128, depth: 5, heads: 4, mlp: 512 },
};
export type VitVariant = keyof typeof VIT_VARIANTS;

/** Patch side and token grid side at `inputSize` (a multiple of 32). */
export function vitGeometry(
  cfg: { patch32: number },
  inputSize: number,
): { patch: number; grid: number } {
  const patch = (cfg.patch32 * inputSize) / 32;
  return { patch, grid: inputSize / patch };
}

/**
 * ViT's linear patch embedding, image [B, S, S, 3] -> tokens [B, N, D]: `patch_rows` (pixels of
 * each patch), `patch_embed` (dense), then `patch_map` ([B, g, g, D], the one 4-D map: Grad-CAM's
 * cut point) and `patch_tokens` ([B, N, D]). Shared by ViT, NesT (which keeps the map) and mmLiT.
 */
export function patchEmbedding(
  image: SymTensor,
  o: { patch: number; grid: number; dim: number; seeds: Seeds; map?: boolean },
): SymTensor {
  let x = new Patchify({ patch: o.patch, name: "patch_rows" }).apply(image) as SymTensor; // [B, S, S, 3] -> [B, N, p*p*3]
  x = tf.layers
    .dense({ units: o.dim, name: "patch_embed", kernelInitializer: o.seeds.glorotUniform() })
    .apply(x) as SymTensor; // -> [B, N, D]
  x = tf.layers
    .reshape({ targetShape: [o.grid, o.grid, o.dim], name: "patch_map" })
    .apply(x) as SymTensor; // -> [B, g, g, D]
  if (o.map) return x;
  return tf.layers
    .reshape({ targetShape: [o.grid * o.grid, o.dim], name: "patch_tokens" })
    .apply(x) as SymTensor; // -> [B, N, D]
}

export interface VitOptions {
  variant: string;
  inputSize: number;
  classes: number;
  seed: number;
}

function variantOf(variant: string): VitConfig {
  if (!(variant in VIT_VARIANTS))
    throw new Error(
      `unknown ViT variant '${variant}'; allowed: ${Object.keys(VIT_VARIANTS).join(", ")}`,
    );
  return VIT_VARIANTS[variant as VitVariant];
}

/**
 * The encoder from image to normalised tokens [B, 1 + N, D] (class token first). With `mask`
 * ([B, N] of 0/1, masked-image pre-training), masked patch embeddings are replaced by a learned
 * mask token before the class token and position embeddings are added.
 */
export function vitEncoder(
  image: SymTensor,
  o: { variant: string; inputSize: number; seeds: Seeds; mask?: SymTensor },
): SymTensor {
  const cfg = variantOf(o.variant);
  const { patch, grid } = vitGeometry(cfg, o.inputSize);
  const s = o.seeds;
  let x = patchEmbedding(image, { patch, grid, dim: cfg.dim, seeds: s });
  if (o.mask)
    x = new MaskTokens({ seed: s.int(), name: "mask_tokens" }).apply([x, o.mask]) as SymTensor;
  x = new ClassToken({ seed: s.int(), name: "cls_token" }).apply(x) as SymTensor; // -> [B, 1 + N, D]
  x = new PositionEmbedding({ seed: s.int(), name: "pos_embed" }).apply(x) as SymTensor;
  for (let i = 0; i < cfg.depth; i++)
    x = transformerLayer(x, {
      dim: cfg.dim,
      ffn: cfg.mlp,
      heads: cfg.heads,
      act: "gelu",
      name: `encoder_t${i}`,
      seeds: s,
    });
  return new LayerNorm({ epsilon: 1e-5, name: "encoder_ln" }).apply(x) as SymTensor;
}

export function vit(o: VitOptions): tf.LayersModel {
  const seeds = new Seeds(o.seed);
  const input = tf.input({ shape: [o.inputSize, o.inputSize, 3], name: "image" });
  const tokens = vitEncoder(input, { variant: o.variant, inputSize: o.inputSize, seeds });
  const cls = new TakeToken({ index: 0, name: "cls_select" }).apply(tokens) as SymTensor; // [B, 1 + N, D] -> [B, D]
  const logits = tf.layers
    .dense({ units: o.classes, name: "classifier", kernelInitializer: seeds.glorotUniform() })
    .apply(cls) as SymTensor;
  return tf.model({ inputs: input, outputs: logits, name: `vit_${o.variant}` });
}

/** vit_seed001, vit_xxs: one encoder attending over every patch and the class token. */
export const VIT_MODELS: ModelEntry[] = (Object.keys(VIT_VARIANTS) as VitVariant[]).map(
  (variant) => ({
    name: `vit_${variant}`,
    family: "vit",
    build: (o) => vit({ ...o, variant }),
    attention: (inputSize) => {
      const { grid } = vitGeometry(VIT_VARIANTS[variant], inputSize);
      return [
        {
          stage: "encoder",
          layers: VIT_VARIANTS[variant].depth,
          featureMap: [grid, grid],
          patches: grid * grid + 1,
          sequences: 1,
        },
      ];
    },
  }),
);
