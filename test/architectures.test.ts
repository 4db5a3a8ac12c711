import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { attentionSpanOf, buildModel, modelNames } from "../src/models/registry";
import { freeze, frozenFractions, layersInGroup, validateFreezeGroup } from "../src/models/freeze";
import { loadModel, saveModel } from "../src/models/io";
import { attentionSpan, formatSummary, layerParams, parameterCount } from "../src/models/summary";
import { Unfold } from "../src/models/layers/patches";
import { ClassToken, MaskTokens, PositionEmbedding, TakeToken } from "../src/models/layers/tokens";
import { Blockify, Unblockify } from "../src/models/layers/blocks";
import { GroupedQueryAttention } from "../src/models/layers/gqa";
import { MultiHeadSelfAttention } from "../src/models/layers/attention";
import { SwiGLUMoE } from "../src/models/layers/moe";
import { Patchify } from "../src/models/layers/patchify";
import { SplitReader } from "../src/data/format";
import { generateDataset } from "../src/data/generate";
import { splitFile } from "../src/data/spec";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { batches } from "../src/data/batches";
import { trainStep } from "../src/train/trainer";
import { AdamW } from "../src/train/adamw";
import { DEFAULT_TRAIN } from "../src/train/config";
import { gradCam } from "../src/explain/gradcam";

const NEW_MODELS = ["vit_seed001", "vit_xxs", "nest_tiny", "mmlit_s", "mmlit_xs", "mmlit_xxs"];
let backend = "";
let dir = "";

before(async () => {
  backend = (await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true })).tfBackend;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-arch-"));
  generateDataset(
    {
      task: "plain",
      hops: 0,
      difficulty: presetDifficulty("easy"),
      nuisance: NO_NUISANCE,
      seed: 3,
      sampling: "debiased",
    },
    { train: 8, val: 0, test: 0 },
    dir,
    { quiet: true },
  );
});

test("every new model builds at 32 and 64 px with 5 outputs; mmLiT sizes stay under 1 M parameters", () => {
  for (const name of NEW_MODELS) {
    for (const size of [32, 64]) {
      const m = buildModel({ name, inputSize: size, classes: 5, seed: 0 });
      const y = tf.tidy(() => m.predict(tf.zeros([2, size, size, 3])) as tf.Tensor);
      assert.deepEqual(y.shape, [2, 5], `${name} at ${size}`);
      if (name.startsWith("mmlit_"))
        assert.ok(parameterCount(m) < 1e6, `${name}: ${parameterCount(m)} parameters`);
      y.dispose();
      m.dispose();
    }
  }
});

test("seed 001's ViT is dim 128, depth 3, heads 2, MLP 256 on 8 px patches at 32 px", () => {
  const m = buildModel({ name: "vit_seed001", inputSize: 32, classes: 10, seed: 0 });
  // Patch embedding 8*8*3*128 + 128, class token 128, positions 17*128, per layer 4*128^2 + 4*128
  // (attention) + 2*128*256 + 256 + 128 (MLP) + 4*128 (norms), final norm 256, head 128*10 + 10.
  const layer = 4 * 128 * 128 + 4 * 128 + 2 * 128 * 256 + 256 + 128 + 4 * 128;
  assert.equal(
    parameterCount(m),
    8 * 8 * 3 * 128 + 128 + 128 + 17 * 128 + 3 * layer + 256 + 128 * 10 + 10,
  );
  assert.deepEqual(attentionSpanOf("vit_seed001", 32), [
    { stage: "encoder", layers: 3, featureMap: [4, 4], patches: 17, sequences: 1 },
  ]);
  m.dispose();
});

test("every model's attention geometry, computed from its variant table, equals the built model's", () => {
  for (const name of modelNames())
    for (const size of [32, 64, 96, 128]) {
      const m = buildModel({ name, inputSize: size, classes: 5, seed: 0 });
      try {
        assert.deepEqual(attentionSpanOf(name, size), attentionSpan(m), `${name} at ${size} px`);
      } finally {
        m.dispose();
      }
    }
});

