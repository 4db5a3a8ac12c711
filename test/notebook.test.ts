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
import { RunConfig } from "../src/experiment/rundir";
import { requireFinishedRuns, runStatuses } from "../src/notebook/runs";
import { trackLines } from "../src/notebook/display";

let root = "";
let runs = "";

const run = (over: Partial<RunConfig> = {}): RunConfig => ({
  name: "s1",
  model: "mobilenetv2_035",
  data: path.join(root, "plain"),
  init: null,
  freeze: "none",
  train: { ...DEFAULT_TRAIN, epochs: 1, batchSize: 16 },
  modelSeed: 0,
  ...over,
});

before(async () => {
  await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "amida-nb-"));
  runs = path.join(root, "runs");
  generateDataset(
    {
      task: "plain",
      hops: 0,
      difficulty: presetDifficulty("easy"),
      nuisance: NO_NUISANCE,
      seed: 2,
      sampling: "debiased",
    },
    { train: 16, val: 8, test: 8 },
    path.join(root, "plain"),
    { quiet: true },
  );
  await runTraining(run(), { runsDir: runs, quiet: true });
  await runTraining(
    run({ name: "s2", init: path.join(runs, "s1", "checkpoints", "best"), freeze: "first5" }),
    { runsDir: runs, quiet: true },
  );
});

const states = (names: string[]) =>
  runStatuses(runs, names).map((s) => `${s.name} ${s.state}${s.reason ? `: ${s.reason}` : ""}`);

test("finished, missing, and unfinished runs (interrupted, retrained since, stale init) are told apart", () => {
  assert.deepEqual(states(["s1", "s2", "nope"]), [
    "s1 finished",
    "s2 finished",
    `nope missing: no folder ${path.join(runs, "nope")}`,
  ]);
  // Interrupted: a checkpoint but no metrics.json and no commit record (written last).
  fs.cpSync(path.join(runs, "s1"), path.join(runs, "cut"), { recursive: true });
  fs.rmSync(path.join(runs, "cut", "metrics.json"));
  fs.rmSync(path.join(runs, "cut", "commit.json"));
  assert.deepEqual(states(["cut"]), [
    "cut unfinished: stopped after epoch 1 of 1 (no commit.json)",
  ]);
  // metrics.json changed after the run committed (another training's, or edited).
  fs.cpSync(path.join(runs, "s1"), path.join(runs, "old"), { recursive: true });
  const m = JSON.parse(fs.readFileSync(path.join(runs, "old", "metrics.json"), "utf8"));
  fs.writeFileSync(
    path.join(runs, "old", "metrics.json"),
    JSON.stringify({ ...m, name: "old", epochs: 3 }),
  );
  assert.match(
    states(["old"])[0],
    /old unfinished: .*old\/metrics\.json does not match its SHA-256 in .*commit\.json/,
  );
  // Stage 1 retrained after stage 2 finished: stage 2 is stale.
  const w = path.join(runs, "s1", "checkpoints", "best", "weights.bin");
  const bytes = fs.readFileSync(w);
  bytes[0] ^= 1;
  fs.writeFileSync(w, bytes);
  assert.match(
    states(["s2"])[0],
    /s2 unfinished: stale: the weights it started from .* changed since it trained/,
  );
});

test("requireFinishedRuns refuses naming the runs and the notebook to run first, or warns and returns the states", () => {
  assert.deepEqual(
    requireFinishedRuns(runs, [{ name: "s1", notebook: "02_train_plain" }], {
      reader: "04_gradcam",
    }).map((s) => s.state),
    ["finished"],
  );
  assert.throws(
    () =>
      requireFinishedRuns(
        runs,
        [
          { name: "s1", notebook: "02_train_plain" },
          { name: "gone", notebook: "03_warp_finetune" },
        ],
        { reader: "04_gradcam" },
      ),
    (e: Error) =>
      /04_gradcam reads runs in .* that are not finished:\n {2}gone: missing, no folder/.test(
        e.message,
      ) &&
      /run notebooks\/03_warp_finetune.ipynb first/.test(e.message) &&
      !/s1/.test(e.message),
  );
  const errors: string[] = [];
  const orig = console.error;
  console.error = (s: string) => errors.push(s);
  try {
    const st = requireFinishedRuns(runs, [{ name: "gone", notebook: "03_warp_finetune" }], {
      reader: "00_overview",
      mode: "warn",
    });
    assert.deepEqual(
      st.map((s) => s.state),
      ["missing"],
    );
  } finally {
    console.error = orig;
  }
  assert.match(
    errors.join("\n"),
    /WARNING: 1 of 1 runs .* are not finished; 00_overview marks them/,
  );
});

test("trackLines: each track's progress updates its own display; other lines print", () => {
  const jupyter = require("tslab/dist/jupyter");
  const sent: Array<{ id: string; text: string; update: boolean }> = [];
  const printed: string[] = [];
  const log = console.log;
  jupyter.lastWriteDisplayData = (
    d: { data: { "text/plain": string }; transient: { display_id: string } },
    update: boolean,
  ) => sent.push({ id: d.transient.display_id, text: d.data["text/plain"], update });
  console.log = (s: string) => printed.push(s);
  try {
    const sink = trackLines();
    sink("cnn", "epoch 1/4 1/10 (10%) 2.0 steps/s, 0.5 s elapsed, ETA 5 s");
    sink("vit", "epoch 1/4 1/10 (10%) 1.0 steps/s, 1.0 s elapsed, ETA 9 s");
    sink("cnn", "epoch 1/4 2/10 (20%) 2.0 steps/s, 1.0 s elapsed, ETA 4 s");
    sink("cnn", "epoch 1/4: train loss 1.1 acc 30%");
  } finally {
    jupyter.lastWriteDisplayData = null;
    console.log = log;
  }
  assert.equal(sent.length, 3);
  assert.notEqual(sent[0].id, sent[1].id);
  assert.deepEqual(
    [sent[2].id, sent[2].update, sent[0].update, sent[1].update],
    [sent[0].id, true, false, false],
  );
  assert.match(sent[2].text, /^\[cnn\] epoch 1\/4 2\/10/);
  assert.deepEqual(printed, ["[cnn] epoch 1/4: train loss 1.1 acc 30%"]);
});
