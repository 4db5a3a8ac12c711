import * as fs from "fs";
import * as path from "path";
import { listArg, runSweep, SweepGrid } from "../experiment/sweep";
import { heatmapSpec, vegaLiteToSVG } from "../notebook/charts";
import { writeFileAtomic } from "../util/atomic";
import { parse, intOpt, numOpt } from "./args";
import { DEFAULT_TRAIN, TrainConfig, OPTIMIZERS } from "../train/config";
import { FreezeGroup } from "../models/freeze";
import { runTraining } from "../experiment/run";
import { applyOverrides, collectResults, experimentPreset, ExperimentConfig, resultsMarkdown, runExperiment, runTrack, Stage, Track, EXPERIMENT_PRESETS } from "../experiment/protocol";
import { initBackend } from "../backend/select";

const TRAIN_USAGE = `usage: amida train --model NAME --data DIR --name RUN [--runs runs] [--init CHECKPOINT_DIR] [--freeze none|first5|stem+early-transformer|all-but-head|early:<percent>]
                   [--epochs N] [--batch N] [--lr X] [--optimizer adamw|adam] [--weight-decay X] [--warmup EPOCHS]
                   [--label-smoothing X] [--patience N] [--seed N] [--model-seed N] [--fresh] [--backend auto|node-gpu|node|wasm|cpu]
Trains one model on one data set into RUNS/RUN/ (config.json, history.json, metrics.json, checkpoints/{last,best}).
Re-running the same config reuses the finished run, or resumes an interrupted one; --fresh retrains.`;

export function trainFlags(v: Record<string, string | boolean | undefined>, base: TrainConfig = DEFAULT_TRAIN): TrainConfig {
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
    { ...TRAIN_FLAGS, model: { type: "string" }, data: { type: "string" }, name: { type: "string" }, runs: { type: "string" }, init: { type: "string" }, freeze: { type: "string" }, "model-seed": { type: "string" }, fresh: { type: "boolean" } },
    TRAIN_USAGE,
  );
  if (v.help) {
    console.log(TRAIN_USAGE);
    return 0;
  }
  for (const req of ["model", "data", "name"] as const) if (!v[req]) throw new Error(`--${req} is required\n${TRAIN_USAGE}`);
  // Everything below (runTraining included) asks for the backend again: one source of truth.
  if (v.backend) process.env.AMIDA_BACKEND = v.backend;
  await initBackend();
  const m = await runTraining(
    { name: v.name!, model: v.model!, data: v.data!, init: v.init ?? null, freeze: (v.freeze ?? "none") as FreezeGroup, train: trainFlags(v), modelSeed: intOpt("model-seed", v["model-seed"], 0) },
    { runsDir: v.runs ?? "runs", fresh: v.fresh },
  );
  const { confusion, ...row } = m;
  console.log(JSON.stringify(row));
  return 0;
}

const EXP_USAGE = `usage: amida experiment [--preset ${Object.keys(EXPERIMENT_PRESETS).join("|")}] [--name NAME] [--config FILE.json] [--runs runs] [--data data]
                        [--plain-train N] [--warp-train N] [--epochs N] [--serial] [--backend ...]
Runs the seed's protocol (plain -> frozen warp fine-tune, + warp-from-scratch controls) for MobileNetV2 and
MobileViT and prints the results table; writes RUNS/NAME/results.json.`;

export async function experimentCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(
    argv,
    { preset: { type: "string" }, name: { type: "string" }, config: { type: "string" }, runs: { type: "string" }, data: { type: "string" }, "plain-train": { type: "string" }, "warp-train": { type: "string" }, epochs: { type: "string" }, serial: { type: "boolean" }, backend: { type: "string" }, help: { type: "boolean", short: "h" } },
    EXP_USAGE,
  );
  if (v.help) {
    console.log(EXP_USAGE);
    return 0;
  }
  const base: ExperimentConfig = v.config ? JSON.parse(fs.readFileSync(v.config, "utf8")) : experimentPreset(v.preset ?? "quick");
  const cfg = applyOverrides(base, {
    name: v.name,
    plainTrain: v["plain-train"] ? intOpt("plain-train", v["plain-train"]) : undefined,
    warpTrain: v["warp-train"] ? intOpt("warp-train", v["warp-train"]) : undefined,
    epochs: v.epochs ? intOpt("epochs", v.epochs) : undefined,
    serial: v.serial,
  });
  if (v.backend) process.env.AMIDA_BACKEND = v.backend;
  const backend = await initBackend();
  console.log(JSON.stringify(cfg));
  const rows = await runExperiment(cfg, { runsDir: v.runs ?? "runs", dataDir: v.data ?? "data" });
  console.log(resultsMarkdown(rows));
  console.log(JSON.stringify({ experiment: cfg.name, backend: backend.name, rows }));
  return 0;
}

