/**
 * A grid of single training runs from scratch: every model x difficulty x task x training-set
 * size x epoch budget, once per training seed, aggregated per cell over seeds beside the
 * rung-blind baseline. Two studies use it, each with its budgets:
 *   sweep    (notebook 05, `amida sweep`): where in difficulty and data size the pattern appears;
 *   contest  (notebook 06, `amida contest`): every architecture at one shared budget, and the
 *            masked-image pre-training comparison (seed 004's claim) for one model.
 * Notebook 07 reads a contest's saved config and tests its runs under noise.
 */
import * as path from "path";
import { mean } from "../util/stats";
import { DIFFICULTY_PRESETS, presetDifficulty, validateDifficulty } from "../puzzle/difficulty";
import { NO_NUISANCE } from "../puzzle/nuisance";
import { dataKnobs, DatasetSpec, Sampling, TASKS } from "../data/spec";
import { modelNames, validateModelSpec } from "../models/registry";
import { attentionSpanOf } from "../models/registry";
import { PRETRAIN_FAMILIES, DEFAULT_PRETRAIN } from "../pretrain/mae";
import {
  DEFAULT_TRAIN,
  seedsKnob,
  streamedRecipe,
  TrainConfig,
  trainKnobs,
  validateTrainConfig,
} from "../train/config";
import { validateName } from "../util/names";
import { everyBudget, fieldKnob, Knob, Mode, validateSaved } from "../util/knobs";
import { readJsonFile } from "../util/json";
import * as fs from "fs";
import { familyOf } from "../models/registry";
import { RunConfig, RunMetrics } from "./rundir";
import { DataJob, Plan, PlannedRun, PretrainJob, runPlan } from "./runner";
import { loadHistory } from "./rundir";
import { SeedSummary, summarizeSeeds, verdictText } from "./results";
import { markdownTable, pct } from "../report/table";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic";

export type Task = "plain" | "warp";

export interface GridConfig {
  /** Runs go to runs/<name>/, data sets to data/<name>-<difficulty>-<task>-<train>/. */
  name: string;
  /** The budget this config started from. */
  budget: string;
  /** Models trained in every cell. */
  models: string[];
  /** Difficulty presets, each drawn at `size` px. */
  difficulty: string[];
  size: number;
  tasks: Task[];
  /** Warp hops of the warp task. */
  hops: number;
  /** Training-set sizes. */
  train: number[];
  val: number;
  test: number;
  /** Epoch budgets. */
  epochs: number[];
  /** Image budgets (0: the epoch budgets above); with `recipe.stream`, fresh puzzles. */
  images: number[];
  /** Every run's recipe; its `epochs`, `images` and `seed` are set per cell and seed. */
  recipe: TrainConfig;
  /** How puzzles are drawn (debiased: rung-blind rules score chance). */
  sampling: Sampling;
  dataSeed: number;
  /** Training seeds: every cell runs once per seed. */
  seeds: number[];
  /** Pre-training comparison: this model ("" = none) pre-trained on the largest training set's images... */
  maeModel: string;
  /** ...then fine-tuned on this many labelled puzzles, beside the same model from scratch on them. */
  maeTrain: number;
  /** Masked-image pre-training epochs. */
  maeEpochs: number;
  /** Train in one process per core (not on a GPU). */
  parallel: boolean;
}

const recipe = (o: Partial<TrainConfig>): TrainConfig => ({ ...DEFAULT_TRAIN, ...o });

/** Every architecture of the source documents, for the contest. */
export const ALL_ARCHITECTURES = [
  "mobilenetv2_100",
  "mobilevit_xxs",
  "vit_seed001",
  "vit_xxs",
  "nest_tiny",
  "mmlit_s",
  "mmlit_xs",
  "mmlit_xxs",
];

/** Fresh puzzles with the recipe that learned plain tracing here; the image budgets are the grid's. */
const streamed = (o: Partial<TrainConfig> = {}): TrainConfig => streamedRecipe(0, o);

