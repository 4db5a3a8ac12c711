import * as tf from "@tensorflow/tfjs";
import { mobilenetV2, MOBILENET_WIDTHS } from "./mobilenet";
import { mobileViT, MOBILEVIT_VARIANTS } from "./mobilevit";
import { vit, VIT_VARIANTS } from "./vit";
import { nest, NEST_VARIANTS } from "./nest";
import { mmlit, MMLIT_VARIANTS } from "./mmlit";

/** Every model the project can build, by the name used in configs and on the command line. */
export const MODEL_NAMES = [
  "mobilenetv2_035",
  "mobilenetv2_050",
  "mobilenetv2_075",
  "mobilenetv2_100",
  "mobilevit_xxs",
  "mobilevit_xs",
  "mobilevit_s",
  "vit_seed001",
  "vit_xxs",
  "nest_tiny",
  "mmlit_s",
  "mmlit_xs",
  "mmlit_xxs",
] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** Architecture families: the part of a model name before the variant. */
export const FAMILIES = ["mobilenetv2", "mobilevit", "vit", "nest", "mmlit"] as const;
export type Family = (typeof FAMILIES)[number];

export interface ModelSpec {
  name: string;
  inputSize: number;
  classes: number;
  seed: number;
}

/** Every model name, or those of one family. */
export function modelNames(family?: Family): string[] {
  return MODEL_NAMES.filter((n) => family === undefined || familyOf(n) === family);
}

/** The family of a model name ("vit_xxs" -> "vit"); an error for a name that is none. */
export function familyOf(name: string): Family {
  const f = name.slice(0, name.indexOf("_")) as Family;
  if (!FAMILIES.includes(f))
    throw new Error(`unknown model family in '${name}'; allowed: ${FAMILIES.join(", ")}`);
  return f;
}

/** A known model name, or an error listing them. */
export function validateModelName(name: string): ModelName {
  if (!(MODEL_NAMES as readonly string[]).includes(name))
    throw new Error(`unknown model '${name}'; allowed: ${MODEL_NAMES.join(", ")}`);
  return name as ModelName;
}

export function validateModelSpec(s: ModelSpec): ModelSpec {
  validateModelName(s.name);
  if (!Number.isInteger(s.classes) || s.classes < 2)
    throw new Error(`classes must be an integer >= 2, got ${s.classes}`);
  // Five stride-2 stages: anything not divisible by 32 loses pixels (MobileNet) or cannot fold
  // evenly into the last stage (MobileViT). The ViT family's patch sides scale with size / 32 too.
  if (
    !Number.isInteger(s.inputSize) ||
    s.inputSize < 32 ||
    s.inputSize > 256 ||
    s.inputSize % 32 !== 0
  ) {
    throw new Error(
      `input size must be a multiple of 32 in 32..256 for ${s.name}, got ${s.inputSize}`,
    );
  }
  return s;
}

export function buildModel(s: ModelSpec): tf.LayersModel {
  validateModelSpec(s);
  const variant = s.name.slice(s.name.indexOf("_") + 1);
  const o = { variant, inputSize: s.inputSize, classes: s.classes, seed: s.seed };
  switch (familyOf(s.name)) {
    case "mobilenetv2": {
      const width = Number(variant) / 100;
      if (!(MOBILENET_WIDTHS as readonly number[]).includes(width))
        throw new Error(`unknown MobileNetV2 width in '${s.name}'`);
      return mobilenetV2({ inputSize: s.inputSize, classes: s.classes, width, seed: s.seed });
    }
    case "mobilevit":
      if (!(variant in MOBILEVIT_VARIANTS))
        throw new Error(`unknown MobileViT variant in '${s.name}'`);
      return mobileViT(o);
    case "vit":
      if (!(variant in VIT_VARIANTS)) throw new Error(`unknown ViT variant in '${s.name}'`);
      return vit(o);
    case "nest":
      if (!(variant in NEST_VARIANTS)) throw new Error(`unknown NesT variant in '${s.name}'`);
      return nest(o);
    case "mmlit":
      if (!(variant in MMLIT_VARIANTS)) throw new Error(`unknown mmLiT variant in '${s.name}'`);
      return mmlit(o);
  }
}

export function isMobileViT(name: string): boolean {
  return name.startsWith("mobilevit_");
}
