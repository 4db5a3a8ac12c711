import * as fs from "fs";
import { createHash } from "crypto";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { SplitReader, verifyDataset } from "../data/format";
import { splitFile } from "../data/generate";
import { buildModel, validateModelSpec } from "../models/registry";
import { freeze, FreezeGroup, validateFreezeGroup } from "../models/freeze";
import { loadModel, verifyCheckpoint } from "../models/io";
import { acquireLock } from "../util/lock";
import { validateName } from "../util/names";
import { cleanCheckpointLeftovers, removeCheckpoints } from "../train/checkpoints";
import { formatSummary } from "../models/summary";
import { train, EpochRecord } from "../train/trainer";
import { evaluate } from "../train/evaluate";
import { validityMetrics } from "./validity";
import { Stage, stageOf } from "./stages";
import { TrainConfig, validateTrainConfig } from "../train/config";
import { initBackend, describe, BackendInfo } from "../backend/select";
import * as os from "os";
import { writeJsonAtomic } from "../util/atomic";

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
  /** Training puzzles. */
  train_count: number;
  /** Epochs actually run (early stopping can end a run sooner). */
  epochs: number;
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
  /** Epoch (1-based) whose checkpoint was tested. */
  best_epoch: number;
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

export function validateRunConfig(c: RunConfig): RunConfig {
  validateName("run", c.name);
  validateFreezeGroup(c.freeze, c.model);
  validateTrainConfig(c.train);
  if (!Number.isInteger(c.modelSeed) || c.modelSeed < 0 || c.modelSeed > 2 ** 31)
    throw new Error(`model seed must be an integer in 0..2^31, got ${c.modelSeed}`);
  for (const split of ["train", "test"] as const) {
    if (!fs.existsSync(splitFile(c.data, split)))
      throw new Error(
        `data set '${c.data}' has no ${split} split (${splitFile(c.data, split)}); make one with 'amida generate --out ${c.data}'`,
      );
  }
  if (c.init !== null && !fs.existsSync(path.join(c.init, "model.json")))
    throw new Error(`init checkpoint '${c.init}' has no model.json`);
  return c;
}

/** Copies weights layer by layer (by name) from a saved model; the head must match too. */
async function loadInit(model: tf.LayersModel, dir: string): Promise<void> {
  const src = await loadModel(dir);
  try {
    for (const layer of model.layers) {
      if (layer.weights.length === 0) continue;
      const from = src.layers.find((l) => l.name === layer.name);
      if (!from)
        throw new Error(
          `init checkpoint '${dir}' has no layer '${layer.name}' (a different architecture?)`,
        );
      const want = layer.weights.map((w) => JSON.stringify(w.shape));
      const have = from.weights.map((w) => JSON.stringify(w.shape));
      if (want.join() !== have.join())
        throw new Error(
          `init checkpoint '${dir}' does not fit this data set: its layer '${layer.name}' has weights ${have.join(" ")}, the model for this data needs ${want.join(" ")} (trained on another number of lanes or image size?); start from a checkpoint made on data of this difficulty`,
        );
      layer.setWeights(from.getWeights());
    }
  } finally {
    src.dispose();
  }
}

/**
 * Trains and tests one run into `runsDir/<name>/`: config.json, history.json, metrics.json and
 * checkpoints/{last,best}. The test accuracy is that of the best-by-validation checkpoint.
 */
/**
 * What a finished run was made from: its config, the hashes of its data files and, for a
 * fine-tune, of the weights it started from (paths alone do not say whether the data or stage 1
 * were remade since).
 */
function provenance(cfg: RunConfig): {
  config: RunConfig;
  initSha256: string | null;
  dataSha256: Record<string, string>;
} {
  // Both are checked whole here, before any work: a corrupt data set or init checkpoint is refused by name.
  if (cfg.init) verifyCheckpoint(cfg.init);
  const manifest = verifyDataset(cfg.data);
  const initSha256 = cfg.init
    ? createHash("sha256")
        .update(fs.readFileSync(path.join(cfg.init, "weights.bin")))
        .digest("hex")
    : null;
  const dataSha256 = Object.fromEntries(
    Object.entries(manifest.files).map(([f, e]) => [f, e.sha256]),
  );
  return { config: cfg, initSha256, dataSha256 };
}

/** Takes the run directory's lock (refusing a second writer) and removes what crashed writers left in it. */
function lockRun(dir: string, name: string, log: (l: string) => void): () => void {
  const release = acquireLock(path.join(dir, ".lock"), `training run '${name}'`);
  const gone = cleanCheckpointLeftovers(path.join(dir, "checkpoints"));
  if (gone.length)
    log(`[${name}] removed ${gone.length} leftover(s) of an interrupted write: ${gone.join(", ")}`);
  return release;
}

