/** Issue 12: a run is one unit (lock, checksummed checkpoints, crash-consistent last/best, names). */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../src/backend/select";
import { generateDataset } from "../src/data/generate";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { DEFAULT_TRAIN } from "../src/train/config";
import { runTraining } from "../src/experiment/run";
import { RunConfig, RunMetrics } from "../src/experiment/rundir";
import { acquireLock } from "../src/util/lock";
import { runLockFile } from "../src/experiment/rundir";

const bin = path.join(__dirname, "..", "bin", "amida.js");
const amida = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
const base = fs.mkdtempSync(path.join(os.tmpdir(), "amida-robust-run-"));
const data = path.join(base, "d");
const runs = path.join(base, "runs");
const cfg = (name: string, over: Partial<RunConfig> = {}): RunConfig => ({
  name,
  model: "mobilenetv2_035",
  data,
  init: null,
  freeze: "none",
  train: { ...DEFAULT_TRAIN, epochs: 2, batchSize: 16 },
  modelSeed: 0,
  ...over,
});
const trainArgs = (name: string) => [
  "train",
  "--model",
  "mobilenetv2_035",
  "--data",
  data,
  "--name",
  name,
  "--runs",
  runs,
  "--epochs",
  "2",
  "--batch-size",
  "16",
];
const read = (f: string) => JSON.parse(fs.readFileSync(f, "utf8"));
/** What must not depend on where the run was killed. */
const outcome = (dir: string) => {
  const m: RunMetrics = read(path.join(dir, "metrics.json"));
  const h = read(path.join(dir, "checkpoints", "history.json")) as Array<Record<string, number>>;
  return {
    acc: m.test_acc,
    loss: m.test_loss,
    best: m.best_epoch,
    epochs: m.epochs,
    confusion: m.confusion,
    history: h.map((e) => [e.epoch, e.train_loss, e.val_acc]),
  };
};
let reference: ReturnType<typeof outcome>;

before(async () => {
  await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true });
  generateDataset(
    {
      task: "plain",
      hops: 0,
      difficulty: presetDifficulty("easy"),
      nuisance: NO_NUISANCE,
      seed: 0,
      sampling: "debiased",
    },
    { train: 48, val: 16, test: 16 },
    data,
    { quiet: true },
  );
  await runTraining(cfg("ref"), { runsDir: runs, quiet: true });
  reference = outcome(path.join(runs, "ref"));
});

test("2, 7, 11: killed between last/ and best/, then again before metrics.json, a run resumes to the same result with no leftovers; seconds sum the parts", () => {
  const dir = path.join(runs, "killed");
  // The crash of the issue: the last epoch's weights written, its best/ not yet.
  const first = amida(trainArgs("killed"), { AMIDA_KILL_AT: "checkpoint-before-commit#2" });
  assert.equal(first.signal, "SIGKILL", first.stderr);
  assert.ok(
    fs.readdirSync(dir).some((f) => f.startsWith(".checkpoints.gen-0002")),
    "the uncommitted generation is there",
  );
  assert.equal(
    read(path.join(dir, "checkpoints", "history.json")).length,
    1,
    "the committed checkpoint is epoch 1's, whole",
  );
  // Resumed, and killed again just before its commit record is renamed in (a resumed run's second
  // atomic write, after metrics.json): metrics without a commit record are not a finished run.
  const second = amida(trainArgs("killed"), { AMIDA_KILL_AT: "atomic-before-rename#2" });
  assert.equal(second.signal, "SIGKILL", second.stderr);
  assert.match(second.stdout, /resumed from epoch 1\b/);
  const third = amida(trainArgs("killed"));
  assert.equal(third.status, 0, third.stderr);
  assert.match(third.stdout, /resumed from epoch 2\b/);
  assert.deepEqual(outcome(dir), reference);
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.startsWith(".") && !f.startsWith(".checkpoints.gen-")),
    [],
  );
  assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith(".checkpoints.gen-")).length, 1);
  const m: RunMetrics = read(path.join(dir, "metrics.json"));
  const epochSeconds = read(path.join(dir, "checkpoints", "history.json")).reduce(
    (a: number, e: { seconds: number }) => a + e.seconds,
    0,
  );
  assert.ok(
    m.seconds >= epochSeconds,
    `metrics.seconds ${m.seconds} < the epochs' ${epochSeconds}`,
  );
});

