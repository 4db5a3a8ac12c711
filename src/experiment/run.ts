import * as fs from "fs";
import { createHash } from "crypto";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { splitFile } from "../data/generate";
import { SPLITS } from "../data/spec";
import { buildModel, validateModelSpec } from "../models/registry";
import { freeze, FreezeGroup, validateFreezeGroup } from "../models/freeze";
import { loadModel } from "../models/io";
import { formatSummary } from "../models/summary";
import { train, EpochRecord } from "../train/trainer";
import { evaluate } from "../train/evaluate";
import { TrainConfig, validateTrainConfig } from "../train/config";
import { initBackend, describe } from "../backend/select";
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
  name: string;
  model: string;
  task: string;
  hops: number;
  stage: string;
  frozen: string;
  train_count: number;
  epochs: number;
  test_acc: number;
  ci95: [number, number];
  test_loss: number;
  test_count: number;
  chance: number;
  confusion: number[][];
  best_epoch: number;
  seconds: number;
  backend: string;
  trainable_params: number;
  frozen_params: number;
}

export function validateRunConfig(c: RunConfig): RunConfig {
  if (!/^[A-Za-z0-9._+-]+$/.test(c.name)) throw new Error(`run name must use letters, digits, '.', '_', '+', '-' only, got '${c.name}'`);
  validateFreezeGroup(c.freeze, c.model);
  validateTrainConfig(c.train);
  for (const split of ["train", "test"] as const) {
    if (!fs.existsSync(splitFile(c.data, split))) throw new Error(`data set '${c.data}' has no ${split} split (${splitFile(c.data, split)}); make one with 'amida generate --out ${c.data}'`);
  }
  if (c.init !== null && !fs.existsSync(path.join(c.init, "model.json"))) throw new Error(`init checkpoint '${c.init}' has no model.json`);
  return c;
}

/** Copies weights layer by layer (by name) from a saved model; the head must match too. */
async function loadInit(model: tf.LayersModel, dir: string): Promise<void> {
  const src = await loadModel(dir);
  try {
    for (const layer of model.layers) {
      if (layer.weights.length === 0) continue;
      const from = src.layers.find((l) => l.name === layer.name);
      if (!from) throw new Error(`init checkpoint '${dir}' has no layer '${layer.name}' (a different architecture?)`);
      layer.setWeights(from.getWeights());
    }
  } finally {
    src.dispose();
  }
}

