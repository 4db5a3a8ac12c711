import * as fs from "fs";
import * as path from "path";
import {
  defaultSweepParams,
  heatmapRows,
  runSweep,
  sweepFromParams,
  sweepMarkdown,
  SweepParams,
} from "../experiment/sweep";
import { heatmapSpec, vegaLiteToSVG } from "../notebook/charts";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic";
import { parse, intOpt, numOpt, rangeOpt } from "./args";
import { DEFAULT_TRAIN, TrainConfig, OPTIMIZERS } from "../train/config";
import { FreezeGroup } from "../models/freeze";
import { runTraining } from "../experiment/run";
import { collectResults, runStages, runTrack } from "../experiment/protocol";
import { Stage, STAGES } from "../experiment/stages";
import {
  applySettings,
  budgetConfig,
  BUDGETS,
  describeConfig,
  ExperimentConfig,
  flagOf,
  KNOBS,
  Track,
  validateExperiment,
} from "../experiment/config";
import { resultRows, resultsJson, resultsMarkdown } from "../experiment/results";
import { initBackend } from "../backend/select";

const TRAIN_USAGE = `usage: amida train --model NAME --data DIR --name RUN [--runs runs] [--init CHECKPOINT_DIR] [--freeze none|first5|stem+early-transformer|all-but-head|early:<percent>]
                   [--epochs N] [--batch N] [--lr X] [--optimizer adamw|adam] [--weight-decay X] [--warmup EPOCHS]
                   [--label-smoothing X] [--patience N] [--seed N] [--model-seed N] [--fresh] [--backend auto|node-gpu|node|wasm|cpu]
Trains one model on one data set into RUNS/RUN/ (config.json, history.json, metrics.json, checkpoints/{last,best}).
Re-running the same config reuses the finished run, or resumes an interrupted one; --fresh retrains.`;

export function trainFlags(
  v: Record<string, string | boolean | undefined>,
  base: TrainConfig = DEFAULT_TRAIN,
): TrainConfig {
  const s = (k: string) => v[k] as string | undefined;
  return {
    epochs: intOpt("epochs", s("epochs"), base.epochs),
    batchSize: intOpt("batch", s("batch"), base.batchSize),
    lr: numOpt("lr", s("lr"), base.lr),
    optimizer: (s("optimizer") ?? base.optimizer) as (typeof OPTIMIZERS)[number],
    weightDecay: numOpt("weight-decay", s("weight-decay"), base.weightDecay),
    warmupEpochs: numOpt("warmup", s("warmup"), base.warmupEpochs),
    labelSmoothing: numOpt("label-smoothing", s("label-smoothing"), base.labelSmoothing),
    earlyStopPatience: intOpt("patience", s("patience"), base.earlyStopPatience),
    seed: intOpt("seed", s("seed"), base.seed),
    valLimit: intOpt("val-limit", s("val-limit"), base.valLimit),
  };
}

const TRAIN_FLAGS = {
  epochs: { type: "string" },
  batch: { type: "string" },
  lr: { type: "string" },
  optimizer: { type: "string" },
  "weight-decay": { type: "string" },
  warmup: { type: "string" },
  "label-smoothing": { type: "string" },
  patience: { type: "string" },
  seed: { type: "string" },
  "val-limit": { type: "string" },
  backend: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function trainCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(
    argv,
    {
      ...TRAIN_FLAGS,
      model: { type: "string" },
      data: { type: "string" },
      name: { type: "string" },
      runs: { type: "string" },
      init: { type: "string" },
      freeze: { type: "string" },
      "model-seed": { type: "string" },
      fresh: { type: "boolean" },
    },
    TRAIN_USAGE,
  );
  if (v.help) {
    console.log(TRAIN_USAGE);
    return 0;
  }
  for (const req of ["model", "data", "name"] as const)
    if (!v[req]) throw new Error(`--${req} is required\n${TRAIN_USAGE}`);
  // Everything below (runTraining included) asks for the backend again: one source of truth.
  if (v.backend) process.env.AMIDA_BACKEND = v.backend;
  await initBackend();
  const m = await runTraining(
    {
      name: v.name!,
      model: v.model!,
      data: v.data!,
      init: v.init ?? null,
      freeze: (v.freeze ?? "none") as FreezeGroup,
      train: trainFlags(v),
      modelSeed: intOpt("model-seed", v["model-seed"], 0),
    },
    { runsDir: v.runs ?? "runs", fresh: v.fresh },
  );
  const { confusion, ...row } = m;
  console.log(JSON.stringify(row));
  return 0;
}

