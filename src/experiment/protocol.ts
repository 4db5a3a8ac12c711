/**
 * The seed's experiment (000), made checkable:
 *   stage1    each model learns plain puzzles from scratch;
 *   finetune  from its stage-1 weights, with a freeze group applied (one run per arm: the seed's
 *             `first5` / `stem+early-transformer`, and arms that freeze comparable shares), it
 *             is fine-tuned on k-hop warp puzzles;
 *   scratch   the control: each model learns warp from scratch, nothing frozen, stage 2's budget.
 * Every run is repeated once per training seed. The CNN and ViT tracks are independent; they run
 * in two processes where the backend runs one thread per process (native, wasm; not on a GPU).
 */
import * as fs from "fs";
import * as path from "path";
import { forkChild, Job, runAll } from "../util/children";
import { NO_NUISANCE } from "../puzzle/nuisance";
import { DatasetSpec } from "../data/spec";
import { ensureDataset } from "../data/generate";
import { RunConfig, RunMetrics, runTraining } from "./run";
import { writeJsonAtomic } from "../util/atomic";
import { initBackend, trainingProcesses } from "../backend/select";
import { ExperimentConfig, Track, TRACKS, validateExperiment } from "./config";
import { Stage, STAGES } from "./stages";

/** One run of the protocol, with its place in it. */
export interface ProtocolRun {
  track: Track;
  stage: Stage;
  /** Freeze group of a fine-tune; `none` for stage 1 and the controls. */
  arm: string;
  seed: number;
  config: RunConfig;
}

/** `cnn-finetune-early30-s2`: track, stage, arm (fine-tunes only) and training seed. */
export function runName(track: Track, stage: Stage, arm: string, seed: number): string {
  const armPart = stage === "finetune" ? `-${arm.replace(/:/g, "")}` : "";
  return `${track}-${stage}${armPart}-s${seed}`;
}

export interface DataDirs {
  plain: string;
  warp: string;
}

export function dataDirs(cfg: ExperimentConfig, dataDir: string): DataDirs {
  return {
    plain: path.join(dataDir, `${cfg.name}-plain`),
    warp: path.join(dataDir, `${cfg.name}-warp`),
  };
}

/** Every run of the experiment, in the order a track trains them (a fine-tune needs its stage 1). */
export function protocolRuns(
  cfg: ExperimentConfig,
  data: DataDirs,
  runsDir: string,
  tracks: readonly Track[] = TRACKS,
): ProtocolRun[] {
  const out: ProtocolRun[] = [];
  for (const track of tracks) {
    const model = cfg.models[track];
    for (const seed of cfg.seeds) {
      const make = (stage: Stage, arm: string, init: string | null): ProtocolRun => ({
        track,
        stage,
        arm,
        seed,
        config: {
          name: runName(track, stage, arm, seed),
          model,
          data: stage === "stage1" ? data.plain : data.warp,
          init,
          freeze: arm as RunConfig["freeze"],
          train: { ...(stage === "stage1" ? cfg.stage1 : cfg.stage2), seed },
          modelSeed: seed,
        },
      });
      const s1 = make("stage1", "none", null);
      out.push(s1);
      for (const arm of cfg.freeze[track])
        out.push(make("finetune", arm, path.join(runsDir, s1.config.name, "checkpoints", "best")));
      if (cfg.controls) out.push(make("scratch", "none", null));
    }
  }
  return out;
}

/** The runs that `stages` need: a fine-tune brings its stage-1 run along (reused when finished and unchanged). */
function runsFor(all: ProtocolRun[], stages: readonly Stage[]): ProtocolRun[] {
  const needed = (r: ProtocolRun) =>
    stages.includes(r.stage) ||
    (r.stage === "stage1" &&
      stages.includes("finetune") &&
      all.some((f) => f.stage === "finetune" && f.track === r.track && f.seed === r.seed));
  return all.filter(needed);
}

function datasetSpec(cfg: ExperimentConfig, task: "plain" | "warp"): DatasetSpec {
  return {
    task,
    hops: task === "plain" ? 0 : cfg.hops,
    difficulty: cfg.difficulty,
    nuisance: NO_NUISANCE,
    seed: cfg.dataSeed,
    sampling: cfg.sampling,
  };
}

export interface Paths {
  runsDir: string;
  dataDir: string;
}