export function stageOf(c: RunConfig, task: string): string {
  if (c.init) return `${task} fine-tune`;
  return task === "plain" ? "plain" : `${task} from scratch`;
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
function provenance(cfg: RunConfig): { config: RunConfig; initSha256: string | null; dataSha256: Record<string, string> } {
  const initSha256 = cfg.init ? createHash("sha256").update(fs.readFileSync(path.join(cfg.init, "weights.bin"))).digest("hex") : null;
  const dataSha256: Record<string, string> = {};
  for (const split of SPLITS) {
    const f = splitFile(cfg.data, split);
    if (!fs.existsSync(f)) continue;
    const r = new SplitReader(f, { verify: false });
    dataSha256[split] = r.header.sha256;
    r.close();
  }
  return { config: cfg, initSha256, dataSha256 };
}

/**
 * Trains and tests one run into `runsDir/<name>/`: config.json, provenance.json, history.json,
 * metrics.json and checkpoints/{last,best}. The test accuracy is that of the best-by-validation
 * checkpoint. Re-running with the same provenance reuses the finished run (or resumes an
 * interrupted one from its last checkpoint); a changed config starts over. `fresh` forces a retrain.
 */
export async function runTraining(cfg: RunConfig, opts: { runsDir: string; fresh?: boolean; quiet?: boolean; onLine?: (l: string) => void; onEpoch?: (r: EpochRecord, h: EpochRecord[]) => void | Promise<void> }): Promise<RunMetrics> {
  validateRunConfig(cfg);
  const backend = await initBackend(undefined, { quiet: true });
  const dir = path.join(opts.runsDir, cfg.name);
  const log = (l: string) => {
    opts.onLine?.(l);
    if (!opts.quiet) console.log(l);
  };
  const prov = provenance(cfg);
  const provFile = path.join(dir, "provenance.json");
  const metricsFile = path.join(dir, "metrics.json");
  const same = !opts.fresh && fs.existsSync(provFile) && fs.readFileSync(provFile, "utf8") === JSON.stringify(prov, null, 2) + "\n";
  if (same && fs.existsSync(metricsFile)) {
    const m: RunMetrics = JSON.parse(fs.readFileSync(metricsFile, "utf8"));
    log(`[${cfg.name}] reusing the finished run in ${dir} (same config and init weights): test accuracy ${(100 * m.test_acc).toFixed(2)}%`);
    return m;
  }
  if (!same) {
    // Checkpoints of another config must not be resumed from.
    fs.rmSync(path.join(dir, "checkpoints"), { recursive: true, force: true });
    fs.rmSync(metricsFile, { force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
  writeJsonAtomic(path.join(dir, "config.json"), cfg);
  writeJsonAtomic(provFile, prov);
  const trainSplit = new SplitReader(splitFile(cfg.data, "train"));
  const valSplit = fs.existsSync(splitFile(cfg.data, "val")) ? new SplitReader(splitFile(cfg.data, "val")) : undefined;
  const testSplit = new SplitReader(splitFile(cfg.data, "test"));
  const spec = trainSplit.header.spec;
  const model = buildModel(validateModelSpec({ name: cfg.model, inputSize: spec.difficulty.size, classes: spec.difficulty.lanes, seed: cfg.modelSeed }));
  try {
    if (cfg.init) await loadInit(model, cfg.init);
    const fr = freeze(model, cfg.freeze);
    log(`[${cfg.name}] ${describe(backend)}; ${cfg.model} on ${cfg.data} (${spec.task}, hops ${spec.hops}, ${trainSplit.count} train); freeze '${cfg.freeze}': ${fr.trainableParams.toLocaleString("en")} trainable, ${fr.frozenParams.toLocaleString("en")} frozen`);
    if (!opts.quiet) console.log(formatSummary(model));
    const t0 = Date.now();
    const res = await train(model, { train: trainSplit, val: valSplit }, cfg.train, {
      checkpointDir: path.join(dir, "checkpoints"),
      resume: same,
      extraFiles: { "run-config.json": cfg },
      quiet: opts.quiet,
      onLine: opts.onLine,
      onEpoch: opts.onEpoch,
    });
    const best = path.join(dir, "checkpoints", "best");
    if (fs.existsSync(path.join(best, "model.json"))) await loadInit(model, best);
    const ev = evaluate(model, testSplit, 64);
    const metrics: RunMetrics = {
      name: cfg.name,
      model: cfg.model,
      task: spec.task,
      hops: spec.hops,
      stage: stageOf(cfg, spec.task),
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
      seconds: (Date.now() - t0) / 1000,
      backend: backend.name,
      trainable_params: fr.trainableParams,
      frozen_params: fr.frozenParams,
    };
    writeJsonAtomic(path.join(dir, "metrics.json"), metrics);
    log(`[${cfg.name}] test accuracy ${(100 * ev.accuracy).toFixed(2)}% (95% CI ${(100 * ev.ci95[0]).toFixed(1)}-${(100 * ev.ci95[1]).toFixed(1)}, n=${ev.count}, chance ${(100 / spec.difficulty.lanes).toFixed(1)}%) in ${metrics.seconds.toFixed(0)} s`);
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
  const dir = fs.existsSync(path.join(base, "best", "model.json")) ? path.join(base, "best") : path.join(base, "last");
  if (!fs.existsSync(path.join(dir, "model.json"))) throw new Error(`run '${name}' has no checkpoint under ${base}; train it first`);
  return loadModel(dir);
}

export function loadHistory(runsDir: string, name: string): EpochRecord[] {
  const f = path.join(runsDir, name, "checkpoints", "history.json");
  if (!fs.existsSync(f)) throw new Error(`run '${name}' has no history at ${f}`);
  return JSON.parse(fs.readFileSync(f, "utf8"));
}
