/**
 * Freeze groups, by name. The seed (000) froze "MobileNet's first five layers" and "MobileViT's
 * conv stem + bn1 + the first half of the transformer". Their exact meaning here:
 *
 * - `first5` (MobileNetV2): the first five weight layers in forward order: stem conv, its batch
 *   norm, block 0's depthwise conv, its batch norm, and block 0's 1x1 projection conv (block 0
 *   has no expansion conv). NB: in timm, `list(model.children())[:5]` would be conv_stem, bn1,
 *   blocks, conv_head, bn2, i.e. everything but the classifier: that reading is `all-but-head`.
 * - `stem+early-transformer` (every transformer model): the stem, plus the first floor(L/2)
 *   transformer layers counted across the whole network in forward order. Stem: MobileViT's
 *   stem conv and its batch norm (XXS/XS/S: 4 of 9 layers: both of block 1 and the first two of
 *   block 2); ViT and mmLiT: the patch embedding, class token and position embeddings; NesT:
 *   the patch embedding and the first level's position embeddings (3 of its 6 layers: level 0's
 *   two and level 1's first).
 * - `all-but-head` (every model): everything except the classifier.
 * - `early:<percent>` (every model), e.g. `early:25`: weight layers in forward order until the
 *   frozen share of the parameters first reaches <percent> % (0 < percent < 100): the same
 *   fraction of each network, for comparing architectures at a matched freeze.
 * - `none`.
 */
import * as tf from "@tensorflow/tfjs";
import { familyOf, validateModelName } from "./registry";
import { Family } from "./entry";
import { layerParams, parameterCount } from "./summary";

export const FREEZE_GROUPS = ["none", "first5", "stem+early-transformer", "all-but-head"] as const;
/** A named group, or `early:<percent>`. */
export type FreezeGroup = (typeof FREEZE_GROUPS)[number] | `early:${number}`;

export interface FreezeReport {
  group: FreezeGroup;
  frozenLayers: string[];
  trainableParams: number;
  frozenParams: number;
}

/** Which families each named group applies to. */
const APPLIES: Record<(typeof FREEZE_GROUPS)[number], readonly Family[] | "all"> = {
  none: "all",
  first5: ["mobilenetv2"],
  "stem+early-transformer": ["mobilevit", "vit", "nest", "mmlit"],
  "all-but-head": "all",
};

const EARLY = /^early:(\d+(?:\.\d+)?)$/;

/** The groups `model` (a model name) can use, `early:<percent>` as its pattern. */
export function freezeGroupsFor(model: string): string[] {
  const f = familyOf(validateModelName(model));
  return [
    ...FREEZE_GROUPS.filter(
      (g) => APPLIES[g] === "all" || (APPLIES[g] as readonly Family[]).includes(f),
    ),
    "early:<percent>",
  ];
}

/**
 * Checks a group's spelling and, given a model name, that it applies to that model; the error
 * says what is allowed. Returns the group, typed.
 */
export function validateFreezeGroup(group: string, model?: string): FreezeGroup {
  const allowed = model ? freezeGroupsFor(model) : [...FREEZE_GROUPS, "early:<percent>"];
  const m = EARLY.exec(group);
  if (m) {
    const pct = Number(m[1]);
    if (!(pct > 0 && pct < 100))
      throw new Error(`freeze group '${group}': the percentage must be in (0, 100), got ${pct}`);
    return group as FreezeGroup;
  }
  if (!(FREEZE_GROUPS as readonly string[]).includes(group))
    throw new Error(
      `unknown freeze group '${group}': freeze must be one of ${allowed.join(", ")}${model ? ` (for ${model})` : ""}`,
    );
  if (model && !allowed.includes(group))
    throw new Error(
      `freeze group '${group}' does not apply to ${model}; allowed for ${model}: ${allowed.join(", ")}`,
    );
  return group as FreezeGroup;
}

const weightLayers = (model: tf.LayersModel) => model.layers.filter((l) => layerParams(l) > 0);

/** The transformer layers of a model in forward order, each as the prefix its layers share. */
function transformerLayerPrefixes(model: tf.LayersModel): string[] {
  const seen: string[] = [];
  for (const l of model.layers) {
    const m = /^(layer\d+_mvit_t\d+|encoder_t\d+|level\d+_t\d+)_/.exec(l.name);
    if (m && !seen.includes(m[1])) seen.push(m[1]);
  }
  return seen;
}

const STEM = ["stem_conv", "stem_conv_bn", "patch_embed", "cls_token", "pos_embed", "level0_pos"];

/** The layers `group` freezes in `model` (nothing is changed). */
export function layersInGroup(model: tf.LayersModel, group: FreezeGroup): tf.layers.Layer[] {
  validateFreezeGroup(group, model.name);
  const early = EARLY.exec(group);
  if (early) {
    const target = (Number(early[1]) / 100) * parameterCount(model);
    const out: tf.layers.Layer[] = [];
    let frozen = 0;
    for (const l of weightLayers(model)) {
      if (frozen >= target) break;
      out.push(l);
      frozen += layerParams(l);
    }
    return out;
  }
  switch (group) {
    case "none":
      return [];
    case "all-but-head":
      return weightLayers(model).filter((l) => l.name !== "classifier");
    case "first5":
      return weightLayers(model).slice(0, 5);
    case "stem+early-transformer": {
      const prefixes = transformerLayerPrefixes(model);
      const first = prefixes.slice(0, Math.floor(prefixes.length / 2));
      return weightLayers(model).filter(
        (l) => STEM.includes(l.name) || first.some((p) => l.name.startsWith(p + "_")),
      );
    }
  }
  throw new Error(`unknown freeze group '${group}'`);
}

/**
 * Makes exactly `group` frozen (everything else trainable). Frozen batch norms run in inference
 * mode (FreezableBatchNorm), so their statistics stay as trained.
 */
export function freeze(model: tf.LayersModel, group: FreezeGroup): FreezeReport {
  const frozen = new Set(layersInGroup(model, group));
  for (const l of model.layers) l.trainable = !frozen.has(l);
  return {
    group,
    frozenLayers: [...frozen].map((l) => l.name),
    trainableParams: parameterCount(model, "trainable"),
    frozenParams: parameterCount(model, "frozen"),
  };
}

/** One row of frozenFractions. */
export interface FrozenFraction {
  /** The freeze group. */
  group: FreezeGroup;
  /** Weight layers it freezes. */
  layers: number;
  /** Parameters it freezes, and the model's total (BN moving statistics excluded). */
  frozenParams: number;
  totalParams: number;
  /** frozenParams / totalParams. */
  fraction: number;
}

/**
 * The share of `model`'s parameters each group would freeze (nothing is changed): every named
 * group that applies to the model, plus `extra` groups such as `early:25`.
 */
export function frozenFractions(model: tf.LayersModel, extra: string[] = []): FrozenFraction[] {
  const total = parameterCount(model);
  const groups = [
    ...freezeGroupsFor(model.name).filter((g) => !g.startsWith("early:")),
    ...extra,
  ].map((g) => validateFreezeGroup(g, model.name));
  return groups.map((group) => {
    const ls = layersInGroup(model, group);
    const frozenParams = ls.reduce((a, l) => a + layerParams(l), 0);
    return {
      group,
      layers: ls.length,
      frozenParams,
      totalParams: total,
      fraction: frozenParams / total,
    };
  });
}
