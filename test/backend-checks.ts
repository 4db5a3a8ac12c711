/**
 * Checks that a fast backend computes what the pure-JS cpu backend does: conv and depthwise
 * gradients over strides, paddings and kernel sizes, transposed matMuls, and a whole model's
 * gradients. Shared by test/wasm-kernels.test.ts and test/native-kernels.test.ts.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { buildModel } from "../src/models/registry";

/** Runs `f` on a backend and returns every output's values. */
export async function on(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(f).map((t) => {
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  });
}

export function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** A deterministic tensor maker (the same values on every backend). */
export function rand(shape: number[], seed: number): () => tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = seed;
  const v = Float32Array.from(
    { length: n },
    () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1,
  );
  return () => tf.tensor(v, shape);
}

/** Asserts that every output of `f` on `backend` is within relative error 1e-4 of cpu's. */
export async function compare(backend: string, name: string, f: () => tf.Tensor[]): Promise<void> {
  const cpu = await on("cpu", f);
  const got = await on(backend, f);
  cpu.forEach((c, i) => {
    const e = relErr(got[i], c);
    assert.ok(e < 1e-4, `${backend} ${name} output ${i}: relative error ${e}`);
  });
}

const cases: Array<{
  b: number;
  h: number;
  cin: number;
  cout: number;
  k: number;
  s: number;
  pad: "same" | "valid";
}> = [];
for (const k of [1, 3])
  for (const s of [1, 2])
    for (const pad of ["same", "valid"] as const)
      cases.push({ b: 2, h: 9, cin: 5, cout: 7, k, s, pad });
cases.push(
  { b: 3, h: 16, cin: 16, cout: 24, k: 3, s: 2, pad: "same" },
  { b: 1, h: 8, cin: 32, cout: 8, k: 1, s: 1, pad: "same" },
  { b: 4, h: 7, cin: 3, cout: 16, k: 3, s: 2, pad: "same" },
);

export async function checkConvGradients(backend: string): Promise<void> {
  for (const c of cases) {
    const x = rand([c.b, c.h, c.h, c.cin], 1);
    const w = rand([c.k, c.k, c.cin, c.cout], 2);
    const dw = rand([c.k, c.k, c.cin, 1], 3);
    const label = JSON.stringify(c);
    await compare(backend, `conv2d ${label}`, () => {
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
        const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad);
        return tf.sum(tf.mul(y, rand(y.shape, 4)()));
      })([x(), w()]);
      return [gx, gw];
    });
    await compare(backend, `depthwise ${label}`, () => {
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
        const y = tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad);
        return tf.sum(tf.mul(y, rand(y.shape, 5)()));
      })([x(), dw()]);
      return [gx, gw];
    });
  }
}

export async function checkTransposedMatMuls(backend: string): Promise<void> {
  const a = rand([3, 6, 5], 7);
  const b = rand([3, 6, 4], 8);
  await compare(backend, "matMul transposes", () => [
    tf.matMul(a(), b(), true, false),
    tf.matMul(b(), a(), true, false),
    tf.matMul(tf.transpose(a(), [0, 2, 1]), tf.transpose(b(), [0, 2, 1]), false, true),
  ]);
}

/**
 * A whole model's gradients on `backend` differ from cpu's no more than a backend's own differ
 * when the input moves by 1e-6 (relative; the larger of cpu's and the backend's): median and
 * worst over all weights, within 2x.
 */
export async function checkWholeModelGradients(
  backend: string,
  spec: { name: string; inputSize: number; batch: number },
): Promise<void> {
  const { batch, inputSize } = spec;
  const x = rand([batch, inputSize, inputSize, 3], 11);
  const noise = rand([batch, inputSize, inputSize, 3], 12);
  const labels = Array.from({ length: batch }, (_, i) => (i * 3 + 1) % 5);
  const grads = async (b: string, input: () => tf.Tensor) => {
    await tf.setBackend(b);
    const model = buildModel({ name: spec.name, inputSize, classes: 5, seed: 1 });
    const y = tf.oneHot(tf.tensor1d(labels, "int32"), 5);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(
      () =>
        tf.losses.softmaxCrossEntropy(
          y,
          model.apply(input(), { training: true }) as tf.Tensor,
        ) as tf.Scalar,
      vars,
    );
    const out = Object.fromEntries(
      model.trainableWeights.map((w, i) => [
        w.originalName,
        grads[vars[i].name].dataSync() as Float32Array,
      ]),
    );
    tf.dispose(grads);
    y.dispose();
    model.dispose();
    return out;
  };
  const cpu = await grads("cpu", x);
  // The noise floor: at random init, float32 rounding compounds through ~50 layers (ReLU6
  // masks flip, BN amplifies), so a backend's own gradients move by about 1 % when the input
  // moves by 1e-6, and by as much when its kernels round differently (another thread count,
  // another library). Measured on cpu and on the backend; the larger is the floor. A wrong
  // kernel gives errors of order 1, and moves both of the backend's runs alike.
  const nudged = () => tf.add(x(), tf.mul(x(), tf.mul(noise(), 1e-6)));
  const cpuNudged = await grads("cpu", nudged);
  const got = await grads(backend, x);
  const gotNudged = await grads(backend, nudged);
  const rms = (v: Float32Array) => Math.sqrt(v.reduce((a, t) => a + t * t, 0) / v.length);
  const scale = Math.max(...Object.values(cpu).map(rms));
  // Shifts of a BN that feeds another BN through a linear conv have an exactly-zero true
  // gradient; measure those against the model's gradient scale instead of their own size.
  const err = (other: Record<string, Float32Array>, ref = cpu) =>
    Object.keys(cpu)
      .map((k) => relErr(other[k], ref[k]) * Math.min(1, rms(cpu[k]) / (1e-3 * scale)))
      .sort((a, b) => a - b);
  const cpuFloor = err(cpuNudged);
  const ownFloor = err(gotNudged, got);
  const e = err(got);
  const med = (v: number[]) => v[Math.floor(v.length / 2)];
  const floor = {
    median: Math.max(med(cpuFloor), med(ownFloor)),
    max: Math.max(cpuFloor.at(-1)!, ownFloor.at(-1)!),
  };
  if (process.env.AMIDA_DEBUG)
    console.log({
      [backend]: { median: med(e), max: e.at(-1) },
      cpuFloor: { median: med(cpuFloor), max: cpuFloor.at(-1) },
      ownFloor: { median: med(ownFloor), max: ownFloor.at(-1) },
    });
  // A backend far more sensitive to its input than cpu is itself suspect (garbage in a kernel
  // would also make its own floor large).
  assert.ok(
    med(ownFloor) <= 5 * med(cpuFloor) + 1e-6,
    `${spec.name} on ${backend}: its own noise floor ${med(ownFloor)} vs cpu's ${med(cpuFloor)}`,
  );
  assert.ok(Object.keys(cpu).length > 50);
  assert.ok(
    med(e) <= 2 * floor.median + 1e-6,
    `${spec.name} on ${backend}: median relative error ${med(e)} vs floor ${floor.median}`,
  );
  assert.ok(
    e.at(-1)! <= 2 * floor.max + 1e-6,
    `${spec.name} on ${backend}: worst relative error ${e.at(-1)} vs floor ${floor.max}`,
  );
}
