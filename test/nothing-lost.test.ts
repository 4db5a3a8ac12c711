/**
 * Issue 21: nothing lost, nothing silently wrong. Each reproduction of the probe, as a test: a
 * failing re-run keeps the finished run; no command replaces what it did not make; an experiment
 * holds its own lock; data sets in use are not swapped; results show only runs of the config they
 * are read for; every reader verifies what it reads and names the file when it refuses.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../src/backend/select";
import { generateDataset, readDataset } from "../src/data/generate";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { DatasetSpec, splitFile } from "../src/data/spec";
import { DEFAULT_TRAIN } from "../src/train/config";
import { runTraining } from "../src/experiment/run";
import { RunConfig } from "../src/experiment/rundir";
import { readRun } from "../src/experiment/rundir";
import { acquireLock } from "../src/util/lock";
import { rungBlindBaselines } from "../src/data/baselines";
import { budgetConfig } from "../src/experiment/config";
import { collectResults, runStages } from "../src/experiment/protocol";
import { readManifest } from "../src/data/format";

const bin = path.join(__dirname, "..", "bin", "amida.js");
const amida = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
const base = fs.mkdtempSync(path.join(os.tmpdir(), "amida-lost-"));
const D = path.join(base, "D");
const D48 = path.join(base, "D48");
const R = path.join(base, "R");
const spec = (o: Partial<DatasetSpec> = {}): DatasetSpec => ({
  task: "plain",
  hops: 0,
  difficulty: { ...presetDifficulty("easy"), size: 64 },
  nuisance: NO_NUISANCE,
  seed: 0,
  sampling: "debiased",
  ...o,
});
const cfg = (o: Partial<RunConfig> = {}): RunConfig => ({
  name: "r1",
  model: "mobilenetv2_035",
  data: D,
  init: null,
  freeze: "none",
  train: { ...DEFAULT_TRAIN, epochs: 1, batchSize: 16 },
  modelSeed: 0,
  ...o,
});
/** Every file of a directory with its bytes, for "nothing changed" checks. */
const snapshot = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of fs.readdirSync(d)) {
      const p = path.join(d, f);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out[path.relative(dir, p)] = `-> ${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.readFileSync(p).toString("base64");
    }
  };
  walk(dir);
  return out;
};

before(async () => {
  await initBackend(undefined, { quiet: true });
  generateDataset(spec(), { train: 32, val: 16, test: 16 }, D, { quiet: true });
  generateDataset(
    spec({ difficulty: { ...presetDifficulty("easy"), size: 48 } }),
    { train: 32, val: 16, test: 16 },
    D48,
    {
      quiet: true,
    },
  );
  await runTraining(cfg(), { runsDir: R, quiet: true });
});

test("1: a re-run that cannot work (48 px data, an init that does not fit) is refused before the finished run is touched", async () => {
  const before = snapshot(path.join(R, "r1"));
  await assert.rejects(
    runTraining(cfg({ data: D48 }), { runsDir: R, quiet: true }),
    /input size must be a multiple of 32/,
  );
  const warp = path.join(base, "W4");
  generateDataset(
    spec({ task: "warp", hops: 1, difficulty: { ...presetDifficulty("medium"), size: 64 } }),
    { train: 32, val: 16, test: 16 },
    warp,
    { quiet: true },
  );
  await assert.rejects(
    runTraining(cfg({ data: warp, init: path.join(R, "r1", "checkpoints", "best") }), {
      runsDir: R,
      quiet: true,
    }),
    /does not fit this data set/,
  );
  const r = amida(
    "train",
    "--model",
    "mobilenetv2_035",
    "--data",
    D48,
    "--runs",
    R,
    "--name",
    "r1",
    "--epochs",
    "1",
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /input size must be a multiple of 32/);
  assert.deepEqual(snapshot(path.join(R, "r1")), before, "the finished run changed");
  assert.equal(readRun(path.join(R, "r1")).state, "finished");
});

test("1: a changed config trains anew while the finished run waits aside; it is removed only when the new one commits, and comes back if asked for", async () => {
  const runs = path.join(base, "Rs");
  const args = (batch: string, ...more: string[]) => [
    "train",
    "--model",
    "mobilenetv2_035",
    "--data",
    D,
    "--runs",
    runs,
    "--name",
    "a",
    "--epochs",
    "2",
    "--batch-size",
    batch,
    ...more,
  ];
  assert.equal(amida(...args("16")).status, 0);
  const finished = snapshot(path.join(runs, "a"));
  // The retrain with batch 8 is killed after its first checkpoint: the finished run waits aside.
  const killed = spawnSync(process.execPath, [bin, ...args("8")], {
    encoding: "utf8",
    env: { ...process.env, AMIDA_KILL_AT: "checkpoint-after-commit#1" },
  });
  assert.equal(killed.signal, "SIGKILL", killed.stderr);
  assert.match(
    killed.stdout,
    /the old run is kept in .*\.a\.superseded until the new one finishes/,
  );
  assert.deepEqual(snapshot(path.join(runs, ".a.superseded")), finished);
  // Asking for the old config again gives it back as it was, reused.
  let r = amida(...args("16"));
  assert.match(r.stdout, /the finished run kept in .* is what is asked for again: restoring it/);
  assert.match(r.stdout, /reusing the finished run/);
  assert.deepEqual(snapshot(path.join(runs, "a")), finished);
  // The new config runs to its end; only then is the old run gone.
  r = amida(...args("8"));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readRun(path.join(runs, "a")).state, "finished");
  assert.equal(fs.existsSync(path.join(runs, ".a.superseded")), false);
});

test("1: pretrain --out never replaces what pre-training did not make", () => {
  const file = path.join(base, "afile");
  fs.writeFileSync(file, "precious");
  const notes = path.join(base, "notes");
  fs.mkdirSync(notes);
  fs.writeFileSync(path.join(notes, "notes.txt"), "precious");
  for (const [out, re] of [
    [file, /exists and is not a directory/],
    [notes, /is not a pre-training output \(it holds notes\.txt\)/],
    [path.join(R, "r1"), /is not a pre-training output/],
  ] as const) {
    const r = amida(
      "pretrain",
      "--model",
      "vit_seed001",
      "--data",
      D,
      "--out",
      out,
      "--epochs",
      "1",
    );
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, re);
  }
  assert.equal(fs.readFileSync(file, "utf8"), "precious");
  assert.equal(fs.readFileSync(path.join(notes, "notes.txt"), "utf8"), "precious");
  assert.equal(readRun(path.join(R, "r1")).state, "finished");
});

test("2: an experiment takes its own lock before it writes its config or any data", async () => {
  const runs = path.join(base, "xruns");
  const data = path.join(base, "xdata");
  const tiny = { ...budgetConfig("tiny"), name: "x" };
  const release = acquireLock(path.join(runs, ".x.lock"), "experiment 'x' (another process)");
  try {
    await assert.rejects(
      runStages({ ...tiny, dataSeed: 7 }, ["stage1"], { runsDir: runs, dataDir: data }),
      /'.*xruns' is in use: experiment 'x' \(another process\) by process \d+/,
    );
  } finally {
    release();
  }
  assert.equal(fs.existsSync(path.join(runs, "x", "experiment.json")), false);
  assert.equal(fs.existsSync(data), false, "no data set was generated");
});

test("2: a data set being read by a run cannot be regenerated under it", () => {
  const before = readManifest(D);
  const release = readDataset(D, "training run 'r9'");
  try {
    assert.throws(
      () =>
        generateDataset(spec({ seed: 7 }), { train: 32, val: 16, test: 16 }, D, { quiet: true }),
      /cannot regenerate the data set: '.*D' is in use by training run 'r9' \(process \d+/,
    );
    const r = amida(
      "generate",
      "--difficulty",
      "easy",
      "--size",
      "64",
      "--seed",
      "7",
      "--count",
      "32",
      "--val",
      "16",
      "--test",
      "16",
      "--out",
      D,
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is in use by training run 'r9'/);
  } finally {
    release();
  }
  assert.deepEqual(readManifest(D), before);
});

test("2: results show only runs of the config they are read for; others are stale, with the reason", async () => {
  const runs = path.join(base, "sruns");
  const data = path.join(base, "sdata");
  const tiny = {
    ...budgetConfig("tiny"),
    name: "s",
    seeds: [0],
    freeze: { cnn: ["first5"], vit: ["stem+early-transformer"] },
    controls: false,
  };
  await runStages(
    tiny,
    ["stage1"],
    { runsDir: runs, dataDir: data },
    { log: () => {}, runLine: () => {} },
  );
  const same = collectResults(tiny, { runsDir: runs, dataDir: data });
  assert.deepEqual(same.results.map((r) => r.run.config.name).sort(), [
    "cnn-stage1-s0",
    "vit-stage1-s0",
  ]);
  // The experiment.json of a re-run with another learning rate, killed before training anything.
  const other = { ...tiny, stage1: { ...tiny.stage1, lr: 0.0042 } };
  const res = collectResults(other, { runsDir: runs, dataDir: data });
  assert.deepEqual(res.results, []);
  assert.match(res.why["cnn-stage1-s0"], /stale: trained from another config/);
  const cli = amida("results", "--name", "s", "--runs", runs, "--data", data);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /NOT SHOWN .*\n\s+cnn-finetune-first5-s0: missing/);
});

test("4: readers verify: a flipped label byte, a wrong SHA-256 in the manifest, an edited metrics.json", async () => {
  const copy = path.join(base, "Dcopy");
  fs.cpSync(D, copy, { recursive: true });
  const test = splitFile(copy, "test");
  const b = fs.readFileSync(test);
  b[b.length - 16 * 10 + 3] ^= 1; // inside the labels
  fs.writeFileSync(test, b);
  assert.throws(
    () => rungBlindBaselines(copy, "test"),
    /is corrupt: its payload checksum does not match/,
  );
  fs.cpSync(D, copy, { recursive: true });
  const mf = path.join(copy, "dataset.json");
  const m = JSON.parse(fs.readFileSync(mf, "utf8"));
  m.files["test.amida"].sha256 = "0".repeat(64);
  fs.writeFileSync(mf, JSON.stringify(m));
  const r = amida("baselines", copy);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /does not match its data set's manifest/);
  // A reused run's metrics are checked against its commit record: an edit is not reported as a result.
  const metrics = path.join(R, "r1", "metrics.json");
  const mm = JSON.parse(fs.readFileSync(metrics, "utf8"));
  fs.writeFileSync(metrics, JSON.stringify({ ...mm, test_acc: 0.999 }));
  const lines: string[] = [];
  const again = await runTraining(cfg(), { runsDir: R, quiet: true, onLine: (l) => lines.push(l) });
  assert.doesNotMatch(lines.join("\n"), /reusing/);
  assert.match(lines.join("\n"), /metrics\.json does not match its SHA-256 in .*commit\.json/);
  assert.notEqual(again.test_acc, 0.999);
});

test("5: broken inputs are refused naming the file, not with a bare TypeError or errno", () => {
  const copy = path.join(base, "Dnull");
  fs.cpSync(D, copy, { recursive: true });
  const mf = path.join(copy, "dataset.json");
  const m = JSON.parse(fs.readFileSync(mf, "utf8"));
  m.files["val.amida"] = null;
  fs.writeFileSync(mf, JSON.stringify(m));
  let r = amida("show", copy, "--out", path.join(base, "x.png"));
  assert.match(
    r.stderr,
    /data set manifest '.*Dnull\/dataset\.json' is not as expected: its entry for 'val\.amida': expected a JSON object/,
  );
  const dirData = path.join(base, "Ddir");
  fs.cpSync(D, dirData, { recursive: true });
  fs.rmSync(splitFile(dirData, "val"));
  fs.mkdirSync(splitFile(dirData, "val"));
  r = amida("baselines", dirData, "--split", "val");
  assert.match(r.stderr, /'.*Ddir\/val\.amida' is a directory; a file is needed/);
  const conf = path.join(base, "c.json");
  for (const [over, re] of [
    [{ models: {} }, /models lacks the field 'cnn'/],
    [{ difficulty: null }, /difficulty must be an object, got null/],
    [
      { stage1: { ...budgetConfig("tiny").stage1, epochz: 1 } },
      /stage1 has an unknown field 'epochz' \(did you mean 'epochs'\?\)/,
    ],
  ] as const) {
    fs.writeFileSync(conf, JSON.stringify({ ...budgetConfig("tiny"), ...over }));
    r = amida("experiment", "--config", conf, "--runs", path.join(base, "never"));
    assert.equal(r.status, 1);
    assert.match(r.stderr, re);
  }
  assert.equal(fs.existsSync(path.join(base, "never")), false);
  // A truncated metrics.json makes a run unreadable, named, not a crash of `results`.
  const sruns = path.join(base, "sruns");
  const mfile = path.join(sruns, "s", "cnn-stage1-s0", "metrics.json");
  fs.writeFileSync(mfile, fs.readFileSync(mfile, "utf8").slice(0, 40));
  r = amida("results", "--name", "s", "--runs", sruns, "--data", path.join(base, "sdata"));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /cnn-stage1-s0: .*metrics\.json does not match its SHA-256/);
});
