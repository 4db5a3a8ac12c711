/**
 * The flat AdamW against its reference: tf.train.adam followed by the decoupled decay of kernels,
 * which is what training ran before it. Bit for bit, on cpu and (where installed) native TensorFlow;
 * its checkpoints in tf.train.adam's layout, both ways; no tensor left behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { AdamW, decayed } from "../src/train/adamw";
import { trainStep } from "../src/train/trainer";

/** Conv kernel + bias, batch-norm gamma/beta (not decayed), dense kernel + bias: every kind of weight. */
function smallNet(): tf.Sequential {
  const m = tf.sequential();
  m.add(
    tf.layers.conv2d({
      inputShape: [8, 8, 3],
      filters: 4,
      kernelSize: 3,
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  m.add(tf.layers.batchNormalization({ gammaInitializer: "ones" }));
  m.add(tf.layers.flatten());
  m.add(
    tf.layers.dense({
      units: 3,
      kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      biasInitializer: tf.initializers.randomNormal({ seed: 3 }),
    }),
  );
  return m;
}

/** What trainStep did before AdamW: tf.train.adam's update, then `w * (1 - lr * wd)` on kernels. */
function referenceStep(
  m: tf.LayersModel,
  opt: tf.AdamOptimizer,
  x: tf.Tensor,
  labels: Int32Array,
  lr: number,
  wd: number,
): void {
  (opt as unknown as { learningRate: number }).learningRate = lr;
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const y = tf.oneHot(tf.tensor1d(labels, "int32"), 3);
  const loss = opt.minimize(
    () =>
      tf.losses.softmaxCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    true,
    vars,
  );
  tf.dispose([loss!, y]);
  if (wd > 0)
    tf.tidy(() =>
      m.trainableWeights.filter(decayed).forEach((w) => w.write(tf.mul(w.read(), 1 - lr * wd))),
    );
}

/** Each weight's bytes (a view's own bytes: cpu tensors may be views into a larger buffer). */
const bytes = (m: tf.LayersModel) =>
  m.weights.map((w) => {
    const a = w.read().dataSync() as Float32Array;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  });

function assertSameWeights(a: tf.LayersModel, b: tf.LayersModel, what: string): void {
  const [wa, wb] = [bytes(a), bytes(b)];
  wa.forEach((buf, i) => assert.ok(buf.equals(wb[i]), `${what}: ${a.weights[i].name} differs`));
}

const x = () => tf.randomUniform([5, 8, 8, 3], 0, 1, "float32", 7);
const LABELS = Int32Array.from([0, 1, 2, 1, 0]);
const LRS = [3e-3, 1e-2, 5e-3, 2e-3, 1e-3, 4e-3];

async function backends(): Promise<string[]> {
  const ok = await initBackend("node", { quiet: true }).then(
    () => true,
    () => false,
  );
  return ok ? ["cpu", "node"] : ["cpu"];
}

test("AdamW is tf.train.adam + decoupled decay of kernels, bit for bit (cpu, and native where installed)", async () => {
  for (const backend of await backends()) {
    await initBackend(backend as "cpu" | "node", { quiet: true });
    for (const [optimizer, wd] of [
      ["adamw", 0.05],
      ["adam", 0.05],
    ] as const) {
      const [ref, ours] = [smallNet(), smallNet()];
      const opt = tf.train.adam(1e-3);
      const flat = new AdamW(ours.trainableWeights);
      const xs = x();
      for (const [s, lr] of LRS.entries()) {
        referenceStep(ref, opt, xs, LABELS, lr, optimizer === "adamw" ? wd : 0);
        const cfg = { labelSmoothing: 0, optimizer, weightDecay: wd };
        trainStep(ours, flat, xs as tf.Tensor4D, LABELS, 3, cfg, lr);
        assertSameWeights(ref, ours, `${backend} ${optimizer} step ${s + 1}`);
      }
      // The decay really ran: without it, AdamW's kernels would differ from the reference's.
      if (optimizer === "adamw") assert.ok(ours.trainableWeights.some(decayed));
      xs.dispose();
      opt.dispose();
      flat.dispose();
      ref.dispose();
      ours.dispose();
    }
  }
  await initBackend("cpu", { quiet: true });
});

test("AdamW resumes bit for bit from its own checkpoint and from one tf.train.adam wrote", async () => {
  await initBackend("cpu", { quiet: true });
  const xs = x() as tf.Tensor4D;
  const cfg = { labelSmoothing: 0, optimizer: "adamw" as const, weightDecay: 0.05 };
  // Uninterrupted: 6 steps.
  const whole = smallNet();
  const wholeOpt = new AdamW(whole.trainableWeights);
  LRS.forEach((lr) => trainStep(whole, wholeOpt, xs, LABELS, 3, cfg, lr));

  // 3 steps, save, restore into a fresh model and optimizer, 3 more.
  const first = smallNet();
  const firstOpt = new AdamW(first.trainableWeights);
  LRS.slice(0, 3).forEach((lr) => trainStep(first, firstOpt, xs, LABELS, 3, cfg, lr));
  const saved = await firstOpt.save();
  const second = smallNet();
  second.setWeights(first.getWeights());
  const secondOpt = new AdamW(second.trainableWeights);
  secondOpt.restore(saved.bin, saved.specs);
  assert.equal(secondOpt.iterations, 3);
  LRS.slice(3).forEach((lr) => trainStep(second, secondOpt, xs, LABELS, 3, cfg, lr));
  assertSameWeights(whole, second, "resumed from AdamW's checkpoint");

  // A checkpoint from before AdamW: tf.train.adam's own weights, same names and order.
  const ref = smallNet();
  const refOpt = tf.train.adam(1e-3);
  LRS.slice(0, 3).forEach((lr) => referenceStep(ref, refOpt, xs, LABELS, lr, 0.05));
  const old = await refOpt.getWeights();
  const enc = await tf.io.encodeWeights(old);
  // Names differ by the models' unique suffixes; the layout (order, suffix, shape) is the same.
  const layout = (specs: tf.io.WeightsManifestEntry[]) =>
    specs.map((s) => `${s.name.replace(/^.*\//, "")} ${s.dtype} [${s.shape}]`);
  assert.deepEqual(layout(enc.specs), layout(saved.specs), "same layout as tf.train.adam");
  const third = smallNet();
  third.setWeights(ref.getWeights());
  const thirdOpt = new AdamW(third.trainableWeights);
  // beta^t is not in the checkpoint: it follows from `iter`, as the run's products gave it.
  thirdOpt.restore(new Uint8Array(enc.data as ArrayBuffer), enc.specs);
  LRS.slice(3).forEach((lr) => trainStep(third, thirdOpt, xs, LABELS, 3, cfg, lr));
  assertSameWeights(whole, third, "resumed from tf.train.adam's checkpoint");

  // A checkpoint of another model is refused, naming what differs.
  const other = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [4] })] });
  const otherOpt = new AdamW(other.trainableWeights);
  assert.throws(
    () => otherOpt.restore(saved.bin, saved.specs),
    /optimizer state holds 6 weights' moments, the model trains 2/,
  );
  old.filter((w) => w.name === "iter").forEach((w) => w.tensor.dispose());
  [wholeOpt, firstOpt, secondOpt, thirdOpt, otherOpt, refOpt].forEach((o) => o.dispose());
  [whole, first, second, ref, third, other].forEach((m) => m.dispose());
  xs.dispose();
});

test("AdamW leaves no tensor behind per step, save or restore", async () => {
  await initBackend("cpu", { quiet: true });
  const m = smallNet();
  const opt = new AdamW(m.trainableWeights);
  const xs = x() as tf.Tensor4D;
  const cfg = { labelSmoothing: 0, optimizer: "adamw" as const, weightDecay: 0.01 };
  trainStep(m, opt, xs, LABELS, 3, cfg, 1e-3);
  const n0 = tf.memory().numTensors;
  for (let s = 0; s < 3; s++) trainStep(m, opt, xs, LABELS, 3, cfg, 1e-3);
  const saved = await opt.save();
  opt.restore(saved.bin, saved.specs);
  assert.equal(tf.memory().numTensors, n0);
  opt.dispose();
  m.dispose();
  xs.dispose();
});
