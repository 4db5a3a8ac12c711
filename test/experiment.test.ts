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
import { runTraining } from "../src/experiment/run";
import { IMPORTED, readRun, RunConfig, RunMetrics } from "../src/experiment/rundir";
import { protocolRuns, runStages } from "../src/experiment/protocol";
import { budgetConfig, EXPERIMENT, validateExperiment } from "../src/experiment/config";
import { applySettings } from "../src/util/knobs";
import {
  resultRows,
  resultsMarkdown,
  summarizeSeeds,
  verdict,
  verdictText,
} from "../src/experiment/results";
import { experimentFromNotebook } from "../src/notebook/experiment";

let root = "";
let plain = "";
let warp = "";

before(async () => {
  await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "amida-exp-"));
  plain = path.join(root, "plain");
  warp = path.join(root, "warp");
  const d = presetDifficulty("easy");
  generateDataset(
    { task: "plain", hops: 0, difficulty: d, nuisance: NO_NUISANCE, seed: 2, sampling: "debiased" },
    { train: 32, val: 16, test: 16 },
    plain,
    { quiet: true },
  );
  generateDataset(
    { task: "warp", hops: 1, difficulty: d, nuisance: NO_NUISANCE, seed: 2, sampling: "debiased" },
    { train: 32, val: 16, test: 16 },
    warp,
    { quiet: true },
  );
});

const run = (over: Partial<RunConfig> = {}): RunConfig => ({
  name: "r",
  model: "mobilenetv2_035",
  data: plain,
  init: null,
  freeze: "none",
  train: { ...DEFAULT_TRAIN, epochs: 1, batchSize: 16 },
  modelSeed: 0,
  ...over,
});

test("a finished run with the same config is reused; a changed config retrains", async () => {
  const runs = path.join(root, "runs1");
  const lines: string[] = [];
  const a = await runTraining(run(), { runsDir: runs, quiet: true, onLine: (l) => lines.push(l) });
  assert.equal(a.epochs, 1);
  assert.ok(
    ["metrics.json", "config.json", "provenance.json", "checkpoints"].every((f) =>
      fs.existsSync(path.join(runs, "r", f)),
    ),
  );
  await runTraining(run(), { runsDir: runs, quiet: true, onLine: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /reusing the finished run/.test(l)));
  const c = await runTraining(run({ train: { ...DEFAULT_TRAIN, epochs: 2, batchSize: 16 } }), {
    runsDir: runs,
    quiet: true,
  });
  assert.equal(c.epochs, 2);
});

test("stage 2 is retrained when stage 1's weights changed, and freezing is recorded", async () => {
  const runs = path.join(root, "runs2");
  await runTraining(run({ name: "s1" }), { runsDir: runs, quiet: true });
  const s2 = run({
    name: "s2",
    data: warp,
    init: path.join(runs, "s1", "checkpoints", "best"),
    freeze: "first5",
  });
  const m = await runTraining(s2, { runsDir: runs, quiet: true });
  assert.equal(m.stage, "finetune");
  assert.equal(m.frozen, "first5");
  assert.ok(m.frozen_params > 0);
  await runTraining(run({ name: "s1", modelSeed: 5 }), { runsDir: runs, quiet: true });
  const lines: string[] = [];
  await runTraining(s2, { runsDir: runs, quiet: true, onLine: (l) => lines.push(l) });
  assert.ok(
    !lines.some((l) => /reusing/.test(l)),
    "stage 2 reused although its init weights changed",
  );
});

