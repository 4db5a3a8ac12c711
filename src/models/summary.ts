import * as tf from "@tensorflow/tfjs";

export interface GroupRow {
  group: string;
  layers: number;
  params: number;
  trainable: number;
}

const count = (w: tf.LayerVariable) => (w.shape as number[]).reduce((p, d) => p * d, 1);
const isMovingStat = (w: tf.LayerVariable) => /moving_(mean|variance)/.test(w.name);

/** Learnable parameters, as papers count them: batch-norm moving statistics are not parameters. */
export function parameterCount(model: tf.LayersModel, which: "all" | "trainable" | "frozen" = "all"): number {
  const ws = which === "trainable" ? model.trainableWeights : which === "frozen" ? model.weights.filter((w) => !w.trainable && !isMovingStat(w)) : model.weights.filter((w) => !isMovingStat(w));
  return ws.reduce((a, w) => a + count(w), 0);
}

/** The part of a layer name that names its place in the figure: stem, block3, layer4_mvit, head... */
export function groupOf(layerName: string): string {
  const m = /^(stem|head|classifier|pool|image|block\d+|layer\d+_mv2_\d+|layer\d+_mvit_t\d+|layer\d+_mvit)/.exec(layerName);
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

export function formatSummary(model: tf.LayersModel): string {
  const rows = groupSummary(model);
  const total = rows.reduce((a, r) => a + r.params, 0);
  const trainable = rows.reduce((a, r) => a + r.trainable, 0);
  const lines = rows.map((r) => `${r.group.padEnd(22)} ${String(r.layers).padStart(4)} ${r.params.toLocaleString("en").padStart(11)} ${r.trainable === r.params ? "" : r.trainable === 0 ? "  frozen" : `  ${r.trainable.toLocaleString("en")} trainable`}`);
  return [`${model.name}: ${total.toLocaleString("en")} parameters (${trainable.toLocaleString("en")} trainable)`, `${"group".padEnd(22)} ${"lyrs".padStart(4)} ${"params".padStart(11)}`, ...lines].join("\n");
}
