/**
 * A run directory, `runs/<experiment>/<run>/`, and the one reader that every consumer (reuse,
 * results tables, notebooks, the explorer) goes through:
 *
 *   config.json       what to train (RunConfig)
 *   provenance.json   the config plus the SHA-256 of its data files and starting weights
 *   checkpoints       link to the generation holding last/, best/ and history.json (train/checkpoints.ts)
 *   metrics.json      the test results
 *   commit.json       written last: the SHA-256 of each file above; the run is finished iff it verifies
 *   imported.json     only in a run copied from another experiment (importRun): where it trained
 *
 * Beside it, in the runs folder: `.<run>.lock` (one writer at a time) and, while a changed config
 * retrains, `.<run>.superseded` (the previous run, removed only once the new one commits).
 */
import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import { CHECKSUMS, verifyCheckpoint } from "../models/io";
import { isObject, readJsonFile, requireFields } from "../util/json";
import { cleanLeftovers, tempPathFor, writeFileAtomic, writeJsonAtomic } from "../util/atomic";
import { acquireLock } from "../util/lock";
import { killPoint } from "../util/killpoint";
import type { EpochRecord } from "../train/trainer";
import { FreezeGroup } from "../models/freeze";
import { TrainConfig } from "../train/config";
import { Stage } from "./stages";

/** One training run: what to train, on what, from where, with what frozen. Saved as config.json. */
export interface RunConfig {
  name: string;
  model: string;
  /** Data set directory (train/val/test.amida). */
  data: string;
  /** Checkpoint directory whose weights start this run (stage 2), or null for from scratch. */
  init: string | null;
  freeze: FreezeGroup;
  train: TrainConfig;
  /** Seeds the model's initial weights. */
  modelSeed: number;
}

/** One row of the results table (the fields the README and reports/results.json promise). */
export interface RunMetrics {
  /** The run's name (its directory under the runs folder). */
  name: string;
  /** Model name from the registry. */
  model: string;
  /** Task of the data set it trained and tested on: plain or warp. */
  task: string;
  /** Warp hops of that data set (0 for plain). */
  hops: number;
  /** What kind of run (src/experiment/stages.ts): stage1, finetune or scratch. */
  stage: Stage;
  /** Freeze group applied during training. */
  frozen: string;
  /** Stored training puzzles (a streamed run draws fresh ones instead: see `stream`). */
  train_count: number;
  /** Whether its training puzzles were streamed from the generator. */
  stream: boolean;
  /** Training images it saw. */
  images_seen: number;
  /** Evaluations run: epochs with an epoch budget (early stopping can end a run sooner). */
  epochs: number;
  /** Validation accuracy against training images seen, at each evaluation: [images, val_acc]. */
  curve: Array<[number, number | null]>;
  /** Training accuracy over the steps before each evaluation: [images, train_acc]. */
  train_curve: Array<[number, number]>;
  /** Test accuracy of the best-by-validation checkpoint. */
  test_acc: number;
  /** 95 % Wilson interval of `test_acc` (assumes independent test items). */
  ci95: [number, number];
  /** Mean test cross-entropy. */
  test_loss: number;
  /** Test puzzles. */
  test_count: number;
  /** 1 / classes. */
  chance: number;
  /** Test counts, confusion[true][predicted]. */
  confusion: number[][];
  /** Evaluation (1-based) whose checkpoint was tested. */
  best_epoch: number;
  /** Training images seen at that evaluation. */
  best_images: number;
  /** Training seconds, summed over every part of a resumed run. */
  seconds: number;
  /** Backend the run trained on (node, wasm, cpu, node-gpu). */
  backend: string;
  /** Parameters trained, and frozen (batch-norm moving statistics are not parameters). */
  trainable_params: number;
  frozen_params: number;
  /** The best rung-blind rule's accuracy on this test split (src/data/baselines.ts). */
  rung_blind_bayes?: number;
  /** Accuracy on the test puzzles drawn by the held-out renderer (test-heldout.amida). */
  test_acc_heldout_style?: number;
  /** Accuracy on the test puzzles that the rung-blind rule gets wrong. */
  test_acc_where_rung_blind_wrong?: number;
}

