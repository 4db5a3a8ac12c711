export const OPTIMIZERS = ["adamw", "adam"] as const;

/** One training run's hyperparameters: validated once, printed, saved beside checkpoints. */
export interface TrainConfig {
  epochs: number;
  batchSize: number;
  /** Peak learning rate (after warm-up; cosine decay to 0 at the end). */
  lr: number;
  optimizer: (typeof OPTIMIZERS)[number];
  /** Decoupled weight decay (AdamW) on conv/dense kernels; norms and biases are not decayed. */
  weightDecay: number;
  warmupEpochs: number;
  labelSmoothing: number;
  /** Stop after this many epochs without a better validation accuracy; 0 = never. */
  earlyStopPatience: number;
  /** Seeds the per-epoch shuffling. */
  seed: number;
  /** Validate on at most this many samples per epoch; 0 = the whole split. */
  valLimit: number;
}

export const DEFAULT_TRAIN: TrainConfig = {
  epochs: 10,
  batchSize: 32,
  lr: 1e-3,
  optimizer: "adamw",
  weightDecay: 0.01,
  warmupEpochs: 1,
  labelSmoothing: 0,
  earlyStopPatience: 0,
  seed: 0,
  valLimit: 0,
};

/** `where` names the config in messages (an experiment's "stage1", "stage2"); "train" by default. */
export function validateTrainConfig(c: TrainConfig, where = "train"): TrainConfig {
  const int = (k: keyof TrainConfig, lo: number, hi: number) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < lo || v > hi)
      throw new Error(`${where}.${k} must be an integer in ${lo}..${hi}, got ${v}`);
  };
  const num = (k: keyof TrainConfig, lo: number, hi: number) => {
    const v = c[k] as number;
    if (typeof v !== "number" || !(v >= lo && v <= hi))
      throw new Error(`${where}.${k} must be a number in ${lo}..${hi}, got ${v}`);
  };
  int("epochs", 1, 10_000);
  int("batchSize", 1, 4096);
  num("lr", 1e-7, 10);
  if (!OPTIMIZERS.includes(c.optimizer))
    throw new Error(
      `${where}.optimizer must be one of ${OPTIMIZERS.join(", ")}, got '${c.optimizer}'`,
    );
  num("weightDecay", 0, 1);
  num("warmupEpochs", 0, c.epochs);
  num("labelSmoothing", 0, 0.5);
  int("earlyStopPatience", 0, 10_000);
  int("seed", 0, 2 ** 31);
  int("valLimit", 0, 1e9);
  return c;
}