test("attention spans: MobileViT's maps at strides 8, 16, 32 and the patches its Unfold makes; NesT's blocks; none for MobileNet", () => {
  for (const size of [32, 64]) {
    const m = buildModel({ name: "mobilevit_xxs", inputSize: size, classes: 5, seed: 0 });
    const spans = attentionSpan(m);
    assert.deepEqual(
      spans.map((s) => [s.stage, s.featureMap[0]]),
      [
        ["layer3_mvit", size / 8],
        ["layer4_mvit", size / 16],
        ["layer5_mvit", size / 32],
      ],
    );
    for (const s of spans) {
      const p = (m.getLayer(`${s.stage}_unfold`) as Unfold).patch;
      assert.equal(s.patches, Math.ceil(s.featureMap[0] / p) ** 2, `${s.stage} at ${size} px`);
      assert.equal(s.sequences, p * p);
    }
    m.dispose();
  }
  // With the paper's 2x2 patches at 32 px: 4, 1, 1 patches per attention.
  assert.deepEqual(attentionSpanOf("mobilevit_xxs", 32)[0].patches, 4);
  assert.deepEqual(
    attentionSpanOf("nest_tiny", 64).map((s) => [s.stage, s.featureMap[0], s.patches, s.sequences]),
    [
      ["level0", 16, 16, 16],
      ["level1", 8, 16, 4],
      ["level2", 4, 16, 1],
    ],
  );
  assert.deepEqual(attentionSpanOf("mobilenetv2_035", 64), []);
  const m = buildModel({ name: "mobilevit_xxs", inputSize: 32, classes: 5, seed: 0 });
  assert.match(
    formatSummary(m),
    /attention layer5_mvit +3 layers on a 1x1 map: 1 patches per attention.*mixes nothing/,
  );
  m.dispose();
});

test("freeze groups: all-but-head and early:<percent> for every model, errors say what is allowed", () => {
  for (const name of ["mobilenetv2_035", "mobilevit_xxs", ...NEW_MODELS]) {
    const m = buildModel({ name, inputSize: 32, classes: 5, seed: 0 });
    const total = parameterCount(m);
    const abh = freeze(m, "all-but-head");
    assert.equal(abh.trainableParams, layerParams(m.getLayer("classifier")), name);
    for (const pct of [10, 25, 50]) {
      const ls = layersInGroup(m, `early:${pct}`);
      const frozen = ls.reduce((a, l) => a + layerParams(l), 0);
      // The first prefix of weight layers in forward order that reaches pct %.
      assert.ok(
        frozen >= (pct / 100) * total &&
          frozen - layerParams(ls[ls.length - 1]) < (pct / 100) * total,
        `${name} early:${pct}`,
      );
      const weightLayers = m.layers.filter((l) => layerParams(l) > 0);
      assert.deepEqual(
        ls.map((l) => l.name),
        weightLayers.slice(0, ls.length).map((l) => l.name),
      );
    }
    const rows = frozenFractions(m, ["early:25"]);
    assert.equal(rows[rows.length - 1].group, "early:25");
    assert.ok(rows.every((r) => r.fraction >= 0 && r.fraction <= 1 && r.totalParams === total));
    if (name !== "mobilenetv2_035") {
      const st = freeze(m, "stem+early-transformer");
      assert.ok(st.frozenParams > 0 && st.trainableParams > 0, name);
    }
    m.dispose();
  }
  assert.throws(() => validateFreezeGroup("early:0"), /percentage must be in \(0, 100\), got 0/);
  assert.throws(() => validateFreezeGroup("early:100"), /percentage must be in \(0, 100\)/);
  assert.throws(
    () => validateFreezeGroup("early:x", "vit_xxs"),
    /unknown freeze group 'early:x': freeze must be one of none, stem\+early-transformer, all-but-head, early:<percent> \(for vit_xxs\)/,
  );
  assert.throws(
    () => validateFreezeGroup("first5", "nest_tiny"),
    /does not apply to nest_tiny; allowed for nest_tiny: none, stem\+early-transformer, all-but-head, early:<percent>/,
  );
  assert.throws(
    () => validateFreezeGroup("stem+early-transformer", "mobilenetv2_100"),
    /allowed for mobilenetv2_100: none, first5, all-but-head, early:<percent>/,
  );
});

