import * as tf from "@tensorflow/tfjs";
import { fusedSelfAttention } from "../../backend/native-training-kernels";

export interface AttentionArgs {
  dim: number;
  heads: number;
  seed?: number;
  name?: string;
  trainable?: boolean;
}

/** Where an attention layer stores its maps [batch, heads, n, n] (kept) when asked to. */
export type AttentionCapture = { maps: tf.Tensor | null } | null;

/** Queries, keys and values of h heads, each [B*h, N, dh]. */
export type QueryKeyValue = [q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D];

/** The weights of one projection y = x W + b: `${name}_kernel` [in, out] and `${name}_bias` [out]. */
export interface Projection {
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable;
}

/** Rows x [T, in] projected: x W + b, [T, out]. */
export function project(x: tf.Tensor, p: Projection): tf.Tensor {
  return tf.add(tf.matMul(x, p.kernel.read()), p.bias.read());
}

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
  out: Projection,
): tf.Tensor3D {
  const [, n, dh] = q.shape;
  const attn = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)));
  if (capture) {
    capture.maps?.dispose();
    capture.maps = tf.keep(tf.reshape(attn, [b, h, n, n]));
  }
  // [B*h, N, dh] -> [B, h, N, dh] -> [B, N, h, dh] -> [B*N, h*dh]
  const heads = tf.reshape(
    tf.transpose(tf.reshape(tf.matMul(attn, v), [b, h, n, dh]), [0, 2, 1, 3]),
    [b * n, h * dh],
  );
  return tf.reshape(project(heads, out), [b, n, h * dh]); // -> [B, N, D]
}

/**
 * What every attention layer here shares: width, heads and seed (checked and serialized), the
 * capture slot, the output shape (its input's), the seeded projections, and the call: x [B, N, D]
 * as rows [B*N, D], the subclass's Q, K, V from them, then attendHeads with the output projection.
 */
export abstract class AttentionLayer extends tf.layers.Layer {
  readonly dim: number;
  readonly heads: number;
  readonly seed: number;
  /** The output projection Wo, bo (built by the subclass, after its own projections). */
  protected out!: Projection;
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

  /** Adds `${name}_kernel` [dim, units] (Glorot, seed + `seedOffset`) and `${name}_bias` (zeros). */
  protected projection(name: string, units: number, seedOffset: number): Projection {
    const kernel = this.addWeight(
      `${name}_kernel`,
      [this.dim, units],
      "float32",
      tf.initializers.glorotUniform({ seed: this.seed + seedOffset }),
    );
    const bias = this.addWeight(`${name}_bias`, [units], "float32", tf.initializers.zeros());
    return { kernel, bias };
  }

  /** Rows [B*N, D] of the input to queries, keys and values, each [B*h, N, dh]. */
  protected abstract queryKeyValue(rows: tf.Tensor2D, b: number, n: number): QueryKeyValue;

  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const [b, n, d] = x.shape;
      const [q, k, v] = this.queryKeyValue(tf.reshape(x, [b * n, d]), b, n); // [B, N, D] -> [B*N, D]
      return attendHeads(q, k, v, b, this.heads, this.capture, this.out);
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dim: this.dim, heads: this.heads, seed: this.seed };
  }
}

/**
 * Multi-head self-attention over tokens [batch, n, dim], built on tf.matMul: tfjs has no
 * gradient for Einsum, so the layers API's attention cannot train.
 *   qkv = x Wqkv + b;  A_h = softmax(Q_h K_h^T / sqrt(d_h));  out = concat_h(A_h V_h) Wo + bo
 */
export class MultiHeadSelfAttention extends AttentionLayer {
  static className = "MultiHeadSelfAttention";
  private qkv!: Projection;

  build(): void {
    this.qkv = this.projection("qkv", 3 * this.dim, 0);
    this.out = this.projection("out", this.dim, 1);
    this.built = true;
  }

  /** On the native backend, this project's attention kernels do the whole layer. */
  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
    const read = (p: Projection) => ({ kernel: p.kernel.read(), bias: p.bias.read() });
    const fused = fusedSelfAttention(x, read(this.qkv), read(this.out), this.heads, this.capture);
    return fused ?? super.call(inputs);
  }

  protected queryKeyValue(rows: tf.Tensor2D, b: number, n: number): QueryKeyValue {
    const h = this.heads;
    const dh = this.dim / h;
    // [b, n, 3, h, dh] -> [3, b, h, n, dh]: one transpose splits Q, K, V and the heads.
    const split = tf.transpose(
      tf.reshape(project(rows, this.qkv), [b, n, 3, h, dh]),
      [2, 0, 3, 1, 4],
    );
    const [q, k, v] = tf.unstack(split).map((t) => tf.reshape(t, [b * h, n, dh]) as tf.Tensor3D);
    return [q, k, v];
  }
}
tf.serialization.registerClass(MultiHeadSelfAttention);
