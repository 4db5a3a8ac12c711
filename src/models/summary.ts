import * as tf from "@tensorflow/tfjs";
import { MultiHeadSelfAttention } from "./layers/attention";
import { GroupedQueryAttention } from "./layers/gqa";
import { Unfold } from "./layers/patches";
import { AttentionStage } from "./entry";

export interface GroupRow {
  group: string;
  layers: number;
  params: number;
  trainable: number;
}

const count = (w: tf.LayerVariable) => (w.shape as number[]).reduce((p, d) => p * d, 1);
const isMovingStat = (w: tf.LayerVariable) => /moving_(mean|variance)/.test(w.name);

/** Learnable parameters, as papers count them: batch-norm moving statistics are not parameters. */
export function parameterCount(
  model: tf.LayersModel,
  which: "all" | "trainable" | "frozen" = "all",
): number {
  const ws =
    which === "trainable"
      ? model.trainableWeights
      : which === "frozen"
        ? model.weights.filter((w) => !w.trainable && !isMovingStat(w))
        : model.weights.filter((w) => !isMovingStat(w));
  return ws.reduce((a, w) => a + count(w), 0);
}

/** One layer's learnable parameters (moving statistics excluded). */
export function layerParams(l: tf.layers.Layer): number {
  return l.weights.filter((w) => !isMovingStat(w)).reduce((a, w) => a + count(w), 0);
}

/** The part of a layer name that names its place in the figure: stem, block3, layer4_mvit, encoder_t2, level1... */
export function groupOf(layerName: string): string {
  const m =
    /^(stem|head|classifier|pool|image|block\d+|layer\d+_mv2_\d+|layer\d+_mvit_t\d+|layer\d+_mvit|encoder_t\d+|level\d+_t\d+|level\d+_agg|level\d+)/.exec(
      layerName,
    );
  return m ? m[1] : layerName;
}

/** Parameter counts per architectural group, in forward order (moving BN statistics excluded). */
export function groupSummary(model: tf.LayersModel): GroupRow[] {
  const rows = new Map<string, GroupRow>();
  for (const l of model.layers) {
    const g = groupOf(l.name);
    const r = rows.get(g) ?? { group: g, layers: 0, params: 0, trainable: 0 };
    r.layers++;
    for (const w of l.weights) {
      if (isMovingStat(w)) continue;
      r.params += count(w);
      if (w.trainable && l.trainable) r.trainable += count(w);
    }
    rows.set(g, r);
  }
  return [...rows.values()].filter((r) => r.params > 0);
}

const shapeOf = (l: tf.layers.Layer, io: "input" | "output") =>
  ((io === "input" ? l.getInputAt(0) : l.getOutputAt(0)) as tf.SymbolicTensor).shape as number[];

/**
 * Per attention stage of a built model, the map it attends on and how many patches one attention
 * sees. A stage whose `patches` is 1 mixes nothing (its attention is the identity). MobileViT's
 * map is the Unfold input, NesT's the Blockify input, ViT's and mmLiT's the patch grid.
 */
export function attentionSpan(model: tf.LayersModel): AttentionStage[] {
  const stages = new Map<string, AttentionStage>();
  for (const l of model.layers) {
    if (!(l instanceof MultiHeadSelfAttention || l instanceof GroupedQueryAttention)) continue;
    const stage = l.name.replace(/_t\d+_attn$/, "");
    const prev = stages.get(stage);
    if (prev) {
      prev.layers++;
      continue;
    }
    const patches = shapeOf(l, "input")[1];
    const grouping = model.layers.find(
      (g) => g.name === `${stage}_unfold` || g.name === `${stage}_blocks`,
    );
    const map = shapeOf(grouping ?? model.getLayer("patch_map"), grouping ? "input" : "output");
    const featureMap: [number, number] = [map[1], map[2]];
    // Unfold: one sequence per in-patch position; Blockify: one per block; ViT, mmLiT: one.
    const sequences =
      grouping instanceof Unfold
        ? grouping.patch * grouping.patch
        : grouping
          ? (featureMap[0] * featureMap[1]) / patches
          : 1;
    stages.set(stage, { stage, layers: 1, featureMap, patches, sequences });
  }
  return [...stages.values()];
}

export function formatSummary(model: tf.LayersModel): string {
  const rows = groupSummary(model);
  const total = rows.reduce((a, r) => a + r.params, 0);
  const trainable = rows.reduce((a, r) => a + r.trainable, 0);
  const lines = rows.map(
    (r) =>
      `${r.group.padEnd(22)} ${String(r.layers).padStart(4)} ${r.params.toLocaleString("en").padStart(11)} ${r.trainable === r.params ? "" : r.trainable === 0 ? "  frozen" : `  ${r.trainable.toLocaleString("en")} trainable`}`,
  );
  const spans = attentionSpan(model).map(
    (s) =>
      `attention ${s.stage.padEnd(12)} ${s.layers} layers on a ${s.featureMap.join("x")} map: ${s.patches} patches per attention, ${s.sequences} sequences per image${s.patches === 1 ? "  (attends over a single patch: mixes nothing)" : ""}`,
  );
  return [
    `${model.name}: ${total.toLocaleString("en")} parameters (${trainable.toLocaleString("en")} trainable)`,
    `${"group".padEnd(22)} ${"lyrs".padStart(4)} ${"params".padStart(11)}`,
    ...lines,
    ...spans,
  ].join("\n");
}
