import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { buildModel } from "../src/models/registry";
import { SplitReader } from "../src/data/format";
import { generateDataset } from "../src/data/generate";
import { splitFile } from "../src/data/spec";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { train } from "../src/train/trainer";
import { DEFAULT_TRAIN, TrainConfig, validateTrainConfig } from "../src/train/config";
import { cosineWithWarmup } from "../src/train/schedule";
import { batches, epochOrder } from "../src/data/batches";

let dir = "";
let trainSplit: SplitReader;
let valSplit: SplitReader;
const cfg: TrainConfig = {
  ...DEFAULT_TRAIN,
  epochs: 3,
  batchSize: 16,
  lr: 2e-3,
  warmupEpochs: 0.5,
};

before(async () => {
  await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-train-"));
  generateDataset(
    {
      task: "plain",
      hops: 0,
      difficulty: presetDifficulty("easy"),
      nuisance: NO_NUISANCE,
      seed: 1,
      sampling: "debiased",
    },
    { train: 96, val: 32, test: 0 },
    dir,
    { quiet: true },
  );
  trainSplit = new SplitReader(splitFile(dir, "train"));
  valSplit = new SplitReader(splitFile(dir, "val"));
});

const model = () => buildModel({ name: "mobilenetv2_035", inputSize: 32, classes: 3, seed: 7 });
const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

test("cosine schedule: linear warm-up, peak, decay to zero", () => {
  assert.equal(cosineWithWarmup(0, 100, 10, 1), 0.1);
  assert.equal(cosineWithWarmup(9, 100, 10, 1), 1);
  assert.ok(Math.abs(cosineWithWarmup(55, 100, 10, 1) - 0.5) < 1e-9);
  assert.ok(cosineWithWarmup(100, 100, 10, 1) < 1e-12);
});

test("batches stream the split in a seeded order, as 0..1 floats", () => {
  const order = epochOrder(trainSplit.count, 3, 1, true);
  assert.deepEqual(
    [...order].sort((a, b) => a - b),
    Array.from({ length: 96 }, (_, i) => i),
  );
  assert.deepEqual(order, epochOrder(trainSplit.count, 3, 1, true));
  assert.notDeepEqual(order, epochOrder(trainSplit.count, 3, 2, true));
  const b = batches(trainSplit, order, 40).next().value!;
  assert.deepEqual(b.xs.shape, [40, 32, 32, 3]);
  const v = b.xs.dataSync();
  assert.ok(Array.from(v as Float32Array).every((t) => t >= 0 && t <= 1));
  assert.equal(Math.round(v[0] * 255), trainSplit.image(order[0])[0]);
  assert.equal(b.labels[3], trainSplit.records.labels[order[3]]);
  b.xs.dispose();
});

test("bad training configs are refused before any work", () => {
  assert.throws(
    () => validateTrainConfig({ ...cfg, epochs: 0 }),
    /train\.epochs must be an integer in 1\.\./,
  );
  assert.throws(
    () => validateTrainConfig({ ...cfg, optimizer: "sgd" as never }),
    /train\.optimizer must be one of adamw, adam/,
  );
  assert.throws(() => validateTrainConfig({ ...cfg, lr: -1 }), /train\.lr must be a number/);
});

test("data/model mismatches are refused", async () => {
  const m = buildModel({ name: "mobilenetv2_035", inputSize: 32, classes: 5, seed: 0 });
  await assert.rejects(
    train(m, { train: trainSplit }, cfg, { quiet: true }),
    /model has 5 outputs but the data has 3 classes/,
  );
  m.dispose();
});

test("no tensor leaks: tf.memory().numTensors is flat across epochs (checkpointing included)", async () => {
  const counts: number[] = [];
  const m = model();
  await train(
    m,
    { train: trainSplit, val: valSplit },
    { ...cfg, epochs: 4 },
    {
      quiet: true,
      checkpointDir: path.join(dir, "leak"),
      onEpoch: () => void counts.push(tf.memory().numTensors),
    },
  );
  assert.equal(counts.length, 4);
  assert.deepEqual(
    counts.slice(1),
    [counts[0], counts[0], counts[0]],
    `numTensors per epoch: ${counts}`,
  );
  m.dispose();
});

test("same config and seed give the same weights; a resumed run equals an uninterrupted one", async () => {
  const a = model();
  await train(a, { train: trainSplit, val: valSplit }, cfg, { quiet: true });
  const b = model();
  await train(b, { train: trainSplit, val: valSplit }, cfg, { quiet: true });
  assert.deepEqual(weightsOf(b), weightsOf(a));

  const ck = path.join(dir, "resume");
  const c = model();
  await train(
    c,
    { train: trainSplit, val: valSplit },
    { ...cfg, epochs: 3 },
    { quiet: true, checkpointDir: ck },
  );
  const d = model();
  // Interrupted after epoch 1 (simulated by a 1-epoch budget with the same schedule length)...
  const partial = path.join(dir, "partial");
  await train(
    d,
    { train: trainSplit, val: valSplit },
    { ...cfg, epochs: 3, earlyStopPatience: 0 },
    {
      quiet: true,
      checkpointDir: partial,
      onEpoch: (r) => {
        if (r.epoch === 1) throw new Error("interrupted");
      },
    },
  ).catch((e) => assert.match(String(e), /interrupted/));
  const e = model();
  const res = await train(
    e,
    { train: trainSplit, val: valSplit },
    { ...cfg, epochs: 3 },
    { quiet: true, checkpointDir: partial, resume: true },
  );
  assert.equal(res.history.length, 3);
  assert.deepEqual(weightsOf(e), weightsOf(c));
  assert.deepEqual(
    JSON.parse(fs.readFileSync(path.join(partial, "history.json"), "utf8")).length,
    3,
  );
  [a, b, c, d, e].forEach((m) => m.dispose());
});

test("a short MobileNetV2 run on real puzzles reduces the training loss", async () => {
  const m = model();
  const res = await train(
    m,
    { train: trainSplit },
    { ...cfg, epochs: 6, lr: 3e-3 },
    { quiet: true },
  );
  const losses = res.history.map((h) => h.train_loss);
  assert.ok(losses.at(-1)! < losses[0] * 0.9, `train loss ${losses.map((l) => l.toFixed(3))}`);
  m.dispose();
});
