/**
 * Adam with AdamW's decoupled weight decay, updating every trainable weight at once on flat buffers.
 *
 * Why: tf.train.adam runs 14 kernels (and uploads 7 scalars) per weight tensor; MobileViT-XXS has
 * 215 of them, so on native TensorFlow a step spent ~3,000 kernel launches on the optimizer alone.
 * Here the gradients and weights are concatenated into one vector each, the update is ~15 kernels
 * on those, and one split hands the pieces back (~300 launches in all, most of them reshapes).
 *
 * The arithmetic is tf.train.adam's, element by element and in the same float32 order, followed by
 * the decay `w * (1 - lr * weightDecay)` of kernels (not norms or biases), so training is bit for bit
 * what `tf.train.adam` + that decay gave (test/adamw.test.ts checks it), and checkpoints keep
 * tf.train.adam's layout (`iter`, then each weight's `/m`, then each `/v`).
 *
 * Where the backend has the kernel `AmidaAdamW` (the native backend with this project's ops,
 * src/backend/native-ops.c), the whole update is that one kernel, with the same arithmetic:
 * no concatenations, reshapes or splits.
 */
import * as tf from "@tensorflow/tfjs";

/** AdamW's decay applies to weight matrices and conv kernels, not to norms or biases. */
export const decayed = (w: tf.LayerVariable) => /kernel$/.test(w.originalName);

/** tf.train.adam's defaults: beta1, beta2, and epsilon = the float32 backends' epsilon. */
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-7;

/** The fused update's kernel (src/backend/native-training-kernels.ts registers it by this name). */
const FUSED = "AmidaAdamW";

/** The next float32 product, as tf.train.adam's accBeta variables accumulate beta^t on the device. */
const nextAccBeta = ([b1, b2]: [number, number]): [number, number] => [
  Math.fround(b1 * Math.fround(BETA1)),
  Math.fround(b2 * Math.fround(BETA2)),
];

/** [beta1, beta2]^(steps + 1) by the same products: what a run holds after `steps` updates. */
function accBetaAfter(steps: number): [number, number] {
  let acc: [number, number] = [Math.fround(BETA1), Math.fround(BETA2)];
  for (let t = 0; t < steps; t++) acc = nextAccBeta(acc);
  return acc;
}

/**
 * `t` as [size]. A reshape is a kernel launch on native TensorFlow, and most of a model's weights
 * (biases, norms) are vectors already: skipping theirs halves the optimizer's reshapes.
 */
const asVector = (t: tf.Tensor): tf.Tensor => (t.rank === 1 ? t : tf.reshape(t, [-1]));

export class AdamW {
  private readonly vars: tf.Variable[];
  private readonly sizes: number[];
  /** 1 where the weight decays (a kernel), 0 elsewhere; expanded per element on each step. */
  private readonly decays: boolean[];
  /** First and second moments of every weight, concatenated in `vars` order. */
  private m: tf.Variable;
  private v: tf.Variable;
  /** Steps taken (checkpointed as tf.train.adam's `iter`). */
  iterations = 0;
  /** beta^(iterations + 1) as float32 products, as tf.train.adam's accBeta variables hold it. */
  private accBeta = accBetaAfter(0);

  constructor(weights: tf.LayerVariable[]) {
    if (!weights.length) throw new Error("AdamW: no trainable weights to optimise");
    this.vars = weights.map((w) => w.read() as tf.Variable);
    this.sizes = this.vars.map((v) => v.size);
    this.decays = weights.map(decayed);
    const total = this.sizes.reduce((a, b) => a + b, 0);
    this.m = tf.variable(tf.zeros([total]), false);
    this.v = tf.variable(tf.zeros([total]), false);
  }

  /** Every weight as one vector, in `vars` order: [total]. */
  private flat(ts: tf.Tensor[]): tf.Tensor1D {
    return tf.concat(ts.map(asVector)) as tf.Tensor1D;
  }

  /**
   * One step on `loss` (a scalar of the weights given to the constructor): its gradients, then the
   * update at learning rate `lr` (`weightDecay` 0 is plain Adam). Returns the loss; the caller disposes it.
   */
  minimize(loss: () => tf.Scalar, lr: number, weightDecay: number): tf.Scalar {
    const { value, grads } = tf.variableGrads(loss, this.vars);
    try {
      this.step(grads, lr, weightDecay);
    } finally {
      tf.dispose(Object.values(grads));
    }
    return value;
  }

  /** One update from `grads` by variable name; a weight without a gradient counts as a zero gradient. */
  private step(grads: tf.NamedTensorMap, lr: number, weightDecay: number): void {
    const b1 = this.accBeta[0];
    const b2 = this.accBeta[1];
    if (tf.getKernel(FUSED, tf.getBackend())) this.fusedStep(grads, lr, weightDecay);
    else this.composedStep(grads, lr, weightDecay, b1, b2);
    this.iterations++;
    this.accBeta = nextAccBeta(this.accBeta);
  }