export const COMMIT = "commit.json";
const COMMIT_FORMAT = "warp-amidakuji/run-1";
/** The files a commit covers, relative to the run directory. */
const COVERED = [
  "config.json",
  "provenance.json",
  "metrics.json",
  "checkpoints/history.json",
  `checkpoints/last/${CHECKSUMS}`,
  `checkpoints/best/${CHECKSUMS}`,
];

const sha256File = (f: string) => createHash("sha256").update(fs.readFileSync(f)).digest("hex");

/** The lock file of run `name` in `runsDir` (beside the run, which may be swapped whole). */
export const runLockFile = (runsDir: string, name: string) => path.join(runsDir, `.${name}.lock`);
/** Where a run that a changed config retrains waits until the new one commits. */
export const supersededDir = (runsDir: string, name: string) =>
  path.join(runsDir, `.${name}.superseded`);

/** Writes commit.json: the run in `dir` is finished, and these are its files. */
export function commitRun(dir: string): void {
  const sha256: Record<string, string> = {};
  for (const f of COVERED) {
    const file = path.join(dir, f);
    if (fs.existsSync(file)) sha256[f] = sha256File(file);
  }
  writeJsonAtomic(path.join(dir, COMMIT), { format: COMMIT_FORMAT, sha256 });
}

/** The file a copied run keeps beside its own: where it was trained, and its provenance there. */
export const IMPORTED = "imported.json";

/**
 * Copies the finished run in `src` to `dst`, which must not exist, as the run `cfg` with
 * provenance `provenance`. The caller has checked that `src` trained exactly this: its
 * provenance `seen` is the same but for where the data set and starting weights lie, and the
 * data and weights have the same SHA-256. Both runs' locks are held throughout. The copy must
 * verify against the source's own commit record and still carry `seen`; then config.json and
 * provenance.json become `cfg`'s, IMPORTED says where it came from, and a new commit record
 * covers them. The checkpoints are copied as they are: their run-config.json still names the
 * data set the run trained on there. Built in a temporary folder and renamed into place: a kill
 * leaves no half-copied run, and the next import removes the leftover.
 */
export function importRun(
  src: string,
  dst: string,
  cfg: RunConfig,
  provenance: string,
  seen: string,
): void {
  const name = path.basename(dst);
  const releaseSrc = acquireLock(
    runLockFile(path.dirname(src), path.basename(src)),
    `copying run '${src}'`,
  );
  const tmp = tempPathFor(dst);
  try {
    const releaseDst = acquireLock(runLockFile(path.dirname(dst), name), `copying into '${dst}'`);
    try {
      cleanLeftovers(dst);
      if (fs.existsSync(dst)) throw new Error("it exists");
      // verbatimSymlinks: `checkpoints` is a relative link to a generation folder inside the run.
      fs.cpSync(src, tmp, { recursive: true, verbatimSymlinks: true });
      const copied = readRun(tmp, name);
      if (copied.state !== "finished" || copied.provenance !== seen)
        throw new Error(
          `the copy is not the finished run that was checked (${copied.state}${copied.reason ? `: ${copied.reason}` : ", changed meanwhile"})`,
        );
      verifyRunCheckpoints(tmp);
      writeJsonAtomic(path.join(tmp, "config.json"), cfg);
      writeFileAtomic(path.join(tmp, "provenance.json"), provenance);
      writeJsonAtomic(path.join(tmp, IMPORTED), {
        from: path.resolve(src),
        provenance: JSON.parse(seen),
      });
      commitRun(tmp);
      const rec = readRun(tmp, name);
      if (rec.state !== "finished") throw new Error(`the copy is ${rec.state}: ${rec.reason}`);
      killPoint("import-before-rename");
      fs.renameSync(tmp, dst);
    } finally {
      releaseDst();
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`cannot copy run '${src}' to '${dst}': ${(e as Error).message}`);
  } finally {
    releaseSrc();
  }
}

/** finished: verified and usable; unfinished: started, not done; missing: never started; corrupt: changed since it finished. */
export type RunState = "finished" | "unfinished" | "missing" | "corrupt";

export interface RunRecord {
  name: string;
  dir: string;
  state: RunState;
  /** Why it is not finished, in words (empty when finished). */
  reason: string;
  /** Present when finished. */
  metrics?: RunMetrics;
  /** provenance.json's text when present (compared as text, as written). */
  provenance?: string;
}

const METRICS_FIELDS = {
  name: "string",
  model: "string",
  task: "string",
  stage: "string",
  test_acc: "number",
  test_count: "number",
  chance: "number",
  confusion: "array",
  ci95: "array",
  seconds: "number",
  epochs: "number",
  best_epoch: "number",
} as const;

