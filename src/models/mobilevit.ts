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
import { ModelEntry } from "./entry";
import { LayerNorm } from "./layers/layernorm";
import { Seeds } from "./layers/init";

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

/** Table 4 of the paper / ml-cvnets' configs (XXS uses MV2 expansion 2, XS and S use 4). */
export const MOBILEVIT_VARIANTS: Record<"xxs" | "xs" | "s", MobileViTConfig> = {
  xxs: {
    stem: 16,
    layer1: 16,
    layer2: 24,
    vit: [
      { out: 48, dim: 64, ffn: 128, layers: 2 },
      { out: 64, dim: 80, ffn: 160, layers: 4 },
      { out: 80, dim: 96, ffn: 192, layers: 3 },
    ],
    head: 320,
    expand: 2,
  },
  xs: {
    stem: 16,
    layer1: 32,
    layer2: 48,
    vit: [
      { out: 64, dim: 96, ffn: 192, layers: 2 },
      { out: 80, dim: 120, ffn: 240, layers: 4 },
      { out: 96, dim: 144, ffn: 288, layers: 3 },
    ],
    head: 384,
    expand: 4,
  },
  s: {
    stem: 16,
    layer1: 32,
    layer2: 64,
    vit: [
      { out: 96, dim: 144, ffn: 288, layers: 2 },
      { out: 128, dim: 192, ffn: 384, layers: 4 },
      { out: 160, dim: 240, ffn: 480, layers: 3 },
    ],
    head: 640,
    expand: 4,
  },
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

export interface MobileViTOptions {
  /** xxs, xs or s (Table 4 of the paper). */
  variant: string;
  /** Image side in pixels (a multiple of 32). */
  inputSize: number;
  /** Output classes (lanes). */
  classes: number;
  /** Seeds every initializer: same seed, same initial weights. */
  seed: number;
}

export function mobileViT(o: MobileViTOptions): tf.LayersModel {
  if (!(o.variant in MOBILEVIT_VARIANTS))
    throw new Error(
      `unknown MobileViT variant '${o.variant}'; allowed: ${Object.keys(MOBILEVIT_VARIANTS).join(", ")}`,
    );
  const cfg = MOBILEVIT_VARIANTS[o.variant as MobileViTVariant];
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
  x = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as SymTensor;
  const logits = tf.layers
    .dense({ units: o.classes, name: "classifier", kernelInitializer: seeds.glorotUniform() })
    .apply(x) as SymTensor;
  return tf.model({ inputs: input, outputs: logits, name: `mobilevit_${o.variant}` });
}

/** mobilevit_xxs, _xs, _s. Block i (0..2) works on the map after i + 3 halvings of the image. */
export const MOBILEVIT_MODELS: ModelEntry[] = (
  Object.keys(MOBILEVIT_VARIANTS) as MobileViTVariant[]
).map((variant) => ({
  name: `mobilevit_${variant}`,
  family: "mobilevit",
  build: (o) => mobileViT({ ...o, variant }),
  attention: (inputSize) =>
    MOBILEVIT_VARIANTS[variant].vit.map((s, i) => {
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
}));
