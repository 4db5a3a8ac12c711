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
  streamedRecipe,
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
  /**
   * 0..1: per-puzzle variation of the standard rendering style (lane margins, row band, line width,
   * circle size) in every data set and stream; the held-out style's test file is never varied.
   */
  vary: number;
  /** Seeds the data sets (which puzzles, which pixels). */
  dataSeed: number;
  /** Training seeds: every run of the protocol is repeated once per seed (initial weights and shuffling). */
  seeds: number[];
  /** The seeds whose warp runs (fine-tunes from that seed's stage 1, and controls) train; [] = every seed. */
  warpSeeds: number[];
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

const streamed = streamedRecipe;

/**
 * Budgets: how much compute an experiment gets, counted in training images. All stream fresh
 * debiased puzzles from the training ladders of a difficulty with far more ladders than a run
 * sees images (`large`: ~1.5 million), so what is learned is tracing, not a memorised set; all
 * run at 64 px, where every MobileViT block attends over more than one patch.
 */
export const BUDGETS: Record<string, () => ExperimentConfig> = {
  /** Seconds: CI and an end-to-end check of the pipeline. Learns nothing. */
  tiny: () => ({
    name: "tiny",
    budget: "tiny",
    difficulty: { ...presetDifficulty("easy"), size: 64 },
    hops: 1,
    sampling: "debiased",
    vary: 0,
    dataSeed: 0,
    seeds: [0, 1],
    warpSeeds: [],
    plain: { train: 32, val: 16, test: 24 },
    warp: { train: 32, val: 16, test: 24 },
    models: { cnn: "mobilenetv2_035", vit: "mobilevit_xxs" },
    freeze: { cnn: ["first5", "all-but-head"], vit: ["stem+early-transformer"] },
    stage1: streamed(96, { batchSize: 16, valLimit: 0 }),
    stage2: streamed(64, { batchSize: 16, valLimit: 0 }),
    controls: true,
    parallel: false,
  }),
  /**
   * `make reproduce` (~15 min on 2 cores, native): plain tracing from 40,000 fresh puzzles per
   * run, 3 seeds, both models; the warp stage at 4,000 images only runs the pipeline (the warp
   * needed ~1,000,000 images on a GPU).
   */
  quick: () => ({
    name: "quick",
    budget: "quick",
    difficulty: presetDifficulty("large"),
    hops: 1,
    sampling: "debiased",
    vary: 0,
    dataSeed: 0,
    seeds: [0, 1, 2],
    warpSeeds: [],
    plain: { train: 256, val: 500, test: 1000 },
    warp: { train: 256, val: 500, test: 1000 },
    models: { cnn: "mobilenetv2_100", vit: "mobilevit_xxs" },
    freeze: { ...SEED_ARMS },
    stage1: streamed(40_000),
    stage2: streamed(4_000),
    controls: true,
    parallel: true,
  }),
  /**
   * `make standard`: plain from 100,000 fresh puzzles, 3 seeds; every freeze arm and the
   * warp-from-scratch controls at 300,000 images each, for seed 0. About 3 million training images:
   * ~3 h on 2 cores as measured before the own TensorFlow ops (in two pieces, sharing the
   * machine); runs resume.
   */
  standard: () => ({
    ...BUDGETS.quick(),
    name: "standard",
    budget: "standard",
    warpSeeds: [0],
    plain: { train: 256, val: 1000, test: 2000 },
    warp: { train: 256, val: 1000, test: 2000 },
    freeze: { cnn: [...ALL_ARMS.cnn], vit: [...ALL_ARMS.vit] },
    stage1: streamed(100_000),
    stage2: streamed(300_000),
  }),
  /**
   * The warp at the scale it needed on a GPU: 1,000,000 images per warp run (fine-tunes and
   * controls, seed 0), plain at 100,000: 8 million warp images; its two seed arms (2 million) took
   * 69 min on 2 cores with the own ops, so ~4.5 h for all; untested on a GPU (PyTorch did ~1 M
   * images in ~9 min on an H100, TASK_SPEC). Runs resume. Its stage 1 is standard's: after
   * `make standard` those runs are copied (same config and data), not retrained.
   */
  long: () => ({
    ...BUDGETS.standard(),
    name: "long",
    budget: "long",
    stage2: streamed(1_000_000),
  }),
  /** The seed's sizes and difficulty, stored puzzles and epochs as the blog post ran them. */
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
  K(
    "vary",
    "number",
    ["vary"],
    "0..1: per-puzzle variation of the rendering style (the held-out style's test stays unvaried)",
    { min: 0, max: 1 },
  ),
  seedsKnob<ExperimentConfig>(),
  K(
    "warpSeeds",
    "ints",
    ["warpSeeds"],
    "the seeds whose warp runs (fine-tunes, controls) train, each one of seeds (empty: all)",
    { min: 0, max: 2 ** 31 },
  ),
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
  const orphans = c.warpSeeds.filter((s) => !c.seeds.includes(s));
  if (orphans.length || new Set(c.warpSeeds).size !== c.warpSeeds.length)
    throw new Error(
      `warpSeeds must be distinct seeds of seeds (${c.seeds.join(",")}): a fine-tune starts from its seed's stage 1; got ${c.warpSeeds.join(",")}`,
    );
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

/** Training images one run of a stage sees (its image budget, or passes over the stored split). */
export function stageImages(t: TrainConfig, stored: number): number {
  return t.images > 0 ? t.images : t.epochs * stored;
}

/**
 * What this budget can show, in a sentence a table is read with: measured here, plain tracing
 * appears from ~20,000-40,000 fresh puzzles (README), the warp needed ~1,000,000 images on a GPU
 * (TASK_SPEC), and a small stored set is memorised before it is learned.
 */
export function budgetNote(c: ExperimentConfig): string {
  const n1 = stageImages(c.stage1, c.plain.train);
  const n2 = stageImages(c.stage2, c.warp.train);
  const fmt = (n: number) => n.toLocaleString("en");
  const plain =
    n1 < 10_000
      ? `plain runs see ${fmt(n1)} images: too few to learn tracing (it took 20,000-40,000 fresh puzzles here), so their rows check the pipeline, not the claim`
      : `plain runs see ${fmt(n1)} ${c.stage1.stream ? "fresh puzzles" : "images"}${c.stage1.stream ? "" : ` (${fmt(c.plain.train)} stored, repeated: a small set is memorised before it is learned)`}`;
  const warp =
    n2 < 1_000_000
      ? `warp runs see ${fmt(n2)}: the warp needed ~1,000,000 images on a GPU, so ${n2 < 100_000 ? "their rows only check the pipeline" : "their curves show how far it got, not the end"}`
      : `warp runs see ${fmt(n2)} images, the scale at which MobileViT learned the warp on a GPU`;
  return `**What budget '${c.budget}' can show:** ${plain}; ${warp}.`;
}