test("bad run and experiment configs are refused with what is allowed", async () => {
  await assert.rejects(
    runTraining(run({ data: path.join(root, "nope") }), { runsDir: root, quiet: true }),
    /the run's data set: no such directory/,
  );
  await assert.rejects(
    runTraining(run({ name: "a b" }), { runsDir: root, quiet: true }),
    /run name must use letters/,
  );
  await assert.rejects(
    runTraining(run({ freeze: "half" as never }), { runsDir: root, quiet: true }),
    /freeze must be one of none, first5/,
  );
  assert.throws(
    () => budgetConfig("huge"),
    /unknown budget 'huge' for the experiment; allowed: tiny, quick, standard, long, full/,
  );
  const q = budgetConfig("quick");
  assert.throws(
    () => validateExperiment({ ...q, models: { cnn: "mobilevit_xxs", vit: "mobilevit_xs" } }),
    /the cnn track's model must be one of mobilenetv2_035, mobilenetv2_050, mobilenetv2_075, mobilenetv2_100, got 'mobilevit_xxs'/,
  );
  assert.throws(
    () => validateExperiment({ ...q, difficulty: { ...presetDifficulty("small"), size: 32 } }),
    /size 32 px leaves mobilevit_xxs's layer5_mvit attending over a single patch/,
  );
  assert.throws(
    () => validateExperiment({ ...q, freeze: { ...q.freeze, vit: ["first5"] } }),
    /the vit track's fine-tune arm: freeze group 'first5' does not apply to mobilevit_xxs; allowed for mobilevit_xxs: none, stem\+early-transformer, all-but-head, early:<percent>/,
  );
  assert.throws(() => validateExperiment({ ...q, seeds: [1, 1] }), /training seeds must differ/);
  assert.throws(() => validateExperiment({ ...q, name: ".." }), /experiment name must use letters/);
  const K = EXPERIMENT.knobs;
  assert.throws(
    () => applySettings(K, q, [{ key: "stage1Lr", value: "fast", source: "flag" }]),
    /--stage1-lr must be a number in 1e-7..10, got 'fast'/,
  );
  assert.throws(
    () => applySettings(K, q, [{ key: "seeds", value: "0,x", source: "flag" }]),
    /--seeds must be a list of integers in 0..2147483648 like 0,1,2, got '0,x'/,
  );
  assert.equal(
    applySettings(K, q, [{ key: "stage2Epochs", value: "2", source: "flag" }]).config.stage2.epochs,
    2,
  );
  assert.equal(
    q.stage2.epochs,
    budgetConfig("quick").stage2.epochs,
    "settings must not mutate the budget",
  );
});

test("verdict: above chance is not enough, every seed must clear the rung-blind baseline", () => {
  assert.equal(verdict([0.6, 0.62, 0.61], 1000, 0.5), "learned");
  assert.equal(
    verdict([0.6, 0.62, 0.51], 1000, 0.5),
    "not learned",
    "one seed within noise of the baseline",
  );
  assert.equal(
    verdict([0.45, 0.46, 0.47], 1000, 0.5),
    "not learned",
    "above chance (33 %) but below the rung-blind rule",
  );
});

test("verdict: a rung-blind rule measured below chance does not lower the bar under chance", () => {
  // standard's warp test split: the rule at 24.35 %, a guessing model at 26.3 % of 2,000 (its
  // 95 % bound 24.4 %) must stay "not learned".
  const m = { test_acc: 0.263, test_count: 2000, rung_blind_bayes: 0.2435, chance: 0.25 };
  const s = summarizeSeeds([m as unknown as RunMetrics]);
  assert.equal(s.verdict, "not learned");
  assert.match(verdictText(s), /≤ 25\.0 chance\)/);
  const above = summarizeSeeds([{ ...m, test_acc: 0.29 } as unknown as RunMetrics]);
  assert.equal(above.verdict, "learned");
  assert.match(verdictText({ ...s, rung_blind_bayes: 0.4 }), /≤ 40\.0\)/);
});

/** The notebook settings of the next two tests: the second copies the first one's runs. */
const EDITED_KNOBS = {
  budget: "tiny",
  seeds: [5],
  stage1Lr: 0.004,
  stage1BatchSize: 8,
  stage1WeightDecay: 0.03,
  cnn: "mobilenetv2_050",
  controls: false,
};
const nbEnv = () => ({
  AMIDA_NB_RUNS: path.join(root, "nbruns"),
  AMIDA_NB_DATA: path.join(root, "nbdata"),
});

