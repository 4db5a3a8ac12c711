/**
 * What a model file registers about each variant it defines (timm's `register_model`, kept where
 * the model is defined): its name, family, how to build it, and what its attention stages attend
 * over at an input size, computed from the variant table without building anything.
 */
import type * as tf from "@tensorflow/tfjs";

/** Architecture families: the part of a model name before the variant. */
export type Family = "mobilenetv2" | "mobilevit" | "vit" | "nest" | "mmlit";

/** What one attention stage mixes. */
export interface AttentionStage {
  /** The stage: the attention layers' common prefix (`layer3_mvit`, `encoder`, `level1`). */
  stage: string;
  /** Transformer layers in the stage. */
  layers: number;
  /** The token map the stage works on, [height, width] in tokens (MobileViT: feature-map pixels). */
  featureMap: [number, number];
  /** Tokens one attention sequence holds: the patches each token attends over (ViT: + class token). */
  patches: number;
  /** Attention sequences per image (MobileViT: p*p in-patch positions; NesT: blocks; ViT: 1). */
  sequences: number;
}

export interface ModelEntry {
  /** `family_variant`, the name used in configs and on the command line. */
  name: string;
  family: Family;
  build: (o: { inputSize: number; classes: number; seed: number }) => tf.LayersModel;
  /** Its attention stages at `inputSize` (a valid size), from the variant table. */
  attention: (inputSize: number) => AttentionStage[];
}