/** The sweep's budgets (notebook 05, `amida sweep`). */
export const SWEEP_BUDGETS: Record<string, () => GridConfig> = {
  /**
   * Where plain tracing appears: both models at 8,000 and 32,000 fresh puzzles on a difficulty with
   * ~2,000 ladders (small) and one with ~1.5 million (large); `make standard` runs it (~10 min).
   */
  quick: () => ({
    name: "difficulty",
    budget: "quick",
    models: ["mobilenetv2_100", "mobilevit_xxs"],
    difficulty: ["small", "large"],
    size: 64,
    tasks: ["plain"],
    hops: 1,
    train: [256],
    val: 500,
    test: 1000,
    epochs: [1],
    images: [8_000, 32_000],
    recipe: streamed(),
    sampling: "debiased",
    dataSeed: 0,
    seeds: [0],
    maeModel: "",
    maeTrain: 0,
    maeEpochs: 0,
    parallel: true,
  }),
  /** Seconds: CI, and `make reproduce`'s check of the notebook. Learns nothing. */
  tiny: () => ({
    ...SWEEP_BUDGETS.quick(),
    budget: "tiny",
    models: ["mobilenetv2_035", "mobilevit_xxs"],
    difficulty: ["easy"],
    tasks: ["plain", "warp"],
    train: [48],
    val: 16,
    test: 24,
    images: [64],
    recipe: streamed({ batchSize: 16, valLimit: 0 }),
    seeds: [0, 1],
    parallel: false,
  }),
};

/** The contest's budgets (notebook 06, `amida contest`). */
export const CONTEST_BUDGETS: Record<string, () => GridConfig> = {
  /**
   * Every architecture at 32,000 fresh puzzles per run, plain and warp, 3 seeds (hours on 2 cores);
   * masked-image pre-training of mmLiT-XXS on 1,500 stored puzzles' images, then fine-tuned on 300.
   */
  quick: () => ({
    ...SWEEP_BUDGETS.quick(),
    name: "contest",
    models: [...ALL_ARCHITECTURES],
    difficulty: ["large"],
    tasks: ["plain", "warp"],
    train: [1500],
    epochs: [3],
    images: [32_000],
    seeds: [0, 1, 2],
    maeModel: "mmlit_xxs",
    maeTrain: 300,
    maeEpochs: 3,
  }),
  /** Seconds: CI. Stored puzzles and epochs, so that path runs too. Learns nothing. */
  tiny: () => ({
    ...CONTEST_BUDGETS.quick(),
    budget: "tiny",
    models: ["vit_seed001", "nest_tiny", "mmlit_xxs"],
    difficulty: ["small"],
    size: 32,
    train: [48],
    val: 16,
    test: 24,
    epochs: [1],
    images: [0],
    recipe: recipe({ batchSize: 32, lr: 2e-3 }),
    seeds: [0],
    maeTrain: 24,
    maeEpochs: 1,
    parallel: false,
  }),
};

const K = fieldKnob<GridConfig>;

/** Every knob of a grid (sweep or contest). */
export const GRID_KNOBS: Knob<GridConfig>[] = [
  K("name", "string", ["name"], "runs/<name>/ and data/<name>-.../"),
  K("models", "strings", ["models"], "models trained in every cell", {
    choices: () => modelNames(),
  }),
  K(
    "difficulty",
    "strings",
    ["difficulty"],
    `difficulty presets: ${Object.keys(DIFFICULTY_PRESETS).join(" | ")}`,
    {
      choices: () => Object.keys(DIFFICULTY_PRESETS),
    },
  ),
  K(
    "size",
    "int",
    ["size"],
    "image side for every difficulty (>= 64: MobileViT attends over > 1 patch)",
    {
      min: 16,
      max: 1024,
    },
  ),
  K("tasks", "strings", ["tasks"], "plain | warp", { choices: () => TASKS }),
  K("hops", "int", ["hops"], "warp hops of the warp task", { min: 1, max: 16 }),
  K("train", "ints", ["train"], "training-set sizes", { min: 1, max: 10_000_000 }),
  K("val", "int", ["val"], "validation puzzles per data set", { min: 0, max: 10_000_000 }),
  K("test", "int", ["test"], "test puzzles per data set", { min: 1, max: 10_000_000 }),
  K("epochs", "ints", ["epochs"], "epoch budgets (used where images is 0)", {
    min: 1,
    max: 10_000,
  }),
  K("images", "ints", ["images"], "image budgets (0: the epoch budgets)", { min: 0, max: 1e10 }),
  ...trainKnobs<GridConfig>("", "", ["recipe"], ["epochs", "seed", "images"]),
  ...dataKnobs<GridConfig>(),
  seedsKnob<GridConfig>(),
  K(
    "maeModel",
    "string",
    ["maeModel"],
    `pre-training comparison: a ${PRETRAIN_FAMILIES.join("_* | ")}_* model ("": none)`,
  ),
  K(
    "maeTrain",
    "int",
    ["maeTrain"],
    "labelled puzzles the pre-trained and scratch models are fine-tuned on",
    {
      min: 0,
      max: 10_000_000,
    },
  ),
  K(
    "maeEpochs",
    "int",
    ["maeEpochs"],
    "masked-image pre-training epochs (on the largest training set's images)",
    {
      min: 0,
      max: 10_000,
    },
  ),
  K("parallel", "bool", ["parallel"], "train in one process per core (not on a GPU)"),
];

