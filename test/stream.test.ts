/**
 * Streamed training (issue 17): the stream never draws a validation, test or held-out ladder; it
 * is the same bytes however it is rendered; a streamed run resumes bit for bit; an image budget
 * evaluates at log-spaced counts.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { ChildProcess, fork, spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { generateDataset } from "../src/data/generate";
import { DatasetSpec } from "../src/data/spec";
import { samplePuzzle, splitOfHash } from "../src/data/sample";
import { StreamSource, streamChunk } from "../src/data/stream";
import { ladderHash } from "../src/puzzle/puzzle";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { evaluationImages } from "../src/train/trainer";

const base = fs.mkdtempSync(path.join(os.tmpdir(), "amida-stream-"));
const D = path.join(base, "D");
const bin = path.join(__dirname, "..", "bin", "amida.js");
// Easy: 3 lanes, 4 rows: few ladders, so val and test ladders are common draws and must be avoided.
const spec: DatasetSpec = {
  task: "plain",
  hops: 0,
  difficulty: { ...presetDifficulty("easy"), size: 64 },
  nuisance: NO_NUISANCE,
  seed: 5,
  sampling: "debiased",
};

before(() => generateDataset(spec, { train: 32, val: 300, test: 300 }, D, { quiet: true }));

test("a stream draws only training ladders: none of the val or test split's, whichever stream", () => {
  const held = new Set<string>();
  for (const split of ["val", "test"] as const)
    for (let i = 0; i < 300; i++) held.add(ladderHash(samplePuzzle(spec, split, i).puzzle));
  assert.ok(held.size > 20, `only ${held.size} held-out ladders: the check would be weak`);
  let n = 0;
  for (const stream of [0, 1, 7])
    for (let p = 0; p < 1500; p++) {
      const s = samplePuzzle(spec, "train", p, stream);
      assert.equal(splitOfHash(s.ladder), "train");
      assert.ok(!held.has(s.ladder), `stream ${stream} position ${p} draws a val/test ladder`);
      assert.equal(s.label, p % spec.difficulty.lanes, "labels stay balanced");
      n++;
    }
  // Streams differ from each other and from the stored split.
  assert.notEqual(samplePuzzle(spec, "train", 3, 0).hash, samplePuzzle(spec, "train", 3, 1).hash);
  assert.notEqual(samplePuzzle(spec, "train", 3, 0).hash, samplePuzzle(spec, "train", 3).hash);
  assert.equal(n, 4500);
});

test("a stream's batches are the same bytes rendered inline or by generator processes", async () => {
  const procs = new StreamSource(spec, 2, 16, 2);
  try {
    for (const b of [0, 1, 5, 2]) {
      const got = await procs.batch(b);
      const want = streamChunk(spec, 2, b * 16, 16);
      assert.ok(Buffer.from(got.images).equals(Buffer.from(want.images)), `batch ${b} images`);
      assert.deepEqual([...got.labels], [...want.labels], `batch ${b} labels`);
    }
  } finally {
    procs.close();
  }
});

/** Resolves when the child has exited; fails the test if it is still alive after `ms`. */
function exited(c: ChildProcess, ms: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      c.kill("SIGKILL");
      reject(new Error(`child ${c.pid} still alive ${ms} ms after it was told to stop`));
    }, ms);
    c.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

test("generator processes stop when their source closes, also while still loading", async () => {
  // Closed at once: both children are still loading (a missed disconnect once hung `make test`).
  const s = new StreamSource(spec, 3, 16, 2);
  const kids = [...s["children"]];
  s.close();
  await Promise.all(kids.map((c) => exited(c, 30_000)));
  // A parent that only disconnects (no kill) while the child loads: it exits by itself.
  const c = fork(bin, ["_generate"], { stdio: ["ignore", "ignore", "ignore", "ipc"] });
  c.disconnect();
  await exited(c, 30_000);
});

test("image budgets evaluate at about four log-spaced counts a decade, and at the end", () => {
  assert.deepEqual(evaluationImages(10_000), [1000, 1778, 3162, 5623, 10_000]);
  assert.deepEqual(evaluationImages(1500), [1000, 1500]);
  assert.deepEqual(evaluationImages(800), [800]);
});

/** A run's outcome: test metrics, the curve, and the SHA-256 of its best and last weights. */
function outcome(dir: string) {
  const m = JSON.parse(fs.readFileSync(path.join(dir, "metrics.json"), "utf8"));
  const sha = (f: string) => createHash("sha256").update(fs.readFileSync(f)).digest("hex");
  return {
    acc: m.test_acc,
    loss: m.test_loss,
    confusion: m.confusion,
    curve: m.curve,
    images: m.images_seen,
    best: sha(path.join(dir, "checkpoints", "best", "weights.bin")),
    last: sha(path.join(dir, "checkpoints", "last", "weights.bin")),
  };
}

test("a streamed run killed between evaluations resumes to the same result, bit for bit", () => {
  const runs = path.join(base, "runs");
  const args = (name: string) => [
    "train",
    "--model",
    "mobilenetv2_035",
    "--data",
    D,
    "--runs",
    runs,
    "--name",
    name,
    "--images",
    "1800",
    "--stream",
    "true",
    "--batch-size",
    "16",
    "--warmup-images",
    "160",
    "--val-limit",
    "64",
  ];
  const ref = spawnSync(process.execPath, [bin, ...args("ref")], { encoding: "utf8" });
  assert.equal(ref.status, 0, ref.stderr);
  const want = outcome(path.join(runs, "ref"));
  assert.deepEqual(
    want.curve.map((c: [number, number]) => c[0]),
    [1008, 1792, 1808],
    "evaluated at 1,000 and 1,778 images (rounded up to whole batches) and at the end",
  );
  // Killed right after the first evaluation's checkpoint, then resumed.
  const killed = spawnSync(process.execPath, [bin, ...args("k")], {
    encoding: "utf8",
    env: { ...process.env, AMIDA_KILL_AT: "checkpoint-after-commit#1" },
  });
  assert.equal(killed.signal, "SIGKILL", killed.stderr);
  const resumed = spawnSync(process.execPath, [bin, ...args("k")], { encoding: "utf8" });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /resumed from step 63\b/);
  assert.deepEqual(outcome(path.join(runs, "k")), want);
});