  /** The update as one kernel: the tfjs ops of composedStep, in the same float32 order. */
  private fusedStep(grads: tf.NamedTensorMap, lr: number, weightDecay: number): void {
    const [b1, b2] = this.accBeta;
    tf.tidy(() => {
      const inputs: tf.NamedTensorMap = { m: this.m, v: this.v };
      this.vars.forEach((v, i) => {
        inputs[`g${i}`] = grads[v.name] ?? tf.zerosLike(v);
        inputs[`w${i}`] = v;
      });
      // The scalars the tfjs ops would upload: -lr, the bias corrections, the decay factor.
      inputs.hyper = tf.tensor1d(
        Float32Array.of(
          -lr,
          Math.fround(1 - b1),
          Math.fround(1 - b2),
          Math.fround(1 - lr * weightDecay),
          weightDecay > 0 ? 1 : 0,
        ),
      );
      const out = tf.engine().runKernel(FUSED, inputs, {
        decays: this.decays.map(Number),
        beta1: BETA1,
        beta2: BETA2,
        oneMinusBeta1: 1 - BETA1,
        oneMinusBeta2: 1 - BETA2,
        epsilon: EPSILON,
      } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      const n = this.vars.length;
      out.slice(0, n).forEach((w, i) => this.vars[i].assign(w));
      this.m.assign(out[n]);
      this.v.assign(out[n + 1]);
    });
  }

  /** The update as tfjs ops on the concatenated weights, moments and gradients. */
  private composedStep(
    grads: tf.NamedTensorMap,
    lr: number,
    weightDecay: number,
    b1: number,
    b2: number,
  ): void {
    tf.tidy(() => {
      const g = this.flat(this.vars.map((v) => grads[v.name] ?? tf.zerosLike(v)));
      const m = tf.add(tf.mul(this.m, BETA1), tf.mul(g, 1 - BETA1));
      const v = tf.add(tf.mul(this.v, BETA2), tf.mul(tf.square(g), 1 - BETA2));
      this.m.assign(m);
      this.v.assign(v);
      const mHat = tf.div(m, Math.fround(1 - b1));
      const vHat = tf.div(v, Math.fround(1 - b2));
      let w = tf.add(
        tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), EPSILON)), -lr),
        this.flat(this.vars),
      );
      if (weightDecay > 0) w = tf.mul(w, this.decayFactors(Math.fround(1 - lr * weightDecay)));
      tf.split(w, this.sizes).forEach((part, i) =>
        this.vars[i].assign(this.vars[i].rank === 1 ? part : tf.reshape(part, this.vars[i].shape)),
      );
    });
  }

  /** Per element: `shrink` for kernels, exactly 1 for the rest (x * 1 leaves them bit for bit). */
  private decayFactors(shrink: number): tf.Tensor1D {
    const out = new Float32Array(this.m.size);
    let at = 0;
    this.sizes.forEach((n, i) => {
      out.fill(this.decays[i] ? shrink : 1, at, at + n);
      at += n;
    });
    return tf.tensor1d(out);
  }

  /** The moments in tf.train.adam's checkpoint layout: `iter`, each weight's `/m`, each `/v`. */
  async save(): Promise<{ bin: Uint8Array; specs: tf.io.WeightsManifestEntry[] }> {
    const named = tf.tidy(() => {
      const split = (flat: tf.Tensor, suffix: string) =>
        tf.split(flat, this.sizes).map((part, i) => ({
          name: `${this.vars[i].name}/${suffix}`,
          tensor: tf.reshape(part, this.vars[i].shape),
        }));
      return [
        { name: "iter", tensor: tf.scalar(this.iterations, "int32") },
        ...split(this.m, "m"),
        ...split(this.v, "v"),
      ];
    });
    try {
      const { data, specs } = await tf.io.encodeWeights(named);
      return { bin: new Uint8Array(data as ArrayBuffer), specs };
    } finally {
      tf.dispose(named.map((n) => n.tensor));
    }
  }

  /** Restores what `save` wrote (or tf.train.adam did); beta^t follows from the step count. */
  restore(bin: Uint8Array, specs: tf.io.WeightsManifestEntry[]): void {
    const named = tf.io.decodeWeights(
      bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer,
      specs,
    );
    try {
      const moments = specs.filter((s) => s.name !== "iter");
      const n = this.vars.length;
      if (moments.length !== 2 * n)
        throw new Error(
          `optimizer state holds ${moments.length / 2} weights' moments, the model trains ${n}`,
        );
      moments.forEach((s, i) => {
        const want = this.vars[i % n].shape;
        if (named[s.name].size !== this.sizes[i % n])
          throw new Error(
            `optimizer state '${s.name}' has shape [${named[s.name].shape}], the weight has [${want}]`,
          );
      });
      tf.tidy(() => {
        this.m.assign(this.flat(moments.slice(0, n).map((s) => named[s.name])));
        this.v.assign(this.flat(moments.slice(n).map((s) => named[s.name])));
      });
      this.iterations = named.iter ? named.iter.dataSync()[0] : 0;
      this.accBeta = accBetaAfter(this.iterations);
    } finally {
      tf.dispose(Object.values(named));
    }
  }

  dispose(): void {
    tf.dispose([this.m, this.v]);
  }
}
