/**
 * The hand-written layers checked against the plain formula written with plain tf ops, whose
 * gradients come from tfjs's own autodiff: a wrong closed-form gradient (or a wrong reshape)
 * cannot agree with them. Runs on the cpu backend, float32.
 */
import { test, before, TestContext } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { LayerNorm } from "../src/models/layers/layernorm";
import { FreezableBatchNorm } from "../src/models/layers/batchnorm";
import { MultiHeadSelfAttention } from "../src/models/layers/attention";
import { Fold, Unfold } from "../src/models/layers/patches";
import { gradCam } from "../src/explain/gradcam";

before(async () => {
  await initBackend("cpu", { quiet: true });
});

/** ||a - b|| / ||b|| over all elements: float32 sums of a few hundred terms stay near 1e-7. */
function relError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.norm(tf.sub(a, b)), tf.norm(b)).dataSync()[0]);
}

const TOL = 1e-5;

/**
 * Gradients of sum(f() * w) for a fixed random w (a plain sum would give norms a zero input
 * gradient and hide a wrong one) with respect to every variable in `vars`.
 */
function gradsOf(
  f: () => tf.Tensor,
  vars: tf.Variable[],
  w: tf.Tensor,
): { value: tf.Tensor; grads: tf.Tensor[] } {
  const value = tf.tidy(f);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(f(), w)) as tf.Scalar, vars);
  return { value, grads: vars.map((v) => grads[v.name]) };
}

function assertSame(
  t: TestContext,
  name: string,
  layer: { value: tf.Tensor; grads: tf.Tensor[] },
  plain: { value: tf.Tensor; grads: tf.Tensor[] },
  labels: string[],
): void {
  const e = relError(layer.value, plain.value);
  assert.ok(e < TOL, `${name} output: relative error ${e.toExponential(2)}`);
  const measured = [`output ${e.toExponential(1)}`];
  labels.forEach((label, i) => {
    const g = relError(layer.grads[i], plain.grads[i]);
    assert.ok(g < TOL, `${name} d/d${label}: relative error ${g.toExponential(2)}`);
    measured.push(`d/d${label} ${g.toExponential(1)}`);
  });
  t.diagnostic(`${name} relative errors: ${measured.join(", ")}`);
  tf.dispose([layer.value, plain.value, ...layer.grads, ...plain.grads]);
}

/** Random variables (seeded) standing in for a layer's input and weights. */
const rand = (shape: number[], seed: number, lo = -1, hi = 1) =>
  tf.variable(tf.randomUniform(shape, lo, hi, "float32", seed));

test("LayerNorm: output and gradients (x, gamma, beta) match the plain formula", (t) => {
  const x = rand([2, 5, 16], 1, -2, 3);
  const layer = new LayerNorm({ epsilon: 1e-5 });
  layer.build(x.shape);
  const [gamma, beta] = layer.weights.map((w) => w.read() as tf.Variable);
  gamma.assign(tf.randomUniform([16], 0.5, 1.5, "float32", 2));
  beta.assign(tf.randomUniform([16], -0.5, 0.5, "float32", 3));
  const w = tf.randomNormal([2, 5, 16], 0, 1, "float32", 4);
  const vars = [x, gamma, beta];
  const plain = () => {
    const mean = tf.mean(x, -1, true);
    const variance = tf.mean(tf.square(tf.sub(x, mean)), -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), gamma), beta);
  };
  assertSame(
    t,
    "LayerNorm",
    gradsOf(() => layer.apply(x) as tf.Tensor, vars, w),
    gradsOf(plain, vars, w),
    ["x", "gamma", "beta"],
  );
  tf.dispose([x, w]);
  layer.weights.forEach((v) => v.dispose());
});

test("FreezableBatchNorm in training mode: output and gradients (x, gamma, beta) match the plain formula", (t) => {
  const x = rand([4, 3, 3, 8], 5, -1, 2);
  const layer = new FreezableBatchNorm({ epsilon: 1e-3 });
  layer.build(x.shape);
  const byName = (n: string) =>
    layer.weights.find((v) => v.originalName.endsWith(n))!.read() as tf.Variable;
  const gamma = byName("gamma");
  const beta = byName("beta");
  gamma.assign(tf.randomUniform([8], 0.5, 1.5, "float32", 6));
  beta.assign(tf.randomUniform([8], -0.5, 0.5, "float32", 7));
  const w = tf.randomNormal([4, 3, 3, 8], 0, 1, "float32", 8);
  const vars = [x, gamma, beta];
  const plain = () => {
    const mean = tf.mean(x, [0, 1, 2]);
    const variance = tf.mean(tf.square(tf.sub(x, mean)), [0, 1, 2]);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-3))), gamma), beta);
  };
  assertSame(
    t,
    "BatchNorm",
    gradsOf(() => layer.apply(x, { training: true }) as tf.Tensor, vars, w),
    gradsOf(plain, vars, w),
    ["x", "gamma", "beta"],
  );
  tf.dispose([x, w]);
  layer.weights.forEach((v) => v.dispose());
});

