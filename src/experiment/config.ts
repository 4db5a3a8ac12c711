/**
 * The experiment's configuration: one typed object, one table of knobs that reaches every field,
 * validated once. The same knobs are set from a notebook's config cell, from `AMIDA_NB_*`
 * environment variables and from `amida experiment` flags (see `KNOBS`), like nanoGPT's
 * `train.py` header: a reader sees every setting, each with a one-line comment.
 */
import {
  Difficulty,
  parseRange,
  presetDifficulty,
  validateDifficulty,
  DIFFICULTY_PRESETS,
} from "../puzzle/difficulty";
import { SplitCounts, validateCounts } from "../data/generate";
import { DEFAULT_TRAIN, OPTIMIZERS, TrainConfig, validateTrainConfig } from "../train/config";
import { validateModelSpec, isMobileViT } from "../models/registry";
import { FREEZE_GROUPS, validateFreezeGroup } from "../models/freeze";
import { attentionSpanOf } from "../models/summary";
import { Sampling, SAMPLINGS } from "../data/spec";
import { validateName } from "../util/names";

/** The two contestants of the seed's experiment. */
export const TRACKS = ["cnn", "vit"] as const;
export type Track = (typeof TRACKS)[number];

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
  /** Run the two tracks in two processes, one core each (native and wasm run one thread per process); ignored on a GPU. */
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
  const make = BUDGETS[name];
  if (!make)
    throw new Error(`unknown budget '${name}'; allowed: ${Object.keys(BUDGETS).join(", ")}`);
  return make();
}

type Kind = "int" | "number" | "string" | "bool" | "ints" | "strings" | "range";
type Value = number | string | boolean | number[] | string[];

/** One settable field: its flat name (`stage1Lr`), what it parses as, its one-line comment, where it lives. */
export interface Knob {
  key: string;
  kind: Kind;
  doc: string;
  get: (c: ExperimentConfig) => Value;
  set: (c: ExperimentConfig, v: Value) => void;
}

const knob = (key: string, kind: Kind, doc: string, get: Knob["get"], set: Knob["set"]): Knob => ({
  key,
  kind,
  doc,
  get,
  set,
});

const TRAIN_KNOBS: Array<[keyof TrainConfig, Kind, string]> = [
  ["epochs", "int", "passes over the training set"],
  ["batchSize", "int", "images per step"],
  ["lr", "number", "peak learning rate (linear warm-up, cosine decay to 0)"],
  ["optimizer", "string", `${OPTIMIZERS.join(" | ")}`],
  ["weightDecay", "number", "decoupled weight decay on conv/dense kernels"],
  ["warmupEpochs", "number", "epochs of linear learning-rate warm-up"],
  ["labelSmoothing", "number", "0..0.5"],
  [
    "earlyStopPatience",
    "int",
    "stop after this many epochs without a better val accuracy (0: never)",
  ],
  ["valLimit", "int", "validate on at most this many puzzles per epoch (0: all)"],
];

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

/**
 * Every knob of the experiment. `seeds` sets the training seeds (each run's TrainConfig.seed and
 * model seed come from it), so the per-stage `seed` field is not a knob.
 */
