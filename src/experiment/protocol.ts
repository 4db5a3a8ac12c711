/**
 * The seed's experiment (000), made checkable:
 *   stage1    each model learns plain puzzles from scratch;
 *   finetune  from its stage-1 weights, with a freeze group applied (one run per arm: the seed's
 *             `first5` / `stem+early-transformer`, and arms that freeze comparable shares), it
 *             is fine-tuned on k-hop warp puzzles;
 *   scratch   the control: each model learns warp from scratch, nothing frozen, stage 2's budget.
 * Every run is repeated once per training seed. The runner (runner.ts) trains them in one process
 * per core where the backend runs one thread per process (native, wasm; not on a GPU), each
 * fine-tune once its stage-1 run is done.
 */
import * as path from "path";
import { NO_NUISANCE } from "../puzzle/nuisance";
import { DatasetSpec } from "../data/spec";
import { RunConfig, RunMetrics } from "./rundir";
import { EXPERIMENT, ExperimentConfig, Track, TRACKS, validateExperiment } from "./config";
import { Stage, STAGES } from "./stages";
import { finishedResult, Plan, runPlan } from "./runner";

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

/** The experiment's work for `stages` as one plan for the runner. */
export function experimentPlan(
  cfg: ExperimentConfig,
  stages: readonly Stage[],
  paths: Paths,
): Plan {
  const runsDir = path.join(paths.runsDir, cfg.name);
  const data = dataDirs(cfg, paths.dataDir);
  const runs = runsFor(protocolRuns(cfg, data, runsDir), stages);
  return {
    what: `experiment '${cfg.name}'`,
    dir: runsDir,
    saved: { file: EXPERIMENT.file!, config: cfg },
    data: [
      { dir: data.plain, spec: datasetSpec(cfg, "plain"), counts: cfg.plain },
      { dir: data.warp, spec: datasetSpec(cfg, "warp"), counts: cfg.warp },
    ],
    pretrain: [],
    runs: runs.map((r) => ({
      config: r.config,
      after: r.stage === "finetune" ? [runName(r.track, "stage1", "none", r.seed)] : [],
    })),
  };
}

/** A finished run's metrics with its place in the protocol. */
export interface RunResult {
  run: ProtocolRun;
  metrics: RunMetrics;
}

/**
 * Runs the given stages for both tracks (a fine-tune's stage 1 too) and returns their results.
 * Data sets are generated once and reused while their spec and counts are unchanged.
 */
export async function runStages(
  cfg: ExperimentConfig,
  stages: readonly Stage[],
  paths: Paths,
  opts: { log?: (l: string) => void; runLine?: (run: string, line: string) => void } = {},
): Promise<RunResult[]> {
  validateExperiment(cfg);
  for (const st of stages)
    if (!STAGES.includes(st))
      throw new Error(`unknown stage '${st}'; allowed: ${STAGES.join(", ")}`);
  const plan = experimentPlan(cfg, stages, paths);
  const metrics = await runPlan(plan, {
    parallel: cfg.parallel,
    log: opts.log,
    runLine: opts.runLine,
  });
  const runsDir = path.join(paths.runsDir, cfg.name);
  return runsFor(protocolRuns(cfg, dataDirs(cfg, paths.dataDir), runsDir), stages).map((run) => ({
    run,
    metrics: metrics.get(run.config.name)!,
  }));
}

/**
 * What an experiment's runs folder holds for this config: finished results, and the runs that are
 * not (never started, interrupted, or stale: trained from another config or data than this one's,
 * and so not shown as its results).
 */
export function collectResults(
  cfg: ExperimentConfig,
  paths: Paths,
): { results: RunResult[]; unfinished: string[]; why: Record<string, string> } {
  const runsDir = path.join(paths.runsDir, cfg.name);
  const results: RunResult[] = [];
  const unfinished: string[] = [];
  const why: Record<string, string> = {};
  for (const run of protocolRuns(cfg, dataDirs(cfg, paths.dataDir), runsDir)) {
    const f = finishedResult(runsDir, run.config);
    if (f.metrics) results.push({ run, metrics: f.metrics });
    else {
      unfinished.push(run.config.name);
      why[run.config.name] = f.why;
    }
  }
  return { results, unfinished, why };
}