/** Throws a message naming the bad field and what is allowed; returns the grid. */
export function validateGrid(g: GridConfig): GridConfig {
  validateName("grid", g.name);
  for (const [k, v] of Object.entries({
    models: g.models,
    difficulty: g.difficulty,
    tasks: g.tasks,
    train: g.train,
    epochs: g.epochs,
    images: g.images,
    seeds: g.seeds,
  }))
    if (v.length === 0) throw new Error(`${k} needs at least one value`);
  if (new Set(g.seeds).size !== g.seeds.length)
    throw new Error(`training seeds must differ, got ${g.seeds.join(",")}`);
  for (const d of g.difficulty) {
    const diff = validateDifficulty({ ...presetDifficulty(d), size: g.size });
    for (const m of g.models)
      validateModelSpec({ name: m, inputSize: diff.size, classes: diff.lanes, seed: 0 });
  }
  for (const m of g.models) {
    const single = attentionSpanOf(m, g.size).filter((x) => x.patches < 2);
    if (single.length)
      throw new Error(
        `size ${g.size} px leaves ${m}'s ${single.map((x) => x.stage).join(", ")} attending over a single patch; use a larger size`,
      );
  }
  if (g.maeModel) {
    if (!(PRETRAIN_FAMILIES as readonly string[]).includes(familyOf(g.maeModel)))
      throw new Error(
        `maeModel must be a ${PRETRAIN_FAMILIES.map((f) => `${f}_*`).join(" or ")} model (or "" for none), got '${g.maeModel}'`,
      );
    if (g.maeTrain < 1 || g.maeEpochs < 1)
      throw new Error(`with maeModel '${g.maeModel}', maeTrain and maeEpochs must be >= 1`);
  }
  for (const images of g.images)
    validateTrainConfig({ ...g.recipe, epochs: Math.max(...g.epochs), images }, "recipe");
  return g;
}

const mode = (name: string, budgets: Record<string, () => GridConfig>): Mode<GridConfig> => ({
  name,
  knobs: GRID_KNOBS,
  budgets: everyBudget(budgets),
  validate: validateGrid,
  file: "grid.json",
});

/** The sweep and the contest: one grid mode, two sets of budgets. */
export const SWEEP = mode("sweep", SWEEP_BUDGETS);
export const CONTEST = mode("contest", CONTEST_BUDGETS);

/** One cell of the grid: its coordinates. */
export interface Cell {
  difficulty: string;
  task: Task;
  train: number;
  model: string;
  epochs: number;
  /** Its image budget (0: `epochs` passes). */
  images: number;
  /** scratch, or mae (fine-tuned from the masked-image pre-training). */
  init: "scratch" | "mae";
}

export const gridRunName = (c: Cell, seed: number) =>
  `${c.init === "mae" ? "mae-" : ""}${c.difficulty}-${c.task}-${c.train}-${c.model}-${c.images ? `i${c.images}` : `e${c.epochs}`}-s${seed}`;

const dataDir = (g: GridConfig, dataRoot: string, difficulty: string, task: Task, train: number) =>
  path.join(dataRoot, `${g.name}-${difficulty}-${task}-${train}`);

function spec(g: GridConfig, difficulty: string, task: Task): DatasetSpec {
  return {
    task,
    hops: task === "warp" ? g.hops : 0,
    difficulty: { ...presetDifficulty(difficulty), size: g.size },
    nuisance: NO_NUISANCE,
    seed: g.dataSeed,
    sampling: g.sampling,
  };
}

/** The grid's training budgets: each image budget, and each epoch budget where images is 0. */
function budgets(g: GridConfig): Array<{ epochs: number; images: number }> {
  return g.images.flatMap((images) =>
    images > 0
      ? [{ epochs: g.epochs[0], images }]
      : g.epochs.map((epochs) => ({ epochs, images: 0 })),
  );
}

/** A run of the grid with its cell. */
export interface GridRun {
  cell: Cell;
  seed: number;
  run: PlannedRun;
}

