import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { batches, epochOrder } from "../data/batches";
import { evaluate } from "./evaluate";
import { cosineWithWarmup } from "./schedule";
import { TrainConfig, validateTrainConfig } from "./config";
import { ExtraFiles, loadModel } from "../models/io";
import { Progress } from "../util/progress";
import { commitCheckpoints } from "./checkpoints";
import { AdamW } from "./adamw";

export interface EpochRecord {
  epoch: number;
  train_loss: number;
  train_acc: number;
  val_loss: number | null;
  val_acc: number | null;
  lr: number;
  seconds: number;
  images_per_s: number;
}

export interface TrainResult {
  history: EpochRecord[];
  bestEpoch: number;
  bestValAcc: number | null;
  stoppedEarly: boolean;
  /** Training seconds, summed over every part of a resumed run. */
  seconds: number;
}

export interface TrainOptions {
  /**
   * Writes `last/` (resumable: weights, optimizer, state), `best/` (by val accuracy) and
   * history.json here, all three switched together after each epoch (see checkpoints.ts).
   */
  checkpointDir?: string;
  /** Continue from checkpointDir/last if it exists. */
  resume?: boolean;
  /** Saved in every checkpoint (the experiment's config, so a checkpoint describes itself). */
  extraFiles?: ExtraFiles;
  onEpoch?: (r: EpochRecord, history: EpochRecord[]) => void | Promise<void>;
  onLine?: (line: string) => void;
  quiet?: boolean;
}

interface TrainerState {
  epoch: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestValAcc: number | null;
  sinceBest: number;
  /** Training seconds of every part so far (a resumed run adds its own). */
  seconds?: number;
}

async function restore(model: tf.LayersModel, opt: AdamW, dir: string): Promise<TrainerState> {
  const saved = await loadModel(dir);
  model.setWeights(saved.getWeights());
  saved.dispose();
  const state: TrainerState = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8"));
  const specs = JSON.parse(fs.readFileSync(path.join(dir, "optimizer.json"), "utf8"));
  opt.restore(fs.readFileSync(path.join(dir, "optimizer.bin")), specs);
  return state;
}

/**
 * One optimisation step on a batch: forward in training mode, softmax cross-entropy (with label
 * smoothing) plus any losses the layers add, Adam update of the trainable weights, then AdamW's decoupled decay of kernels.
 * Returns the batch's mean loss and number of correct predictions; leaves no tensor behind.
 */
export function trainStep(
  model: tf.LayersModel,
  opt: AdamW,
  xs: tf.Tensor4D,
  labelValues: Int32Array,
  classes: number,
  cfg: Pick<TrainConfig, "labelSmoothing" | "optimizer" | "weightDecay">,
  lr: number,
): { loss: number; correct: number } {
  const labels = tf.tensor1d(labelValues, "int32");
  const y = tf.oneHot(labels, classes);
  let hits: tf.Tensor | null = null;
  const loss = opt.minimize(
    () => {
      const logits = model.apply(xs, { training: true }) as tf.Tensor2D;
      hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "int32")));
      const ce = tf.losses.softmaxCrossEntropy(
        y,
        logits,
        undefined,
        cfg.labelSmoothing,
      ) as tf.Scalar;
      // Losses the layers add themselves (mmLiT's expert load balancing), from this forward pass.
      const added = model.calculateLosses();
      return added.length ? (tf.addN([ce, ...added]) as tf.Scalar) : ce;
    },
    lr,
    cfg.optimizer === "adamw" ? cfg.weightDecay : 0,
  );
  const out = { loss: loss.dataSync()[0], correct: (hits as unknown as tf.Tensor).dataSync()[0] };
  tf.dispose([loss, hits as unknown as tf.Tensor, y, labels]);
  return out;
}

/** The model's input size and classes must match the data's, before any step is taken. */
function checkShapes(model: tf.LayersModel, reader: SplitReader): number {
  const classes = reader.header.spec.difficulty.lanes;
  const outUnits = (model.outputs[0].shape as number[])[1];
  if (outUnits !== classes)
    throw new Error(`model has ${outUnits} outputs but the data has ${classes} classes`);
  const inSize = (model.inputs[0].shape as number[])[1];
  if (inSize !== reader.header.image.height)
    throw new Error(
      `model expects ${inSize} px images, the data has ${reader.header.image.height} px`,
    );
  return classes;
}

/** Where the learning-rate schedule stands: steps per epoch, all steps, warm-up steps. */
interface Schedule {
  stepsPerEpoch: number;
  totalSteps: number;
  warmupSteps: number;
}

/** One pass over the training split in this epoch's order; a progress line per step. */
function trainEpoch(
  model: tf.LayersModel,
  opt: AdamW,
  reader: SplitReader,
  cfg: TrainConfig,
  epoch: number,
  sched: Schedule,
  classes: number,
  opts: TrainOptions,
): { loss: number; acc: number; seen: number; lr: number } {
  const te = Date.now();
  const progress = new Progress(`epoch ${epoch + 1}/${cfg.epochs}`, sched.stepsPerEpoch, {
    unit: "steps",
    quiet: opts.quiet,
    onLine: opts.onLine,
  });
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  let lr = cfg.lr;
  let step = epoch * sched.stepsPerEpoch;
  for (const b of batches(reader, epochOrder(reader.count, cfg.seed, epoch, true), cfg.batchSize)) {
    lr = cosineWithWarmup(step++, sched.totalSteps, sched.warmupSteps, cfg.lr);
    const { loss, correct: hits } = trainStep(model, opt, b.xs, b.labels, classes, cfg, lr);
    b.xs.dispose();
    const n = b.labels.length;
    lossSum += loss * n;
    correct += hits;
    seen += n;
    const secs = (Date.now() - te) / 1000;
    progress.tick(
      1,
      `loss ${(lossSum / seen).toFixed(4)} acc ${((100 * correct) / seen).toFixed(1)}% ${(seen / secs).toFixed(1)} img/s lr ${lr.toExponential(2)}`,
    );
  }
  return { loss: lossSum / seen, acc: correct / seen, seen, lr };
}

