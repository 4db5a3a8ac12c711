import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { EXPERIMENT } from "../src/experiment/config";
import { CONTEST, SWEEP } from "../src/experiment/grid";
import { NOISE } from "../src/noise/evaluate";
import { DATA } from "../src/data/config";
import { RUN } from "../src/experiment/run";
import { PRETRAIN } from "../src/pretrain/mae";
import {
  applySettings,
  checkShape,
  didYouMean,
  envOf,
  flagOf,
  Knob,
  Mode,
  resolveConfig,
  validateSaved,
} from "../src/util/knobs";
import { configFromNotebook } from "../src/notebook/config";
import { configFromArgv } from "../src/cli/config";
import { initBackend } from "../src/backend/select";

/**
 * A valid value, as text, for every knob of every mode, different from every budget's default
 * (a knob of the same name takes the same text in every mode). Adding a knob means adding its
 * test value here: the first test fails until then.
 */
const VALUES: Record<string, string> = {
  name: "student",
  difficulty: "medium",
  lanes: "4",
  rows: "5",
  rungs: "1..3",
  size: "96",
  hops: "2",
  sampling: "blog",
  dataSeed: "7",
  seeds: "3,4",
  warpSeeds: "4",
  plainTrain: "20",
  plainVal: "8",
  plainTest: "12",
  warpTrain: "22",
  warpVal: "9",
  warpTest: "13",
  cnn: "mobilenetv2_050",
  vit: "mobilevit_xs",
  cnnFreeze: "all-but-head",
  vitFreeze: "all-but-head,none",
  ...Object.fromEntries(
    (["stage1", "stage2", ""] as const).flatMap((p, i) =>
      Object.entries({
        Epochs: String(2 + i),
        Images: String(3000 + i),
        Stream: p ? "false" : "true",
        WarmupImages: String(100 + i),
        BatchSize: String(8 - i),
        Lr: String(0.005 + i / 1000),
        Optimizer: "adam",
        WeightDecay: String(0.02 + i / 100),
        WarmupEpochs: "0.5",
        LabelSmoothing: String(0.1 * (i + 1)),
        EarlyStopPatience: String(3 + i),
        ValLimit: String(5 + i),
      }).map(([k, v]) => [p ? `${p}${k}` : k[0].toLowerCase() + k.slice(1), v]),
    ),
  ),
  controls: "false",
  parallel: "true",
  models: "mobilenetv2_050,mobilevit_xs",
  tasks: "warp",
  train: "20,30",
  val: "9",
  test: "13",
  epochs: "2,3",
  maeModel: "vit_xxs",
  maeTrain: "11",
  maeEpochs: "2",
  bands: "white",
  strengths: "0,0.5",
  noiseSeed: "3",
  limit: "7",
  task: "plain",
  count: "40",
  model: "mobilenetv2_050",
  data: "some/dir",
  init: "some/ckpt",
  freeze: "all-but-head",
  modelSeed: "9",
  seed: "5",
  maskRatio: "0.5",
  vary: "0.5",
  decoderDim: "32",
  decoderDepth: "2",
};
// The grid's `epochs` is a list; the single run's is one number; in the data mode `hops` must be 0 for plain.
const PER_MODE: Record<string, Record<string, string>> = {
  "training run": { epochs: "2" },
  "data overview": { hops: "0" },
  sweep: { parallel: "false", stream: "false" },
  contest: { stream: "false", parallel: "false" },
  "pre-training": { model: "vit_xxs", epochs: "2" },
};

const MODES = [EXPERIMENT, SWEEP, CONTEST, NOISE, DATA, RUN, PRETRAIN] as Array<Mode<unknown>>;
const valueFor = (m: Mode<unknown>, key: string) => PER_MODE[m.name]?.[key] ?? VALUES[key];
const shown = (v: unknown) => (Array.isArray(v) ? v.join(",") : String(v));

test("every knob of every mode has a test value that differs from its default budget's", () => {
  for (const m of MODES) {
    const [b, make] = Object.entries(m.budgets)[0];
    for (const k of m.knobs as Array<Knob<unknown>>) {
      assert.ok(valueFor(m, k.key) !== undefined, `${m.name}: knob '${k.key}' has no test value`);
      assert.notEqual(
        shown(k.get(make())),
        valueFor(m, k.key),
        `${m.name}: the test value of '${k.key}' equals budget '${b}''s`,
      );
    }
  }
});

