import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { buildModel } from "../src/models/registry";
import { cutPoints, splitAt } from "../src/explain/cut";
import { gradCam, defaultCamLayer } from "../src/explain/gradcam";
import { attentionMaps } from "../src/explain/attention";
import { overlay } from "../src/explain/overlay";
import { circleMask, concentration, regionMeasures, routeMask } from "../src/explain/regions";
import { ExplainedSample, heatTable, heatTableMarkdown, spread } from "../src/explain/analysis";
import { trace, warpLanes } from "../src/puzzle/trace";
import { Puzzle } from "../src/puzzle/puzzle";
import { experimentRuns } from "../src/notebook/gradcam";
import { budgetConfig } from "../src/experiment/config";

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
  assert.throws(
    () => splitAt(m, "block2_expand"),
    /a skip connection crosses layer 'block2_expand'; Grad-CAM layers for mobilenetv2_035:/,
  );
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
    const png = overlay(
      new Uint8Array(64 * 64 * 3).fill(255),
      gradCam(m, x()).maps[0],
      64,
      2,
    ).toBuffer("image/png");
    assert.ok(png.length > 100);
    m.dispose();
  }
});

test("MobileViT attention maps: one per MobileViT block; MobileNet has none", () => {
  const m = buildModel({ name: "mobilevit_xxs", inputSize: 64, classes: 5, seed: 1 });
  const maps = attentionMaps(m, x());
  assert.deepEqual(
    maps.map((b) => b.block),
    ["layer3_mvit", "layer4_mvit", "layer5_mvit"],
  );
  // 64 px: stem /2, then /2 per stage: 8x8, 4x4, 2x2 maps; patch 2, 2, 1 (a 2x2 map is not cut into
  // one 2x2 patch, mobilevit.ts patchFor) -> attention over 16, 4, 4 patches.
  assert.deepEqual(
    maps.map((b) => b.patches),
    [16, 4, 4],
  );
  assert.equal(maps[0].maps[0].length, 64 * 64);
  const cnn = buildModel({ name: "mobilenetv2_035", inputSize: 64, classes: 5, seed: 1 });
  assert.throws(() => attentionMaps(cnn, x()), /has no attention layers/);
  m.dispose();
  cnn.dispose();
});

test("region masks and heat concentration", () => {
  const p = {
    lanes: 3,
    rows: 2,
    rungs: [
      { row: 0, left: 0 },
      { row: 1, left: 1 },
    ],
    top: [0, 1, 2],
    bottom: [2, 0, 1],
    start: 0,
  };
  const route = routeMask(p, 32, 0);
  const frac = route.reduce((a: number, v: number) => a + v, 0) / route.length;
  assert.ok(frac > 0.05 && frac < 0.5, `route covers ${frac}`);
  const heat = Float32Array.from(route, (v) => v);
  assert.ok(concentration(heat, route) > 1.9);
  assert.equal(concentration(new Float32Array(32 * 32).fill(0.5), route), 1);
  const circle = circleMask(p, 32, "bottom", 2);
  assert.ok(circle.reduce((a: number, v: number) => a + v, 0) > 10);
});

test("the default Grad-CAM layer: last block output at stride <= 8, at least 4x4 (8x8 at 64 px)", () => {
  const want: Array<[string, number, string, number]> = [
    ["mobilenetv2_035", 64, "block5_add", 8],
    ["mobilevit_xxs", 64, "layer3_mvit_fusion_swish", 8],
    ["mobilenetv2_035", 32, "block5_add", 4],
    ["mobilevit_xxs", 32, "layer3_mvit_fusion_swish", 4],
  ];
  for (const [name, size, layer, side] of want) {
    const m = buildModel({ name, inputSize: size, classes: 3, seed: 0 });
    assert.equal(defaultCamLayer(m), layer, `${name} at ${size} px`);
    assert.equal((m.getLayer(layer).getOutputAt(0) as tf.SymbolicTensor).shape[1], side);
    m.dispose();
  }
});

/** 4 lanes, START on lane 1; rungs so that the traces from different lanes differ. */
const P4: Puzzle = {
  lanes: 4,
  rows: 3,
  rungs: [
    { row: 0, left: 0 },
    { row: 1, left: 1 },
    { row: 2, left: 2 },
  ],
  top: [0, 1, 2, 3],
  bottom: [3, 1, 0, 2],
  start: 1,
};

