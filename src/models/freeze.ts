/**
 * Freeze groups, by name. The seed (000) froze "MobileNet's first five layers" and "MobileViT's
 * conv stem + bn1 + the first half of the transformer". Their exact meaning here:
 *
 * - `first5` (MobileNetV2): the first five weight layers in forward order: stem conv, its batch
 *   norm, block 0's depthwise conv, its batch norm, and block 0's 1x1 projection conv (block 0
 *   has no expansion conv). NB: in timm, `list(model.children())[:5]` would be conv_stem, bn1,
 *   blocks, conv_head, bn2, i.e. everything but the classifier: that reading is `all-but-head`.
 * - `stem+early-transformer` (MobileViT): stem conv and its batch norm, plus the first
 *   floor(L/2) transformer layers counted across all MobileViT blocks in forward order
 *   (XXS/XS/S: 4 of 9: both layers of block 1 and the first two of block 2).
 * - `none`, `all-but-head` (everything except the classifier).
 */
import * as tf from "@tensorflow/tfjs";
import { isMobileViT } from "./registry";
import { parameterCount } from "./summary";

export const FREEZE_GROUPS = ["none", "first5", "stem+early-transformer", "all-but-head"] as const;
export type FreezeGroup = (typeof FREEZE_GROUPS)[number];

export interface FreezeReport {
  group: FreezeGroup;
  frozenLayers: string[];
  trainableParams: number;
  frozenParams: number;
}

function hasWeights(l: tf.layers.Layer): boolean {
  return l.weights.length > 0;
}

/** The transformer layers of a MobileViT in forward order, each as the layers sharing its prefix. */
function transformerLayerPrefixes(model: tf.LayersModel): string[] {
  const seen: string[] = [];
  for (const l of model.layers) {
    const m = /^(layer\d+_mvit_t\d+)_/.exec(l.name);
    if (m && !seen.includes(m[1])) seen.push(m[1]);
  }
  return seen;
}

export function layersInGroup(model: tf.LayersModel, group: FreezeGroup): tf.layers.Layer[] {
  const vit = isMobileViT(model.name);
  switch (group) {
    case "none":
      return [];
    case "all-but-head":
      return model.layers.filter((l) => hasWeights(l) && l.name !== "classifier");
    case "first5":
      if (vit) throw new Error(`freeze group 'first5' is for MobileNetV2; for ${model.name} use 'stem+early-transformer'`);
      return model.layers.filter(hasWeights).slice(0, 5);
    case "stem+early-transformer": {
      if (!vit) throw new Error(`freeze group 'stem+early-transformer' is for MobileViT; for ${model.name} use 'first5'`);
      const prefixes = transformerLayerPrefixes(model);
      const early = prefixes.slice(0, Math.floor(prefixes.length / 2));
      return model.layers.filter((l) => l.name === "stem_conv" || l.name === "stem_conv_bn" || early.some((p) => l.name.startsWith(p + "_")));
    }
    default:
      throw new Error(`unknown freeze group '${group}'; allowed: ${FREEZE_GROUPS.join(", ")}`);
  }
}

/**
 * Makes exactly `group` frozen (everything else trainable). Frozen batch norms run in inference
 * mode (FreezableBatchNorm), so their statistics stay as trained.
 */
export function freeze(model: tf.LayersModel, group: FreezeGroup): FreezeReport {
  if (!(FREEZE_GROUPS as readonly string[]).includes(group)) throw new Error(`unknown freeze group '${group}'; allowed: ${FREEZE_GROUPS.join(", ")}`);
  const frozen = new Set(layersInGroup(model, group));
  for (const l of model.layers) l.trainable = !frozen.has(l);
  return {
    group,
    frozenLayers: [...frozen].map((l) => l.name),
    trainableParams: parameterCount(model, "trainable"),
    frozenParams: parameterCount(model, "frozen"),
  };
}
