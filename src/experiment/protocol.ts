/**
 * The seed's experiment (000), scaled by a preset:
 *   stage 1  each model learns plain puzzles from scratch;
 *   stage 2  from its stage-1 weights, with the early layers frozen (MobileNet `first5`,
 *            MobileViT `stem+early-transformer`), it is fine-tuned on 1-hop warp puzzles;
 *   control  each model learns warp from scratch, nothing frozen, with stage 2's budget.
 * The CNN and the ViT tracks are independent; with two cores they run in two processes
 * (tfjs-wasm is single-threaded under Node, so this is where the second core pays).
 */
import * as fs from "fs";
import * as path from "path";
import { forkChild, Job, runAll } from "../util/children";
import * as os from "os";
import { Difficulty, presetDifficulty, validateDifficulty } from "../puzzle/difficulty";
import { NO_NUISANCE } from "../puzzle/render";
import { DatasetSpec } from "../data/spec";
import { ensureDataset, SplitCounts, validateCounts } from "../data/generate";
import { DEFAULT_TRAIN, TrainConfig, validateTrainConfig } from "../train/config";
import { RunConfig, RunMetrics, runTraining } from "./run";
import { validateModelSpec } from "../models/registry";
import { writeJsonAtomic } from "../util/atomic";

export interface ExperimentConfig {
  /** Runs go to runs/<name>/<run>; data sets to data/<name>-{plain,warp}. */
  name: string;
  preset: string;
  difficulty: Difficulty;
  hops: number;
  seed: number;
  plain: SplitCounts;
  warp: SplitCounts;
  models: { cnn: string; vit: string };
  stage1: TrainConfig;
  stage2: TrainConfig;
  controls: boolean;
  /** Run the CNN and ViT tracks in two processes when the machine has two cores. */
  parallel: boolean;
}

const base = (d: Difficulty, over: Partial<ExperimentConfig>): ExperimentConfig => ({
  name: "quick",
  preset: "quick",
  difficulty: d,
  hops: 1,
  seed: 0,
  plain: { train: 4000, val: 500, test: 1000 },
  warp: { train: 4000, val: 500, test: 1000 },
  models: { cnn: "mobilenetv2_100", vit: "mobilevit_xxs" },
  stage1: { ...DEFAULT_TRAIN },
  stage2: { ...DEFAULT_TRAIN },
  controls: true,
  parallel: true,
  ...over,
});

export const EXPERIMENT_PRESETS: Record<string, () => ExperimentConfig> = {
  /** Seconds: for CI and for checking the pipeline end to end. Learns nothing. */
  tiny: () =>
    base(presetDifficulty("easy"), {
      name: "tiny",
      preset: "tiny",
      plain: { train: 48, val: 16, test: 24 },
      warp: { train: 48, val: 16, test: 24 },
      models: { cnn: "mobilenetv2_035", vit: "mobilevit_xxs" },
      stage1: { ...DEFAULT_TRAIN, epochs: 1, batchSize: 16, warmupEpochs: 0 },
      stage2: { ...DEFAULT_TRAIN, epochs: 1, batchSize: 16, warmupEpochs: 0 },
      parallel: false,
    }),
  /** `make reproduce`: <= 30 min on a 2-core machine, at a difficulty the models can learn. */
  quick: () =>
    base(presetDifficulty("easy"), {
      name: "quick",
      preset: "quick",
      plain: { train: 4000, val: 500, test: 1000 },
      warp: { train: 4000, val: 500, test: 1000 },
      models: { cnn: "mobilenetv2_100", vit: "mobilevit_xxs" },
      stage1: { ...DEFAULT_TRAIN, epochs: 4, batchSize: 32, lr: 2e-3 },
      stage2: { ...DEFAULT_TRAIN, epochs: 5, batchSize: 32, lr: 2e-3 },
    }),
  /** The seed's sizes and difficulty (hours on a GPU-less machine; meant for tfjs-node-gpu). */
  full: () =>
    base(presetDifficulty("seed"), {
      name: "full",
      preset: "full",
      plain: { train: 20000, val: 2000, test: 5000 },
      warp: { train: 50000, val: 2000, test: 5000 },
      stage1: { ...DEFAULT_TRAIN, epochs: 15, batchSize: 64, lr: 1e-3 },
      stage2: { ...DEFAULT_TRAIN, epochs: 20, batchSize: 64, lr: 1e-3 },
    }),
};

export function experimentPreset(name: string): ExperimentConfig {
  const make = EXPERIMENT_PRESETS[name];
  if (!make) throw new Error(`unknown experiment preset '${name}'; allowed: ${Object.keys(EXPERIMENT_PRESETS).join(", ")}`);
  return make();
}

/** Overrides a student (or a sweep) applies to a preset; 0 or "" leaves the preset's value. */
export interface ExperimentOverrides {
  name?: string;
  plainTrain?: number;
  warpTrain?: number;
  epochs?: number;
  serial?: boolean;
}

