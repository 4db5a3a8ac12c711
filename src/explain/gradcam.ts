/**
 * Grad-CAM (Selvaraju et al. 2017) and Grad-CAM++ (Chattopadhay et al. 2018) for any layer
 * where the network can be cut (cut.ts); the default layer is defaultCamLayer's.
 *
 *   Grad-CAM:    w_k = mean_ij dS/dA_ij^k,                      cam = ReLU(sum_k w_k A^k)
 *   Grad-CAM++:  w_k = sum_ij alpha_ij^k ReLU(dS/dA_ij^k),  alpha = g^2 / (2 g^2 + sum_ab A_ab^k g^3)
 */
import * as tf from "@tensorflow/tfjs";
import { cutPoints, splitAt } from "./cut";
import { groupOf } from "../models/summary";

export type CamMethod = "gradcam" | "gradcam++";

export interface CamResult {
  /** [n, size, size] heatmaps in 0..1 at the image's resolution. */
  maps: Float32Array[];
  /** Class explained for each image, and the model's predicted class. */
  classes: number[];
  predicted: number[];
  /** The model's class probabilities (softmax of its logits) for each image, from the same forward pass. */
  probabilities: Float32Array[];
  layer: string;
  method: CamMethod;
}

/**
 * Coarsest feature map (stride, image side / map side) worth a heatmap, and the smallest side
 * at any image size: the route and the control routes are 1 lane apart (a quarter of a 64 px image
 * at 3 lanes), so an 8x8 map at 64 px can tell them apart where a 2x2 one can only say "everywhere".
 */
export const MAX_CAM_STRIDE = 8;
export const MIN_CAM_SIDE = 4;

/**
 * The output of the last block (stem, MobileNet block, MobileViT stage) whose feature map has a
 * stride of at most MAX_CAM_STRIDE and a side of at least MIN_CAM_SIDE: a block's output is what
 * the rest of the network reads. At 64 px: MobileNetV2 `block5_add` and MobileViT
 * `layer3_mvit_fusion_swish` (8x8, after the first transformer); at 32 px the same layers at 4x4.
 */
export function defaultCamLayer(model: tf.LayersModel): string {
  const pts = cutPoints(model);
  if (pts.length === 0) throw new Error(`${model.name} has no layer Grad-CAM can use`);
  const names = model.layers.map((l) => l.name);
  const blockEnd = (p: string) => {
    const next = names[names.indexOf(p) + 1];
    return next === undefined || groupOf(next) !== groupOf(p);
  };
  const size = (model.inputs[0].shape as number[])[1];
  const minSide = Math.max(MIN_CAM_SIDE, Math.ceil(size / MAX_CAM_STRIDE));
  const side = (name: string) =>
    (model.getLayer(name).getOutputAt(0) as tf.SymbolicTensor).shape[1] as number;
  const good = pts.filter((p) => blockEnd(p) && side(p) >= minSide);
  return good.length ? good[good.length - 1] : pts[pts.length - 1];
}

/**
 * Heatmaps for `images` ([n, H, W, 3] in 0..1). `classes[i]` picks the class to explain for
 * image i (default: the predicted class).
 */
export function gradCam(
  model: tf.LayersModel,
  images: tf.Tensor4D,
  opts: { layer?: string; classes?: number[]; method?: CamMethod } = {},
): CamResult {
  const layer = opts.layer ?? defaultCamLayer(model);
  const method = opts.method ?? "gradcam";
  const { head, tail } = splitAt(model, layer);
  const [n, size] = images.shape;
  if (opts.classes && opts.classes.length !== n)
    throw new Error(`classes has ${opts.classes.length} entries for ${n} images`);
  let predicted: number[] = [];
  let classes: number[] = [];
  let probs = new Float32Array(0);
  const maps = tf.tidy(() => {
    // One forward pass: the tail of the head's activations is the model's output.
    const a = head.predict(images) as tf.Tensor4D;
    const logits = tail.predict(a) as tf.Tensor;
    predicted = Array.from(tf.argMax(logits, 1).dataSync());
    probs = tf.softmax(logits).dataSync() as Float32Array;
    classes = opts.classes ?? predicted;
    const mask = tf.oneHot(tf.tensor1d(classes, "int32"), (model.outputs[0].shape as number[])[1]);
    const g = tf.grad((act: tf.Tensor) => tf.sum(tf.mul(tail.apply(act) as tf.Tensor, mask)))(
      a,
    ) as tf.Tensor4D;
    let weights: tf.Tensor;
    if (method === "gradcam") weights = tf.mean(g, [1, 2], true);
    else {
      const g2 = tf.square(g);
      const g3 = tf.mul(g2, g);
      const denom = tf.add(tf.mul(g2, 2), tf.mul(tf.sum(a, [1, 2], true), g3));
      const alpha = tf.div(g2, tf.where(tf.notEqual(denom, 0), denom, tf.onesLike(denom)));
      weights = tf.sum(tf.mul(alpha, tf.relu(g)), [1, 2], true);
    }
    const cam = tf.relu(tf.sum(tf.mul(a, weights), -1, true));
    const up = tf.image.resizeBilinear(cam as tf.Tensor4D, [size, size]);
    const max = tf.max(up, [1, 2, 3], true);
    return tf.div(up, tf.maximum(max, 1e-12)).dataSync() as Float32Array;
  });
  const per = size * size;
  const k = probs.length / n;
  return {
    maps: Array.from({ length: n }, (_, i) => maps.slice(i * per, (i + 1) * per)),
    classes,
    predicted,
    probabilities: Array.from({ length: n }, (_, i) => probs.slice(i * k, (i + 1) * k)),
    layer,
    method,
  };
}