/** Adds the epoch to the state; true when its validation accuracy is the best so far. */
function noteEpoch(state: TrainerState, rec: EpochRecord): boolean {
  state.history.push(rec);
  state.epoch = rec.epoch - 1;
  const improved =
    rec.val_acc !== null && (state.bestValAcc === null || rec.val_acc > state.bestValAcc);
  if (improved) {
    state.bestValAcc = rec.val_acc;
    state.bestEpoch = rec.epoch;
    state.sinceBest = 0;
  } else state.sinceBest++;
  return improved;
}

function epochLine(rec: EpochRecord, epochs: number): string {
  return (
    `epoch ${rec.epoch}/${epochs}: train loss ${rec.train_loss.toFixed(4)} acc ${(100 * rec.train_acc).toFixed(2)}%` +
    (rec.val_acc !== null
      ? ` | val loss ${rec.val_loss!.toFixed(4)} acc ${(100 * rec.val_acc).toFixed(2)}%`
      : "") +
    ` | ${rec.images_per_s.toFixed(1)} img/s, ${rec.seconds.toFixed(1)} s`
  );
}

/** last/ (with the optimizer, to resume bit-exactly), best/ when improved, and the history, in one commit. */
async function checkpoint(
  dir: string,
  model: tf.LayersModel,
  opt: AdamW,
  state: TrainerState,
  improved: boolean,
  extraFiles: TrainOptions["extraFiles"],
): Promise<void> {
  const o = await opt.save();
  await commitCheckpoints(dir, model, {
    epoch: state.epoch + 1,
    last: { ...extraFiles, "optimizer.bin": o.bin, "optimizer.json": o.specs, "state.json": state },
    best: improved ? { ...extraFiles, "state.json": state } : null,
    history: state.history,
  });
}

/**
 * Trains `model` for `cfg.epochs` (or until early stop): per epoch, one pass over the training
 * split, validation, the best-so-far bookkeeping, and a checkpoint; resumes from `last/`.
 */
export async function train(
  model: tf.LayersModel,
  data: { train: SplitReader; val?: SplitReader },
  cfg: TrainConfig,
  opts: TrainOptions = {},
): Promise<TrainResult> {
  validateTrainConfig(cfg);
  const classes = checkShapes(model, data.train);
  const stepsPerEpoch = Math.ceil(data.train.count / cfg.batchSize);
  const sched: Schedule = {
    stepsPerEpoch,
    totalSteps: cfg.epochs * stepsPerEpoch,
    warmupSteps: Math.round(cfg.warmupEpochs * stepsPerEpoch),
  };
  const opt = new AdamW(model.trainableWeights);
  const lastDir = opts.checkpointDir && path.join(opts.checkpointDir, "last");
  let state: TrainerState = {
    epoch: -1,
    history: [],
    bestEpoch: -1,
    bestValAcc: null,
    sinceBest: 0,
  };
  if (opts.resume && lastDir && fs.existsSync(lastDir)) {
    state = await restore(model, opt, lastDir);
    const line = `resumed from epoch ${state.epoch + 1} (${lastDir})`;
    opts.onLine?.(line);
    if (!opts.quiet) console.log(line);
  }
  const t0 = Date.now();
  const earlier = state.seconds ?? 0;
  const patienceSpent = () => cfg.earlyStopPatience > 0 && state.sinceBest >= cfg.earlyStopPatience;
  // A run killed after its early stop was checkpointed must not train on when resumed.
  let stoppedEarly = patienceSpent();
  try {
    for (let epoch = state.epoch + 1; epoch < cfg.epochs && !stoppedEarly; epoch++) {
      const te = Date.now();
      const t = trainEpoch(model, opt, data.train, cfg, epoch, sched, classes, opts);
      const val = data.val
        ? evaluate(model, data.val, Math.max(cfg.batchSize, 64), cfg.valLimit || undefined)
        : null;
      const seconds = (Date.now() - te) / 1000;
      const rec: EpochRecord = {
        epoch: epoch + 1,
        train_loss: t.loss,
        train_acc: t.acc,
        val_loss: val ? val.loss : null,
        val_acc: val ? val.accuracy : null,
        lr: t.lr,
        seconds,
        images_per_s: t.seen / seconds,
      };
      const improved = noteEpoch(state, rec);
      const line = epochLine(rec, cfg.epochs);
      opts.onLine?.(line);
      if (!opts.quiet) console.log(line);
      if (opts.checkpointDir) {
        state.seconds = earlier + (Date.now() - t0) / 1000;
        await checkpoint(opts.checkpointDir, model, opt, state, improved, opts.extraFiles);
      }
      await opts.onEpoch?.(rec, state.history);
      if (patienceSpent()) {
        stoppedEarly = true;
        opts.onLine?.(
          `early stop: no better validation accuracy for ${cfg.earlyStopPatience} epochs`,
        );
        break;
      }
    }
  } finally {
    opt.dispose();
  }
  return {
    history: state.history,
    bestEpoch: state.bestEpoch,
    bestValAcc: state.bestValAcc,
    stoppedEarly,
    seconds: earlier + (Date.now() - t0) / 1000,
  };
}