test("region measures: heat on the taken route beats the routes not taken, and the reverse", () => {
  const size = 64;
  for (const hops of [0, 1]) {
    const taken = routeMask(P4, size, hops);
    const onRoute = regionMeasures(P4, Float32Array.from(taken), size, hops);
    assert.ok(
      onRoute.routeRatio > 3,
      `hops ${hops}: heat on the route gives ratio ${onRoute.routeRatio}`,
    );
    assert.ok(onRoute.circleRatio > 1.5, `hops ${hops}: circle ratio ${onRoute.circleRatio}`);
    // Heat on another lane's route only: the control wins.
    const other = routeMask({ ...P4, start: 3 }, size, hops);
    const offRoute = regionMeasures(
      P4,
      Float32Array.from(other, (v, i) => (v && !taken[i] ? 1 : 0)),
      size,
      hops,
    );
    assert.ok(
      offRoute.routeRatio < 0.5,
      `hops ${hops}: heat off the route gives ratio ${offRoute.routeRatio}`,
    );
    const flat = regionMeasures(P4, new Float32Array(size * size).fill(0.3), size, hops);
    for (const v of [
      flat.route,
      flat.otherRoute,
      flat.routeRatio,
      flat.circleRatio,
      flat.start,
      flat.g1Circle,
    ])
      assert.ok(Math.abs(v - 1) < 1e-6);
    assert.equal(flat.hopTarget === null, hops === 0);
  }
  // The hop target is the top lane of g1's colour.
  const g1 = trace(P4, P4.start);
  assert.equal(warpLanes(P4, 1)[1], P4.top.indexOf(P4.bottom[g1]));
  assert.throws(
    () => regionMeasures(P4, new Float32Array(10), 64, 0),
    /heatmap has 10 values, expected 64x64/,
  );
});

test("heat table: groups, means and the spread of the ratios", () => {
  const base = {
    rgb: new Uint8Array(0),
    heat: Float32Array.of(1),
    plain: 0,
    otherRoute: 1,
    routeCircles: 1,
    otherCircles: 1,
    start: 1,
    g1Circle: 1,
    hopTarget: null,
    index: 0,
    explained: 0,
  };
  const s = (label: number, predicted: number, routeRatio: number): ExplainedSample => ({
    ...base,
    label,
    predicted,
    route: routeRatio,
    routeRatio,
    circleRatio: 2,
  });
  const rows = heatTable("r", [
    s(0, 0, 2),
    s(1, 1, 4),
    s(2, 0, 0.5),
    { ...s(1, 1, NaN), heat: new Float32Array(4) },
  ]);
  assert.deepEqual(
    rows.map((r) => [r.group, r.n, r.blank]),
    [
      ["all", 4, 1],
      ["correct", 3, 1],
      ["wrong", 1, 0],
    ],
  );
  assert.deepEqual(rows[0].routeRatio, { median: 2, q1: 1.25, q3: 3, above1: 2 / 3, n: 3 });
  assert.equal(rows[1].route, 3);
  assert.equal(rows[2].routeRatio.above1, 0);
  assert.deepEqual(spread([]).n, 0);
  const md = heatTableMarkdown(rows);
  assert.match(
    md,
    /\| r \| all \| 4 \(1 blank\) \| 2\.17 \| 1\.00 \| 2\.00 \(1\.25-3\.00\), 67 % > 1 \|/,
  );
  assert.equal(heatTable("r", []).length, 0);
});

test("notebook 04 reads every protocol run, each with the notebook that makes it", () => {
  const cfg = {
    ...budgetConfig("tiny"),
    seeds: [4],
    freeze: { cnn: ["first5", "early:30"], vit: ["stem+early-transformer"] },
  };
  const runs = experimentRuns(cfg, { runsDir: "R", dataDir: "D" });
  assert.deepEqual(
    runs.map((r) => `${r.name} ${r.track} ${r.stage} ${r.arm} ${r.notebook} ${r.data}`),
    [
      "cnn-stage1-s4 cnn stage1 none 02_train_plain D/tiny-plain",
      "cnn-finetune-first5-s4 cnn finetune first5 03_warp_finetune D/tiny-warp",
      "cnn-finetune-early30-s4 cnn finetune early:30 03_warp_finetune D/tiny-warp",
      "cnn-scratch-s4 cnn scratch none 03_warp_finetune D/tiny-warp",
      "vit-stage1-s4 vit stage1 none 02_train_plain D/tiny-plain",
      "vit-finetune-stem+early-transformer-s4 vit finetune stem+early-transformer 03_warp_finetune D/tiny-warp",
      "vit-scratch-s4 vit scratch none 03_warp_finetune D/tiny-warp",
    ],
  );
});
