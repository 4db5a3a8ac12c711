import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { epochOrder, imagesToTensor } from "../data/batches";
import { StreamSource } from "../data/stream";
import { evaluate } from "./evaluate";
import { cosineWithWarmup } from "./schedule";
import { TrainConfig, validateTrainConfig } from "./config";
import { ExtraFiles, loadModel } from "../models/io";
import { Progress } from "../util/progress";
import { commitCheckpoints } from "./checkpoints";
import { AdamW } from "./adamw";
import { readJsonFile } from "../util/json";

export interface EpochRecord {
  /** Evaluation number from 1: the epoch with an epoch budget; with an image budget, the n-th log-spaced evaluation. */
  epoch: number;
  /** Training images seen when it was evaluated. */
  images: number;
  /** Training loss and accuracy over the steps since the previous evaluation. */
  train_loss: number;
  train_acc: number;
  val_loss: number | null;
  val_acc: number | null;
  lr: number;
  /** Seconds since the previous evaluation (training and this validation). */
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
  /** Training images seen. */
  images: number;
}

export interface TrainOptions {
  /**
   * Writes `last/` (resumable: weights, optimizer, state), `best/` (by val accuracy) and
   * history.json here, all three switched together at each evaluation (see checkpoints.ts), and
   * `last/` at least every CHECKPOINT_MS between evaluations.
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

/** The longest a run goes without a resumable checkpoint (image budgets evaluate ever more rarely). */
const CHECKPOINT_MS = 10 * 60 * 1000;

interface TrainerState {
  /** Evaluations done, minus one. */
  epoch: number;
  /** Optimisation steps done (absent in checkpoints of epoch budgets made before image budgets). */
  step?: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestValAcc: number | null;
  sinceBest: number;
  /** Training seconds of every part so far (a resumed run adds its own). */
  seconds?: number;
  /** Loss, hits and images since the last evaluation, so a resumed window reports the same. */
  window?: { loss: number; correct: number; seen: number };
}

async function restore(model: tf.LayersModel, opt: AdamW, dir: string): Promise<TrainerState> {
  const saved = await loadModel(dir);
  model.setWeights(saved.getWeights());
  saved.dispose();
  // Both are covered by the checkpoint's checksums, verified when loadModel read it.
  const state = readJsonFile<TrainerState>(path.join(dir, "state.json"), "trainer state");
  const specs = readJsonFile<never>(path.join(dir, "optimizer.json"), "optimizer state");
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

/**
 * What a run's steps are: how many, the warm-up, after which steps to evaluate, and each step's
 * batch. Epoch budgets: passes over the stored split in a per-epoch order fixed by (seed, epoch),
 * the last batch of each pass partial, an evaluation after each pass. Image budgets: full batches
 * over the concatenated per-epoch orders (or the stream), evaluations at log-spaced image counts
 * (about four per decade from 1,000) and at the end.
 */
interface StepPlan {
  totalSteps: number;
  warmupSteps: number;
  /** Steps after which the run evaluates, ascending; the last is totalSteps. */
  evalAfter: number[];
  /** Images seen once `steps` steps are done. */
  imagesAfter: (steps: number) => number;
  /** The batch of step `step`. */
  batchAt: (step: number) => Promise<{ images: Uint8Array[] | Uint8Array; labels: Int32Array }>;
  /** Epoch budgets: steps per pass (progress is shown per pass). */
  stepsPerEpoch?: number;
}

/** Image counts, about four per decade from 1,000, at which an image budget evaluates. */
export function evaluationImages(total: number): number[] {
  const marks: number[] = [];
  for (let k = 0; ; k++) {
    const m = Math.round(1000 * 10 ** (k / 4));
    if (m >= total) break;
    marks.push(m);
  }
  return [...marks, total];
}

function stepPlan(cfg: TrainConfig, train: SplitReader, stream?: StreamSource): StepPlan {
  const count = train.count;
  const B = cfg.batchSize;
  const orders = new Map<number, number[]>();
  const order = (e: number) => {
    if (!orders.has(e)) {
      orders.clear();
      orders.set(e, epochOrder(count, cfg.seed, e, true));
    }
    return orders.get(e)!;
  };
  const stored = (indices: number[]) => ({
    images: indices.map((i) => train.image(i)),
    labels: Int32Array.from(indices, (i) => train.records.labels[i]),
  });
  if (cfg.images === 0) {
    const spe = Math.ceil(count / B);
    return {
      totalSteps: cfg.epochs * spe,
      warmupSteps: Math.round(cfg.warmupEpochs * spe),
      evalAfter: Array.from({ length: cfg.epochs }, (_, e) => (e + 1) * spe),
      imagesAfter: (s) => Math.floor(s / spe) * count + Math.min((s % spe) * B, count),
      batchAt: async (s) => {
        const k = s % spe;
        return stored(order(Math.floor(s / spe)).slice(k * B, (k + 1) * B));
      },
      stepsPerEpoch: spe,
    };
  }
  const totalSteps = Math.ceil(cfg.images / B);
  const evalAfter = [...new Set(evaluationImages(cfg.images).map((m) => Math.ceil(m / B)))];
  return {
    totalSteps,
    warmupSteps: Math.round(cfg.warmupImages / B),
    evalAfter,
    imagesAfter: (s) => s * B,
    batchAt: stream
      ? (s) => stream.batch(s)
      : async (s) =>
          stored(
            Array.from({ length: B }, (_, j) => {
              const p = s * B + j;
              return order(Math.floor(p / count))[p % count];
            }),
          ),
  };
}

/** Adds the evaluation to the state; true when its validation accuracy is the best so far. */
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

function epochLine(rec: EpochRecord, cfg: TrainConfig): string {
  const where =
    cfg.images === 0
      ? `epoch ${rec.epoch}/${cfg.epochs}`
      : `${rec.images.toLocaleString("en")}/${cfg.images.toLocaleString("en")} images`;
  return (
    `${where}: train loss ${rec.train_loss.toFixed(4)} acc ${(100 * rec.train_acc).toFixed(2)}%` +
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
 * Trains `model` for its budget (`cfg.images` images, or `cfg.epochs` passes) from the stored
 * training split or, with `cfg.stream`, from `data.stream`: step by step on the cosine schedule,
 * evaluating on the validation split (its first `cfg.valLimit` puzzles) after each pass or at
 * log-spaced image counts, keeping the best checkpoint by validation accuracy, and resuming from
 * `last/` bit for bit (the data of step s is a function of s).
 */
export async function train(
  model: tf.LayersModel,
  data: { train: SplitReader; val?: SplitReader; stream?: StreamSource },
  cfg: TrainConfig,
  opts: TrainOptions = {},
): Promise<TrainResult> {
  validateTrainConfig(cfg);
  const classes = checkShapes(model, data.train);
  if (cfg.stream && !data.stream) throw new Error("cfg.stream is set but no stream was given");
  const plan = stepPlan(cfg, data.train, cfg.stream ? data.stream : undefined);
  const { height, width } = data.train.header.image;
  const opt = new AdamW(model.trainableWeights);
  const lastDir = opts.checkpointDir && path.join(opts.checkpointDir, "last");
  let state: TrainerState = {
    epoch: -1,
    step: 0,
    history: [],
    bestEpoch: -1,
    bestValAcc: null,
    sinceBest: 0,
  };
  if (opts.resume && lastDir && fs.existsSync(lastDir)) {
    state = await restore(model, opt, lastDir);
    const line = `resumed from ${cfg.images ? `step ${state.step}` : `epoch ${state.epoch + 1}`} (${lastDir})`;
    opts.onLine?.(line);
    if (!opts.quiet) console.log(line);
  }
  // Checkpoints of epoch budgets made before `step` existed stand at an epoch's end.
  let step = state.step ?? (state.epoch + 1) * (plan.stepsPerEpoch ?? 0);
  const win = state.window ?? { loss: 0, correct: 0, seen: 0 };
  const t0 = Date.now();
  const earlier = state.seconds ?? 0;
  let lastCheckpoint = Date.now();
  let windowStart = Date.now();
  const patienceSpent = () => cfg.earlyStopPatience > 0 && state.sinceBest >= cfg.earlyStopPatience;
  // A run killed after its early stop was checkpointed must not train on when resumed.
  let stoppedEarly = patienceSpent();
  const save = async (improved: boolean) => {
    if (!opts.checkpointDir) return;
    state.step = step;
    state.window = { ...win };
    state.seconds = earlier + (Date.now() - t0) / 1000;
    await checkpoint(opts.checkpointDir, model, opt, state, improved, opts.extraFiles);
    lastCheckpoint = Date.now();
  };
  let progress: Progress | null = null;
  let lr = cfg.lr;
  try {
    while (step < plan.totalSteps && !stoppedEarly) {
      const spe = plan.stepsPerEpoch;
      if (spe !== undefined && step % spe === 0)
        progress = new Progress(`epoch ${step / spe + 1}/${cfg.epochs}`, spe, {
          unit: "steps",
          quiet: opts.quiet,
          onLine: opts.onLine,
        });
      else if (!progress)
        progress = new Progress("train", plan.totalSteps, {
          unit: "steps",
          quiet: opts.quiet,
          onLine: opts.onLine,
          done: step,
        });
      lr = cosineWithWarmup(step, plan.totalSteps, plan.warmupSteps, cfg.lr);
      const b = await plan.batchAt(step);
      const n = b.labels.length;
      const xs = imagesToTensor(b.images, height, width);
      const { loss, correct } = trainStep(model, opt, xs, b.labels, classes, cfg, lr);
      xs.dispose();
      step++;
      win.loss += loss * n;
      win.correct += correct;
      win.seen += n;
      const secs = (Date.now() - windowStart) / 1000;
      progress.tick(
        1,
        `loss ${(win.loss / win.seen).toFixed(4)} acc ${((100 * win.correct) / win.seen).toFixed(1)}% ${(win.seen / secs).toFixed(1)} img/s lr ${lr.toExponential(2)}`,
      );
      if (!plan.evalAfter.includes(step)) {
        if (Date.now() - lastCheckpoint > CHECKPOINT_MS) await save(false);
        continue;
      }
      const val = data.val
        ? evaluate(model, data.val, Math.max(cfg.batchSize, 64), cfg.valLimit || undefined)
        : null;
      const seconds = (Date.now() - windowStart) / 1000;
      const rec: EpochRecord = {
        epoch: state.epoch + 2,
        images: plan.imagesAfter(step),
        train_loss: win.loss / win.seen,
        train_acc: win.correct / win.seen,
        val_loss: val ? val.loss : null,
        val_acc: val ? val.accuracy : null,
        lr,
        seconds,
        images_per_s: win.seen / seconds,
      };
      const improved = noteEpoch(state, rec);
      const line = epochLine(rec, cfg);
      opts.onLine?.(line);
      if (!opts.quiet) console.log(line);
      Object.assign(win, { loss: 0, correct: 0, seen: 0 });
      await save(improved);
      windowStart = Date.now();
      await opts.onEpoch?.(rec, state.history);
      if (patienceSpent()) {
        stoppedEarly = true;
        opts.onLine?.(
          `early stop: no better validation accuracy for ${cfg.earlyStopPatience} evaluations`,
        );
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
    images: plan.imagesAfter(step),
  };
}