test("every knob reaches its config the same way from a flag, a variable and a cell", () => {
  for (const m of MODES) {
    const base = Object.values(m.budgets)[0]();
    for (const source of ["flag", "env"] as const) {
      const settings = m.knobs.map((k) => ({ key: k.key, value: valueFor(m, k.key), source }));
      const { config, sources } = applySettings(m.knobs, base, settings);
      // (A preset's own value is not kept: the fields set after it win.)
      for (const k of m.knobs.filter((k) => !k.first)) {
        assert.equal(shown(k.get(config)), valueFor(m, k.key), `${m.name} ${source} ${k.key}`);
        assert.equal(sources[k.key], source);
      }
      // A typed cell gives the same config as the text.
      const typed = m.knobs
        .filter((k) => !k.first)
        .map((k) => ({
          key: k.key,
          value: k.get(config),
          source: "cell" as const,
        }));
      assert.deepEqual(applySettings(m.knobs, base, typed).config, config, `${m.name} cell`);
    }
  }
});

test("a setting is named as its source spells it, with did-you-mean and what is allowed", () => {
  const K = EXPERIMENT.knobs;
  const q = EXPERIMENT.budgets.quick();
  const bad = (key: string, value: unknown, source: "cell" | "env" | "flag", re: RegExp) =>
    assert.throws(() => applySettings(K, q, [{ key, value: value as never, source }]), re);
  bad("stage1Lr", -1, "cell", /^Error: stage1Lr must be a number in 1e-7..10, got -1$/);
  bad("stage1Lr", "-1", "env", /AMIDA_NB_STAGE1_LR must be a number in 1e-7..10, got '-1'/);
  bad("stage1Lr", "-1", "flag", /--stage1-lr must be a number in 1e-7..10, got '-1'/);
  bad(
    "stage1Lr",
    "0.01",
    "cell",
    /stage1Lr must be a number .*got the string "0.01" \(write 0.01 without quotes\)/,
  );
  bad(
    "stage1LR",
    0.01,
    "cell",
    /unknown setting 'stage1LR' \(did you mean 'stage1Lr'\?\); allowed: name, difficulty/,
  );
  bad(
    "STAGE1_LRR",
    "1",
    "env",
    /unknown setting 'AMIDA_NB_STAGE1_LRR' \(did you mean 'AMIDA_NB_STAGE1_LR'\?\)/,
  );
  bad(
    "cnn",
    "resnet50",
    "cell",
    /cnn must be one of mobilenetv2_035, mobilenetv2_050, mobilenetv2_075, mobilenetv2_100, got 'resnet50'/,
  );
  bad("cnn", "mobilenetv2_10", "cell", /got 'mobilenetv2_10' \(did you mean 'mobilenetv2_100'\?\)/);
  bad("seeds", [0, 1.5], "cell", /seeds must be a list of integers/);
  bad("controls", "yes", "env", /AMIDA_NB_CONTROLS must be true or false, got 'yes'/);
  bad("rungs", "2-6", "flag", /--rungs must be a range like 2..6 or a single number, got '2-6'/);
  assert.equal(didYouMean("stage1lr", ["stage1Lr", "stage2Lr"]), "stage1Lr");
  assert.equal(didYouMean("completely", ["stage1Lr"]), null);
  // A whole config is validated after its settings: cross-field rules name the knob.
  assert.throws(
    () => resolveConfig(EXPERIMENT, q, [{ key: "seeds", value: [1, 1], source: "cell" }]),
    /training seeds must differ, got 1,1/,
  );
});

test("saved configs are checked for shape: unknown, missing and mistyped fields are refused by path", () => {
  const q = EXPERIMENT.budgets.quick() as unknown as Record<string, unknown>;
  const stage1 = q.stage1 as Record<string, unknown>;
  const { epochs: _e, ...noEpochs } = stage1;
  assert.throws(
    () => checkShape({ ...q, stage1: { ...stage1, epochz: 3 } }, q, "FILE"),
    /FILE.stage1 has an unknown field 'epochz' \(did you mean 'epochs'\?\)/,
  );
  assert.throws(
    () => checkShape({ ...q, stage1: noEpochs }, q, "FILE"),
    /FILE.stage1 lacks the field 'epochs'/,
  );
  assert.throws(
    () => checkShape({ ...q, models: {} }, q, "FILE"),
    /FILE.models lacks the field 'cnn'/,
  );
  assert.throws(
    () => checkShape({ ...q, difficulty: null }, q, "FILE"),
    /FILE.difficulty must be an object, got null/,
  );
  assert.throws(
    () => checkShape({ ...q, seeds: ["0"] }, q, "FILE"),
    /FILE.seeds\[0\] must be a number, got "0"/,
  );
  assert.throws(
    () => validateSaved(EXPERIMENT, { ...q, stage1: { ...stage1, lr: -1 } }, "FILE"),
    /FILE: stage1Lr must be a number in 1e-7..10, got -1/,
  );
});