test("FreezableBatchNorm in training mode updates its moving averages once per call, by the momentum rule", () => {
  const x = rand([4, 3, 3, 8], 15, -1, 2);
  const layer = new FreezableBatchNorm({ epsilon: 1e-3, momentum: 0.9 });
  layer.build(x.shape);
  const byName = (n: string) =>
    layer.weights.find((v) => v.originalName.endsWith(n))!.read() as tf.Variable;
  byName("moving_mean").assign(tf.randomUniform([8], -0.5, 0.5, "float32", 16));
  byName("moving_variance").assign(tf.randomUniform([8], 0.5, 1.5, "float32", 17));
  const [m0, v0] = [byName("moving_mean").arraySync(), byName("moving_variance").arraySync()];
  const mean = tf.mean(x, [0, 1, 2]);
  const variance = tf.mean(tf.square(tf.sub(x, mean)), [0, 1, 2]);
  // old - (old - batch) * (1 - momentum); the batch variance is the biased one, as in Keras.
  const want = (old: tf.Tensor, batch: tf.Tensor) => tf.sub(old, tf.mul(tf.sub(old, batch), 0.1));
  const wantMean = want(tf.tensor1d(m0 as number[]), mean);
  const wantVar = want(tf.tensor1d(v0 as number[]), variance);
  const before = tf.memory().numTensors;
  tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
  assert.equal(tf.memory().numTensors, before, "tensors leaked by a training call");
  assert.ok(relError(byName("moving_mean"), wantMean) < TOL);
  assert.ok(relError(byName("moving_variance"), wantVar) < TOL);
  tf.dispose([x, mean, variance, wantMean, wantVar]);
  layer.weights.forEach((v) => v.dispose());
});

test("MultiHeadSelfAttention: output and gradients (x and all four weights) match a per-head loop", (t) => {
  const [b, n, d, heads] = [2, 4, 8, 2];
  const dh = d / heads;
  const x = rand([b, n, d], 9);
  const layer = new MultiHeadSelfAttention({ dim: d, heads, seed: 3 });
  layer.build();
  const [wQkv, bQkv, wOut, bOut] = layer.weights.map((v) => v.read() as tf.Variable);
  bQkv.assign(tf.randomUniform([3 * d], -0.3, 0.3, "float32", 10));
  bOut.assign(tf.randomUniform([d], -0.3, 0.3, "float32", 11));
  const w = tf.randomNormal([b, n, d], 0, 1, "float32", 12);
  const vars = [x, wQkv, bQkv, wOut, bOut];
  // The textbook formula: per image and head, Q K V from column blocks of Wqkv = [Wq | Wk | Wv],
  // softmax written out, heads concatenated along features.
  const plain = () =>
    tf.stack(
      Array.from({ length: b }, (_, i) => {
        const xi = tf.squeeze(tf.slice(x, [i, 0, 0], [1, n, d]), [0]) as tf.Tensor2D;
        const qkv = tf.add(tf.matMul(xi, wQkv), bQkv);
        const heads_ = Array.from({ length: heads }, (_, h) => {
          const q = tf.slice(qkv, [0, h * dh], [n, dh]);
          const k = tf.slice(qkv, [0, d + h * dh], [n, dh]);
          const v = tf.slice(qkv, [0, 2 * d + h * dh], [n, dh]);
          const scores = tf.div(tf.matMul(q, tf.transpose(k)), Math.sqrt(dh));
          const e = tf.exp(tf.sub(scores, tf.max(scores, 1, true)));
          return tf.matMul(tf.div(e, tf.sum(e, 1, true)), v);
        });
        return tf.add(tf.matMul(tf.concat(heads_, 1), wOut), bOut);
      }),
    );
  assertSame(
    t,
    "attention",
    gradsOf(() => layer.apply(x) as tf.Tensor, vars, w),
    gradsOf(plain, vars, w),
    ["x", "Wqkv", "bqkv", "Wout", "bout"],
  );
  tf.dispose([x, w]);
  layer.weights.forEach((v) => v.dispose());
});

