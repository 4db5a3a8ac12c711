import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../src/backend/select";
import { generateDataset } from "../src/data/generate";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { DEFAULT_TRAIN } from "../src/train/config";
import { RunConfig, runTraining } from "../src/experiment/run";
import { applyOverrides, experimentPreset, resultsMarkdown, resultRow, validateExperiment } from "../src/experiment/protocol";
import { notebookParams } from "../src/notebook/params";

let root = "";
let plain = "";
let warp = "";

before(async () => {
  await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "amida-exp-"));
  plain = path.join(root, "plain");
  warp = path.join(root, "warp");
  const d = presetDifficulty("easy");
  generateDataset({ task: "plain", hops: 0, difficulty: d, nuisance: NO_NUISANCE, seed: 2, sampling: "debiased" }, { train: 32, val: 16, test: 16 }, plain, { quiet: true });
  generateDataset({ task: "warp", hops: 1, difficulty: d, nuisance: NO_NUISANCE, seed: 2, sampling: "debiased" }, { train: 32, val: 16, test: 16 }, warp, { quiet: true });
});

const run = (over: Partial<RunConfig> = {}): RunConfig => ({ name: "r", model: "mobilenetv2_035", data: plain, init: null, freeze: "none", train: { ...DEFAULT_TRAIN, epochs: 1, batchSize: 16 }, modelSeed: 0, ...over });

test("a finished run with the same config is reused; a changed config retrains", async () => {
  const runs = path.join(root, "runs1");
  const lines: string[] = [];
  const a = await runTraining(run(), { runsDir: runs, quiet: true, onLine: (l) => lines.push(l) });
  assert.equal(a.epochs, 1);
  assert.ok(["metrics.json", "config.json", "provenance.json", "checkpoints"].every((f) => fs.existsSync(path.join(runs, "r", f))));
  await runTraining(run(), { runsDir: runs, quiet: true, onLine: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /reusing the finished run/.test(l)));
  const c = await runTraining(run({ train: { ...DEFAULT_TRAIN, epochs: 2, batchSize: 16 } }), { runsDir: runs, quiet: true });
  assert.equal(c.epochs, 2);
});

test("stage 2 is retrained when stage 1's weights changed, and freezing is recorded", async () => {
  const runs = path.join(root, "runs2");
  await runTraining(run({ name: "s1" }), { runsDir: runs, quiet: true });
  const s2 = run({ name: "s2", data: warp, init: path.join(runs, "s1", "checkpoints", "best"), freeze: "first5" });
  const m = await runTraining(s2, { runsDir: runs, quiet: true });
  assert.equal(m.stage, "warp fine-tune");
  assert.equal(m.frozen, "first5");
  assert.ok(m.frozen_params > 0);
  await runTraining(run({ name: "s1", modelSeed: 5 }), { runsDir: runs, quiet: true });
  const lines: string[] = [];
  await runTraining(s2, { runsDir: runs, quiet: true, onLine: (l) => lines.push(l) });
  assert.ok(!lines.some((l) => /reusing/.test(l)), "stage 2 reused although its init weights changed");
});

test("bad run and experiment configs are refused with what is allowed", async () => {
  await assert.rejects(runTraining(run({ data: path.join(root, "nope") }), { runsDir: root, quiet: true }), /has no train split/);
  await assert.rejects(runTraining(run({ name: "a b" }), { runsDir: root, quiet: true }), /run name must use letters/);
  await assert.rejects(runTraining(run({ freeze: "half" as never }), { runsDir: root, quiet: true }), /freeze must be one of none, first5/);
  assert.throws(() => experimentPreset("huge"), /unknown experiment preset 'huge'; allowed: tiny, quick, full/);
  const q = experimentPreset("quick");
  assert.throws(() => validateExperiment({ ...q, models: { cnn: "mobilevit_xxs", vit: "mobilevit_xs" } }), /models.cnn must be a MobileNetV2 variant/);
  assert.equal(applyOverrides(q, { epochs: 2, plainTrain: 100 }).stage2.epochs, 2);
  assert.equal(applyOverrides(q, { epochs: 2, plainTrain: 100 }).plain.train, 100);
  assert.equal(q.stage1.epochs, experimentPreset("quick").stage1.epochs, "overrides must not mutate the preset");
});

test("results table shows each run beside the seed's number", async () => {
  const m = await runTraining(run({ name: "t" }), { runsDir: path.join(root, "runs3"), quiet: true });
  const md = resultsMarkdown([resultRow(m)]);
  assert.match(md, /\| mobilenetv2_035 \| plain \| none \| 32 \| 1 \| \d+\.\d % \(\d+\.\d-\d+\.\d\) \| 33\.3 % \| 99\.7 % \|/);
});

test("notebook parameters: typed environment overrides, unknown or malformed ones are errors", () => {
  const d = { preset: "quick", epochs: 0, serial: false };
  assert.deepEqual(notebookParams("AMIDA_NB", d, { AMIDA_NB_EPOCHS: "3", AMIDA_NB_SERIAL: "true" }), { preset: "quick", epochs: 3, serial: true });
  assert.throws(() => notebookParams("AMIDA_NB", d, { AMIDA_NB_EPOCH: "3" }), /unknown parameter AMIDA_NB_EPOCH; allowed: AMIDA_NB_PRESET, AMIDA_NB_EPOCHS, AMIDA_NB_SERIAL/);
  assert.throws(() => notebookParams("AMIDA_NB", d, { AMIDA_NB_EPOCHS: "three" }), /AMIDA_NB_EPOCHS must be a number, got 'three'/);
  assert.throws(() => notebookParams("AMIDA_NB", d, { AMIDA_NB_SERIAL: "yes" }), /AMIDA_NB_SERIAL must be true or false/);
  assert.deepEqual(notebookParams("AMIDA_NB", { plainTrain: 0 }, { AMIDA_NB_PLAIN_TRAIN: "50", OTHER: "x" }), { plainTrain: 50 });
});
