import * as tf from "@tensorflow/tfjs";

type Sym = tf.SymbolicTensor;
interface NodeLike {
  inputTensors: Sym[];
}

/** A layer's own output in the model's graph (node 0): splitAt adds nodes when it re-applies layers. */
function outputOf(layer: tf.layers.Layer): Sym {
  return layer.getOutputAt(0) as Sym;
}

function inputsOf(layer: tf.layers.Layer): Sym[] {
  return ((layer as unknown as { inboundNodes: NodeLike[] }).inboundNodes[0]?.inputTensors ??
    []) as Sym[];
}

/** Layers after `cutLayer` in topological order, or null when a skip connection crosses the cut. */
function tailLayers(model: tf.LayersModel, cutLayer: string): tf.layers.Layer[] | null {
  const idx = model.layers.findIndex((l) => l.name === cutLayer);
  if (idx < 0) return null;
  const produced = new Set<number>([outputOf(model.layers[idx]).id]);
  const tail = model.layers.slice(idx + 1);
  for (const l of tail) {
    if (!inputsOf(l).every((t) => produced.has(t.id))) return null;
    produced.add(outputOf(l).id);
  }
  return tail;
}

/**
 * Layers whose output carries everything the rest of the network needs (no skip connection
 * crosses them): the places a network can be cut for Grad-CAM.
 */
export function cutPoints(model: tf.LayersModel): string[] {
  return model.layers
    .filter((l) => outputOf(l).shape.length === 4 && tailLayers(model, l.name) !== null)
    .map((l) => l.name);
}

const splits = new WeakMap<
  tf.LayersModel,
  Map<string, { head: tf.LayersModel; tail: tf.LayersModel }>
>();

/**
 * Splits `model` at layer `cut` into head (image -> feature map) and tail (feature map -> logits);
 * the tail re-applies the same layer objects, so both halves share the trained weights. The
 * halves own no tensors (never dispose them: that would dispose the model's layers) and are
 * cached per model and layer.
 */
export function splitAt(
  model: tf.LayersModel,
  cut: string,
): { head: tf.LayersModel; tail: tf.LayersModel } {
  const cached = splits.get(model)?.get(cut);
  if (cached) return cached;
  const tail = tailLayers(model, cut);
  if (!tail) {
    const known = model.layers.some((l) => l.name === cut);
    throw new Error(
      `${known ? `a skip connection crosses layer '${cut}'` : `no layer '${cut}' in ${model.name}`}; Grad-CAM layers for ${model.name}: ${cutPoints(model).slice(-8).join(", ")} (see cutPoints())`,
    );
  }
  const cutOut = outputOf(model.getLayer(cut));
  const input = tf.input({ shape: cutOut.shape.slice(1) as number[] });
  const map = new Map<number, Sym>([[cutOut.id, input]]);
  for (const l of tail) {
    const ins = inputsOf(l).map((t) => map.get(t.id)!);
    map.set(outputOf(l).id, l.apply(ins.length === 1 ? ins[0] : ins) as Sym);
  }
  const halves = {
    head: tf.model({ inputs: model.inputs, outputs: cutOut }),
    tail: tf.model({ inputs: input, outputs: map.get((model.outputs[0] as Sym).id)! }),
  };
  if (!splits.has(model)) splits.set(model, new Map());
  splits.get(model)!.set(cut, halves);
  return halves;
}
