import * as tf from "@tensorflow/tfjs";
import { channelMeans } from "./reduce";
import { fusedLayerNorm } from "../../backend/native-training-kernels";
import { customGradient, WithGradient } from "../../backend/custom-grad";

/**
 * Layer norm over the last axis with broadcasting and a closed-form gradient:
 *   xhat = (x - mean) * invstd;  y = gamma * xhat + beta
 *   dx = invstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma   (means per row)
 * tfjs-layers' LayerNormalization tiles gamma and beta to the input's full shape, and Tile's
 * gradient loops once per repetition: tens of thousands of slices per MobileViT step.
 * On the native backend TensorFlow's fused batch norm does the normalization instead.
 */
export class LayerNorm extends tf.layers.Layer {
  static className = "LayerNorm";
  readonly epsilon: number;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;

  constructor(args: { epsilon?: number; name?: string; trainable?: boolean }) {
    super(args);
    this.epsilon = args.epsilon ?? 1e-5;
  }

  build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const c = shape[shape.length - 1] as number;
    this.gamma = this.addWeight("gamma", [c], "float32", tf.initializers.ones());
    this.beta = this.addWeight("beta", [c], "float32", tf.initializers.zeros());
    this.built = true;
  }

  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const eps = this.epsilon;
    const fused = fusedLayerNorm(x, this.gamma.read(), this.beta.read(), eps);
    if (fused) return fused;
    const rows = x.size / x.shape[x.rank - 1];
    const forward = ([xIn, g, b]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
      const mean = tf.mean(xIn, -1, true);
      const xc = tf.sub(xIn, mean);
      const invstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
      const xhat = tf.mul(xc, invstd);
      save([xhat, invstd, g]);
      return {
        value: tf.add(tf.mul(xhat, g), b),
        gradFunc: (dy, [xhatS, invstdS, gS]) => {
          const gdy = tf.mul(dy, gS);
          const dx = tf.mul(
            invstdS,
            tf.sub(
              tf.sub(gdy, tf.mean(gdy, -1, true)),
              tf.mul(xhatS, tf.mean(tf.mul(gdy, xhatS), -1, true)),
            ),
          );
          return [
            dx,
            tf.mul(channelMeans(tf.mul(dy, xhatS)), rows),
            tf.mul(channelMeans(dy), rows),
          ];
        },
      };
    };
    return customGradient([x, this.gamma.read(), this.beta.read()], forward);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(LayerNorm);
