/** The classifier every model here ends with. */
import * as tf from "@tensorflow/tfjs";
import { Seeds } from "./init";

type SymTensor = tf.SymbolicTensor;

/**
 * The model from `input` to class logits: `features` (a [B, H, W, C] map is first global-average
 * pooled, layer `pool`; [B, C] features, e.g. ViT's class token, go in as they are) -> the dense
 * layer `classifier` (Glorot uniform, the next seed) -> the model `name`.
 */
export function classifierHead(
  input: SymTensor,
  features: SymTensor,
  o: { classes: number; seeds: Seeds; name: string },
): tf.LayersModel {
  const x =
    features.shape.length === 4
      ? (tf.layers.globalAveragePooling2d({ name: "pool" }).apply(features) as SymTensor)
      : features;
  const logits = tf.layers
    .dense({ units: o.classes, name: "classifier", kernelInitializer: o.seeds.glorotUniform() })
    .apply(x) as SymTensor;
  return tf.model({ inputs: input, outputs: logits, name: o.name });
}