test("one model of each new family lowers its loss on a few plain puzzles; mmLiT's load-balancing loss is part of it", () => {
  const reader = new SplitReader(splitFile(dir, "train"));
  const order = Array.from({ length: 8 }, (_, i) => i);
  const data = [...batches(reader, order, 4)];
  for (const name of ["vit_seed001", "nest_tiny", "mmlit_xxs"]) {
    const m = buildModel({ name, inputSize: 32, classes: 3, seed: 1 });
    const opt = new AdamW(m.trainableWeights);
    const cfg = { ...DEFAULT_TRAIN, weightDecay: 0 };
    if (name === "mmlit_xxs") {
      // The reported loss is cross-entropy + the experts' balancing loss of this forward pass.
      const [ce, aux] = tf.tidy(() => {
        const logits = m.apply(data[0].xs, { training: true }) as tf.Tensor;
        const y = tf.oneHot(tf.tensor1d(data[0].labels, "int32"), 3);
        const added = m.calculateLosses();
        assert.equal(added.length, 6, "one balancing loss per MoE layer");
        return [
          tf.losses.softmaxCrossEntropy(y, logits).dataSync()[0],
          tf.addN(added).dataSync()[0],
        ];
      });
      assert.ok(
        aux > 0.01 * 6 * 0.9,
        `balancing loss ${aux}: about auxWeight * layers at a balanced start`,
      );
      const { loss } = trainStep(m, opt, data[0].xs, data[0].labels, 3, cfg, 1e-3);
      assert.ok(Math.abs(loss - (ce + aux)) < 1e-4, `${loss} vs ${ce} + ${aux}`);
    }
    const losses: number[] = [];
    let n0 = 0;
    for (let s = 0; s < 10; s++) {
      losses.push(trainStep(m, opt, data[s % 2].xs, data[s % 2].labels, 3, cfg, 2e-3).loss);
      if (s === 0) n0 = tf.memory().numTensors; // after Adam has made its moment variables
    }
    assert.equal(tf.memory().numTensors, n0, `${name}: tensors leaked per step`);
    const first = (losses[0] + losses[1]) / 2;
    const last = (losses[8] + losses[9]) / 2;
    assert.ok(last < first - 0.25, `${name}: loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    opt.dispose();
    m.dispose();
  }
  data.forEach((b) => b.xs.dispose());
  reader.close();
});

test("save -> load gives identical predictions for every new model", async () => {
  for (const name of NEW_MODELS) {
    const m = buildModel({ name, inputSize: 32, classes: 5, seed: 4 });
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 5);
    const out = path.join(dir, "saved", name);
    await saveModel(m, out);
    const loaded = await loadModel(out);
    assert.equal(loaded.name, m.name);
    const a = (m.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.predict(x) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a), name);
    tf.dispose(x);
    m.dispose();
    loaded.dispose();
  }
});

test("Grad-CAM runs on every new model (ViT at its patch-embedding map, NesT and mmLiT at their last normalised map)", () => {
  const expected: Record<string, string> = {
    vit_xxs: "patch_map",
    nest_tiny: "head_ln",
    mmlit_xxs: "tokens_map",
  };
  for (const [name, layer] of Object.entries(expected)) {
    const m = buildModel({ name, inputSize: 32, classes: 3, seed: 2 });
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 6);
    const r = gradCam(m, x as tf.Tensor4D);
    assert.equal(r.layer, layer, name);
    assert.equal(r.maps.length, 2);
    assert.ok(
      r.maps.every((mp) => mp.length === 32 * 32 && mp.every(Number.isFinite)),
      name,
    );
    assert.ok(
      r.maps.some((mp) => Math.max(...mp) > Math.min(...mp)),
      `${name}: flat heatmap`,
    );
    x.dispose();
    m.dispose();
  }
});

test("attention maps can be captured from every new model: [batch * sequences, heads, n, n], rows summing to 1", () => {
  const expected: Record<string, number[]> = {
    vit_seed001: [2, 2, 17, 17],
    nest_tiny: [2 * 16, 2, 16, 16],
    mmlit_xxs: [2, 4, 64, 64],
  };
  for (const [name, shape] of Object.entries(expected)) {
    const m = buildModel({ name, inputSize: 32, classes: 3, seed: 2 });
    const layers = m.layers.filter(
      (l) => l instanceof MultiHeadSelfAttention || l instanceof GroupedQueryAttention,
    ) as Array<MultiHeadSelfAttention | GroupedQueryAttention>;
    const captures = layers.map((l) => (l.capture = { maps: null as tf.Tensor | null }));
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 6);
    tf.tidy(() => void m.predict(x));
    assert.deepEqual(captures[0].maps!.shape, shape, name);
    const sums = tf.tidy(() => tf.sum(captures[0].maps!, -1).dataSync());
    assert.ok(
      sums.every((v) => Math.abs(v - 1) < 1e-5),
      name,
    );
    captures.forEach((c) => c.maps?.dispose());
    layers.forEach((l) => (l.capture = null));
    x.dispose();
    m.dispose();
  }
});

// ---- gradients of every new layer against the same math in plain tf ops (cpu backend) ----

type Ref = (inputs: tf.Tensor[], weights: tf.Tensor[]) => tf.Tensor;

const relErr = (a: tf.Tensor, b: tf.Tensor) =>
  tf.tidy(() => tf.norm(tf.sub(a, b)).dataSync()[0] / Math.max(tf.norm(b).dataSync()[0], 1e-30));

/**
 * Largest relative error between the layer and `ref` over the output and the gradients of
 * sum(out * R) (+ the layer's own losses in training mode) with respect to the differentiable
 * inputs and every weight.
 */
function layerVsReference(
  layer: tf.layers.Layer,
  inputs: tf.Tensor[],
  diff: boolean[],
  ref: Ref,
  opts: { training?: boolean; refLoss?: Ref } = {},
): number {
  return tf.tidy(() => {
    const asArg = (ins: tf.Tensor[]) => (ins.length === 1 ? ins[0] : ins);
    layer.apply(asArg(inputs)); // builds the weights
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const out0 = layer.apply(asArg(inputs)) as tf.Tensor;
    const r = tf.randomNormal(out0.shape, 0, 1, "float32", 11);
    const objective = (y: tf.Tensor, extra: tf.Tensor[]) =>
      tf.addN([tf.sum(tf.mul(y, r)), ...extra]) as tf.Scalar;
    // The layer's side: its inputs as variables, so one variableGrads covers inputs and weights.
    const inVars = inputs.map((t, i) => (diff[i] ? tf.variable(t) : null));
    const { grads } = tf.variableGrads(() => {
      const y = layer.apply(asArg(inputs.map((t, i) => inVars[i] ?? t)), {
        training: opts.training,
      }) as tf.Tensor;
      return objective(y, opts.training ? layer.calculateLosses() : []);
    }, [...(inVars.filter(Boolean) as tf.Variable[]), ...weights]);
    const mine = [...(inVars.filter(Boolean) as tf.Variable[]), ...weights].map(
      (v) => grads[v.name],
    );
    // The reference's side: the same values as plain arguments.
    const nDiff = diff.filter(Boolean).length;
    const theirs = tf.grads((...args: tf.Tensor[]) => {
      const ins = inputs.map((t, i) =>
        diff[i] ? args[diff.slice(0, i).filter(Boolean).length] : t,
      );
      const ws = args.slice(nDiff);
      return objective(ref(ins, ws), opts.refLoss ? [opts.refLoss(ins, ws)] : []);
    })([...inputs.filter((_, i) => diff[i]), ...weights.map((w) => tf.clone(w))]);
    const errs = [relErr(out0, ref(inputs, weights)), ...mine.map((g, i) => relErr(g, theirs[i]))];
    inVars.forEach((v) => v?.dispose());
    return Math.max(...errs);
  });
}

async function onCpu(f: () => void): Promise<void> {
  await tf.setBackend("cpu");
  try {
    f();
  } finally {
    await tf.setBackend(backend);
  }
}

const x3 = (b: number, n: number, d: number, seed: number) =>
  tf.randomNormal([b, n, d], 0, 1, "float32", seed);

test("token layers: class token, position embedding, token selection, mask tokens match plain formulas", async () => {
  await onCpu(() => {
    const x = x3(2, 5, 6, 1);
    assert.ok(
      layerVsReference(new ClassToken({ seed: 1 }), [x], [true], ([v], [t]) =>
        tf.concat([tf.tile(t, [2, 1, 1]), v], 1),
      ) < 1e-5,
    );
    assert.ok(
      layerVsReference(new ClassToken({ seed: 1 }), [x], [true], ([v], [t]) =>
        tf.concat([v, tf.tile(t, [2, 1, 1])], 1),
      ) > 1e-2,
      "a token appended at the end must fail",
    );
    assert.ok(
      layerVsReference(new PositionEmbedding({ seed: 2 }), [x], [true], ([v], [e]) =>
        tf.add(v, tf.expandDims(e, 0)),
      ) < 1e-5,
    );
    assert.ok(
      layerVsReference(new TakeToken({ index: 0 }), [x], [true], ([v]) =>
        tf.squeeze(tf.gather(v, [0], 1), [1]),
      ) < 1e-5,
    );
    const mask = tf.tensor2d([
      [1, 0, 0, 1, 0],
      [0, 0, 1, 1, 1],
    ]);
    const ref: Ref = ([v, m], [t]) =>
      tf.where(
        tf.cast(tf.tile(tf.expandDims(m, 2), [1, 1, 6]), "bool"),
        tf.mul(tf.onesLike(v), t),
        v,
      );
    assert.ok(layerVsReference(new MaskTokens({ seed: 3 }), [x, mask], [true, false], ref) < 1e-5);
  });
});

test("Patchify matches a p x p stride-p convolution's patches (conv with a one-hot kernel per pixel)", async () => {
  await onCpu(() => {
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, "float32", 8);
    // Output column (y*p + x)*3 + c of patch (i, j) is what a stride-p conv with a kernel that
    // picks pixel (y, x, c) computes at (i, j): an identity kernel reshaped to [p, p, 3, p*p*3].
    const ref: Ref = ([v]) =>
      tf.reshape(
        tf.conv2d(
          v as tf.Tensor4D,
          tf.reshape(tf.eye(2 * 2 * 3), [2, 2, 3, 12]) as tf.Tensor4D,
          2,
          "valid",
        ),
        [2, 16, 12],
      );
    assert.ok(layerVsReference(new Patchify({ patch: 2 }), [x], [true], ref) < 1e-5);
    const wrong: Ref = ([v]) => tf.reshape(v, [2, 16, 12]);
    assert.ok(
      layerVsReference(new Patchify({ patch: 2 }), [x], [true], wrong) > 1e-2,
      "raw rows as patches must fail",
    );
  });
});

test("Blockify / Unblockify match an explicit index gather, and invert each other", async () => {
  await onCpu(() => {
    const [h, w, k, c] = [4, 8, 2, 3];
    const x = tf.randomNormal([2, h, w, c], 0, 1, "float32", 4);
    // Sequence s of image b is block (bi, bj) = divmod(s, w/k); its token t is (ti, tj) = divmod(t, k).
    const idx: number[] = [];
    for (let b = 0; b < 2; b++)
      for (let bi = 0; bi < h / k; bi++)
        for (let bj = 0; bj < w / k; bj++)
          for (let ti = 0; ti < k; ti++)
            for (let tj = 0; tj < k; tj++) idx.push(b * h * w + (bi * k + ti) * w + bj * k + tj);
    const gatherRef: Ref = ([v]) =>
      tf.reshape(tf.gather(tf.reshape(v, [2 * h * w, c]), idx), [2 * (h / k) * (w / k), k * k, c]);
    assert.ok(
      layerVsReference(new Blockify({ block: k, height: h, width: w }), [x], [true], gatherRef) <
        1e-5,
    );
    const rowsRef: Ref = ([v]) => tf.reshape(v, [2 * (h / k) * (w / k), k * k, c]);
    assert.ok(
      layerVsReference(new Blockify({ block: k, height: h, width: w }), [x], [true], rowsRef) >
        1e-2,
      "runs of a row taken as blocks must fail",
    );
    const inverse = new Array(idx.length);
    idx.forEach((src, dst) => (inverse[src] = dst));
    const blocks = gatherRef([x], []);
    const unRef: Ref = ([v]) =>
      tf.reshape(tf.gather(tf.reshape(v, [2 * h * w, c]), inverse), [2, h, w, c]);
    assert.ok(
      layerVsReference(new Unblockify({ block: k, height: h, width: w }), [blocks], [true], unRef) <
        1e-5,
    );
    const back = new Unblockify({ block: k, height: h, width: w }).apply(
      new Blockify({ block: k, height: h, width: w }).apply(x),
    ) as tf.Tensor;
    assert.deepEqual(Array.from(back.dataSync()), Array.from(x.dataSync()));
  });
});

/** Grouped-query attention one head at a time; `kvOf` maps a query head to its key/value head. */
function gqaRef(heads: number, kvHeads: number, kvOf: (i: number) => number): Ref {
  return ([x], [wq, bq, wkv, bkv, wo, bo]) => {
    const [b, n, d] = x.shape;
    const dh = d / heads;
    const rows = tf.reshape(x, [b * n, d]);
    const q = tf.add(tf.matMul(rows, wq), bq);
    const kv = tf.add(tf.matMul(rows, wkv), bkv);
    const outs: tf.Tensor[] = [];
    for (let i = 0; i < heads; i++) {
      const j = kvOf(i);
      const qi = tf.reshape(tf.slice(q, [0, i * dh], [-1, dh]), [b, n, dh]) as tf.Tensor3D;
      const kj = tf.reshape(tf.slice(kv, [0, j * dh], [-1, dh]), [b, n, dh]) as tf.Tensor3D;
      const vj = tf.reshape(tf.slice(kv, [0, (kvHeads + j) * dh], [-1, dh]), [
        b,
        n,
        dh,
      ]) as tf.Tensor3D;
      const a = tf.softmax(tf.div(tf.matMul(qi, kj, false, true), Math.sqrt(dh)));
      outs.push(tf.matMul(a, vj));
    }
    return tf.reshape(tf.add(tf.matMul(tf.reshape(tf.concat(outs, 2), [b * n, d]), wo), bo), [
      b,
      n,
      d,
    ]);
  };
}

test("grouped-query attention matches per-head attention (4 query heads, 2 and 1 key/value heads)", async () => {
  await onCpu(() => {
    const x = x3(2, 5, 8, 5);
    for (const g of [2, 1, 4]) {
      const err = layerVsReference(
        new GroupedQueryAttention({ dim: 8, heads: 4, kvHeads: g, seed: 9 }),
        [x],
        [true],
        gqaRef(4, g, (i) => Math.floor(i / (4 / g))),
      );
      assert.ok(err < 1e-5, `kvHeads ${g}: ${err}`);
    }
    const wrong = layerVsReference(
      new GroupedQueryAttention({ dim: 8, heads: 4, kvHeads: 2, seed: 9 }),
      [x],
      [true],
      gqaRef(4, 2, (i) => i % 2),
    );
    assert.ok(wrong > 1e-3, `interleaved head groups must fail (${wrong})`);
    assert.throws(
      () => new GroupedQueryAttention({ dim: 8, heads: 4, kvHeads: 3 }),
      /query heads 4 must be a multiple of key\/value heads 3/,
    );
  });
});

/** The mixture written one expert at a time, routing fixed from the gate's probabilities. */
function moeRef(
  experts: number,
  topK: number,
  hidden: number,
  renormalise: boolean,
): { ref: Ref; loss: (auxWeight: number) => Ref } {
  const route = (x: tf.Tensor, wg: tf.Tensor) => {
    const rows = tf.reshape(x, [-1, x.shape[2]!]);
    const p = tf.softmax(tf.matMul(rows, wg));
    const pv = p.arraySync() as number[][];
    const mask = tf.tensor2d(
      pv.map((r) => {
        const kth = [...r].sort((a, b) => b - a)[topK - 1];
        return r.map((v) => (v >= kth ? 1 : 0));
      }),
    );
    return { rows, p, mask };
  };
  const ref: Ref = ([x], [wg, w1, w3, w2]) => {
    const { rows, p, mask } = route(x, wg);
    const pm = tf.mul(p, mask);
    const w = renormalise ? tf.div(pm, tf.sum(pm, 1, true)) : pm;
    let y: tf.Tensor = tf.zeros([rows.shape[0], x.shape[2]!]);
    for (let e = 0; e < experts; e++) {
      const a = tf.matMul(rows, tf.slice(w1, [0, e * hidden], [-1, hidden]));
      const h = tf.mul(
        tf.mul(a, tf.sigmoid(a)),
        tf.matMul(rows, tf.slice(w3, [0, e * hidden], [-1, hidden])),
      );
      const ye = tf.matMul(h, tf.slice(w2, [e * hidden, 0], [hidden, -1]));
      y = tf.add(y, tf.mul(tf.slice(w, [0, e], [-1, 1]), ye));
    }
    return tf.reshape(y, x.shape);
  };
  const loss =
    (auxWeight: number): Ref =>
    ([x], [wg]) => {
      const { p, mask } = route(x, wg);
      return tf.mul(
        tf.sum(tf.mul(tf.div(tf.mean(mask, 0), topK), tf.mean(p, 0))),
        auxWeight * experts,
      );
    };
  return { ref, loss };
}

test("SwiGLU mixture of experts matches the per-expert formula, load-balancing loss included", async () => {
  await onCpu(() => {
    const x = x3(2, 6, 8, 7);
    const make = () =>
      new SwiGLUMoE({ dim: 8, hidden: 4, experts: 4, topK: 2, auxWeight: 0.5, seed: 3 });
    const right = moeRef(4, 2, 4, true);
    assert.ok(layerVsReference(make(), [x], [true], right.ref) < 1e-5);
    const err = layerVsReference(make(), [x], [true], right.ref, {
      training: true,
      refLoss: right.loss(0.5),
    });
    assert.ok(err < 1e-5, `with the balancing loss: ${err}`);
    const wrong = moeRef(4, 2, 4, false);
    assert.ok(
      layerVsReference(make(), [x], [true], wrong.ref) > 1e-2,
      "unnormalised top-k weights must fail",
    );
    assert.ok(
      layerVsReference(make(), [x], [true], right.ref, {
        training: true,
        refLoss: right.loss(0.05),
      }) > 1e-3,
      "a wrong balancing weight must fail",
    );
    assert.throws(
      () => new SwiGLUMoE({ dim: 8, hidden: 4, experts: 4, topK: 5, auxWeight: 0 }),
      /topK must be an integer in 1\.\.4/,
    );
  });
});
