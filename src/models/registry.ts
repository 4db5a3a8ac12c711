/**
 * Every model the project can build. Each model file registers its variants where it defines
 * them (`MOBILENET_MODELS`, ...: name, family, builder, attention geometry); this file only
 * gathers the files, so a new variant is one entry in its own file.
 */
import * as tf from "@tensorflow/tfjs";
import { MOBILENET_MODELS } from "./mobilenet";
import { MOBILEVIT_MODELS } from "./mobilevit";
import { VIT_MODELS } from "./vit";
import { NEST_MODELS } from "./nest";
import { MMLIT_MODELS } from "./mmlit";
import { AttentionStage, Family, ModelEntry } from "./entry";

const ENTRIES: ModelEntry[] = [
  ...MOBILENET_MODELS,
  ...MOBILEVIT_MODELS,
  ...VIT_MODELS,
  ...NEST_MODELS,
  ...MMLIT_MODELS,
];
const BY_NAME = new Map(ENTRIES.map((e) => [e.name, e]));

export interface ModelSpec {
  name: string;
  inputSize: number;
  classes: number;
  seed: number;
}

/** Every model name, or those of one family, in registration order. */
export function modelNames(family?: Family): string[] {
  return ENTRIES.filter((e) => family === undefined || e.family === family).map((e) => e.name);
}

/** A known model's entry, or an error listing the names. */
function entryOf(name: string): ModelEntry {
  const e = BY_NAME.get(name);
  if (!e) throw new Error(`unknown model '${name}'; allowed: ${modelNames().join(", ")}`);
  return e;
}

/** The family of a model name ("vit_xxs" -> "vit"); an error for an unknown name. */
export function familyOf(name: string): Family {
  return entryOf(name).family;
}

/** A known model name, or an error listing them. */
export function validateModelName(name: string): string {
  return entryOf(name).name;
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
  return entryOf(s.name).build({ inputSize: s.inputSize, classes: s.classes, seed: s.seed });
}

/**
 * What each attention stage of model `name` attends over at `inputSize`, from its variant table
 * (no model is built, so no backend is needed: configs are checked with it before any work).
 * test/architectures.test.ts checks it against the built models.
 */
export function attentionSpanOf(name: string, inputSize: number): AttentionStage[] {
  validateModelSpec({ name, inputSize, classes: 2, seed: 0 });
  return entryOf(name).attention(inputSize);
}
