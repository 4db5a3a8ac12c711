import { checkValue, fieldKnob, Kind, Knob } from "../util/knobs";

export const OPTIMIZERS = ["adamw", "adam"] as const;

/** One training run's hyperparameters: validated once, printed, saved beside checkpoints. */
export interface TrainConfig {
  /** Passes over the stored training split: the budget when `images` is 0. */
  epochs: number;
  /** Training images to see (the budget; 0: `epochs` passes). Evaluated at log-spaced counts. */
  images: number;
  /** Draw fresh training puzzles from the generator instead of the stored training split. */
  stream: boolean;
  batchSize: number;
  /** Peak learning rate (after warm-up; cosine decay to 0 at the end). */
  lr: number;
  optimizer: (typeof OPTIMIZERS)[number];
  /** Decoupled weight decay (AdamW) on conv/dense kernels; norms and biases are not decayed. */
  weightDecay: number;
  /** Epochs of linear warm-up (epoch budgets). */
  warmupEpochs: number;
  /** Images of linear warm-up (image budgets). */
  warmupImages: number;
  labelSmoothing: number;
  /** Stop after this many epochs without a better validation accuracy; 0 = never. */
  earlyStopPatience: number;
  /** Seeds the per-epoch shuffling. */
  seed: number;
  /** Validate on at most this many samples (the split's first ones) per evaluation; 0 = all. */
  valLimit: number;
}

export const DEFAULT_TRAIN: TrainConfig = {
  epochs: 10,
  images: 0,
  stream: false,
  batchSize: 32,
  lr: 1e-3,
  optimizer: "adamw",
  weightDecay: 0.01,
  warmupEpochs: 1,
  warmupImages: 0,
  labelSmoothing: 0,
  earlyStopPatience: 0,
  seed: 0,
  valLimit: 0,
};

/** Every field of TrainConfig: what it parses as, its bounds, its one-line comment. */
const TRAIN_FIELDS: Array<{
  field: keyof TrainConfig;
  kind: Kind;
  doc: string;
  min?: number;
  max?: number;
  choices?: () => readonly string[];
}> = [
  {
    field: "epochs",
    kind: "int",
    min: 1,
    max: 10_000,
    doc: "passes over the stored training set (the budget when images is 0)",
  },
  {
    field: "images",
    kind: "int",
    min: 0,
    max: 1e10,
    doc: "training images to see (0: epochs passes); evaluated at log-spaced counts",
  },
  {
    field: "stream",
    kind: "bool",
    doc: "draw fresh training puzzles (training ladders only) instead of the stored split",
  },
  { field: "batchSize", kind: "int", min: 1, max: 4096, doc: "images per step" },
  {
    field: "lr",
    kind: "number",
    min: 1e-7,
    max: 10,
    doc: "peak learning rate (linear warm-up, cosine decay to 0)",
  },
  { field: "optimizer", kind: "string", choices: () => OPTIMIZERS, doc: OPTIMIZERS.join(" | ") },
  {
    field: "weightDecay",
    kind: "number",
    min: 0,
    max: 1,
    doc: "decoupled weight decay on conv/dense kernels",
  },
  {
    field: "warmupEpochs",
    kind: "number",
    min: 0,
    max: 10_000,
    doc: "epochs of linear learning-rate warm-up (epoch budgets)",
  },
  {
    field: "warmupImages",
    kind: "int",
    min: 0,
    max: 1e10,
    doc: "images of linear learning-rate warm-up (image budgets)",
  },
  { field: "labelSmoothing", kind: "number", min: 0, max: 0.5, doc: "0..0.5" },
  {
    field: "earlyStopPatience",
    kind: "int",
    min: 0,
    max: 10_000,
    doc: "stop after this many evaluations without a better val accuracy (0: never)",
  },
  { field: "seed", kind: "int", min: 0, max: 2 ** 31, doc: "seeds the shuffling" },
  {
    field: "valLimit",
    kind: "int",
    min: 0,
    max: 1e9,
    doc: "validate on the first this-many val puzzles at each evaluation (0: all)",
  },
];

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

/**
 * The knobs of the TrainConfig at `path` of a config C: `prefix` names them (`stage1` ->
 * `stage1Lr`; "" -> `lr`), `label` starts each comment. Fields in `omit` are set elsewhere (an
 * experiment's `seeds` sets every run's seed).
 */
export function trainKnobs<C>(
  prefix: string,
  label: string,
  path: readonly string[],
  omit: ReadonlyArray<keyof TrainConfig> = [],
): Knob<C>[] {
  return TRAIN_FIELDS.filter((f) => !omit.includes(f.field)).map((f) =>
    fieldKnob<C>(
      prefix ? `${prefix}${cap(f.field)}` : f.field,
      f.kind,
      [...path, f.field],
      label ? `${label}: ${f.doc}` : f.doc,
      f,
    ),
  );
}

/** `where` names the config in messages (an experiment's "stage1", "stage2"); "train" by default. */
export function validateTrainConfig(c: TrainConfig, where = "train"): TrainConfig {
  for (const f of TRAIN_FIELDS)
    checkValue(
      { ...f, key: f.field, get: () => 0, set: () => {} },
      c[f.field],
      `${where}.${f.field}`,
    );
  if (c.warmupEpochs > c.epochs)
    throw new Error(
      `${where}.warmupEpochs must be at most its epochs (${c.epochs}), got ${c.warmupEpochs}`,
    );
  if (c.stream && c.images === 0)
    throw new Error(`${where}.stream needs an images budget (a stream has no epochs); set images`);
  if (c.images > 0 && c.warmupImages > c.images)
    throw new Error(
      `${where}.warmupImages must be at most its images (${c.images}), got ${c.warmupImages}`,
    );
  return c;
}

/** The training seeds of a mode that repeats every run once per seed (the top-level `seeds`). */
export function seedsKnob<C>(): Knob<C> {
  return fieldKnob<C>(
    "seeds",
    "ints",
    ["seeds"],
    "training seeds; every run is repeated once per seed",
    {
      min: 0,
      max: 2 ** 31,
    },
  );
}

/**
 * The recipe that learned plain tracing here, on fresh puzzles: TASK_SPEC's ("Images seen is the
 * budget": AdamW, weight decay 0.05, no warm-up, cosine to 0, batch 128) with a peak learning rate
 * of 4e-3, which learned far faster from fresh puzzles than its 2e-3 (README, "Choosing quick's
 * recipe"); validated on the first 500 validation puzzles at log-spaced image counts.
 */
export function streamedRecipe(images: number, o: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...DEFAULT_TRAIN,
    images,
    stream: true,
    batchSize: 128,
    lr: 4e-3,
    weightDecay: 0.05,
    warmupEpochs: 0,
    valLimit: 500,
    ...o,
  };
}
