/**
 * The experiment's configuration: one typed object, one table of knobs that reaches every field,
 * validated once. The same knobs are set from a notebook's config cell, from `AMIDA_NB_*`
 * environment variables and from `amida experiment` flags (see `KNOBS`), like nanoGPT's
 * `train.py` header: a reader sees every setting, each with a one-line comment.
 */
import {
  Difficulty,
  difficultyKnobs,
  presetDifficulty,
  validateDifficulty,
} from "../puzzle/difficulty";
import { SplitCounts, validateCounts } from "../data/spec";
import {
  DEFAULT_TRAIN,
  seedsKnob,
  TrainConfig,
  trainKnobs,
  validateTrainConfig,
} from "../train/config";
import { familyOf, modelNames, validateModelSpec } from "../models/registry";
import { Family } from "../models/entry";
import { FREEZE_GROUPS, validateFreezeGroup } from "../models/freeze";
import { attentionSpanOf } from "../models/registry";
import { dataKnobs, Sampling } from "../data/spec";
import { validateName } from "../util/names";
import { budgetOf, describeConfig, fieldKnob, Knob, Mode, Source } from "../util/knobs";

/** The two contestants of the seed's experiment. */
export const TRACKS = ["cnn", "vit"] as const;
export type Track = (typeof TRACKS)[number];
/** The architecture family each track's model must belong to. */
const TRACK_FAMILY: Record<Track, Family> = { cnn: "mobilenetv2", vit: "mobilevit" };

export interface ExperimentConfig {
  /** Runs go to runs/<name>/<run>/, data sets to data/<name>-<task>/. */
  name: string;
  /** The compute budget this config started from (tiny, quick, standard, full). */
  budget: string;
  /** Lanes (= classes), rung rows, rung-count range and image side. */
  difficulty: Difficulty;
  /** Warp hops of the stage-2 task (1 = the seed's warp). */
  hops: number;
  /** How puzzles are drawn: `debiased` (rung-blind rules score chance) or the seed's `blog`. */
  sampling: Sampling;
  /** Seeds the data sets (which puzzles, which pixels). */
  dataSeed: number;
  /** Training seeds: every run of the protocol is repeated once per seed (initial weights and shuffling). */
  seeds: number[];
  /** Puzzles per split of the plain (stage 1) data set. */
  plain: SplitCounts;
  /** Puzzles per split of the warp (stage 2 and controls) data set. */
  warp: SplitCounts;
  /** The model of each track. */
  models: Record<Track, string>;
  /** The freeze arms of the stage-2 fine-tune, per track: one fine-tune per group (and seed). */
  freeze: Record<Track, string[]>;
  /** Stage 1: plain puzzles from scratch. */
  stage1: TrainConfig;
  /** Stage 2 (warp fine-tunes) and the warp-from-scratch controls. */
  stage2: TrainConfig;
  /** Also train each model on warp from scratch (the control for the fine-tune). */
  controls: boolean;
  /** Train in one process per core (native and wasm run one thread per process); ignored on a GPU. */
  parallel: boolean;
}

/** Seed 000's freeze groups, plus the arms that make the comparison mean something (issue 8). */
const SEED_ARMS: Record<Track, string[]> = { cnn: ["first5"], vit: ["stem+early-transformer"] };
/** The seed's arms, everything but the head, and the earliest layers holding 30 % of the parameters. */
const ALL_ARMS: Record<Track, string[]> = {
  cnn: ["first5", "all-but-head", "early:30"],
  vit: ["stem+early-transformer", "all-but-head", "early:30"],
};

const train = (o: Partial<TrainConfig>): TrainConfig => ({ ...DEFAULT_TRAIN, ...o });

/**
 * Budgets: how much compute an experiment gets. All run the debiased, ladder-disjoint data at an
 * image size where every MobileViT block attends over more than one patch (>= 64 px).
 */