test("Unfold matches the index formula, Fold(Unfold(x)) == x exactly, and both pass gradients through unchanged", () => {
  for (const [h, wd, p] of [
    [4, 6, 2],
    [5, 3, 2],
    [6, 6, 3],
  ]) {
    const c = 3;
    const x = tf.variable(tf.randomUniform([2, h, wd, c], -1, 1, "float32", h * 10 + wd));
    const unfold = new Unfold({ patch: p, height: h, width: wd });
    const fold = new Fold({ patch: p, height: h, width: wd });
    const u = unfold.apply(x) as tf.Tensor3D;
    const hp = Math.ceil(h / p) * p;
    const wp = Math.ceil(wd / p) * p;
    const cols = wp / p;
    assert.deepEqual(u.shape, [2 * p * p, (hp / p) * cols, c]);
    // Sequence (image bi, in-patch position (i, j)) = bi*p*p + i*p + j; token = patch (r, s) = r*cols + s.
    const xs = x.arraySync() as number[][][][];
    const us = u.arraySync() as number[][][];
    for (let bi = 0; bi < 2; bi++)
      for (let y = 0; y < hp; y++)
        for (let xx = 0; xx < wp; xx++)
          for (let ch = 0; ch < c; ch++) {
            const want = y < h && xx < wd ? xs[bi][y][xx][ch] : 0;
            const got =
              us[bi * p * p + (y % p) * p + (xx % p)][
                Math.floor(y / p) * cols + Math.floor(xx / p)
              ][ch];
            assert.equal(got, want, `unfold at image ${bi}, pixel (${y}, ${xx}), channel ${ch}`);
          }
    const back = fold.apply(u) as tf.Tensor;
    assert.deepEqual(back.shape, x.shape);
    assert.deepEqual(
      Array.from(back.dataSync()),
      Array.from(x.dataSync()),
      `Fold(Unfold(x)) != x for ${h}x${wd}, patch ${p}`,
    );
    // Neither layer has a custom gradient; the round trip is the identity, so its gradient is dy.
    const dy = tf.randomNormal(x.shape, 0, 1, "float32", 5);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(fold.apply(unfold.apply(x)) as tf.Tensor, dy)) as tf.Scalar,
      [x],
    );
    assert.deepEqual(Array.from(grads[x.name].dataSync()), Array.from(dy.dataSync()));
    tf.dispose([x, u, back, dy, grads[x.name]]);
  }
});

/** Keeps the input's first channel inside one quadrant (as channel 0) and another (as channel 1). */
class TwoQuadrants extends tf.layers.Layer {
  static className = "TwoQuadrants";
  constructor(private readonly masks: [tf.Tensor, tf.Tensor]) {
    super({ name: "quadrants" });
  }
  computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = s as tf.Shape;
    return [shape[0], shape[1], shape[2], 2];
  }
  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = tf.slice(Array.isArray(inputs) ? inputs[0] : inputs, [0, 0, 0, 0], [-1, -1, -1, 1]);
      return tf.concat([tf.mul(x, this.masks[0]), tf.mul(x, this.masks[1])], 3);
    });
  }
}

test("Grad-CAM known answer: class 0 reads only the top-right quadrant, class 1 only the bottom-left", () => {
  const size = 32;
  const quadrant = (top: boolean, right: boolean) =>
    tf.tensor4d(
      Float32Array.from({ length: size * size }, (_, i) =>
        Math.floor(i / size) < size / 2 === top && i % size >= size / 2 === right ? 1 : 0,
      ),
      [1, size, size, 1],
    );
  const masks: [tf.Tensor, tf.Tensor] = [quadrant(true, true), quadrant(false, false)];
  // image -> two quadrant channels -> 2x2 average pool ("features", 16x16) -> global mean -> logits = channel means.
  const input = tf.input({ shape: [size, size, 3] });
  const quads = new TwoQuadrants(masks).apply(input) as tf.SymbolicTensor;
  const feats = tf.layers
    .averagePooling2d({ poolSize: 2, name: "features" })
    .apply(quads) as tf.SymbolicTensor;
  const pooled = tf.layers
    .globalAveragePooling2d({ name: "pool" })
    .apply(feats) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({ units: 2, name: "logits", kernelInitializer: "identity", useBias: false })
    .apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  const images = tf.randomUniform([3, size, size, 3], 0.2, 1, "float32", 21) as tf.Tensor4D;
  const share = (map: Float32Array, top: boolean, right: boolean) => {
    let inside = 0;
    let all = 0;
    map.forEach((v, i) => {
      all += v;
      if (Math.floor(i / size) < size / 2 === top && i % size >= size / 2 === right) inside += v;
    });
    return inside / all;
  };
  for (const method of ["gradcam", "gradcam++"] as const) {
    const r0 = gradCam(model, images, { layer: "features", classes: [0, 0, 0], method });
    const r1 = gradCam(model, images, { layer: "features", classes: [1, 1, 1], method });
    for (let i = 0; i < 3; i++) {
      const s0 = share(r0.maps[i], true, true);
      const s1 = share(r1.maps[i], false, false);
      assert.ok(
        s0 > 0.9,
        `${method}, class 0, image ${i}: ${(100 * s0).toFixed(1)}% of the heat in the top-right quadrant`,
      );
      assert.ok(
        s1 > 0.9,
        `${method}, class 1, image ${i}: ${(100 * s1).toFixed(1)}% of the heat in the bottom-left quadrant`,
      );
    }
  }
  tf.dispose([images, ...masks]);
  model.dispose();
});