export const KNOBS: Knob[] = [
  knob(
    "name",
    "string",
    "runs/<name>/ and data/<name>-<task>/",
    (c) => c.name,
    (c, v) => (c.name = v as string),
  ),
  knob(
    "difficulty",
    "string",
    `a preset for the 5 fields below: ${Object.keys(DIFFICULTY_PRESETS).join(" | ")}`,
    () => "",
    (c, v) => (c.difficulty = { ...presetDifficulty(v as string), size: c.difficulty.size }),
  ),
  knob(
    "lanes",
    "int",
    "lanes = classes, 3..8",
    (c) => c.difficulty.lanes,
    (c, v) => (c.difficulty.lanes = v as number),
  ),
  knob(
    "rows",
    "int",
    "rung rows",
    (c) => c.difficulty.rows,
    (c, v) => (c.difficulty.rows = v as number),
  ),
  knob(
    "rungs",
    "range",
    "rungs per puzzle, e.g. 2..6",
    (c) => `${c.difficulty.rungsMin}..${c.difficulty.rungsMax}`,
    (c, v) => ([c.difficulty.rungsMin, c.difficulty.rungsMax] = v as number[]),
  ),
  knob(
    "size",
    "int",
    "image side in pixels (>= 64: every MobileViT block then attends over > 1 patch)",
    (c) => c.difficulty.size,
    (c, v) => (c.difficulty.size = v as number),
  ),
  knob(
    "hops",
    "int",
    "warp hops of the stage-2 task (1 = the seed's warp)",
    (c) => c.hops,
    (c, v) => (c.hops = v as number),
  ),
  knob(
    "sampling",
    "string",
    `${SAMPLINGS.join(" | ")}: debiased = rung-blind rules score chance`,
    (c) => c.sampling,
    (c, v) => (c.sampling = v as Sampling),
  ),
  knob(
    "dataSeed",
    "int",
    "seeds the data sets",
    (c) => c.dataSeed,
    (c, v) => (c.dataSeed = v as number),
  ),
  knob(
    "seeds",
    "ints",
    "training seeds; every run is repeated once per seed",
    (c) => c.seeds,
    (c, v) => (c.seeds = v as number[]),
  ),
  ...(["plain", "warp"] as const).flatMap((task) =>
    (["train", "val", "test"] as const).map((split) =>
      knob(
        `${task}${cap(split)}`,
        "int",
        `${split} puzzles of the ${task} data set`,
        (c) => c[task][split],
        (c, v) => (c[task][split] = v as number),
      ),
    ),
  ),
  knob(
    "cnn",
    "string",
    "the CNN track's model (mobilenetv2_035 .. _100)",
    (c) => c.models.cnn,
    (c, v) => (c.models.cnn = v as string),
  ),
  knob(
    "vit",
    "string",
    "the hybrid track's model (mobilevit_xxs | _xs | _s)",
    (c) => c.models.vit,
    (c, v) => (c.models.vit = v as string),
  ),
  knob(
    "cnnFreeze",
    "strings",
    "the CNN's fine-tune arms: first5 | all-but-head | early:<percent> | none",
    (c) => c.freeze.cnn,
    (c, v) => (c.freeze.cnn = v as string[]),
  ),
  knob(
    "vitFreeze",
    "strings",
    "the hybrid's fine-tune arms: stem+early-transformer | all-but-head | early:<percent> | none",
    (c) => c.freeze.vit,
    (c, v) => (c.freeze.vit = v as string[]),
  ),
  ...(["stage1", "stage2"] as const).flatMap((stage) =>
    TRAIN_KNOBS.map(([field, kind, doc]) =>
      knob(
        `${stage}${cap(field)}`,
        kind,
        `${stage === "stage1" ? "plain" : "warp"}: ${doc}`,
        (c) => c[stage][field] as Value,
        (c, v) => ((c[stage] as unknown as Record<string, Value>)[field] = v),
      ),
    ),
  ),
  knob(
    "controls",
    "bool",
    "also train warp from scratch (the fine-tune's control)",
    (c) => c.controls,
    (c, v) => (c.controls = v as boolean),
  ),
  knob(
    "parallel",
    "bool",
    "two processes, one per track, one core each (not on a GPU)",
    (c) => c.parallel,
    (c, v) => (c.parallel = v as boolean),
  ),
];

const KNOB_BY_KEY = new Map(KNOBS.map((k) => [k.key, k]));

/** `stage1Lr` -> `stage1-lr` (CLI flag) and `STAGE1_LR` (environment suffix). */
export const flagOf = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
export const envOf = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

/** Parses a knob's text (flag or environment value); the error names the knob, the value and what is allowed. */
export function parseKnob(key: string, text: string, source = `--${flagOf(key)}`): Value {
  const k = KNOB_BY_KEY.get(key);
  if (!k)
    throw new Error(`unknown setting '${key}'; allowed: ${KNOBS.map((x) => x.key).join(", ")}`);
  const bad = (what: string) => new Error(`${source} must be ${what}, got '${text}'`);
  const int = (t: string) => {
    if (!/^-?\d+$/.test(t.trim()))
      throw bad("an integer" + (k.kind === "ints" ? " list like 0,1,2" : ""));
    return Number(t);
  };
  switch (k.kind) {
    case "int":
      return int(text);
    case "number": {
      const v = Number(text);
      if (text.trim() === "" || !Number.isFinite(v)) throw bad("a number");
      return v;
    }
    case "bool":
      if (!/^(true|false|1|0)$/i.test(text.trim())) throw bad("true or false");
      return /^(true|1)$/i.test(text.trim());
    case "ints":
      return text.split(",").map((t) => int(t));
    case "strings":
      return text
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean);
    case "range":
      try {
        return parseRange(text);
      } catch {
        throw bad("a range like 2..6 or a single number");
      }
    default:
      return text;
  }
}

/** Where a setting's value came from, for the printed config. */
export type Source = "budget" | "saved" | "cell" | "flag" | "env";

export interface Setting {
  key: string;
  value: Value;
  /** Text of a flag or environment variable (parsed here), or a typed value (a notebook cell). */
  source: Source;
  /** The flag or variable that carried it, for error messages. */
  origin?: string;
}

/**
 * Applies settings in order (later wins) onto a copy of `base` and validates the result once.
 * Returns the config and the source of each setting that changed a value.
 */