export const BUDGETS: Record<string, () => ExperimentConfig> = {
  /** Seconds: CI and an end-to-end check of the pipeline. Learns nothing. */
  tiny: () => ({
    name: "tiny",
    budget: "tiny",
    difficulty: { ...presetDifficulty("easy"), size: 64 },
    hops: 1,
    sampling: "debiased",
    dataSeed: 0,
    seeds: [0, 1],
    plain: { train: 32, val: 16, test: 24 },
    warp: { train: 32, val: 16, test: 24 },
    models: { cnn: "mobilenetv2_035", vit: "mobilevit_xxs" },
    freeze: { cnn: ["first5", "all-but-head"], vit: ["stem+early-transformer"] },
    stage1: train({ epochs: 1, batchSize: 16, warmupEpochs: 0 }),
    stage2: train({ epochs: 1, batchSize: 16, warmupEpochs: 0 }),
    controls: true,
    parallel: false,
  }),
  /** `make reproduce`: <= 30 min on 2 cores with the native backend. */
  quick: () => ({
    name: "quick",
    budget: "quick",
    difficulty: presetDifficulty("small"),
    hops: 1,
    sampling: "debiased",
    dataSeed: 0,
    seeds: [0, 1, 2],
    plain: { train: 1500, val: 200, test: 500 },
    warp: { train: 1500, val: 200, test: 500 },
    models: { cnn: "mobilenetv2_100", vit: "mobilevit_xxs" },
    freeze: { ...SEED_ARMS },
    stage1: train({ epochs: 3, batchSize: 64, lr: 2e-3 }),
    stage2: train({ epochs: 2, batchSize: 64, lr: 2e-3 }),
    controls: true,
    parallel: true,
  }),
  /**
   * <= 3 h on 2 cores: quick's protocol with every freeze arm, on the data and schedule at which plain
   * tracing first beat its rung-blind baseline here (5,000 puzzles x 6 epochs, batch 128: README).
   */
  standard: () => ({
    ...BUDGETS.quick(),
    name: "standard",
    budget: "standard",
    plain: { train: 5000, val: 500, test: 1000 },
    warp: { train: 5000, val: 500, test: 1000 },
    freeze: { cnn: [...ALL_ARMS.cnn], vit: [...ALL_ARMS.vit] },
    stage1: train({ epochs: 6, batchSize: 128, lr: 2e-3 }),
    stage2: train({ epochs: 6, batchSize: 128, lr: 2e-3 }),
  }),
  /** The seed's sizes and difficulty: hours on a GPU, days on a CPU. */
  full: () => ({
    ...BUDGETS.quick(),
    name: "full",
    budget: "full",
    difficulty: presetDifficulty("blog"),
    plain: { train: 20000, val: 2000, test: 5000 },
    warp: { train: 50000, val: 2000, test: 5000 },
    freeze: { cnn: [...ALL_ARMS.cnn], vit: [...ALL_ARMS.vit] },
    stage1: train({ epochs: 15, batchSize: 64, lr: 1e-3 }),
    stage2: train({ epochs: 20, batchSize: 64, lr: 1e-3 }),
  }),
};

export function budgetConfig(name: string): ExperimentConfig {
  return budgetOf(EXPERIMENT, name);
}

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);
const K = fieldKnob<ExperimentConfig>;

/**
 * Every knob of the experiment. `seeds` sets the training seeds (each run's TrainConfig.seed and
 * model seed come from it), so the per-stage `seed` field is not a knob.
 */
