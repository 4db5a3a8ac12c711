import * as tf from "@tensorflow/tfjs";

/**
 * Token layers of the ViT family (Dosovitskiy et al. 2021, eq. 1): a learned class token
 * prepended to the patch tokens, learned position embeddings added to them, the class token read
 * back out for the classifier, and (for masked-image pre-training) a learned mask token put in
 * place of hidden patches. All are plain tf ops, so their gradients are tfjs's own; each is a
 * registered layer so a model that uses it saves and loads like the others.
 */

export interface TokenArgs {
  /** Seeds the truncated-normal initialiser (std 0.02, as in ViT and MAE). */
  seed?: number;
  name?: string;
  trainable?: boolean;
}

/**
 * A layer holding one learned tensor (truncated normal, std 0.02, from its seed): the weight
 * `weightName`, built in the shape `weightShape` reads off the input shape.
 */
abstract class LearnedTensorLayer extends tf.layers.Layer {
  readonly seed: number;
  protected learned!: tf.LayerVariable;
  protected abstract readonly weightName: string;

  constructor(args: TokenArgs) {
    super(args);
    this.seed = args.seed ?? 0;
  }

  protected abstract weightShape(inputShape: tf.Shape | tf.Shape[]): number[];

  build(inputShape: tf.Shape | tf.Shape[]): void {
    this.learned = this.addWeight(
      this.weightName,
      this.weightShape(inputShape),
      "float32",
      tf.initializers.truncatedNormal({ stddev: 0.02, seed: this.seed }),
    );
    this.built = true;
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}

/** [B, N, D] -> [B, 1 + N, D]: a learned token in front of the sequence. */
export class ClassToken extends LearnedTensorLayer {
  static className = "ClassToken";
  protected readonly weightName = "token";

  protected weightShape(inputShape: tf.Shape | tf.Shape[]): number[] {
    return [1, 1, (inputShape as tf.Shape)[2] as number]; // [1, 1, D]
  }

  computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, n, d] = s as tf.Shape;
    return [b, n === null ? null : (n as number) + 1, d];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const [b, , d] = x.shape;
      return tf.concat([tf.broadcastTo(this.learned.read(), [b, 1, d]), x], 1);
    });
  }
}

/** x + E with E a learned tensor of x's shape without the batch axis ([N, D] tokens or an [H, W, D] map). */
export class PositionEmbedding extends LearnedTensorLayer {
  static className = "PositionEmbedding";
  protected readonly weightName = "table";

  protected weightShape(inputShape: tf.Shape | tf.Shape[]): number[] {
    const shape = (inputShape as tf.Shape).slice(1) as number[];
    if (shape.some((v) => v === null))
      throw new Error(`PositionEmbedding needs a static shape, got [${shape}]`);
    return shape;
  }

  computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return s as tf.Shape;
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.add(x, this.learned.read());
  }
}

/** [B, N, D] -> [B, D]: token `index` (0: the class token). */
export class TakeToken extends tf.layers.Layer {
  static className = "TakeToken";
  readonly index: number;

  constructor(args: { index?: number; name?: string; trainable?: boolean }) {
    super(args);
    this.index = args.index ?? 0;
  }

  computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = s as tf.Shape;
    return [shape[0], shape[2]];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const [b, , d] = x.shape;
      return tf.reshape(tf.slice(x, [0, this.index, 0], [b, 1, d]), [b, d]); // [B, 1, D] -> [B, D]
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), index: this.index };
  }
}

/**
 * Masked-image modelling's input: inputs [tokens [B, N, D], mask [B, N] of 0/1]; where mask is 1
 * the token is replaced by one learned mask token: x * (1 - m) + t * m.
 */
export class MaskTokens extends LearnedTensorLayer {
  static className = "MaskTokens";
  protected readonly weightName = "token";

  protected weightShape(inputShape: tf.Shape | tf.Shape[]): number[] {
    return [(inputShape as tf.Shape[])[0][2] as number]; // [D], D of the tokens input
  }

  computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return (s as tf.Shape[])[0];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [x, mask] = inputs as tf.Tensor[];
      const m = tf.expandDims(mask, -1); // [B, N] -> [B, N, 1]
      return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(m, this.learned.read()));
    });
  }
}

tf.serialization.registerClass(ClassToken);
tf.serialization.registerClass(PositionEmbedding);
tf.serialization.registerClass(TakeToken);
tf.serialization.registerClass(MaskTokens);