/** The grid's work: its data sets, pre-trainings and runs, for the runner. */
export function gridPlan(
  g: GridConfig,
  paths: { runsDir: string; dataDir: string },
): Plan & { cells: GridRun[] } {
  const runsDir = path.join(paths.runsDir, g.name);
  const data: DataJob[] = [];
  const pretrain: PretrainJob[] = [];
  const cells: GridRun[] = [];
  const addData = (difficulty: string, task: Task, train: number) => {
    const dir = dataDir(g, paths.dataDir, difficulty, task, train);
    if (!data.some((d) => d.dir === dir))
      data.push({
        dir,
        spec: spec(g, difficulty, task),
        counts: { train, val: g.val, test: g.test },
      });
    return dir;
  };
  const add = (cell: Cell, seed: number, dir: string, init: string | null, after: string[]) => {
    const config: RunConfig = {
      name: gridRunName(cell, seed),
      model: cell.model,
      data: dir,
      init,
      freeze: "none",
      train: {
        ...g.recipe,
        epochs: cell.epochs,
        images: cell.images,
        stream: cell.images > 0 && g.recipe.stream,
        seed,
      },
      modelSeed: seed,
    };
    cells.push({ cell, seed, run: { config, after } });
  };
  for (const difficulty of g.difficulty)
    for (const task of g.tasks)
      for (const train of g.train) {
        const dir = addData(difficulty, task, train);
        for (const model of g.models)
          for (const { epochs, images } of budgets(g))
            for (const seed of g.seeds)
              add(
                { difficulty, task, train, model, epochs, images, init: "scratch" },
                seed,
                dir,
                null,
                [],
              );
      }
  if (g.maeModel) {
    const full = Math.max(...g.train);
    for (const difficulty of g.difficulty)
      for (const task of g.tasks) {
        const lanes = presetDifficulty(difficulty).lanes;
        const name = `pretrain-${difficulty}-${task}-${full}-${g.maeModel}-e${g.maeEpochs}`;
        pretrain.push({
          name,
          out: path.join(runsDir, name),
          classes: lanes,
          config: {
            ...DEFAULT_PRETRAIN,
            model: g.maeModel,
            data: addData(difficulty, task, full),
            epochs: g.maeEpochs,
            batchSize: g.recipe.batchSize,
            seed: g.dataSeed,
          },
        });
        const small = addData(difficulty, task, g.maeTrain);
        for (const init of ["scratch", "mae"] as const)
          // The comparison is about few labels: passes over the maeTrain stored puzzles, never a stream.
          for (const { epochs, images } of g.epochs.map((e) => ({ epochs: e, images: 0 })))
            for (const seed of g.seeds) {
              const cell: Cell = {
                difficulty,
                task,
                train: g.maeTrain,
                model: g.maeModel,
                epochs,
                images,
                init,
              };
              if (
                init === "scratch" &&
                cells.some((c) => gridRunName(c.cell, c.seed) === gridRunName(cell, seed))
              )
                continue;
              add(
                cell,
                seed,
                small,
                init === "mae" ? path.join(runsDir, name) : null,
                init === "mae" ? [name] : [],
              );
            }
      }
  }
  return {
    what: `grid '${g.name}'`,
    dir: runsDir,
    saved: { file: "grid.json", config: g },
    data,
    pretrain,
    runs: cells.map((c) => c.run),
    cells,
  };
}

/** One cell over its seeds. */
export interface GridRow extends Cell, SeedSummary {
  seeds: number[];
  /** Parameters of the model (trainable + frozen). */
  params: number;
  /** Training images per second (mean over epochs and seeds; epoch wall time includes validation). */
  train_ips: number;
  /** Training images each seed saw. */
  images_seen: number;
  /** Training seconds summed over seeds. */
  seconds: number;
  runs: string[];
}

