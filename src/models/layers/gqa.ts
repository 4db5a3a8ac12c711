import * as tf from "@tensorflow/tfjs";
import { AttentionCapture, attendHeads } from "./attention";

export interface GqaArgs {
  dim: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads; each serves heads / kvHeads query heads (kvHeads = heads: plain MHSA, 1: multi-query). */
  kvHeads: number;
  seed?: number;
  name?: string;
  trainable?: boolean;
}

/**
 * Grouped-query attention (Ainslie et al. 2023) over tokens [batch, n, dim]: h query heads, g
 * key/value heads, query head i reads key/value head floor(i / (h/g)).
 *   Q = x Wq + bq (h heads);  K, V = x Wkv + bkv (g heads each)
 *   A_i = softmax(Q_i K_{i/(h/g)}^T / sqrt(d_h));  out = concat_i(A_i V_{i/(h/g)}) Wo + bo
 * Key/value weights shrink from 2 d^2 to 2 d^2 g/h. A separate layer from MultiHeadSelfAttention
 * (fused qkv kernel) so that saved MobileViT checkpoints keep their weight layout.
 */
export class GroupedQueryAttention extends tf.layers.Layer {
  static className = "GroupedQueryAttention";
  readonly dim: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly seed: number;
  private wQ!: tf.LayerVariable;
  private bQ!: tf.LayerVariable;
  private wKv!: tf.LayerVariable;
  private bKv!: tf.LayerVariable;
  private wOut!: tf.LayerVariable;
  private bOut!: tf.LayerVariable;
  /** When set, the next call stores its attention maps [batch, heads, n, n] here (kept). */
  capture: AttentionCapture = null;

  constructor(args: GqaArgs) {
    super(args);
    if (args.dim % args.heads !== 0)
      throw new Error(`attention dim ${args.dim} must be divisible by heads ${args.heads}`);
    if (args.heads % args.kvHeads !== 0)
      throw new Error(
        `query heads ${args.heads} must be a multiple of key/value heads ${args.kvHeads}`,
      );
    this.dim = args.dim;
    this.heads = args.heads;
    this.kvHeads = args.kvHeads;
    this.seed = args.seed ?? 0;
  }

  build(): void {
    const d = this.dim;
    const kv = 2 * this.kvHeads * (d / this.heads);
    this.wQ = this.addWeight(
      "q_kernel",
      [d, d],
      "float32",
      tf.initializers.glorotUniform({ seed: this.seed }),
    );
    this.bQ = this.addWeight("q_bias", [d], "float32", tf.initializers.zeros());
    this.wKv = this.addWeight(
      "kv_kernel",
      [d, kv],
      "float32",
      tf.initializers.glorotUniform({ seed: this.seed + 1 }),
    );
    this.bKv = this.addWeight("kv_bias", [kv], "float32", tf.initializers.zeros());
    this.wOut = this.addWeight(
      "out_kernel",
      [d, d],
      "float32",
      tf.initializers.glorotUniform({ seed: this.seed + 2 }),
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
      const g = this.kvHeads;
      const dh = d / h;
      const rows = tf.reshape(x, [b * n, d]); // [B, N, D] -> [B*N, D]
      const q = tf.add(tf.matMul(rows, this.wQ.read()), this.bQ.read());
      // [B*N, D] -> [B, N, h, dh] -> [B, h, N, dh] -> [B*h, N, dh]
      const qh = tf.reshape(tf.transpose(tf.reshape(q, [b, n, h, dh]), [0, 2, 1, 3]), [
        b * h,
        n,
        dh,
      ]) as tf.Tensor3D;
      const kv = tf.add(tf.matMul(rows, this.wKv.read()), this.bKv.read());
      // [B*N, 2*g*dh] -> [B, N, 2, g, dh] -> [2, B, g, N, dh]
      const split = tf.transpose(tf.reshape(kv, [b, n, 2, g, dh]), [2, 0, 3, 1, 4]);
      // Each of K, V: [B, g, N, dh] -> [B*g, 1, N*dh] -> tiled [B*g, h/g, N*dh] -> [B*h, N, dh]
      // (rank 3: tfjs's Tile gradient stops at rank 4).
      const [k, v] = tf
        .unstack(split)
        .map(
          (t) =>
            tf.reshape(tf.tile(tf.reshape(t, [b * g, 1, n * dh]), [1, h / g, 1]), [
              b * h,
              n,
              dh,
            ]) as tf.Tensor3D,
        );
      return attendHeads(qh, k, v, b, h, this.capture, this.wOut.read(), this.bOut.read());
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      dim: this.dim,
      heads: this.heads,
      kvHeads: this.kvHeads,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(GroupedQueryAttention);