const EXP_FIXED = `usage: amida experiment [--budget ${Object.keys(BUDGETS).join("|")}] [--config FILE.json] [--runs runs] [--data data] [--backend ...] [--<knob> VALUE ...]
Runs the seed's protocol (plain -> warp fine-tune per freeze arm, + warp-from-scratch controls) for a CNN
and a MobileViT, once per training seed, prints the results table (each accuracy beside its rung-blind
baseline) and writes RUNS/NAME/results.json. --config starts from a saved experiment.json instead of a budget.
Knobs (default: the budget's value):`;

function experimentUsage(): string {
  return [EXP_FIXED, ...KNOBS.map((k) => `  --${flagOf(k.key).padEnd(26)} ${k.doc}`)].join("\n");
}

export async function experimentCommand(argv: string[]): Promise<number> {
  const knobFlags = Object.fromEntries(
    KNOBS.map((k) => [flagOf(k.key), { type: "string" as const }]),
  );
  const { values: v } = parse(
    argv,
    {
      budget: { type: "string" },
      config: { type: "string" },
      runs: { type: "string" },
      data: { type: "string" },
      backend: { type: "string" },
      help: { type: "boolean", short: "h" },
      ...knobFlags,
    },
    experimentUsage(),
  );
  if (v.help) {
    console.log(experimentUsage());
    return 0;
  }
  const values = v as Record<string, string | boolean | undefined>;
  if (v.config && v.budget)
    throw new Error("--config and --budget both choose the starting config; give one");
  const base: ExperimentConfig = v.config
    ? validateExperiment(readJson(v.config as string))
    : budgetConfig((v.budget as string | undefined) ?? "quick");
  const settings = KNOBS.filter((k) => values[flagOf(k.key)] !== undefined).map((k) => ({
    key: k.key,
    value: values[flagOf(k.key)] as string,
    source: "flag" as const,
    origin: `--${flagOf(k.key)}`,
  }));
  const { config: cfg, sources } = applySettings(base, settings);
  if (v.backend) process.env.AMIDA_BACKEND = v.backend as string;
  const backend = await initBackend();
  console.log(describeConfig(cfg, sources));
  const t0 = Date.now();
  const paths = {
    runsDir: (v.runs as string | undefined) ?? "runs",
    dataDir: (v.data as string | undefined) ?? "data",
  };
  const results = await runStages(cfg, STAGES, paths);
  const rows = resultRows(results);
  writeJsonAtomic(path.join(paths.runsDir, cfg.name, "results.json"), resultsJson(rows));
  console.log(resultsMarkdown(rows));
  console.log(`experiment '${cfg.name}' done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  console.log(
    JSON.stringify({ experiment: cfg.name, backend: backend.name, rows: resultsJson(rows) }),
  );
  return 0;
}

function readJson(file: string): ExperimentConfig {
  if (!fs.existsSync(file)) throw new Error(`--config: no such file '${file}'`);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`--config: '${file}' is not valid JSON (${(e as Error).message})`);
  }
}

/** Internal: one track of an experiment in its own process (see protocol.ts). */
export async function trackCommand(argv: string[]): Promise<number> {
  const [configFile, track, stages, plain, warp, runsDir] = argv;
  const cfg = validateExperiment(readJson(configFile));
  await initBackend(undefined, { quiet: true });
  await runTrack(cfg, track as Track, stages.split(",") as Stage[], { plain, warp }, runsDir, (l) =>
    console.log(l),
  );
  return 0;
}

const SWEEP_FLAGS: Record<string, keyof SweepParams> = {
  name: "name",
  models: "models",
  difficulties: "difficulties",
  size: "size",
  train: "train",
  tasks: "tasks",
  epochs: "epochs",
  val: "val",
  test: "test",
  batch: "batch",
  lr: "lr",
  sampling: "sampling",
  "data-seed": "dataSeed",
  seeds: "seeds",
};

function sweepUsage(): string {
  const d = defaultSweepParams();
  return `usage: amida sweep ${Object.entries(SWEEP_FLAGS)
    .map(([f, k]) => `[--${f} ${d[k]}]`)
    .join(" ")} [--workers N] [--runs runs] [--data data]
Trains every combination once per training seed (each a separate 'amida train' process; one per core on
wasm, one at a time on the native backend) and writes RUNS/NAME/sweep.csv, sweep.json and heatmap.svg.
The defaults shown are the grid notebook 05 and 'make reproduce' run.`;
}

export async function sweepCommand(argv: string[]): Promise<number> {
  const flags = Object.fromEntries(
    Object.keys(SWEEP_FLAGS).map((f) => [f, { type: "string" as const }]),
  );
  const { values: v } = parse(
    argv,
    {
      ...flags,
      workers: { type: "string" },
      runs: { type: "string" },
      data: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    sweepUsage(),
  );
  if (v.help) {
    console.log(sweepUsage());
    return 0;
  }
  const values = v as Record<string, string | undefined>;
  const p = defaultSweepParams() as unknown as Record<string, string | number>;
  for (const [flag, key] of Object.entries(SWEEP_FLAGS)) {
    const text = values[flag];
    if (text === undefined) continue;
    p[key] = typeof p[key] === "number" ? numOpt(flag, text, 0) : text;
  }
  // Validation builds models (attention spans): on the chosen backend, not tfjs's cpu fallback.
  await initBackend(undefined, { quiet: true });
  const grid = sweepFromParams(p as unknown as SweepParams);
  const runsDir = values.runs ?? "runs";
  const rows = await runSweep(
    grid,
    { runsDir, dataDir: values.data ?? "data" },
    {
      workers:
        values.workers === undefined ? undefined : rangeOpt("workers", values.workers, 1, 256),
    },
  );
  const svg = await vegaLiteToSVG(
    heatmapSpec(heatmapRows(rows), `test accuracy (mean over seeds): ${grid.name}`),
  );
  writeFileAtomic(path.join(runsDir, grid.name, "heatmap.svg"), svg);
  console.log(sweepMarkdown(rows));
  console.log(JSON.stringify(rows));
  return 0;
}

export async function resultsCommand(argv: string[]): Promise<number> {
  const usage =
    "usage: amida results [--name quick] [--runs runs] [--data data]\nPrints the results table of an experiment's finished runs (from RUNS/NAME/experiment.json).";
  const { values: v } = parse(
    argv,
    {
      name: { type: "string" },
      runs: { type: "string" },
      data: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    usage,
  );
  if (v.help) {
    console.log(usage);
    return 0;
  }
  const runsDir = v.runs ?? "runs";
  const name = v.name ?? "quick";
  const saved = path.join(runsDir, name, "experiment.json");
  if (!fs.existsSync(saved))
    throw new Error(
      `no experiment '${name}' under ${runsDir}: ${saved} is missing (run 'amida experiment --name ${name}' first)`,
    );
  // Validation builds the models (attention spans): on the chosen backend, not tfjs's cpu fallback.
  await initBackend(undefined, { quiet: true });
  const cfg = validateExperiment(readJson(saved));
  const { results, unfinished } = collectResults(cfg, { runsDir, dataDir: v.data ?? "data" });
  if (results.length === 0)
    throw new Error(`no finished runs for experiment '${cfg.name}' under ${runsDir}/${cfg.name}`);
  console.log(resultsMarkdown(resultRows(results)));
  if (unfinished.length)
    console.log(`NOT FINISHED (missing from the table): ${unfinished.join(", ")}`);
  return 0;
}
