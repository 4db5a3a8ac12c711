import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { buildModel, modelNames } from "../src/models/registry";
import { freeze } from "../src/models/freeze";
import { loadModel, saveModel } from "../src/models/io";
import { groupSummary, parameterCount } from "../src/models/summary";

before(async () => {
  await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true });
});

const PAPER_PARAMS: Record<string, number> = {
  mobilenetv2_100: 3.5e6,
  mobilevit_xxs: 1.3e6,
  mobilevit_xs: 2.3e6,
  mobilevit_s: 5.6e6,
};

test("parameter counts at 1000 classes, 256 px, match the papers within 3 %", () => {
  for (const [name, paper] of Object.entries(PAPER_PARAMS)) {
    const m = buildModel({ name, inputSize: 256, classes: 1000, seed: 0 });
    const n = parameterCount(m);
    assert.ok(Math.abs(n - paper) / paper < 0.03, `${name}: ${n} vs paper ${paper}`);
    m.dispose();
  }
});

test("output shapes at 64, 96, 128 and 256 px", () => {
  for (const name of ["mobilenetv2_035", "mobilevit_xxs"]) {
    for (const size of [64, 96, 128, 256]) {
      const m = buildModel({ name, inputSize: size, classes: 5, seed: 0 });
      const y = tf.tidy(() => m.predict(tf.zeros([2, size, size, 3])) as tf.Tensor);
      assert.deepEqual(y.shape, [2, 5], `${name} at ${size}`);
      y.dispose();
      m.dispose();
    }
  }
});

test("bad model specs are refused with what is allowed", () => {
  assert.throws(
    () => buildModel({ name: "mobilevit_xxs", inputSize: 100, classes: 5, seed: 0 }),
    /input size must be a multiple of 32 in 32\.\.256/,
  );
  assert.throws(
    () => buildModel({ name: "mobilevit_m", inputSize: 64, classes: 5, seed: 0 }),
    /unknown model 'mobilevit_m'; allowed: mobilenetv2_035/,
  );
  assert.throws(
    () => buildModel({ name: "mobilenetv2_100", inputSize: 64, classes: 1, seed: 0 }),
    /classes must be an integer >= 2, got 1/,
  );
  const m = buildModel({ name: "mobilenetv2_035", inputSize: 64, classes: 5, seed: 0 });
  assert.throws(
    () => freeze(m, "stem+early-transformer"),
    /does not apply to mobilenetv2_035; allowed for mobilenetv2_035: none, first5, all-but-head, early:<percent>/,
  );
  assert.throws(() => freeze(m, "bogus" as never), /unknown freeze group 'bogus'/);
  m.dispose();
});

function step(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, opt: tf.Optimizer): number {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = opt.minimize(
    () =>
      tf.losses.softmaxCrossEntropy(
        y,
        model.apply(x, { training: true }) as tf.Tensor,
      ) as tf.Scalar,
    true,
    vars,
  )!;
  const v = loss.dataSync()[0];
  loss.dispose();
  return v;
}

test("gradients reach every trainable weight of both models", () => {
  for (const name of ["mobilenetv2_035", "mobilevit_xxs"]) {
    const m = buildModel({ name, inputSize: 64, classes: 5, seed: 0 });
    const x = tf.randomUniform([4, 64, 64, 3], 0, 1, "float32", 1);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 5);
    const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(
      () =>
        tf.losses.softmaxCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      vars,
    );
    for (const v of vars) {
      const g = grads[v.name];
      assert.ok(g, `${name}: no gradient for ${v.name}`);
      const vals = g.dataSync();
      assert.ok(vals.every(Number.isFinite), `${name}: non-finite gradient for ${v.name}`);
      assert.ok(
        vals.some((t) => t !== 0),
        `${name}: all-zero gradient for ${v.name}`,
      );
    }
    tf.dispose([grads, x, y]);
    m.dispose();
  }
});

test("a training step leaves frozen weights (BN statistics too) bit-identical and changes the rest", () => {
  for (const [name, group] of [
    ["mobilenetv2_035", "first5"],
    ["mobilevit_xxs", "stem+early-transformer"],
  ] as const) {
    const m = buildModel({ name, inputSize: 64, classes: 5, seed: 0 });
    const report = freeze(m, group);
    assert.ok(report.frozenParams > 0 && report.trainableParams > 0);
    const frozenLayers = new Set(report.frozenLayers);
    const before = new Map(m.weights.map((w) => [w.name, w.read().dataSync().slice()]));
    const x = tf.randomUniform([4, 64, 64, 3], 0, 1, "float32", 2);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 5);
    const opt = tf.train.adam(1e-2);
    step(m, x, y, opt);
    for (const l of m.layers) {
      for (const w of l.weights) {
        const same = Buffer.from(before.get(w.name)!.buffer).equals(
          Buffer.from(w.read().dataSync().buffer),
        );
        if (frozenLayers.has(l.name)) assert.ok(same, `${name}: frozen ${w.name} changed`);
        else if (w.trainable) assert.ok(!same, `${name}: trainable ${w.name} did not change`);
      }
    }
    if (name === "mobilenetv2_035")
      assert.deepEqual(report.frozenLayers, [
        "stem_conv",
        "stem_conv_bn",
        "block0_dw",
        "block0_dw_bn",
        "block0_project",
      ]);
    else
      assert.deepEqual(
        [...new Set(report.frozenLayers.map((n) => /^(layer\d+_mvit_t\d+|stem)/.exec(n)![1]))],
        ["stem", "layer3_mvit_t0", "layer3_mvit_t1", "layer4_mvit_t0", "layer4_mvit_t1"],
      );
    tf.dispose([x, y]);
    opt.dispose();
    m.dispose();
  }
});

test("save -> load gives identical predictions, and the loaded model trains", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-model-"));
  for (const name of ["mobilenetv2_035", "mobilevit_xxs"]) {
    const m = buildModel({ name, inputSize: 64, classes: 5, seed: 3 });
    const x = tf.randomUniform([3, 64, 64, 3], 0, 1, "float32", 5);
    const out = path.join(dir, name);
    await saveModel(m, out, { "config.json": { name } });
    const loaded = await loadModel(out);
    const a = (m.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.predict(x) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a));
    assert.ok(fs.existsSync(path.join(out, "config.json")));
    const before = (loaded.trainableWeights[0].read().dataSync() as Float32Array).slice();
    const loss = step(
      loaded,
      x,
      tf.oneHot(tf.tensor1d([0, 1, 2], "int32"), 5),
      tf.train.adam(1e-2),
    );
    assert.ok(Number.isFinite(loss));
    assert.notDeepEqual(
      Array.from(loaded.trainableWeights[0].read().dataSync()),
      Array.from(before),
    );
    m.dispose();
    loaded.dispose();
  }
  await assert.rejects(loadModel(path.join(dir, "nothing")), /no model at/);
});

test("every registered model builds, and the group summary adds up", () => {
  for (const name of modelNames()) {
    const m = buildModel({ name, inputSize: 64, classes: 5, seed: 0 });
    const rows = groupSummary(m);
    const moving = m.weights
      .filter((w) => /moving_/.test(w.name))
      .reduce((a, w) => a + (w.shape as number[]).reduce((p, d) => p * d, 1), 0);
    assert.equal(
      rows.reduce((a, r) => a + r.params, 0),
      m.countParams() - moving,
    );
    assert.equal(parameterCount(m), m.countParams() - moving);
    m.dispose();
  }
});