/** metrics.json, checked for the fields every reader uses. */
export function readMetrics(file: string): RunMetrics {
  return readJsonFile(file, "run metrics", (v) => requireFields(v, METRICS_FIELDS) as never);
}

/**
 * The state of the run in `dir`, verified: a finished run's commit record must match every file
 * it covers, so an edited metrics.json, a deleted or swapped checkpoint or a hand-made directory
 * is not taken for a result. Weights themselves are hashed when a checkpoint is loaded.
 */
export function readRun(dir: string, name = path.basename(dir)): RunRecord {
  const out = (state: RunState, reason: string, extra: Partial<RunRecord> = {}): RunRecord => ({
    name,
    dir,
    state,
    reason,
    ...extra,
  });
  if (!fs.existsSync(dir)) return out("missing", `no folder ${dir}`);
  const provFile = path.join(dir, "provenance.json");
  const provenance = fs.existsSync(provFile) ? fs.readFileSync(provFile, "utf8") : undefined;
  const commitFile = path.join(dir, COMMIT);
  if (!fs.existsSync(commitFile)) return out("unfinished", progressOf(dir), { provenance });
  let sums: Record<string, string>;
  try {
    sums = readJsonFile(commitFile, "run commit record", (v) => {
      const o = requireFields(v, { format: "string", sha256: "object" });
      if (o.format !== COMMIT_FORMAT)
        throw new Error(`format '${o.format}' is not '${COMMIT_FORMAT}'`);
      return o.sha256 as Record<string, string>;
    });
  } catch (e) {
    return out("corrupt", (e as Error).message, { provenance });
  }
  for (const f of COVERED.filter((f) => !f.includes("best/") || f in sums)) {
    const file = path.join(dir, f);
    if (!fs.existsSync(file))
      return out("corrupt", `${file} is missing (deleted after the run finished?)`, { provenance });
    if (sums[f] !== sha256File(file))
      return out(
        "corrupt",
        `${file} does not match its SHA-256 in ${commitFile} (edited or replaced after the run finished?)`,
        { provenance },
      );
  }
  let metrics: RunMetrics;
  try {
    metrics = readMetrics(path.join(dir, "metrics.json"));
  } catch (e) {
    return out("corrupt", (e as Error).message, { provenance });
  }
  if (metrics.name !== name)
    return out("corrupt", `its metrics.json is run '${metrics.name}''s`, { provenance });
  return out("finished", "", { metrics, provenance });
}

/** "stopped after epoch 2 of 6" from the last checkpoint, for an unfinished run. */
function progressOf(dir: string): string {
  try {
    const st = readJsonFile(path.join(dir, "checkpoints", "last", "state.json"), "trainer state");
    const cfg = readJsonFile(path.join(dir, "config.json"), "run config");
    const done = isObject(st) && typeof st.epoch === "number" ? st.epoch + 1 : null;
    const planned = isObject(cfg) && isObject(cfg.train) ? cfg.train.epochs : undefined;
    if (done !== null)
      return `stopped after epoch ${done}${planned ? ` of ${planned}` : ""} (no ${COMMIT})`;
  } catch {
    // no checkpoint yet
  }
  return `no checkpoint and no ${COMMIT} yet`;
}

/** A finished run's checkpoints must verify before its metrics are reused. */
export function verifyRunCheckpoints(dir: string): void {
  for (const k of ["last", "best"]) {
    const d = path.join(dir, "checkpoints", k);
    if (fs.existsSync(d)) verifyCheckpoint(d);
  }
}

/** The per-evaluation history of run `name` (its checkpoint's history.json), checked. */
export function loadHistory(runsDir: string, name: string): EpochRecord[] {
  const file = path.join(runsDir, name, "checkpoints", "history.json");
  return readJsonFile(file, `run '${name}''s history`, (v) => {
    if (!Array.isArray(v)) throw new Error("expected a list of records");
    v.forEach((r, i) => {
      try {
        requireFields(r, {
          epoch: "number",
          train_acc: "number",
          train_loss: "number",
          val_acc: "nullable-number",
        });
      } catch (e) {
        throw new Error(`record ${i}: ${(e as Error).message}`);
      }
    });
    return v as EpochRecord[];
  });
}
