import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { generateDataset } from "../src/data/generate";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { buildModel } from "../src/models/registry";
import { loadModel } from "../src/models/io";
import {
  DEFAULT_PRETRAIN,
  pretrain,
  randomMask,
  reconstructionLoss,
  validatePretrainConfig,
} from "../src/pretrain/mae";
import { patchRows } from "../src/models/layers/patchify";
import { runTraining } from "../src/experiment/run";
import { DEFAULT_TRAIN } from "../src/train/config";

let dir = "";

before(async () => {
  await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-mae-"));
  generateDataset(
    {
      task: "plain",
      hops: 0,
      difficulty: presetDifficulty("easy"),
      nuisance: NO_NUISANCE,
      seed: 5,
      sampling: "debiased",
    },
    { train: 32, val: 8, test: 8 },
    path.join(dir, "data"),
    { quiet: true },
  );
});

test("patchRows puts pixel (y, x) of patch (i, j) at row i*g + j, column (y*p + x)*3 + c", () => {
  const img = tf.tensor4d(
    Float32Array.from({ length: 2 * 4 * 4 * 3 }, (_, i) => i),
    [2, 4, 4, 3],
  );
  const p = patchRows(img, 2).arraySync();
  const v = img.arraySync();
  for (const [b, i, j, y, x, c] of [
    [0, 0, 1, 1, 0, 2],
    [1, 1, 0, 0, 1, 1],
    [1, 1, 1, 1, 1, 0],
  ])
    assert.equal(p[b][i * 2 + j][(y * 2 + x) * 3 + c], v[b][i * 2 + y][j * 2 + x][c]);
  img.dispose();
});

test("masks hide round(ratio * N) patches per image, the same for the same (seed, epoch, step)", () => {
  const a = randomMask(3, 16, 0.75, 1, 0, 2);
  assert.deepEqual(Array.from(tf.sum(a, 1).dataSync()), [12, 12, 12]);
  assert.deepEqual(
    Array.from(randomMask(3, 16, 0.75, 1, 0, 2).dataSync()),
    Array.from(a.dataSync()),
  );
  assert.notDeepEqual(
    Array.from(randomMask(3, 16, 0.75, 1, 0, 3).dataSync()),
    Array.from(a.dataSync()),
  );
  a.dispose();
});

test("the reconstruction loss counts only masked patches and skips the class token", () => {
  const target = tf.zeros([1, 2, 3]) as tf.Tensor3D;
  const pred = tf.tensor3d([
    [
      [9, 9, 9],
      [1, 1, 1],
      [2, 2, 2],
    ],
  ]); // class token first
  const mask = tf.tensor2d([[0, 1]]);
  assert.equal(reconstructionLoss(pred, target, mask).dataSync()[0], 4);
  tf.dispose([target, pred, mask]);
});

test("bad pre-training configs are refused", () => {
  const ok = { ...DEFAULT_PRETRAIN, model: "vit_seed001", data: path.join(dir, "data") };
  assert.throws(
    () => validatePretrainConfig({ ...ok, model: "mobilenetv2_100" }),
    /for the ViT family; got 'mobilenetv2_100', allowed families: vit, mmlit/,
  );
  assert.throws(
    () => validatePretrainConfig({ ...ok, maskRatio: 1 }),
    /pretrain.maskRatio must be a number in 0.01..0.99, got 1/,
  );
  assert.throws(
    () => validatePretrainConfig({ ...ok, data: path.join(dir, "none") }),
    /the pre-training.s data set: no such directory/,
  );
});

test("pre-training lowers the reconstruction loss; the saved classifier fine-tunes through --init", async () => {
  for (const model of ["vit_seed001", "mmlit_xxs"]) {
    const out = path.join(dir, `pre-${model}`);
    const history = await pretrain(
      {
        ...DEFAULT_PRETRAIN,
        model,
        data: path.join(dir, "data"),
        epochs: 4,
        batchSize: 8,
        lr: 2e-3,
        seed: 1,
      },
      out,
      { quiet: true },
    );
    assert.ok(
      history[3].loss < 0.8 * history[0].loss,
      `${model}: ${history.map((h) => h.loss.toFixed(4)).join(" -> ")}`,
    );
    const saved = await loadModel(out);
    const fresh = buildModel({ name: model, inputSize: 32, classes: 3, seed: 1 });
    const w = (m: tf.LayersModel, l: string) =>
      Array.from(m.getLayer(l).getWeights()[0].dataSync());
    assert.notDeepEqual(w(saved, "patch_embed"), w(fresh, "patch_embed"), "encoder was trained");
    assert.deepEqual(w(saved, "classifier"), w(fresh, "classifier"), "head is fresh");
    saved.dispose();
    fresh.dispose();
    if (model === "vit_seed001") {
      const m = await runTraining(
        {
          name: "ft",
          model,
          data: path.join(dir, "data"),
          init: out,
          freeze: "none",
          train: { ...DEFAULT_TRAIN, epochs: 1, batchSize: 8 },
          modelSeed: 0,
        },
        { runsDir: path.join(dir, "runs"), quiet: true },
      );
      assert.equal(m.stage, "finetune");
      assert.ok(m.test_acc >= 0 && m.test_acc <= 1);
    }
  }
});
