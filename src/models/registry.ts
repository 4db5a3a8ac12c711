import * as tf from "@tensorflow/tfjs";
import { mobilenetV2, MOBILENET_WIDTHS } from "./mobilenet";
import { mobileViT, MOBILEVIT_VARIANTS } from "./mobilevit";

/** Every model the project can build, by the name used in configs and on the command line. */
export const MODEL_NAMES = ["mobilenetv2_035", "mobilenetv2_050", "mobilenetv2_075", "mobilenetv2_100", "mobilevit_xxs", "mobilevit_xs", "mobilevit_s"] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface ModelSpec {
  name: string;
  inputSize: number;
  classes: number;
  seed: number;
}

export function validateModelSpec(s: ModelSpec): ModelSpec {
  if (!(MODEL_NAMES as readonly string[]).includes(s.name)) throw new Error(`unknown model '${s.name}'; allowed: ${MODEL_NAMES.join(", ")}`);
  if (!Number.isInteger(s.classes) || s.classes < 2) throw new Error(`classes must be an integer >= 2, got ${s.classes}`);
  // Five stride-2 stages: anything not divisible by 32 loses pixels (MobileNet) or cannot fold
  // evenly into the last stage (MobileViT).
  if (!Number.isInteger(s.inputSize) || s.inputSize < 32 || s.inputSize > 256 || s.inputSize % 32 !== 0) {
    throw new Error(`input size must be a multiple of 32 in 32..256 for ${s.name}, got ${s.inputSize}`);
  }
  return s;
}

export function buildModel(s: ModelSpec): tf.LayersModel {
  validateModelSpec(s);
  if (s.name.startsWith("mobilenetv2_")) {
    const width = Number(s.name.slice("mobilenetv2_".length)) / 100;
    if (!(MOBILENET_WIDTHS as readonly number[]).includes(width)) throw new Error(`unknown MobileNetV2 width in '${s.name}'`);
    return mobilenetV2({ inputSize: s.inputSize, classes: s.classes, width, seed: s.seed });
  }
  const variant = s.name.slice("mobilevit_".length);
  if (!(variant in MOBILEVIT_VARIANTS)) throw new Error(`unknown MobileViT variant in '${s.name}'`);
  return mobileViT({ variant, inputSize: s.inputSize, classes: s.classes, seed: s.seed });
}

export function isMobileViT(name: string): boolean {
  return name.startsWith("mobilevit_");
}