export function applyOverrides(cfg: ExperimentConfig, o: ExperimentOverrides): ExperimentConfig {
  const out: ExperimentConfig = JSON.parse(JSON.stringify(cfg));
  if (o.name) out.name = o.name;
  if (o.plainTrain) out.plain.train = o.plainTrain;
  if (o.warpTrain) out.warp.train = o.warpTrain;
  if (o.epochs) out.stage1.epochs = out.stage2.epochs = o.epochs;
  if (o.serial) out.parallel = false;
  return validateExperiment(out);
}

export function validateExperiment(c: ExperimentConfig): ExperimentConfig {
  if (!/^[A-Za-z0-9._-]+$/.test(c.name)) throw new Error(`experiment name must use letters, digits, '.', '_', '-' only, got '${c.name}'`);
  validateDifficulty(c.difficulty);
  if (!Number.isInteger(c.hops) || c.hops < 1 || c.hops > 16) throw new Error(`hops must be an integer in 1..16, got ${c.hops}`);
  validateCounts(c.plain);
  validateCounts(c.warp);
  if (c.plain.test < 1 || c.warp.test < 1) throw new Error("each data set needs a test split of at least 1 puzzle");
  for (const m of [c.models.cnn, c.models.vit]) validateModelSpec({ name: m, inputSize: c.difficulty.size, classes: c.difficulty.lanes, seed: 0 });
  if (!c.models.cnn.startsWith("mobilenetv2_")) throw new Error(`models.cnn must be a MobileNetV2 variant, got '${c.models.cnn}'`);
  if (!c.models.vit.startsWith("mobilevit_")) throw new Error(`models.vit must be a MobileViT variant, got '${c.models.vit}'`);
  if (c.difficulty.size % 32 !== 0) throw new Error(`difficulty.size must be a multiple of 32 for the models, got ${c.difficulty.size}`);
  validateTrainConfig(c.stage1);
  validateTrainConfig(c.stage2);
  return c;
}

export interface Paths {
  runsDir: string;
  dataDir: string;
}

function dataset(cfg: ExperimentConfig, task: "plain" | "warp", paths: Paths, log: (l: string) => void): string {
  const spec: DatasetSpec = { task, hops: task === "plain" ? 0 : cfg.hops, difficulty: cfg.difficulty, nuisance: NO_NUISANCE, seed: cfg.seed };
  const counts = task === "plain" ? cfg.plain : cfg.warp;
  return ensureDataset(spec, counts, path.join(paths.dataDir, `${cfg.name}-${task}`), log);
}

export type Track = "cnn" | "vit";
export const STAGES = ["plain", "finetune", "scratch"] as const;
export type Stage = (typeof STAGES)[number];

function stageOfRun(name: string): Stage {
  return name.endsWith("-1-plain") ? "plain" : name.endsWith("-2-warp-finetune") ? "finetune" : "scratch";
}

/** The runs of one model's track, in order (stage 2 starts from stage 1's best checkpoint). */
export function trackRuns(cfg: ExperimentConfig, track: Track, data: { plain: string; warp: string }, runsDir: string): RunConfig[] {
  const model = cfg.models[track];
  const freezeGroup = track === "cnn" ? "first5" : "stem+early-transformer";
  const stage1: RunConfig = { name: `${track}-1-plain`, model, data: data.plain, init: null, freeze: "none", train: cfg.stage1, modelSeed: cfg.seed };
  const runs = [stage1, { name: `${track}-2-warp-finetune`, model, data: data.warp, init: path.join(runsDir, stage1.name, "checkpoints", "best"), freeze: freezeGroup, train: cfg.stage2, modelSeed: cfg.seed } as RunConfig];
  if (cfg.controls) runs.push({ name: `${track}-3-warp-scratch`, model, data: data.warp, init: null, freeze: "none", train: cfg.stage2, modelSeed: cfg.seed });
  return runs;
}

export async function runTrack(cfg: ExperimentConfig, track: Track, stages: Stage[], data: { plain: string; warp: string }, runsDir: string, log: (l: string) => void): Promise<RunMetrics[]> {
  const out: RunMetrics[] = [];
  for (const run of trackRuns(cfg, track, data, runsDir).filter((r) => stages.includes(stageOfRun(r.name)))) {
    out.push(await runTraining(run, { runsDir, quiet: true, onLine: log }));
  }
  return out;
}

function forkTrack(configFile: string, track: Track, stages: Stage[], data: { plain: string; warp: string }, runsDir: string, log: (l: string) => void): Job {
  const bin = path.join(__dirname, "..", "..", "bin", "amida.js");
  const lines = () => {
    let buf = "";
    return (d: string) => {
      buf += d;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      parts.filter((l) => l.trim()).forEach((l) => log(`[${track}] ${l.replace(/^.*\r/, "")}`));
    };
  };
  return { name: `the ${track} track`, start: () => forkChild(bin, ["_track", configFile, track, stages.join(","), data.plain, data.warp, runsDir], lines(), lines()) };
}