export function applySettings(
  base: ExperimentConfig,
  settings: Setting[],
): { config: ExperimentConfig; sources: Record<string, Source> } {
  const c: ExperimentConfig = JSON.parse(JSON.stringify(base));
  const sources: Record<string, Source> = {};
  // A difficulty preset first, so explicit lanes/rows/... win over it whatever their order.
  const ordered = [
    ...settings.filter((s) => s.key === "difficulty"),
    ...settings.filter((s) => s.key !== "difficulty"),
  ];
  for (const s of ordered) {
    const k = KNOB_BY_KEY.get(s.key);
    if (!k)
      throw new Error(
        `unknown setting '${s.origin ?? s.key}'; allowed: ${KNOBS.map((x) => (s.source === "env" ? `AMIDA_NB_${envOf(x.key)}` : x.key)).join(", ")}`,
      );
    const v =
      typeof s.value === "string" && k.kind !== "string"
        ? parseKnob(s.key, s.value, s.origin)
        : s.value;
    checkType(k, v, s.origin ?? s.key);
    k.set(c, v);
    sources[s.key] = s.source;
    if (s.key === "difficulty") for (const f of ["lanes", "rows", "rungs"]) sources[f] = s.source;
  }
  return { config: validateExperiment(c), sources };
}

function checkType(k: Knob, v: Value, where: string): void {
  const ok =
    k.kind === "int" || k.kind === "number"
      ? typeof v === "number"
      : k.kind === "bool"
        ? typeof v === "boolean"
        : k.kind === "string"
          ? typeof v === "string"
          : Array.isArray(v);
  if (!ok)
    throw new Error(
      `${where} must be ${k.kind === "ints" || k.kind === "strings" ? "a list" : `a ${k.kind}`}, got ${JSON.stringify(v)}`,
    );
}

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
  if (typeof c !== "object" || c === null)
    throw new Error("an experiment config must be a JSON object");
  const missing = Object.keys(BUDGETS.tiny()).filter((k) => !(k in c));
  if (missing.length)
    throw new Error(
      `experiment config lacks ${missing.join(", ")} (start from a budget: ${Object.keys(BUDGETS).join(", ")})`,
    );
  validateName("experiment", c.name);
  validateDifficulty(c.difficulty);
  if (!Number.isInteger(c.hops) || c.hops < 1 || c.hops > 16)
    throw new Error(`hops must be an integer in 1..16, got ${c.hops}`);
  if (!SAMPLINGS.includes(c.sampling))
    throw new Error(`sampling must be one of ${SAMPLINGS.join(", ")}, got '${c.sampling}'`);
  if (!Number.isInteger(c.dataSeed) || c.dataSeed < 0 || c.dataSeed > 2 ** 31)
    throw new Error(`dataSeed must be an integer in 0..2^31, got ${c.dataSeed}`);
  if (!Array.isArray(c.seeds) || c.seeds.length < 1 || c.seeds.length > 32)
    throw new Error(`seeds must list 1..32 training seeds, got ${JSON.stringify(c.seeds)}`);
  for (const s of c.seeds)
    if (!Number.isInteger(s) || s < 0 || s > 2 ** 31)
      throw new Error(`each training seed must be an integer in 0..2^31, got ${s}`);
  if (new Set(c.seeds).size !== c.seeds.length)
    throw new Error(`training seeds must differ, got ${c.seeds.join(",")}`);
  validateCounts(c.plain, "plain");
  validateCounts(c.warp, "warp");
  if (c.plain.test < 1 || c.warp.test < 1)
    throw new Error("each data set needs a test split of at least 1 puzzle");
  if (!c.models.cnn.startsWith("mobilenetv2_"))
    throw new Error(`the cnn track's model must be a MobileNetV2 variant, got '${c.models.cnn}'`);
  if (!isMobileViT(c.models.vit))
    throw new Error(`the vit track's model must be a MobileViT variant, got '${c.models.vit}'`);
  for (const t of TRACKS) {
    validateModelSpec({
      name: c.models[t],
      inputSize: c.difficulty.size,
      classes: c.difficulty.lanes,
      seed: 0,
    });
    if (!Array.isArray(c.freeze[t]) || c.freeze[t].length === 0)
      throw new Error(
        `freeze.${t} needs at least one freeze group; allowed: ${FREEZE_GROUPS.join(", ")}`,
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
  if (typeof c.controls !== "boolean" || typeof c.parallel !== "boolean")
    throw new Error("controls and parallel must be true or false");
  return c;
}

/** The config as a table a reader sees whole: every knob, its value, where the value came from, what it does. */
export function describeConfig(c: ExperimentConfig, sources: Record<string, Source> = {}): string {
  const rows = KNOBS.filter((k) => k.key !== "difficulty").map((k) => {
    const v = k.get(c);
    const shown = Array.isArray(v) ? v.join(",") : String(v);
    const src = sources[k.key];
    return `${k.key.padEnd(24)} ${shown.padEnd(28)} ${src && src !== "budget" ? `<- ${src}`.padEnd(9) : "".padEnd(9)} # ${k.doc}`;
  });
  return [`experiment '${c.name}' (budget '${c.budget}')`, ...rows].join("\n");
}
