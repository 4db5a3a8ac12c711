import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { buildModel } from "../src/models/registry";
import { cutPoints, splitAt } from "../src/explain/cut";
import { gradCam, defaultCamLayer } from "../src/explain/gradcam";
import { attentionMaps } from "../src/explain/attention";
import { overlay } from "../src/explain/overlay";
import { circleMask, concentration, routeMask } from "../src/explain/regions";

before(async () => {
  await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true });
});

const x = () => tf.randomUniform([2, 64, 64, 3], 0, 1, "float32", 9) as tf.Tensor4D;

test("a model cut at any cut point recomposes to the same logits", () => {
  for (const name of ["mobilenetv2_035", "mobilevit_xxs"]) {
    const m = buildModel({ name, inputSize: 64, classes: 5, seed: 1 });
    const pts = cutPoints(m);
    assert.ok(pts.length > 5, `${name}: ${pts}`);
    for (const cut of [pts[2], pts[Math.floor(pts.length / 2)], pts.at(-1)!]) {
      const { head, tail } = splitAt(m, cut);
      const img = x();
      const a = (m.predict(img) as tf.Tensor).dataSync();
      const b = (tail.predict(head.predict(img) as tf.Tensor) as tf.Tensor).dataSync();
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-4, `${name} cut at ${cut}`));
    }
    m.dispose();
  }
});

test("cutting where a skip connection crosses is a clear error", () => {
  const m = buildModel({ name: "mobilenetv2_035", inputSize: 64, classes: 5, seed: 1 });
  assert.throws(() => splitAt(m, "block2_expand"), /a skip connection crosses layer 'block2_expand'; Grad-CAM layers for mobilenetv2_035:/);
  assert.throws(() => splitAt(m, "nope"), /no layer 'nope'/);
  m.dispose();
});

test("Grad-CAM and Grad-CAM++ give image-sized maps in 0..1 for chosen classes", () => {
  for (const name of ["mobilenetv2_035", "mobilevit_xxs"]) {
    const m = buildModel({ name, inputSize: 64, classes: 5, seed: 1 });
    for (const method of ["gradcam", "gradcam++"] as const) {
      const r = gradCam(m, x(), { method, classes: [0, 3] });
      assert.equal(r.layer, defaultCamLayer(m));
      assert.deepEqual(r.classes, [0, 3]);
      assert.equal(r.maps.length, 2);
      for (const map of r.maps) {
        assert.equal(map.length, 64 * 64);
        assert.ok(Array.from(map).every((v) => Number.isFinite(v) && v >= 0 && v <= 1 + 1e-6));
      }
    }
    const before = tf.memory().numTensors;
    gradCam(m, x(), { layer: cutPoints(m)[3] });
    assert.ok(tf.memory().numTensors <= before + 1, "Grad-CAM leaks tensors");
    const png = overlay(new Uint8Array(64 * 64 * 3).fill(255), gradCam(m, x()).maps[0], 64, 2).toBuffer("image/png");
    assert.ok(png.length > 100);
    m.dispose();
  }
});

test("MobileViT attention maps: one per MobileViT block; MobileNet has none", () => {
  const m = buildModel({ name: "mobilevit_xxs", inputSize: 64, classes: 5, seed: 1 });
  const maps = attentionMaps(m, x());
  assert.deepEqual(maps.map((b) => b.block), ["layer3_mvit", "layer4_mvit", "layer5_mvit"]);
  assert.equal(maps[0].maps[0].length, 64 * 64);
  const cnn = buildModel({ name: "mobilenetv2_035", inputSize: 64, classes: 5, seed: 1 });
  assert.throws(() => attentionMaps(cnn, x()), /has no attention layers/);
  m.dispose();
  cnn.dispose();
});

test("region masks and heat concentration", () => {
  const p = { lanes: 3, rows: 2, rungs: [{ row: 0, left: 0 }, { row: 1, left: 1 }], top: [0, 1, 2], bottom: [2, 0, 1], start: 0 };
  const route = routeMask(p, 32, 0);
  const frac = route.reduce((a: number, v: number) => a + v, 0) / route.length;
  assert.ok(frac > 0.05 && frac < 0.5, `route covers ${frac}`);
  const heat = Float32Array.from(route, (v) => v);
  assert.ok(concentration(heat, route) > 1.9);
  assert.equal(concentration(new Float32Array(32 * 32).fill(0.5), route), 1);
  const circle = circleMask(p, 32, "bottom", 2);
  assert.ok(circle.reduce((a: number, v: number) => a + v, 0) > 10);
});

test("the default Grad-CAM layer is the last cut with at least a 4x4 map", () => {
  for (const [name, size] of [["mobilenetv2_035", 32], ["mobilevit_xxs", 32], ["mobilenetv2_035", 64]] as const) {
    const m = buildModel({ name, inputSize: size, classes: 3, seed: 0 });
    const layer = defaultCamLayer(m);
    const side = (m.getLayer(layer).getOutputAt(0) as tf.SymbolicTensor).shape[1];
    assert.equal(side, 4, `${name} at ${size}: ${layer}`);
    m.dispose();
  }
});