/** Internal: one track of an experiment in its own process (see protocol.ts). */
export async function trackCommand(argv: string[]): Promise<number> {
  const [configFile, track, stages, plain, warp, runsDir] = argv;
  const cfg: ExperimentConfig = JSON.parse(fs.readFileSync(configFile, "utf8"));
  await initBackend(undefined, { quiet: true });
  await runTrack(cfg, track as Track, stages.split(",") as Stage[], { plain, warp }, runsDir, (l) => console.log(l));
  return 0;
}

const SWEEP_USAGE = `usage: amida sweep [--name NAME] [--models m1,m2] [--difficulties easy,medium] [--train 1000,3000] [--tasks plain,warp]
                   [--epochs 3] [--val N] [--test N] [--batch N] [--lr X] [--seed N] [--workers N] [--runs runs] [--data data]
Trains every combination (each a separate 'amida train' process, one per core at a time) and writes
RUNS/NAME/sweep.csv, sweep.json and heatmap.svg.`;

export async function sweepCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(
    argv,
    { name: { type: "string" }, models: { type: "string" }, difficulties: { type: "string" }, train: { type: "string" }, tasks: { type: "string" }, epochs: { type: "string" }, val: { type: "string" }, test: { type: "string" }, batch: { type: "string" }, lr: { type: "string" }, seed: { type: "string" }, workers: { type: "string" }, runs: { type: "string" }, data: { type: "string" }, help: { type: "boolean", short: "h" } },
    SWEEP_USAGE,
  );
  if (v.help) {
    console.log(SWEEP_USAGE);
    return 0;
  }
  const nums = (flag: string, text: string | undefined, d: string[]) => listArg(text, d).map((s) => intOpt(flag, s));
  const grid: SweepGrid = {
    name: v.name ?? "sweep",
    models: listArg(v.models, ["mobilenetv2_100", "mobilevit_xxs"]),
    difficulties: listArg(v.difficulties, ["easy", "medium"]),
    trainCounts: nums("train", v.train, ["1000", "3000"]),
    tasks: listArg(v.tasks, ["plain", "warp"]) as SweepGrid["tasks"],
    epochs: nums("epochs", v.epochs, ["3"]),
    valCount: intOpt("val", v.val, 300),
    testCount: intOpt("test", v.test, 600),
    batchSize: intOpt("batch", v.batch, 32),
    lr: numOpt("lr", v.lr, 2e-3),
    seed: intOpt("seed", v.seed, 0),
  };
  const runsDir = v.runs ?? "runs";
  const rows = await runSweep(grid, { runsDir, dataDir: v.data ?? "data" }, { workers: v.workers ? intOpt("workers", v.workers) : undefined });
  const svg = await vegaLiteToSVG(heatmapSpec(rows, `test accuracy: ${grid.name}`));
  writeFileAtomic(path.join(runsDir, grid.name, "heatmap.svg"), svg);
  console.log(JSON.stringify(rows));
  return 0;
}

export async function resultsCommand(argv: string[]): Promise<number> {
  const usage = "usage: amida results [--name quick] [--preset quick] [--runs runs] [--data data]\nPrints the results table of an experiment's finished runs.";
  const { values: v } = parse(argv, { name: { type: "string" }, preset: { type: "string" }, runs: { type: "string" }, data: { type: "string" }, help: { type: "boolean", short: "h" } }, usage);
  if (v.help) {
    console.log(usage);
    return 0;
  }
  const runsDir = v.runs ?? "runs";
  // An experiment saves its config beside its runs; a preset name is the fallback.
  const saved = path.join(runsDir, v.name ?? v.preset ?? "quick", "experiment.json");
  const name = v.name ?? v.preset ?? "quick";
  if (!fs.existsSync(saved) && !(name in EXPERIMENT_PRESETS)) throw new Error(`no experiment '${name}' under ${runsDir} (${saved} is missing), and no preset of that name (${Object.keys(EXPERIMENT_PRESETS).join(", ")})`);
  const cfg: ExperimentConfig = fs.existsSync(saved) ? JSON.parse(fs.readFileSync(saved, "utf8")) : experimentPreset(name);
  const rows = collectResults(cfg, { runsDir, dataDir: v.data ?? "data" });
  if (rows.length === 0) throw new Error(`no finished runs for experiment '${cfg.name}' under ${runsDir}/${cfg.name}`);
  console.log(resultsMarkdown(rows));
  return 0;
}
