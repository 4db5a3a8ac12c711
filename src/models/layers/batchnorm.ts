import * as tf from "@tensorflow/tfjs";
import { channelMeans } from "./reduce";
import {
  fusedBatchNormTrain,
  MovingStats,
  movingAverages,
} from "../../backend/native-training-kernels";
import { customGradient, WithGradient } from "../../backend/custom-grad";

// tfjs does not export the BatchNormalization class; an instance tells us its constructor.
const BatchNormalizationBase = Object.getPrototypeOf(tf.layers.batchNormalization({}))
  .constructor as {
  new (args: object): tf.layers.Layer;
};

/** Fields of tfjs's BatchNormalization that the training path needs. */
interface BNState {
  axis: number;
  epsilon: number;
  momentum: number;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

/**
 * Training-mode batch norm over the last axis with its closed-form gradient:
 *   dx = a * (dy - mean(dy)) - xc * a * invstd^2 * mean(dy * xc),   a = gamma * invstd,
 * where xc = x - mean(x). tfjs's generic BN gradient tiles the statistics to full size and
 * costs several times more; here every reduction is one pooling pass. The moving averages are
 * updated inside the forward pass, where nothing is recorded for the gradient.
 */
function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  moving: MovingStats,
): tf.Tensor {
  // Native TensorFlow runs the same maths faster as fused kernels.
  const fused = fusedBatchNormTrain(x, gamma, beta, eps, moving);
  if (fused) return fused;
  const n = x.size / x.shape[x.rank - 1];
  const forward = ([xIn, g, b]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    const mean = channelMeans(xIn);
    const xc = tf.sub(xIn, mean);
    const variance = channelMeans(tf.square(xc));
    moving.update(...movingAverages(moving.mean, moving.variance, mean, variance, moving.decay));
    const invstd = tf.rsqrt(tf.add(variance, eps));
    const a = tf.mul(g, invstd);
    save([xc, invstd, a]);
    return {
      value: tf.add(tf.mul(xc, a), b),
      gradFunc: (dy, [xcS, invstdS, aS]) => {
        const meanDy = channelMeans(dy);
        const meanDyXc = channelMeans(tf.mul(dy, xcS));
        const k = tf.neg(tf.mul(tf.mul(aS, tf.square(invstdS)), meanDyXc));
        const dx = tf.add(tf.mul(tf.sub(dy, meanDy), aS), tf.mul(xcS, k));
        return [dx, tf.mul(tf.mul(meanDyXc, invstdS), n), tf.mul(meanDy, n)];
      },
    };
  };
  return customGradient([x, gamma, beta], forward);
}

/**
 * Batch norm that (1) runs in inference mode while frozen, as Keras 2 does and tfjs does not: a
 * frozen BN layer must neither normalise with batch statistics nor update its moving averages,
 * or fine-tuning silently changes the "frozen" part of the network; and (2) trains with the
 * closed-form gradient above.
 */
export class FreezableBatchNorm extends BatchNormalizationBase {
  static className = "FreezableBatchNorm";

  call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor | tf.Tensor[] {
    const training = Boolean(kwargs?.training) && this.trainable;
    const s = this as unknown as BNState;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!training || (s.axis !== -1 && s.axis !== x.rank - 1))
      return super.call(inputs, { ...kwargs, training });
    return batchNormTrain(x, s.gamma.read(), s.beta.read(), s.epsilon, {
      mean: s.movingMean.read(),
      variance: s.movingVariance.read(),
      decay: 1 - s.momentum,
      update: (m, v) => {
        s.movingMean.write(m);
        s.movingVariance.write(v);
      },
    });
  }
}
tf.serialization.registerClass(
  FreezableBatchNorm as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>,
);