/** Generates (or reuses, when spec and counts are unchanged) the experiment's two data sets. */
export function ensureData(
  cfg: ExperimentConfig,
  paths: Paths,
  log: (l: string) => void,
): DataDirs {
  const dirs = dataDirs(cfg, paths.dataDir);
  ensureDataset(datasetSpec(cfg, "plain"), cfg.plain, dirs.plain, log);
  ensureDataset(datasetSpec(cfg, "warp"), cfg.warp, dirs.warp, log);
  return dirs;
}

/** One track's runs for `stages`, in order, in this process. */
export async function runTrack(
  cfg: ExperimentConfig,
  track: Track,
  stages: readonly Stage[],
  data: DataDirs,
  runsDir: string,
  log: (l: string) => void,
): Promise<RunMetrics[]> {
  const out: RunMetrics[] = [];
  for (const r of runsFor(protocolRuns(cfg, data, runsDir, [track]), stages)) {
    out.push(await runTraining(r.config, { runsDir, quiet: true, onLine: log }));
  }
  return out;
}

function forkTrack(
  configFile: string,
  track: Track,
  stages: readonly Stage[],
  data: DataDirs,
  runsDir: string,
  log: (l: string) => void,
): Job {
  const bin = path.join(__dirname, "..", "..", "bin", "amida.js");
  const lines = () => {
    let buf = "";
    return (d: string) => {
      buf += d;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      parts.filter((l) => l.trim()).forEach((l) => log(l.replace(/^.*\r/, "")));
    };
  };
  return {
    name: `the ${track} track`,
    start: () =>
      forkChild(
        bin,
        ["_track", configFile, track, stages.join(","), data.plain, data.warp, runsDir],
        lines(),
        lines(),
      ),
  };
}

/** A finished run's metrics with its place in the protocol. */
export interface RunResult {
  run: ProtocolRun;
  metrics: RunMetrics;
}

function readMetrics(runsDir: string, r: ProtocolRun): RunMetrics | null {
  const f = path.join(runsDir, r.config.name, "metrics.json");
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8")) : null;
}

/**
 * Runs the given stages for both tracks (a fine-tune's stage 1 too) and returns their results.
 * Data sets are generated once and reused while their spec and counts are unchanged.
 */
export async function runStages(
  cfg: ExperimentConfig,
  stages: readonly Stage[],
  paths: Paths,
  opts: { log?: (l: string) => void; trackLog?: (track: Track, line: string) => void } = {},
): Promise<RunResult[]> {
  validateExperiment(cfg);
  for (const st of stages)
    if (!STAGES.includes(st))
      throw new Error(`unknown stage '${st}'; allowed: ${STAGES.join(", ")}`);
  const log = opts.log ?? ((l: string) => console.log(l));
  const trackLog = opts.trackLog ?? ((t: Track, l: string) => log(`[${t}] ${l}`));
  const runsDir = path.join(paths.runsDir, cfg.name);
  fs.mkdirSync(runsDir, { recursive: true });
  const configFile = path.join(runsDir, "experiment.json");
  writeJsonAtomic(configFile, cfg);
  const data = ensureData(cfg, paths, log);
  const processes = trainingProcesses(await initBackend(undefined, { quiet: true }));
  if (cfg.parallel && processes >= 2) {
    log(`running the cnn and vit tracks in two processes (the backend uses one core each)`);
    await runAll(
      TRACKS.map((t) => forkTrack(configFile, t, stages, data, runsDir, (l) => trackLog(t, l))),
      TRACKS.length,
    );
  } else {
    for (const t of TRACKS) await runTrack(cfg, t, stages, data, runsDir, (l) => trackLog(t, l));
  }
  return runsFor(protocolRuns(cfg, data, runsDir), stages).map((run) => {
    const metrics = readMetrics(runsDir, run);
    if (!metrics)
      throw new Error(
        `run ${run.config.name} finished without ${path.join(runsDir, run.config.name, "metrics.json")}`,
      );
    return { run, metrics };
  });
}

/** What an experiment's runs directory holds: finished results, and the runs not finished (or never started). */
export function collectResults(
  cfg: ExperimentConfig,
  paths: Paths,
): { results: RunResult[]; unfinished: string[] } {
  const runsDir = path.join(paths.runsDir, cfg.name);
  const results: RunResult[] = [];
  const unfinished: string[] = [];
  for (const run of protocolRuns(cfg, dataDirs(cfg, paths.dataDir), runsDir)) {
    const metrics = readMetrics(runsDir, run);
    if (metrics) results.push({ run, metrics });
    else unfinished.push(run.config.name);
  }
  return { results, unfinished };
}