/**
 * The finished run's metrics when they can be reused: same provenance, metrics.json readable
 * and the checkpoint the metrics came from present and whole. Otherwise null and the reason
 * (the run then resumes or retrains). A corrupt checkpoint throws, naming the file and the fix.
 */
function reusableMetrics(
  dir: string,
  provText: string,
  fresh: boolean,
): { metrics: RunMetrics | null; why: string } {
  const provFile = path.join(dir, "provenance.json");
  if (fresh) return { metrics: null, why: "--fresh" };
  if (!fs.existsSync(provFile) || fs.readFileSync(provFile, "utf8") !== provText)
    return { metrics: null, why: "new or changed config, data or init weights" };
  const metricsFile = path.join(dir, "metrics.json");
  let metrics: RunMetrics;
  try {
    metrics = JSON.parse(fs.readFileSync(metricsFile, "utf8"));
    if (typeof metrics.test_acc !== "number") throw new Error("no test_acc");
  } catch (e) {
    return {
      metrics: null,
      why: `${metricsFile} is missing or unreadable (${(e as Error).message.split("\n")[0]})`,
    };
  }
  const ckpt = path.join(dir, "checkpoints");
  const saved = ["last", "best"].map((k) => path.join(ckpt, k)).filter((d) => fs.existsSync(d));
  if (saved.length === 0) return { metrics: null, why: `its checkpoints (${ckpt}) are missing` };
  saved.forEach(verifyCheckpoint);
  return { metrics, why: "" };
}

/**
 * Trains and tests one run into `runsDir/<name>/`: config.json, provenance.json, history.json,
 * metrics.json and checkpoints/{last,best}. The test accuracy is that of the best-by-validation
 * checkpoint. Re-running with the same provenance reuses the finished run (or resumes an
 * interrupted one from its last checkpoint); a changed config starts over. `fresh` forces a retrain.
 */
export async function runTraining(
  cfg: RunConfig,
  opts: {
    runsDir: string;
    fresh?: boolean;
    quiet?: boolean;
    onLine?: (l: string) => void;
    onEpoch?: (r: EpochRecord, h: EpochRecord[]) => void | Promise<void>;
  },
): Promise<RunMetrics> {
  validateRunConfig(cfg);
  const backend = await initBackend(undefined, { quiet: true });
  const dir = path.join(opts.runsDir, cfg.name);
  const log = (l: string) => {
    opts.onLine?.(l);
    if (!opts.quiet) console.log(l);
  };
  const prov = provenance(cfg);
  const provText = JSON.stringify(prov, null, 2) + "\n";
  const provFile = path.join(dir, "provenance.json");
  const metricsFile = path.join(dir, "metrics.json");
  const release = lockRun(dir, cfg.name, log);
  try {
    const reuse = reusableMetrics(dir, provText, !!opts.fresh);
    if (reuse.metrics) {
      log(
        `[${cfg.name}] reusing the finished run in ${dir} (same config, data and init weights): test accuracy ${(100 * reuse.metrics.test_acc).toFixed(2)}%`,
      );
      return reuse.metrics;
    }
    const same =
      !opts.fresh && fs.existsSync(provFile) && fs.readFileSync(provFile, "utf8") === provText;
    if (!same) {
      // Checkpoints of another config must not be resumed from.
      removeCheckpoints(path.join(dir, "checkpoints"));
      fs.rmSync(metricsFile, { force: true });
    } else
      log(`[${cfg.name}] not finished (${reuse.why}): resuming from its last checkpoint, if any`);
    writeJsonAtomic(path.join(dir, "config.json"), cfg);
    writeJsonAtomic(provFile, prov);
    return await trainAndTest(cfg, dir, backend, same, opts, log);
  } finally {
    release();
  }
}

/**
 * Refuses, before training, a batch whose forward activations alone (a lower bound on what a
 * training step holds) exceed what the backend can address: 4 GiB for wasm32, the machine's
 * memory otherwise. The error gives the numbers and the largest batch under that bound.
 */
function checkMemory(model: tf.LayersModel, batch: number, backend: BackendInfo): void {
  // Per image: every layer's output, 4 bytes a value ([null, h, w, c] -> h*w*c).
  const perImage = model.layers.reduce((a, l) => {
    const shapes = (Array.isArray(l.outputShape[0]) ? l.outputShape : [l.outputShape]) as Array<
      Array<number | null>
    >;
    return (
      a + shapes.reduce((b, s) => b + s.slice(1).reduce<number>((p, d) => p * (d ?? 1), 1) * 4, 0)
    );
  }, 0);
  const limit = backend.name === "wasm" ? 4 * 2 ** 30 : os.totalmem();
  const where =
    backend.name === "wasm"
      ? "the wasm backend addresses at most 4.0 GiB"
      : `this machine has ${(limit / 2 ** 30).toFixed(1)} GiB`;
  if (perImage * batch > limit)
    throw new Error(
      `batch ${batch} needs at least ${((perImage * batch) / 2 ** 30).toFixed(1)} GiB of activations for ${model.name} at ${model.inputs[0].shape[1]} px, but ${where}; lower --batch (above ${Math.max(1, Math.floor(limit / perImage))} it cannot fit)`,
    );
}