/** Groups the grid's finished runs by cell, over seeds, in grid order. */
export function gridRows(
  g: GridConfig,
  cells: GridRun[],
  metrics: Map<string, RunMetrics>,
  runsDir: string,
): GridRow[] {
  const groups = new Map<string, GridRun[]>();
  for (const c of cells) {
    const k = JSON.stringify(c.cell);
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  return [...groups.values()].map((cs) => {
    const ms = cs.map((c) => metrics.get(c.run.config.name)!);
    const ips = cs.flatMap((c) =>
      loadHistory(runsDir, c.run.config.name).map((h) => h.images_per_s),
    );
    return {
      ...cs[0].cell,
      ...summarizeSeeds(ms),
      seeds: cs.map((c) => c.seed),
      params: ms[0].trainable_params + ms[0].frozen_params,
      train_ips: mean(ips),
      images_seen: ms[0].images_seen,
      seconds: ms.reduce((a, m) => a + m.seconds, 0),
      runs: cs.map((c) => c.run.config.name),
    };
  });
}

/** Trains (or reuses) every run of the grid and returns its rows. */
export async function runGrid(
  g: GridConfig,
  paths: { runsDir: string; dataDir: string },
  opts: { log?: (l: string) => void; runLine?: (run: string, line: string) => void } = {},
): Promise<GridRow[]> {
  validateGrid(g);
  const plan = gridPlan(g, paths);
  const metrics = await runPlan(plan, {
    parallel: g.parallel,
    log: opts.log,
    runLine: opts.runLine,
  });
  const rows = gridRows(g, plan.cells, metrics, plan.dir);
  writeJsonAtomic(path.join(plan.dir, "rows.json"), rows);
  const cols = Object.keys(rows[0]) as Array<keyof GridRow>;
  const csv = (v: unknown) => (Array.isArray(v) ? v.join(";") : String(v));
  writeFileAtomic(
    path.join(plan.dir, "rows.csv"),
    [cols.join(","), ...rows.map((r) => cols.map((k) => csv(r[k])).join(","))].join("\n") + "\n",
  );
  return rows;
}

/** The grid as a markdown table: each cell's mean ± SD over seeds beside its rung-blind baseline and verdict. */
export function gridMarkdown(rows: GridRow[]): string {
  return markdownTable(
    rows.map((r) => ({
      difficulty: r.difficulty,
      task: r.task,
      train: r.train,
      model: r.model,
      init: r.init,
      params: r.params.toLocaleString("en"),
      epochs: r.epochs,
      "test acc % mean ± SD": `${pct(r.acc_mean)} ± ${pct(r.acc_sd)}`,
      "per seed": r.acc_per_seed.map(pct).join(" / "),
      "rung-blind %": pct(r.rung_blind_bayes),
      "chance %": pct(r.chance),
      verdict: verdictText(r),
      "train img/s": r.train_ips.toFixed(1),
      seconds: Math.round(r.seconds),
    })),
  );
}

/** Rows for the heatmap: one accuracy per cell, the mean over seeds. */
export function heatmapRows(
  rows: GridRow[],
): Array<{ difficulty: string; train: number; model: string; task: string; acc: number }> {
  return rows.map((r) => ({
    difficulty: r.difficulty,
    train: r.train,
    model: r.model,
    task: r.task,
    acc: r.acc_mean,
  }));
}

/** Validation accuracy after each epoch against the training images seen so far, mean over seeds. */
export function learningCurveRows(
  rows: GridRow[],
  runsDir: string,
): Array<{ model: string; task: string; images_seen: number; val_acc: number }> {
  return rows.flatMap((r) => {
    const histories = r.runs.map((name) => loadHistory(runsDir, name));
    return histories[0].map((h, e) => ({
      model: r.model,
      task: r.task,
      images_seen: h.images,
      val_acc: mean(histories.map((hs) => hs[e]?.val_acc ?? NaN)),
    }));
  });
}

/** The grid's own cells and, apart, the pre-training comparison's (maeModel at maeTrain, both inits). */
export function splitRows(
  g: GridConfig,
  rows: GridRow[],
): { grid: GridRow[]; pretrain: GridRow[] } {
  const isPretrain = (r: GridRow) =>
    !!g.maeModel && r.model === g.maeModel && r.train === g.maeTrain;
  const inGrid = (r: GridRow) =>
    r.init === "scratch" && g.train.includes(r.train) && g.models.includes(r.model);
  return { grid: rows.filter(inGrid), pretrain: rows.filter(isPretrain) };
}

/** A grid's config as notebook 06 saved it with its runs (runs/<name>/grid.json), checked whole. */
export function savedGrid(mode: Mode<GridConfig>, runsDir: string, name: string): GridConfig {
  const file = path.join(runsDir, name, "grid.json");
  if (!fs.existsSync(file))
    throw new Error(
      `no ${mode.name} '${name}' under ${runsDir}: ${file} is missing; run notebook ${mode === CONTEST ? "06_architectures" : "05_difficulty"} first (or 'amida ${mode.name} --name ${name}')`,
    );
  return readJsonFile(file, `saved ${mode.name} config`, (v, where) =>
    validateSaved(mode, v, where),
  );
}
