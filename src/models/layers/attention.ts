import * as tf from "@tensorflow/tfjs";

export interface AttentionArgs {
  dim: number;
  heads: number;
  seed?: number;
  name?: string;
  trainable?: boolean;
}

/** Where an attention layer stores its maps [batch, heads, n, n] (kept) when asked to. */
export type AttentionCapture = { maps: tf.Tensor | null } | null;

/**
 * Scaled dot-product attention of h heads and the output projection, shared by every attention
 * layer here: q, k, v are [B*h, N, dh]; returns concat_h(softmax(Q_h K_h^T / sqrt(dh)) V_h) Wo + bo
 * as [B, N, h*dh], and stores the maps in `capture` when set.
 */
export function attendHeads(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  b: number,
  h: number,
  capture: AttentionCapture,
  wOut: tf.Tensor,
  bOut: tf.Tensor,
): tf.Tensor3D {
  const [, n, dh] = q.shape;
  const attn = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)));
  if (capture) {
    capture.maps?.dispose();
    capture.maps = tf.keep(tf.reshape(attn, [b, h, n, n]));
  }
  // [B*h, N, dh] -> [B, h, N, dh] -> [B, N, h, dh] -> [B*N, h*dh]
  const out = tf.reshape(
    tf.transpose(tf.reshape(tf.matMul(attn, v), [b, h, n, dh]), [0, 2, 1, 3]),
    [b * n, h * dh],
  );
  return tf.reshape(tf.add(tf.matMul(out, wOut), bOut), [b, n, h * dh]); // -> [B, N, D]
}

/**
 * Multi-head self-attention over tokens [batch, n, dim], built on tf.matMul: tfjs has no
 * gradient for Einsum, so the layers API's attention cannot train.
 *   qkv = x Wqkv + b;  A_h = softmax(Q_h K_h^T / sqrt(d_h));  out = concat_h(A_h V_h) Wo + bo
 */
export class MultiHeadSelfAttention extends tf.layers.Layer {
  static className = "MultiHeadSelfAttention";
  readonly dim: number;
  readonly heads: number;
  readonly seed: number;
  private wQkv!: tf.LayerVariable;
  private bQkv!: tf.LayerVariable;
  private wOut!: tf.LayerVariable;
  private bOut!: tf.LayerVariable;
  /** When set, the next call stores its attention maps [batch, heads, n, n] here (kept). */
  capture: AttentionCapture = null;

  constructor(args: AttentionArgs) {
    super(args);
    if (args.dim % args.heads !== 0)
      throw new Error(`attention dim ${args.dim} must be divisible by heads ${args.heads}`);
    this.dim = args.dim;
    this.heads = args.heads;
    this.seed = args.seed ?? 0;
  }

  build(): void {
    const d = this.dim;
    this.wQkv = this.addWeight(
      "qkv_kernel",
      [d, 3 * d],
      "float32",
      tf.initializers.glorotUniform({ seed: this.seed }),
    );
    this.bQkv = this.addWeight("qkv_bias", [3 * d], "float32", tf.initializers.zeros());
    this.wOut = this.addWeight(
      "out_kernel",
      [d, d],
      "float32",
      tf.initializers.glorotUniform({ seed: this.seed + 1 }),
    );
    this.bOut = this.addWeight("out_bias", [d], "float32", tf.initializers.zeros());
    this.built = true;
  }

  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const [b, n, d] = x.shape;
      const h = this.heads;
      const dh = d / h;
      const qkv = tf.add(tf.matMul(tf.reshape(x, [b * n, d]), this.wQkv.read()), this.bQkv.read());
      // [b, n, 3, h, dh] -> [3, b, h, n, dh]: one transpose splits Q, K, V and the heads.
      const split = tf.transpose(tf.reshape(qkv, [b, n, 3, h, dh]), [2, 0, 3, 1, 4]);
      const [q, k, v] = tf.unstack(split).map((t) => tf.reshape(t, [b * h, n, dh]) as tf.Tensor3D);
      return attendHeads(q, k, v, b, h, this.capture, this.wOut.read(), this.bOut.read());
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dim: this.dim, heads: this.heads, seed: this.seed };
  }
}
tf.serialization.registerClass(MultiHeadSelfAttention);
