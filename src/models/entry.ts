/**
 * What a model file registers about each variant it defines (timm's `register_model`, kept where
 * the model is defined): its name, family, how to build it, and what its attention stages attend
 * over at an input size, computed from the variant table without building anything; and the
 * options and variant lookup every builder shares.
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

/** What every model builder takes. */
export interface BuildOptions {
  /** Image side in pixels (a multiple of 32). */
  inputSize: number;
  /** Output classes (lanes). */
  classes: number;
  /** Seeds every initializer: same seed, same initial weights. */
  seed: number;
}

export interface ModelEntry {
  /** `family_variant`, the name used in configs and on the command line. */
  name: string;
  family: Family;
  build: (o: BuildOptions) => tf.LayersModel;
  /** Its attention stages at `inputSize` (a valid size), from the variant table. */
  attention: (inputSize: number) => AttentionStage[];
}

/** A variant-table model's builder options: the build options and the variant. */
export interface VariantOptions extends BuildOptions {
  /** A key of the model's variant table (`xxs`, `seed001`, ...). */
  variant: string;
}

/**
 * `table[variant]`, or an error naming the family as its paper spells it (`ViT`, `MobileViT`)
 * and the variants the table has.
 */
export function variantOf<C>(table: Record<string, C>, family: string, variant: string): C {
  if (!(variant in table))
    throw new Error(
      `unknown ${family} variant '${variant}'; allowed: ${Object.keys(table).join(", ")}`,
    );
  return table[variant];
}

/**
 * One entry per variant of `table`, in the table's order: name `${family}_${variant}`, built by
 * `build` with that variant, its attention stages computed from the variant's row.
 */
export function variantEntries<V extends string, C>(
  family: Family,
  table: Record<V, C>,
  build: (o: VariantOptions) => tf.LayersModel,
  attention: (cfg: C, inputSize: number) => AttentionStage[],
): ModelEntry[] {
  return (Object.keys(table) as V[]).map((variant) => ({
    name: `${family}_${variant}`,
    family,
    build: (o) => build({ ...o, variant }),
    attention: (inputSize) => attention(table[variant], inputSize),
  }));
}
