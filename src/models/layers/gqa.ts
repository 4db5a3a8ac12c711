import * as tf from "@tensorflow/tfjs";
import { AttentionArgs, AttentionLayer, Projection, QueryKeyValue, project } from "./attention";

export interface GqaArgs extends AttentionArgs {
  /** Query heads. */
  heads: number;
  /** Key/value heads; each serves heads / kvHeads query heads (kvHeads = heads: plain MHSA, 1: multi-query). */
  kvHeads: number;
}

/**
 * Grouped-query attention (Ainslie et al. 2023) over tokens [batch, n, dim]: h query heads, g
 * key/value heads, query head i reads key/value head floor(i / (h/g)).
 *   Q = x Wq + bq (h heads);  K, V = x Wkv + bkv (g heads each)
 *   A_i = softmax(Q_i K_{i/(h/g)}^T / sqrt(d_h));  out = concat_i(A_i V_{i/(h/g)}) Wo + bo
 * Key/value weights shrink from 2 d^2 to 2 d^2 g/h. A separate layer from MultiHeadSelfAttention
 * (fused qkv kernel) so that saved MobileViT checkpoints keep their weight layout.
 */
export class GroupedQueryAttention extends AttentionLayer {
  static className = "GroupedQueryAttention";
  readonly kvHeads: number;
  private q!: Projection;
  private kv!: Projection;

  constructor(args: GqaArgs) {
    super(args);
    if (args.heads % args.kvHeads !== 0)
      throw new Error(
        `query heads ${args.heads} must be a multiple of key/value heads ${args.kvHeads}`,
      );
    this.kvHeads = args.kvHeads;
  }

  build(): void {
    this.q = this.projection("q", this.dim, 0);
    this.kv = this.projection("kv", 2 * this.kvHeads * (this.dim / this.heads), 1);
    this.out = this.projection("out", this.dim, 2);
    this.built = true;
  }

  protected queryKeyValue(rows: tf.Tensor2D, b: number, n: number): QueryKeyValue {
    const h = this.heads;
    const g = this.kvHeads;
    const dh = this.dim / h;
    // [B*N, D] -> [B, N, h, dh] -> [B, h, N, dh] -> [B*h, N, dh]
    const q = tf.reshape(
      tf.transpose(tf.reshape(project(rows, this.q), [b, n, h, dh]), [0, 2, 1, 3]),
      [b * h, n, dh],
    ) as tf.Tensor3D;
    // [B*N, 2*g*dh] -> [B, N, 2, g, dh] -> [2, B, g, N, dh]
    const split = tf.transpose(
      tf.reshape(project(rows, this.kv), [b, n, 2, g, dh]),
      [2, 0, 3, 1, 4],
    );
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
    return [q, k, v];
  }

  getConfig(): tf.serialization.ConfigDict {
    // kvHeads before seed: the key order saved checkpoints have.
    const { seed, ...config } = super.getConfig();
    return { ...config, kvHeads: this.kvHeads, seed };
  }
}
tf.serialization.registerClass(GroupedQueryAttention);