async function trainAndTest(
  cfg: RunConfig,
  dir: string,
  backend: BackendInfo,
  resume: boolean,
  opts: {
    quiet?: boolean;
    onLine?: (l: string) => void;
    onEpoch?: (r: EpochRecord, h: EpochRecord[]) => void | Promise<void>;
  },
  log: (l: string) => void,
): Promise<RunMetrics> {
  const trainSplit = new SplitReader(splitFile(cfg.data, "train"));
  const valSplit = fs.existsSync(splitFile(cfg.data, "val"))
    ? new SplitReader(splitFile(cfg.data, "val"))
    : undefined;
  const testSplit = new SplitReader(splitFile(cfg.data, "test"));
  const spec = trainSplit.header.spec;
  const model = buildModel(
    validateModelSpec({
      name: cfg.model,
      inputSize: spec.difficulty.size,
      classes: spec.difficulty.lanes,
      seed: cfg.modelSeed,
    }),
  );
  try {
    checkMemory(model, cfg.train.batchSize, backend);
    if (cfg.init) await loadInit(model, cfg.init);
    const fr = freeze(model, cfg.freeze);
    log(
      `[${cfg.name}] ${describe(backend)}; ${cfg.model} on ${cfg.data} (${spec.task}, hops ${spec.hops}, ${trainSplit.count} train); freeze '${cfg.freeze}': ${fr.trainableParams.toLocaleString("en")} trainable, ${fr.frozenParams.toLocaleString("en")} frozen`,
    );
    if (!opts.quiet) console.log(formatSummary(model));
    const res = await train(model, { train: trainSplit, val: valSplit }, cfg.train, {
      checkpointDir: path.join(dir, "checkpoints"),
      resume,
      extraFiles: { "run-config.json": cfg },
      quiet: opts.quiet,
      onLine: opts.onLine,
      onEpoch: opts.onEpoch,
    });
    const best = path.join(dir, "checkpoints", "best");
    if (fs.existsSync(path.join(best, "model.json"))) await loadInit(model, best);
    const te = Date.now();
    const ev = evaluate(model, testSplit, 64);
    const validity = validityMetrics(model, cfg.data, ev, testSplit.records.labels);
    const metrics: RunMetrics = {
      name: cfg.name,
      model: cfg.model,
      task: spec.task,
      hops: spec.hops,
      stage: stageOf(cfg.init, spec.task),
      frozen: cfg.freeze,
      train_count: trainSplit.count,
      epochs: res.history.length,
      test_acc: ev.accuracy,
      ci95: ev.ci95,
      test_loss: ev.loss,
      test_count: ev.count,
      chance: 1 / spec.difficulty.lanes,
      confusion: ev.confusion,
      best_epoch: res.bestEpoch,
      seconds: res.seconds + (Date.now() - te) / 1000,
      backend: backend.name,
      trainable_params: fr.trainableParams,
      frozen_params: fr.frozenParams,
      ...validity,
    };
    writeJsonAtomic(path.join(dir, "metrics.json"), metrics);
    log(
      `[${cfg.name}] test accuracy ${(100 * ev.accuracy).toFixed(2)}% (95% CI ${(100 * ev.ci95[0]).toFixed(1)}-${(100 * ev.ci95[1]).toFixed(1)}, n=${ev.count}; rung-blind rule ${(100 * validity.rung_blind_bayes).toFixed(1)}%, chance ${(100 / spec.difficulty.lanes).toFixed(1)}%) in ${metrics.seconds.toFixed(0)} s`,
    );
    return metrics;
  } finally {
    model.dispose();
    trainSplit.close();
    valSplit?.close();
    testSplit.close();
  }
}

/** A finished run's best checkpoint (by validation accuracy), or its last one. */
export async function loadRunModel(runsDir: string, name: string): Promise<tf.LayersModel> {
  const base = path.join(runsDir, name, "checkpoints");
  const dir = fs.existsSync(path.join(base, "best", "model.json"))
    ? path.join(base, "best")
    : path.join(base, "last");
  if (!fs.existsSync(path.join(dir, "model.json")))
    throw new Error(`run '${name}' has no checkpoint under ${base}; train it first`);
  return loadModel(dir);
}

export function loadHistory(runsDir: string, name: string): EpochRecord[] {
  const f = path.join(runsDir, name, "checkpoints", "history.json");
  if (!fs.existsSync(f)) throw new Error(`run '${name}' has no history at ${f}`);
  return JSON.parse(fs.readFileSync(f, "utf8"));
}
