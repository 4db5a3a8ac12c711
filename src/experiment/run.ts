import * as fs from "fs";
import { createHash } from "crypto";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { readManifest, SplitReader, verifyDataset } from "../data/format";
import { StreamSource } from "../data/stream";
import { readDataset } from "../data/generate";
import { splitFile, SPLITS } from "../data/spec";
import { difficultyCapacity } from "../data/stats";
import { buildModel, modelNames, validateModelName, validateModelSpec } from "../models/registry";
import { freeze, FreezeReport, validateFreezeGroup } from "../models/freeze";
import { loadModel, verifyCheckpoint } from "../models/io";
import { acquireLock } from "../util/lock";
import { validateName } from "../util/names";
import { cleanCheckpointLeftovers } from "../train/checkpoints";
import { formatSummary } from "../models/summary";
import { train, EpochRecord, TrainResult } from "../train/trainer";
import { evaluate } from "../train/evaluate";
import { validityMetrics } from "./validity";
import { stageOf } from "./stages";
import { DEFAULT_TRAIN, trainKnobs, validateTrainConfig } from "../train/config";
import { fieldKnob, Mode } from "../util/knobs";
import { checkExisting } from "../util/json";
import { initBackend, describe, BackendInfo } from "../backend/select";
import * as os from "os";
import { cleanLeftovers, writeJsonAtomic } from "../util/atomic";
import {
  commitRun,
  readRun,
  RunConfig,
  RunMetrics,
  runLockFile,
  supersededDir,
  verifyRunCheckpoints,
} from "./rundir";

export function validateRunConfig(c: RunConfig): RunConfig {
  for (const k of ["name", "model", "data"] as const)
    if (!c[k]) throw new Error(`a training run needs a ${k} (amida train --${k} ...)`);
  validateName("run", c.name);
  validateModelName(c.model);
  validateFreezeGroup(c.freeze, c.model);
  validateTrainConfig(c.train);
  if (!Number.isInteger(c.modelSeed) || c.modelSeed < 0 || c.modelSeed > 2 ** 31)
    throw new Error(`model seed must be an integer in 0..2^31, got ${c.modelSeed}`);
  checkExisting(c.data, "dir", "the run's data set");
  for (const split of ["train", "test"] as const) {
    if (!fs.existsSync(splitFile(c.data, split)))
      throw new Error(
        `data set '${c.data}' has no ${split} split (${splitFile(c.data, split)}); make one with 'amida generate --out ${c.data}'`,
      );
  }
  if (c.init !== null)
    checkExisting(path.join(c.init, "model.json"), "file", "the init checkpoint");
  return c;
}

const K = fieldKnob<RunConfig>;

/** A single training run as a mode: `amida train`'s flags are these knobs. */
export const RUN: Mode<RunConfig> = {
  name: "training run",
  knobs: [
    K("model", "string", ["model"], "the model (see 'amida models')", {
      choices: () => modelNames(),
    }),
    K("data", "string", ["data"], "the data set directory (amida generate --out)"),
    K("name", "string", ["name"], "the run's name: it trains into RUNS/NAME/"),
    {
      key: "init",
      kind: "string",
      doc: "a checkpoint directory whose weights start the run ('': from scratch)",
      get: (c) => c.init ?? "",
      set: (c, v) => (c.init = v === "" ? null : (v as string)),
    },
    K(
      "freeze",
      "string",
      ["freeze"],
      "none | first5 | stem+early-transformer | all-but-head | early:<percent>",
    ),
    K("modelSeed", "int", ["modelSeed"], "seeds the model's initial weights", {
      min: 0,
      max: 2 ** 31,
    }),
    ...trainKnobs<RunConfig>("", "", ["train"]),
  ],
  budgets: {
    default: () => ({
      name: "",
      model: "",
      data: "",
      init: null,
      freeze: "none",
      train: { ...DEFAULT_TRAIN },
      modelSeed: 0,
    }),
  },
  validate: validateRunConfig,
  file: null,
};

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
 * What a finished run was made from: its config, the hashes of its data files and, for a
 * fine-tune, of the weights it started from (paths alone do not say whether the data or stage 1
 * were remade since). Both are checked whole here, before any work: a corrupt data set or init
 * checkpoint is refused by name.
 */