test("6: corrupt checkpoints (weights, optimizer state, swapped names) are refused naming the file and --fresh", async () => {
  const dir = path.join(runs, "ref");
  const ckpt = fs.realpathSync(path.join(dir, "checkpoints"));
  const keep = path.join(base, "keep");
  fs.cpSync(ckpt, keep, { recursive: true });
  const flip = (f: string, at: number) => {
    const b = fs.readFileSync(f);
    b[at] ^= 0x40;
    fs.writeFileSync(f, b);
  };
  flip(path.join(ckpt, "best", "weights.bin"), 1000);
  await assert.rejects(
    runTraining(cfg("ref"), { runsDir: runs, quiet: true }),
    /checkpoint '.*best' is corrupt: .*weights\.bin does not match its SHA-256 in checksum\.json; retrain it \('amida train \.\.\. --fresh'/,
  );
  fs.rmSync(ckpt, { recursive: true });
  fs.cpSync(keep, ckpt, { recursive: true });
  // An unfinished run (no commit record yet) resumes from last/: its optimizer state is checked too.
  fs.rmSync(path.join(dir, "metrics.json"));
  fs.rmSync(path.join(dir, "commit.json"));
  flip(path.join(ckpt, "last", "optimizer.bin"), 100);
  await assert.rejects(
    runTraining(cfg("ref"), { runsDir: runs, quiet: true }),
    /checkpoint '.*last' is corrupt: .*optimizer\.bin does not match/,
  );
  fs.rmSync(ckpt, { recursive: true });
  fs.cpSync(keep, ckpt, { recursive: true });
  const mj = path.join(ckpt, "last", "model.json");
  fs.writeFileSync(
    mj,
    fs
      .readFileSync(mj, "utf8")
      .replace('"head_conv_bn/moving_mean"', '"X"')
      .replace('"head_conv_bn/moving_variance"', '"head_conv_bn/moving_mean"')
      .replace('"X"', '"head_conv_bn/moving_variance"'),
  );
  await assert.rejects(
    runTraining(cfg("ref"), { runsDir: runs, quiet: true }),
    /model\.json does not match its SHA-256/,
  );
  fs.rmSync(ckpt, { recursive: true });
  fs.cpSync(keep, ckpt, { recursive: true });
  await runTraining(cfg("ref"), { runsDir: runs, quiet: true });
  assert.deepEqual(outcome(dir), reference);
});

test("5: a second writer of a run is refused while the first holds it; a dead holder's lock is taken over", async () => {
  const release = acquireLock(runLockFile(runs, "ref"), "another training of this run");
  await assert.rejects(
    runTraining(cfg("ref", { train: { ...DEFAULT_TRAIN, epochs: 2, batchSize: 16 } }), {
      runsDir: runs,
      quiet: true,
    }),
    /is in use: another training of this run by process \d+/,
  );
  release();
  const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], {
    encoding: "utf8",
  });
  fs.writeFileSync(
    runLockFile(runs, "ref"),
    JSON.stringify({
      pid: Number(dead.stdout),
      host: os.hostname(),
      what: "a killed train",
      since: "",
    }),
  );
  await runTraining(cfg("ref"), { runsDir: runs, quiet: true });
  assert.equal(fs.existsSync(runLockFile(runs, "ref")), false);
});

test("4: run names '.', '..' and with separators are refused before anything is touched", async () => {
  const parent = path.join(base, "p");
  fs.mkdirSync(path.join(parent, "checkpoints"), { recursive: true });
  fs.writeFileSync(path.join(parent, "checkpoints", "keep"), "x");
  for (const name of [".", "..", "a/b", "..\\x", ".hidden"]) {
    await assert.rejects(
      runTraining(cfg(name), { runsDir: path.join(parent, "runs"), quiet: true }),
      /run name must use letters.* and not start with '\.'/,
      name,
    );
  }
  assert.equal(fs.readFileSync(path.join(parent, "checkpoints", "keep"), "utf8"), "x");
  assert.equal(fs.existsSync(path.join(parent, "runs")), false);
});

test("8: a finished run whose checkpoints were deleted is retrained, not reused", async () => {
  fs.rmSync(fs.realpathSync(path.join(runs, "ref", "checkpoints")), { recursive: true });
  const lines: string[] = [];
  await runTraining(cfg("ref"), { runsDir: runs, quiet: true, onLine: (l) => lines.push(l) });
  assert.match(lines.join("\n"), /cannot be trusted \(.*history\.json is missing/);
  assert.deepEqual(outcome(path.join(runs, "ref")), reference);
});

test("10: an init checkpoint made for other data (3 vs 4 lanes) is refused before training, naming the layer", async () => {
  const four = path.join(base, "d4");
  generateDataset(
    {
      task: "plain",
      hops: 0,
      difficulty: presetDifficulty("medium"),
      nuisance: NO_NUISANCE,
      seed: 0,
      sampling: "debiased",
    },
    { train: 16, val: 0, test: 16 },
    four,
    { quiet: true },
  );
  const init = path.join(runs, "ref", "checkpoints", "best");
  await assert.rejects(
    runTraining(cfg("wrong-init", { data: four, init }), { runsDir: runs, quiet: true }),
    /init checkpoint '.*best' does not fit this data set: its layer '.*' has weights/,
  );
  assert.equal(fs.existsSync(path.join(runs, "wrong-init", "checkpoints")), false);
});

test("10: a batch whose activations cannot fit is refused before training, with the numbers", async () => {
  const big = path.join(base, "d256");
  generateDataset(
    {
      task: "plain",
      hops: 0,
      difficulty: { ...presetDifficulty("easy"), size: 256 },
      nuisance: NO_NUISANCE,
      seed: 0,
      sampling: "debiased",
    },
    { train: 4, val: 0, test: 4 },
    big,
    { quiet: true },
  );
  const c = cfg("too-big", {
    data: big,
    model: "mobilenetv2_100",
    train: { ...DEFAULT_TRAIN, epochs: 1, batchSize: 512 },
  });
  const limit =
    (await initBackend()).name === "wasm"
      ? "the wasm backend addresses at most 4\\.0 GiB"
      : "this machine has";
  await assert.rejects(
    runTraining(c, { runsDir: runs, quiet: true }),
    new RegExp(
      `batch 512 needs at least [\\d.]+ GiB of activations for mobilenetv2_100 at 256 px, but ${limit}.*lower --batch`,
    ),
  );
  assert.equal(fs.existsSync(path.join(runs, "too-big", "checkpoints")), false);
});