export type ResultRow = Pick<RunMetrics, "model" | "stage" | "frozen" | "train_count" | "epochs" | "test_acc" | "ci95" | "seconds" | "backend" | "chance" | "confusion"> & { run: string };

export function resultRow(m: RunMetrics): ResultRow {
  return { model: m.model, stage: m.stage, frozen: m.frozen, train_count: m.train_count, epochs: m.epochs, test_acc: m.test_acc, ci95: m.ci95, seconds: m.seconds, backend: m.backend, chance: m.chance, confusion: m.confusion, run: m.name };
}

/** Seed 000's reported numbers, for the side-by-side table. */
export const SEED_RESULTS: Record<string, Record<string, number>> = {
  plain: { cnn: 0.997, vit: 0.9705 },
  "warp fine-tune": { cnn: 0.213, vit: 0.9272 },
};

export function resultsMarkdown(rows: ResultRow[]): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  const head = "| model | stage | frozen | train | epochs | test acc (95 % CI) | chance | seed 000 | time | backend |\n|---|---|---|---|---|---|---|---|---|---|";
  const body = rows.map((r) => {
    const track = r.model.startsWith("mobilevit") ? "vit" : "cnn";
    const seed = SEED_RESULTS[r.stage]?.[track];
    return `| ${r.model} | ${r.stage} | ${r.frozen} | ${r.train_count} | ${r.epochs} | ${pct(r.test_acc)} (${(100 * r.ci95[0]).toFixed(1)}-${(100 * r.ci95[1]).toFixed(1)}) | ${pct(r.chance)} | ${seed === undefined ? "" : pct(seed)} | ${r.seconds.toFixed(0)} s | ${r.backend} |`;
  });
  return [head, ...body].join("\n");
}

/**
 * Runs the given stages of the protocol for both models (stage 2 needs stage 1's checkpoints)
 * and returns their rows, CNN first. Data sets are generated once and reused while their spec
 * and counts are unchanged.
 */
export async function runStages(cfg: ExperimentConfig, stages: Stage[], paths: Paths, opts: { log?: (l: string) => void } = {}): Promise<ResultRow[]> {
  validateExperiment(cfg);
  for (const st of stages) if (!STAGES.includes(st)) throw new Error(`unknown stage '${st}'; allowed: ${STAGES.join(", ")}`);
  const log = opts.log ?? ((l: string) => console.log(l));
  const runsDir = path.join(paths.runsDir, cfg.name);
  fs.mkdirSync(runsDir, { recursive: true });
  const configFile = path.join(runsDir, "experiment.json");
  writeJsonAtomic(configFile, cfg);
  const data = { plain: dataset(cfg, "plain", paths, log), warp: dataset(cfg, "warp", paths, log) };
  const tracks: Track[] = ["cnn", "vit"];
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  if (cfg.parallel && cores >= 2) {
    log(`running the cnn and vit tracks in parallel (${cores} cores)`);
    await runAll(tracks.map((t) => forkTrack(configFile, t, stages, data, runsDir, log)), tracks.length);
  } else {
    for (const t of tracks) await runTrack(cfg, t, stages, data, runsDir, log);
  }
  return tracks
    .flatMap((t) => trackRuns(cfg, t, data, runsDir))
    .filter((r) => stages.includes(stageOfRun(r.name)))
    .map((r) => resultRow(JSON.parse(fs.readFileSync(path.join(runsDir, r.name, "metrics.json"), "utf8"))));
}

/** Every finished run of an experiment, CNN first: the rows of its results table. */
export function collectResults(cfg: ExperimentConfig, paths: Paths): ResultRow[] {
  const runsDir = path.join(paths.runsDir, cfg.name);
  const data = { plain: path.join(paths.dataDir, `${cfg.name}-plain`), warp: path.join(paths.dataDir, `${cfg.name}-warp`) };
  return (["cnn", "vit"] as Track[])
    .flatMap((t) => trackRuns(cfg, t, data, runsDir))
    .map((r) => path.join(runsDir, r.name, "metrics.json"))
    .filter((f) => fs.existsSync(f))
    .map((f) => resultRow(JSON.parse(fs.readFileSync(f, "utf8"))));
}

/** The whole protocol; also writes runs/<name>/results.json. */
export async function runExperiment(cfg: ExperimentConfig, paths: Paths, opts: { log?: (l: string) => void } = {}): Promise<ResultRow[]> {
  const t0 = Date.now();
  const rows = await runStages(cfg, [...STAGES], paths, opts);
  writeJsonAtomic(path.join(paths.runsDir, cfg.name, "results.json"), rows);
  (opts.log ?? console.log)(`experiment '${cfg.name}' done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return rows;
}
