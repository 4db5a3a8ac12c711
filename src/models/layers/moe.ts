import * as tf from "@tensorflow/tfjs";
import { customGradient } from "../../backend/custom-grad";

export interface MoeArgs {
  dim: number;
  /** Hidden width of each SwiGLU expert. */
  hidden: number;
  experts: number;
  /** Experts each token is sent to. */
  topK: number;
  /** Weight of the load-balancing loss added to the training loss (0: none). */
  auxWeight: number;
  seed?: number;
  name?: string;
  trainable?: boolean;
}

/**
 * 0/1 mask of the k largest entries of each row of p [T, E]. Routing is a discrete choice: no
 * gradient flows through it (the gate learns through the softmax weights of the chosen experts).
 * Computed inside customGrad so that TopK, which has no gradient in tfjs, stays off the tape.
 */
export function topKMask(p: tf.Tensor2D, k: number): tf.Tensor2D {
  return customGradient([p], ([x]) => ({
    value: tf.tidy(() => {
      const kth = tf.slice(tf.topk(x, k).values, [0, k - 1], [-1, 1]); // [T, k] -> [T, 1]
      return tf.cast(tf.greaterEqual(x, kth), "float32");
    }),
    gradFunc: (dy) => [tf.zerosLike(dy)],
  })) as tf.Tensor2D;
}

/**
 * A mixture of SwiGLU experts (Shazeer 2020; Fedus et al. 2022) over tokens [B, N, D]:
 *   p = softmax(x Wg);  m = top-k mask of p;  w = p m / sum(p m)
 *   y = sum_e w_e * (silu(x W1_e) * (x W3_e)) W2_e
 *   load-balancing loss = auxWeight * E * sum_e f_e P_e,  f_e = mean(m_e) / k,  P_e = mean(p_e)
 * Every expert is computed for every token and the unchosen ones are weighted 0: at a handful of
 * experts and tiny widths one wide matMul is cheaper in tfjs than gathering tokens per expert,
 * and the result is the same as sparse dispatch (no capacity limit, no dropped tokens).
 * The load-balancing loss of the last training-mode call is this layer's `losses` entry, so
 * `model.calculateLosses()` inside the training step's loss function adds it.
 */
export class SwiGLUMoE extends tf.layers.Layer {
  static className = "SwiGLUMoE";
  readonly dim: number;
  readonly hidden: number;
  readonly experts: number;
  readonly topK: number;
  readonly auxWeight: number;
  readonly seed: number;
  private wGate!: tf.LayerVariable;
  private w1!: tf.LayerVariable;
  private w3!: tf.LayerVariable;
  private w2!: tf.LayerVariable;
  private lastAux: tf.Scalar | null = null;
  /** When set, the next call stores its routing weights w [B, N, E] here (kept). */
  capture: { routing: tf.Tensor | null } | null = null;

  constructor(args: MoeArgs) {
    super(args);
    if (!(Number.isInteger(args.topK) && args.topK >= 1 && args.topK <= args.experts))
      throw new Error(
        `topK must be an integer in 1..${args.experts} (the number of experts), got ${args.topK}`,
      );
    this.dim = args.dim;
    this.hidden = args.hidden;
    this.experts = args.experts;
    this.topK = args.topK;
    this.auxWeight = args.auxWeight;
    this.seed = args.seed ?? 0;
  }

  build(): void {
    const { dim: d, hidden: h, experts: e } = this;
    // Glorot per expert (fan in d, fan out h), not over the concatenated E*h columns.
    const limit = Math.sqrt(6 / (d + h));
    const uni = (s: number) =>
      tf.initializers.randomUniform({ minval: -limit, maxval: limit, seed: this.seed + s });
    this.wGate = this.addWeight(
      "gate_kernel",
      [d, e],
      "float32",
      tf.initializers.glorotUniform({ seed: this.seed }),
    );
    this.w1 = this.addWeight("w1_kernel", [d, e * h], "float32", uni(1));
    this.w3 = this.addWeight("w3_kernel", [d, e * h], "float32", uni(2));
    this.w2 = this.addWeight("w2_kernel", [e * h, d], "float32", uni(3));
    this.addLoss(() => (this.lastAux && !this.lastAux.isDisposed ? this.lastAux : tf.scalar(0)));
    this.built = true;
  }

  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
    const training = Boolean(kwargs?.training);
    const [out, aux] = tf.tidy(() => {
      const [b, n, d] = x.shape;
      const { hidden: h, experts: e, topK: k } = this;
      const rows = tf.reshape(x, [b * n, d]); // [B, N, D] -> [T, D]
      const p = tf.softmax(tf.matMul(rows, this.wGate.read())) as tf.Tensor2D; // [T, E]
      const m = topKMask(p, k);
      const pm = tf.mul(p, m);
      const w = tf.div(pm, tf.sum(pm, -1, true)); // [T, E], rows sum to 1
      if (this.capture) {
        this.capture.routing?.dispose();
        this.capture.routing = tf.keep(tf.reshape(w, [b, n, e]));
      }
      const a = tf.matMul(rows, this.w1.read());
      const act = tf.mul(tf.mul(a, tf.sigmoid(a)), tf.matMul(rows, this.w3.read())); // silu(x W1) * x W3: [T, E*h]
      // [T, E*h] -> [T, E, h], scaled by each token's expert weight, -> [T, E*h]
      const weighted = tf.reshape(tf.mul(tf.reshape(act, [b * n, e, h]), tf.expandDims(w, 2)), [
        b * n,
        e * h,
      ]);
      const y = tf.reshape(tf.matMul(weighted, this.w2.read()), [b, n, d]); // [T, D] -> [B, N, D]
      if (!training || this.auxWeight === 0) return [y];
      const f = tf.div(tf.mean(m, 0), k);
      const balance = tf.mul(tf.sum(tf.mul(f, tf.mean(p, 0))), this.auxWeight * e) as tf.Scalar;
      return [y, balance];
    });
    // Kept: tfjs-layers disposes a layer's intermediate tensors when the model's forward pass
    // ends, before the training step reads its losses. Replaced (and freed) by the next call.
    this.lastAux?.dispose();
    this.lastAux = aux ? tf.keep(aux as tf.Scalar) : null;
    return out;
  }

  dispose(): ReturnType<tf.layers.Layer["dispose"]> {
    this.lastAux?.dispose();
    this.lastAux = null;
    return super.dispose();
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      dim: this.dim,
      hidden: this.hidden,
      experts: this.experts,
      topK: this.topK,
      auxWeight: this.auxWeight,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(SwiGLUMoE);