test("edited knobs land in the runs the protocol makes (config.json) and in the results table", async () => {
  const small = experimentFromNotebook(
    { ...EDITED_KNOBS, name: "knobs" },
    { env: nbEnv(), print: () => {} },
  );
  const res = await runStages(small.cfg, ["stage1"], small.paths, {
    log: () => {},
    runLine: () => {},
  });
  const cnnRun = protocolRuns(small.cfg, { plain: "p", warp: "w" }, small.runsDir).find(
    (r) => r.stage === "stage1" && r.track === "cnn",
  )!;
  const saved = JSON.parse(
    fs.readFileSync(path.join(small.runsDir, cnnRun.config.name, "config.json"), "utf8"),
  );
  assert.equal(saved.model, "mobilenetv2_050");
  assert.deepEqual(
    [
      saved.train.lr,
      saved.train.batchSize,
      saved.train.weightDecay,
      saved.train.seed,
      saved.modelSeed,
    ],
    [0.004, 8, 0.03, 5, 5],
  );
  const rows = resultRows(res);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0].seeds, [5]);
  assert.match(
    resultsMarkdown(rows),
    /\| mobilenetv2_050 \| stage 1: plain \| none \(0 %\) \| [\d,]+ (fresh|\(\d+ stored\)) \| \d+\.\d ± 0\.0 \| \d+\.\d \| /,
  );
});

test("a run another experiment trained identically is copied, not retrained; a changed one is not", async () => {
  // After the test above: experiment 'knobs' holds its finished stage-1 runs under nbruns/.
  const [env, knobs] = [nbEnv(), EDITED_KNOBS];
  const twin = experimentFromNotebook({ ...knobs, name: "twin" }, { env, print: () => {} });
  // What a copy killed before its rename leaves; the next copy of that run removes it.
  const cnnName = protocolRuns(twin.cfg, { plain: "p", warp: "w" }, twin.runsDir)[0].config.name;
  const leftover = path.join(twin.runsDir, `.${cnnName}.tmp-1-2`);
  fs.mkdirSync(leftover, { recursive: true });
  const lines: string[] = [];
  const res = await runStages(twin.cfg, ["stage1"], twin.paths, {
    log: (l) => lines.push(l),
    runLine: (_r, l) => lines.push(l),
  });
  assert.equal(lines.filter((l) => /copied the finished run/.test(l)).length, 2, lines.join("\n"));
  assert.ok(!lines.some((l) => /job\(s\) to run/.test(l)), "something was trained");
  const orig = path.join(root, "nbruns", "knobs");
  for (const r of res) {
    const dir = path.join(twin.runsDir, r.run.config.name);
    const from = JSON.parse(fs.readFileSync(path.join(dir, IMPORTED), "utf8"));
    assert.equal(from.from, path.resolve(orig, r.run.config.name));
    // The copy's checkpoints are its own, not links into the original.
    assert.ok(fs.realpathSync(path.join(dir, "checkpoints")).startsWith(fs.realpathSync(dir)));
    const a = JSON.parse(
      fs.readFileSync(path.join(orig, r.run.config.name, "metrics.json"), "utf8"),
    );
    assert.deepEqual(r.metrics, a);
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")).data,
      r.run.config.data,
    );
    assert.equal(readRun(path.join(orig, r.run.config.name)).state, "finished");
  }
  assert.ok(!fs.existsSync(leftover), "the leftover of a killed copy is still there");
  const changed = experimentFromNotebook(
    { ...knobs, name: "changed", stage1Lr: 0.002 },
    { env, print: () => {} },
  );
  const lines2: string[] = [];
  await runStages(changed.cfg, ["stage1"], changed.paths, {
    log: (l) => lines2.push(l),
    runLine: () => {},
  });
  assert.ok(!lines2.some((l) => /copied/.test(l)), "copied a run trained at another learning rate");
  assert.ok(
    lines2.some((l) => /2 job\(s\) to run/.test(l)),
    lines2.join("\n"),
  );
});
