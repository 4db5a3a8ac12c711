import * as tf from "@tensorflow/tfjs";
import { channelMeans } from "./reduce";
import {
  BatchStats,
  fusedBatchNormTrain,
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
 * costs several times more; here every reduction is one pooling pass. `onStats` gets the batch
 * mean and variance inside the forward pass, where nothing is recorded for the gradient.
 */
function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  onStats: BatchStats,
): tf.Tensor {
  // Native TensorFlow runs the same maths faster as its two fused kernels.
  const fused = fusedBatchNormTrain(x, gamma, beta, eps, onStats);
  if (fused) return fused;
  const n = x.size / x.shape[x.rank - 1];
  const forward = ([xIn, g, b]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    const mean = channelMeans(xIn);
    const xc = tf.sub(xIn, mean);
    const variance = channelMeans(tf.square(xc));
    onStats(mean, variance);
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
    return batchNormTrain(x, s.gamma.read(), s.beta.read(), s.epsilon, (mean, variance) => {
      const [m, v] = movingAverages(
        s.movingMean.read(),
        s.movingVariance.read(),
        mean,
        variance,
        1 - s.momentum,
      );
      s.movingMean.write(m);
      s.movingVariance.write(v);
    });
  }
}
tf.serialization.registerClass(
  FreezableBatchNorm as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>,
);