function provenance(cfg: RunConfig): {
  config: RunConfig;
  initSha256: string | null;
  dataSha256: Record<string, string>;
} {
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

/**
 * Trains and tests one run into `runsDir/<name>/` (src/experiment/rundir.ts has the layout). The
 * test accuracy is that of the best-by-validation checkpoint. Re-running with the same provenance
 * reuses the finished run (or resumes an interrupted one from its last checkpoint); a changed
 * config, or `fresh`, trains anew.
 *
 * Nothing the user has is lost on the way: every check that can refuse the run (config, data set
 * and init checkpoint hashes, the model against the data, the init weights against the model,
 * memory) runs before the run's directory is touched; a run being replaced is moved aside and
 * removed only once the new one commits (and put back if the new one fails before its first
 * checkpoint); and the data set is registered as read, so no `generate` replaces it meanwhile.
 */
export async function runTraining(
  cfg: RunConfig,
  opts: {
    runsDir: string;
    fresh?: boolean;
    quiet?: boolean;
    onLine?: (l: string) => void;
    onEpoch?: (r: EpochRecord, h: EpochRecord[]) => void | Promise<void>;
    /** Processes rendering a streamed run's puzzles (default: the cores this run leaves free). */
    generators?: number;
  },
): Promise<RunMetrics> {
  validateRunConfig(cfg);
  const backend = await initBackend(undefined, { quiet: true });
  const dir = path.join(opts.runsDir, cfg.name);
  const log = (l: string) => {
    opts.onLine?.(l);
    if (!opts.quiet) console.log(l);
  };
  const releaseData = readDataset(cfg.data, `training run '${cfg.name}'`);
  try {
    const prov = provenance(cfg);
    const provText = JSON.stringify(prov, null, 2) + "\n";
    const release = lockRun(opts.runsDir, cfg.name, log);
    try {
      restoreSuperseded(opts.runsDir, cfg.name, provText, log);
      const rec = readRun(dir);
      const same = rec.provenance === provText && !opts.fresh;
      if (same && rec.state === "finished") {
        verifyRunCheckpoints(dir);
        log(
          `[${cfg.name}] reusing the finished run in ${dir} (same config, data and init weights): test accuracy ${(100 * rec.metrics!.test_acc).toFixed(2)}%`,
        );
        return rec.metrics!;
      }
      // Everything that can refuse this run, before anything of an existing run is touched.
      const { model, frozen } = await prepareModel(cfg, backend);
      try {
        const resume = same && rec.state === "unfinished";
        if (resume)
          log(
            `[${cfg.name}] not finished (${rec.reason}): resuming from its last checkpoint, if any`,
          );
        else {
          if (rec.state !== "missing")
            log(
              `[${cfg.name}] ${opts.fresh ? "--fresh" : rec.state === "corrupt" ? `the run in ${dir} cannot be trusted (${rec.reason})` : "new or changed config, data or init weights"}: training anew; the old run is kept in ${supersededDir(opts.runsDir, cfg.name)} until the new one finishes`,
            );
          supersede(opts.runsDir, cfg.name);
          fs.mkdirSync(dir, { recursive: true });
          writeJsonAtomic(path.join(dir, "config.json"), cfg);
          writeJsonAtomic(path.join(dir, "provenance.json"), prov);
        }
        let metrics: RunMetrics;
        try {
          metrics = await trainAndTest(cfg, model, frozen, dir, backend, resume, opts, log);
        } catch (e) {
          // A new run that failed before its first checkpoint gives the old one back.
          if (!resume && !fs.existsSync(path.join(dir, "checkpoints")))
            unsupersede(opts.runsDir, cfg.name);
          throw e;
        }
        commitRun(dir);
        fs.rmSync(supersededDir(opts.runsDir, cfg.name), { recursive: true, force: true });
        return metrics;
      } finally {
        model.dispose();
      }
    } finally {
      release();
    }
  } finally {
    releaseData();
  }
}

/** Takes the run's lock (refusing a second writer) and removes what crashed writers left in it. */
function lockRun(runsDir: string, name: string, log: (l: string) => void): () => void {
  const release = acquireLock(runLockFile(runsDir, name), `training run '${name}'`);
  const dir = path.join(runsDir, name);
  const gone = [
    ...cleanCheckpointLeftovers(path.join(dir, "checkpoints")),
    ...cleanLeftovers(dir, { inside: true }),
  ];
  if (gone.length)
    log(`[${name}] removed ${gone.length} leftover(s) of an interrupted write: ${gone.join(", ")}`);
  return release;
}

/**
 * Moves the run directory aside (where it stays until the new run commits); an earlier superseded
 * run is kept instead when the directory holds no finished run (an interrupted retrain), so the
 * last finished run is the one that survives.
 */
function supersede(runsDir: string, name: string): void {
  const dir = path.join(runsDir, name);
  const aside = supersededDir(runsDir, name);
  if (!fs.existsSync(dir)) return;
  if (fs.existsSync(aside) && readRun(dir, name).state !== "finished")
    fs.rmSync(dir, { recursive: true, force: true });
  else {
    fs.rmSync(aside, { recursive: true, force: true });
    fs.renameSync(dir, aside);
  }
}

/** Puts the superseded run back (the new one failed before it had anything to resume from). */
function unsupersede(runsDir: string, name: string): void {
  const aside = supersededDir(runsDir, name);
  if (!fs.existsSync(aside)) return;
  fs.rmSync(path.join(runsDir, name), { recursive: true, force: true });
  fs.renameSync(aside, path.join(runsDir, name));
}

/** When the superseded run is exactly what is asked for again, it comes back instead of retraining. */
function restoreSuperseded(
  runsDir: string,
  name: string,
  provText: string,
  log: (l: string) => void,
): void {
  const aside = supersededDir(runsDir, name);
  if (!fs.existsSync(aside)) return;
  const old = readRun(aside, name);
  if (old.state === "finished" && old.provenance === provText) {
    log(`[${name}] the finished run kept in ${aside} is what is asked for again: restoring it`);
    unsupersede(runsDir, name);
  }
}

/** Builds the model for the run's data, checks its memory and loads its starting weights: every refusal before training. */
async function prepareModel(
  cfg: RunConfig,
  backend: BackendInfo,
): Promise<{ model: tf.LayersModel; frozen: FreezeReport }> {
  const spec = readManifest(cfg.data).spec;
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
    return { model, frozen: freeze(model, cfg.freeze) };
  } catch (e) {
    model.dispose();
    throw e;
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
  model: tf.LayersModel,
  fr: FreezeReport,
  dir: string,
  backend: BackendInfo,
  resume: boolean,
  opts: {
    quiet?: boolean;
    onLine?: (l: string) => void;
    onEpoch?: (r: EpochRecord, h: EpochRecord[]) => void | Promise<void>;
    generators?: number;
  },
  log: (l: string) => void,
): Promise<RunMetrics> {
  const trainSplit = new SplitReader(splitFile(cfg.data, "train"));
  const valSplit = fs.existsSync(splitFile(cfg.data, "val"))
    ? new SplitReader(splitFile(cfg.data, "val"))
    : undefined;
  const testSplit = new SplitReader(splitFile(cfg.data, "test"));
  const spec = trainSplit.header.spec;
  try {
    // What the run can see: fresh puzzles from the training ladders, or passes over a stored set.
    const ladders = Math.round(difficultyCapacity(spec.difficulty).ladders / SPLITS.length);
    const seen = cfg.train.stream
      ? `${cfg.train.images.toLocaleString("en")} fresh puzzles from ~${ladders.toLocaleString("en")} training ladders`
      : `${trainSplit.count} stored puzzles (${trainSplit.header.stats.distinct_ladders} ladders of ~${ladders.toLocaleString("en")})`;
    log(
      `[${cfg.name}] ${describe(backend)}; ${cfg.model} on ${cfg.data} (${spec.task}, hops ${spec.hops}, ${seen}); freeze '${cfg.freeze}': ${fr.trainableParams.toLocaleString("en")} trainable, ${fr.frozenParams.toLocaleString("en")} frozen`,
    );
    if (!opts.quiet) console.log(formatSummary(model));
    // A streamed run draws from its own stream (its training seed) of this data set's spec,
    // rendered by generator processes when the run is long enough to pay for starting them.
    const generators = cfg.train.images >= 20_000 ? (opts.generators ?? freeCores()) : 0;
    const stream = cfg.train.stream
      ? new StreamSource(spec, cfg.train.seed, cfg.train.batchSize, generators)
      : undefined;
    let res: TrainResult;
    try {
      res = await train(model, { train: trainSplit, val: valSplit, stream }, cfg.train, {
        checkpointDir: path.join(dir, "checkpoints"),
        resume,
        extraFiles: { "run-config.json": cfg },
        quiet: opts.quiet,
        onLine: opts.onLine,
        onEpoch: opts.onEpoch,
      });
    } finally {
      stream?.close();
    }
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
      stream: cfg.train.stream,
      images_seen: res.images,
      epochs: res.history.length,
      curve: res.history.map((h) => [h.images, h.val_acc]),
      train_curve: res.history.map((h) => [h.images, h.train_acc]),
      test_acc: ev.accuracy,
      ci95: ev.ci95,
      test_loss: ev.loss,
      test_count: ev.count,
      chance: 1 / spec.difficulty.lanes,
      confusion: ev.confusion,
      best_epoch: res.bestEpoch,
      best_images: res.history.find((h) => h.epoch === res.bestEpoch)?.images ?? res.images,
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
    trainSplit.close();
    valSplit?.close();
    testSplit.close();
  }
}

/** Cores a lone run can give to rendering streamed puzzles (all but its own), at most 8. */
export function freeCores(workers = 1): number {
  return Math.max(0, Math.min(8, Math.floor(os.availableParallelism() / workers) - 1));
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
