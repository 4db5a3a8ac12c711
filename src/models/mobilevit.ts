/**
 * MobileViT v1 (Mehta & Rastegari, ICLR 2022; Apple ml-cvnets), Figure 1b and Table 4:
 *
 *   3x3 stem /2 -> MV2 -> MV2 /2, MV2 x2 -> MV2 /2, MobileViT block -> MV2 /2, MobileViT block
 *   -> MV2 /2, MobileViT block -> 1x1 conv -> global pool -> classifier
 *
 * A MobileViT block: local representation (3x3 conv, then 1x1 to the transformer width), unfold
 * into patches, L transformer layers, fold back, 1x1 projection, concatenate with the block's
 * input, 3x3 fusion conv. Names carry the structure: `stem_conv`, `layer3_mvit_t1_attn`, ...
 */
import * as tf from "@tensorflow/tfjs";
import { convBn, invertedResidual } from "./mobilenet";
import { Fold, Unfold } from "./layers/patches";
import { transformerLayer } from "./layers/transformer";
import { VariantOptions, variantEntries, variantOf } from "./entry";
import { LayerNorm } from "./layers/layernorm";
import { Seeds } from "./layers/init";
import { classifierHead } from "./layers/head";

type SymTensor = tf.SymbolicTensor;

interface VitStage {
  /** MV2 output channels (the stage's downsampling block). */
  out: number;
  /** Transformer width d, MLP hidden width, and number of transformer layers L. */
  dim: number;
  ffn: number;
  layers: number;
}

interface MobileViTConfig {
  stem: number;
  layer1: number;
  layer2: number;
  vit: [VitStage, VitStage, VitStage];
  /** Channels of the final 1x1 conv. */
  head: number;
  expand: number;
}

/** A MobileViT stage as Table 4 gives it: MV2 output channels, width d, MLP width, layers L. */
type StageRow = [out: number, dim: number, ffn: number, layers: number];

/** One variant's column of Table 4, written as a row (the argument order of the table below). */
function row(
  stem: number,
  layer1: number,
  layer2: number,
  layer3: StageRow,
  layer4: StageRow,
  layer5: StageRow,
  head: number,
  expand: number,
): MobileViTConfig {
  const stage = ([out, dim, ffn, layers]: StageRow): VitStage => ({ out, dim, ffn, layers });
  return { stem, layer1, layer2, vit: [stage(layer3), stage(layer4), stage(layer5)], head, expand };
}

/**
 * Table 4 of the paper / ml-cvnets' configs (XXS uses MV2 expansion 2, XS and S use 4), one
 * variant a row. Columns: stem, layer1, layer2 (channels); layer3, layer4, layer5 as
 * [MV2 out, d, MLP, L]; head (channels of the final 1x1 conv); MV2 expansion.
 */
export const MOBILEVIT_VARIANTS: Record<"xxs" | "xs" | "s", MobileViTConfig> = {
  xxs: row(16, 16, 24, [48, 64, 128, 2], [64, 80, 160, 4], [80, 96, 192, 3], 320, 2),
  xs: row(16, 32, 48, [64, 96, 192, 2], [80, 120, 240, 4], [96, 144, 288, 3], 384, 4),
  s: row(16, 32, 64, [96, 144, 288, 2], [128, 192, 384, 4], [160, 240, 480, 3], 640, 4),
};
export type MobileViTVariant = keyof typeof MOBILEVIT_VARIANTS;

/**
 * The paper's 2x2 patches, except on a feature map smaller than 4x4, where a 2x2 patch would
 * leave a single token and attention would mix nothing (the last block at 64 px): there each
 * pixel is its own patch. ml-cvnets never meets this case (its maps are >= 8x8 at 256 px).
 */
function patchFor(featureMap: number): number {
  return featureMap >= 4 ? 2 : 1;
}

/** The MobileViT block of Figure 1b. */
function mobilevitBlock(x: SymTensor, s: VitStage, name: string, seeds: Seeds): SymTensor {
  const [, height, width, channels] = x.shape as number[];
  const patch = patchFor(Math.min(height, width));
  let y = convBn(x, {
    filters: channels,
    kernel: 3,
    act: "swish",
    name: `${name}_local3x3`,
    seeds,
  });
  y = tf.layers
    .conv2d({
      filters: s.dim,
      kernelSize: 1,
      useBias: false,
      name: `${name}_local1x1`,
      kernelInitializer: seeds.heNormal(),
    })
    .apply(y) as SymTensor;
  let tokens = new Unfold({ patch, height, width, name: `${name}_unfold` }).apply(y) as SymTensor;
  for (let i = 0; i < s.layers; i++)
    tokens = transformerLayer(tokens, { dim: s.dim, ffn: s.ffn, name: `${name}_t${i}`, seeds });
  tokens = new LayerNorm({ epsilon: 1e-5, name: `${name}_ln` }).apply(tokens) as SymTensor;
  y = new Fold({ patch, height, width, name: `${name}_fold` }).apply(tokens) as SymTensor;
  y = convBn(y, { filters: channels, kernel: 1, act: "swish", name: `${name}_proj`, seeds });
  y = tf.layers.concatenate({ name: `${name}_concat` }).apply([x, y]) as SymTensor;
  return convBn(y, { filters: channels, kernel: 3, act: "swish", name: `${name}_fusion`, seeds });
}

/** `variant`: xxs, xs or s (Table 4 of the paper). */
export function mobileViT(o: VariantOptions): tf.LayersModel {
  const cfg = variantOf(MOBILEVIT_VARIANTS, "MobileViT", o.variant);
  const seeds = new Seeds(o.seed);
  const mv2 = (x: SymTensor, out: number, stride: number, name: string) =>
    invertedResidual(x, { out, expand: cfg.expand, stride, act: "swish", name, seeds });
  const input = tf.input({ shape: [o.inputSize, o.inputSize, 3], name: "image" });
  let x = convBn(input, {
    filters: cfg.stem,
    kernel: 3,
    stride: 2,
    act: "swish",
    name: "stem_conv",
    seeds,
  });
  x = mv2(x, cfg.layer1, 1, "layer1_mv2_0");
  x = mv2(x, cfg.layer2, 2, "layer2_mv2_0");
  x = mv2(x, cfg.layer2, 1, "layer2_mv2_1");
  x = mv2(x, cfg.layer2, 1, "layer2_mv2_2");
  cfg.vit.forEach((s, i) => {
    x = mv2(x, s.out, 2, `layer${i + 3}_mv2_0`);
    x = mobilevitBlock(x, s, `layer${i + 3}_mvit`, seeds);
  });
  x = convBn(x, { filters: cfg.head, kernel: 1, act: "swish", name: "head_conv", seeds });
  return classifierHead(input, x, { classes: o.classes, seeds, name: `mobilevit_${o.variant}` });
}

/** mobilevit_xxs, _xs, _s. Block i (0..2) works on the map after i + 3 halvings of the image. */
export const MOBILEVIT_MODELS = variantEntries(
  "mobilevit",
  MOBILEVIT_VARIANTS,
  mobileViT,
  (cfg, inputSize) =>
    cfg.vit.map((s, i) => {
      const side = inputSize / 2 ** (i + 3);
      const patch = patchFor(side);
      // Unfold: [B, h, w, d] -> [B * p*p, (h/p)*(w/p), d]: one sequence per in-patch position.
      return {
        stage: `layer${i + 3}_mvit`,
        layers: s.layers,
        featureMap: [side, side] as [number, number],
        patches: (side / patch) ** 2,
        sequences: patch * patch,
      };
    }),
);