export const KNOBS: Knob<ExperimentConfig>[] = [
  K("name", "string", ["name"], "runs/<name>/ and data/<name>-<task>/"),
  ...difficultyKnobs<ExperimentConfig>(["difficulty"]),
  K("hops", "int", ["hops"], "warp hops of the stage-2 task (1 = the seed's warp)", {
    min: 1,
    max: 16,
  }),
  ...dataKnobs<ExperimentConfig>(),
  seedsKnob<ExperimentConfig>(),
  ...(["plain", "warp"] as const).flatMap((task) =>
    (["train", "val", "test"] as const).map((split) =>
      K(`${task}${cap(split)}`, "int", [task, split], `${split} puzzles of the ${task} data set`, {
        min: split === "val" ? 0 : 1,
        max: 10_000_000,
      }),
    ),
  ),
  K("cnn", "string", ["models", "cnn"], "the CNN track's model (mobilenetv2_035 .. _100)", {
    choices: () => modelNames("mobilenetv2"),
  }),
  K("vit", "string", ["models", "vit"], "the hybrid track's model (mobilevit_xxs | _xs | _s)", {
    choices: () => modelNames("mobilevit"),
  }),
  K(
    "cnnFreeze",
    "strings",
    ["freeze", "cnn"],
    "the CNN's fine-tune arms: first5 | all-but-head | early:<percent> | none",
  ),
  K(
    "vitFreeze",
    "strings",
    ["freeze", "vit"],
    "the hybrid's fine-tune arms: stem+early-transformer | all-but-head | early:<percent> | none",
  ),
  ...trainKnobs<ExperimentConfig>("stage1", "plain", ["stage1"], ["seed"]),
  ...trainKnobs<ExperimentConfig>("stage2", "warp", ["stage2"], ["seed"]),
  K("controls", "bool", ["controls"], "also train warp from scratch (the fine-tune's control)"),
  K(
    "parallel",
    "bool",
    ["parallel"],
    "train in one process per core (native and wasm run one thread per process; not on a GPU)",
  ),
];

/** A fine-tune arm must be a freeze group that exists for the track's model. */
function checkArm(t: Track, group: string, model: string): void {
  try {
    validateFreezeGroup(group, model);
  } catch (e) {
    throw new Error(`the ${t} track's fine-tune arm: ${(e as Error).message}`);
  }
}

/** Throws a message naming the bad field and what is allowed; returns the config. */
export function validateExperiment(c: ExperimentConfig): ExperimentConfig {
  validateName("experiment", c.name);
  validateDifficulty(c.difficulty);
  if (new Set(c.seeds).size !== c.seeds.length)
    throw new Error(`training seeds must differ, got ${c.seeds.join(",")}`);
  if (c.seeds.length < 1 || c.seeds.length > 32)
    throw new Error(`seeds must list 1..32 training seeds, got ${JSON.stringify(c.seeds)}`);
  validateCounts(c.plain, "plain");
  validateCounts(c.warp, "warp");
  if (c.plain.test < 1 || c.warp.test < 1)
    throw new Error("each data set needs a test split of at least 1 puzzle");
  for (const t of TRACKS) {
    validateModelSpec({
      name: c.models[t],
      inputSize: c.difficulty.size,
      classes: c.difficulty.lanes,
      seed: 0,
    });
    if (familyOf(c.models[t]) !== TRACK_FAMILY[t])
      throw new Error(
        `the ${t} track's model must be one of ${modelNames(TRACK_FAMILY[t]).join(", ")}, got '${c.models[t]}'`,
      );
    if (c.freeze[t].length === 0)
      throw new Error(
        `freeze.${t} needs at least one freeze group; allowed: ${FREEZE_GROUPS.join(", ")}, early:<percent>`,
      );
    for (const g of c.freeze[t]) checkArm(t, g, c.models[t]);
  }
  const single = attentionSpanOf(c.models.vit, c.difficulty.size).filter((g) => g.patches < 2);
  if (single.length) {
    throw new Error(
      `size ${c.difficulty.size} px leaves ${c.models.vit}'s ${single.map((g) => g.stage).join(", ")} attending over a single patch (nothing to mix); use size >= 64`,
    );
  }
  validateTrainConfig(c.stage1, "stage1");
  validateTrainConfig(c.stage2, "stage2");
  return c;
}

/** The experiment as a mode: its knobs, budgets and check (src/util/knobs.ts). */
export const EXPERIMENT: Mode<ExperimentConfig> = {
  name: "experiment",
  knobs: KNOBS,
  budgets: BUDGETS,
  validate: validateExperiment,
  file: "experiment.json",
};

/** The experiment's config as a table: every knob, its value, where it came from, what it does. */
export function describeExperiment(
  c: ExperimentConfig,
  sources: Record<string, Source> = {},
): string {
  return describeConfig(`experiment '${c.name}' (budget '${c.budget}')`, KNOBS, c, sources);
}