test("notebooks: one budget switch for every mode; another notebook's variable is left to it; unknown ones are errors", async () => {
  await initBackend(undefined, { quiet: true });
  const quiet = { print: () => {} };
  for (const m of [EXPERIMENT, SWEEP, CONTEST, NOISE, DATA] as unknown as Array<
    Mode<{ budget?: string }>
  >) {
    const r = configFromNotebook(
      m,
      { budget: "quick" },
      { env: { AMIDA_NB_BUDGET: "tiny" }, ...quiet },
    );
    assert.equal(r.cfg.budget, "tiny", m.name);
  }
  // AMIDA_NB_STAGE1_LR is the experiment's; the sweep leaves it; AMIDA_NB_LR is the sweep's.
  const env = { AMIDA_NB_STAGE1_LR: "0.004", AMIDA_NB_LR: "0.005", AMIDA_NB_RUNS: "/tmp/r" };
  const e = configFromNotebook(EXPERIMENT, { budget: "tiny" }, { env, ...quiet });
  assert.equal(e.cfg.stage1.lr, 0.004);
  assert.equal(e.paths.runsDir, "/tmp/r");
  assert.equal(e.sources.stage1Lr, "env");
  const s = configFromNotebook(SWEEP, { budget: "tiny" }, { env, ...quiet });
  assert.equal(s.cfg.recipe.lr, 0.005);
  assert.throws(
    () => configFromNotebook(SWEEP, { budget: "tiny" }, { env: { AMIDA_NB_SEEDZ: "1" }, ...quiet }),
    /unknown setting AMIDA_NB_SEEDZ='1' \(did you mean 'AMIDA_NB_SEEDS'\?\)/,
  );
  assert.throws(
    () => configFromNotebook(DATA, { budget: "huge" }, quiet),
    /unknown budget 'huge' for the data overview; allowed: quick, tiny/,
  );
  // The environment wins over the cell, and the printed table says where each value came from.
  const printed: string[] = [];
  configFromNotebook(
    EXPERIMENT,
    { budget: "tiny", stage1Lr: 0.002, seeds: [4] },
    { env: { AMIDA_NB_SEEDS: "5,6" }, print: (l) => printed.push(l) },
  );
  assert.match(printed.join("\n"), /stage1Lr\s+0\.002\s+<- cell/);
  assert.match(printed.join("\n"), /seeds\s+5,6\s+<- env/);
});

test("the command line: knob flags, did-you-mean for a mistyped flag, a budget or a --config file", async () => {
  await initBackend(undefined, { quiet: true });
  const usage = "USAGE";
  const r = configFromArgv(EXPERIMENT, ["--budget", "tiny", "--stage1-batch-size", "8"], {}, usage);
  assert.equal(r.config.stage1.batchSize, 8);
  assert.equal(r.sources.stage1BatchSize, "flag");
  assert.equal(flagOf("batchSize"), "batch-size");
  assert.equal(envOf("stage1BatchSize"), "STAGE1_BATCH_SIZE");
  assert.throws(
    () => configFromArgv(RUN, ["--batch", "8"], {}, usage, { withBudget: false }),
    /Unknown option '--batch'.* \(did you mean '--batch-size'\?\)\nUSAGE/s,
  );
  assert.throws(
    () => configFromArgv(EXPERIMENT, ["--budget", "tiny", "--config", "x.json"], {}, usage),
    /--config and --budget both choose the starting config; give one/,
  );
  assert.throws(
    () => configFromArgv(EXPERIMENT, ["--config", "/nonexistent/x.json"], {}, usage),
    /--config: no such file '\/nonexistent\/x.json'/,
  );
});

/** The keys a notebook's config cell lists (`key: value, // comment` lines of its config call). */
function cellKeys(notebook: string, call: string): string[] {
  const nb = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "notebooks", notebook), "utf8"));
  const src = nb.cells
    .map((c: { source: string | string[] }) => [c.source].flat().join(""))
    .find((s: string) => s.includes(call));
  assert.ok(src, `${notebook} has a cell calling ${call}`);
  return [...src.slice(src.indexOf(call)).matchAll(/^ {2}(\w+): .*,\s*\/\//gm)].map((m) => m[1]);
}

test("notebook config cells put the knobs in reach: 02 lists every experiment knob; 03, 05 and 06 their image budgets", () => {
  const keys = (m: { knobs: readonly { key: string }[] }) => m.knobs.map((k) => k.key);
  assert.deepEqual(
    cellKeys("02_train_plain.ipynb", "experimentFromNotebook({"),
    ["budget", ...keys(EXPERIMENT)],
    "02's cell lists every knob of the experiment, in the table's order (add a new knob there too)",
  );
  const warp = cellKeys("03_warp_finetune.ipynb", "experimentFromNotebook({");
  for (const k of ["warpSeeds", "stage2Images", "stage2Stream", "stage2WarmupImages"])
    assert.ok(warp.includes(k), `03 lists ${k}`);
  for (const [nb, call] of [
    ["05_difficulty.ipynb", "configFromNotebook(SWEEP"],
    ["06_architectures.ipynb", "configFromNotebook(CONTEST"],
  ])
    for (const k of ["images", "stream"])
      assert.ok(cellKeys(nb, call).includes(k), `${nb} lists ${k}`);
});
