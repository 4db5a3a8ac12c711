/**
 * The one runner. Every mode (the protocol, a sweep, a contest, its pre-training comparison)
 * describes its work as a `Plan`: the data sets it needs, the masked-image pre-trainings, and the
 * list of training runs (each a typed RunConfig, with the runs it starts from). `runPlan` takes
 * the plan's lock, saves its config, generates what data is missing, reuses finished runs
 * (copying one that another plan beside it trained identically), resumes interrupted ones, and
 * trains the rest in worker processes (one per core where the backend runs one thread per
 * process), each run once the runs it needs are done.
 */
import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import { DatasetSpec, SplitCounts } from "../data/spec";
import { ensureDataset, readDataset } from "../data/generate";
import { readManifest } from "../data/format";
import { acquireLock } from "../util/lock";
import { writeJsonAtomic } from "../util/atomic";
import { PoolJob, runPool, serveJobs } from "../util/children";
import { initBackend, trainingProcesses } from "../backend/select";
import { ensurePretrained, PretrainConfig } from "../pretrain/mae";
import { freeCores, runTraining } from "./run";
import { COMMIT, importRun, readRun, RunConfig, RunMetrics, verifyRunCheckpoints } from "./rundir";
import { CHECKSUMS } from "../models/io";
import { readJsonFile } from "../util/json";

/** A data set a plan needs: generated when missing or different, reused when the same. */
export interface DataJob {
  dir: string;
  spec: DatasetSpec;
  counts: SplitCounts;
}

/** A masked-image pre-training whose output (a checkpoint directory) runs start from. */
export interface PretrainJob {
  /** Its name among the plan's jobs. */
  name: string;
  out: string;
  config: PretrainConfig;
  /** Outputs of the classifier it saves (the data set's lanes). */
  classes: number;
}

/** One training run of a plan; `after` names the runs or pre-trainings it starts from. */
export interface PlannedRun {
  config: RunConfig;
  after: string[];
}

export interface Plan {
  /** What the plan is, for messages: "experiment 'quick'". */
  what: string;
  /** Its runs folder, runs/<name>. */
  dir: string;
  /** The config saved beside its runs (runs/<name>/<file>), which later notebooks start from. */
  saved: { file: string; config: unknown } | null;
  data: DataJob[];
  pretrain: PretrainJob[];
  runs: PlannedRun[];
}

/** The lock of a plan's runs folder: one experiment (or sweep, contest) of a name at a time. */
const planLock = (dir: string) =>
  path.join(path.dirname(path.resolve(dir)), `.${path.basename(dir)}.lock`);

/**
 * What a run would record as its provenance now, or null while a run it starts from is not
 * finished (its weights do not exist yet). Cheap: hashes are read from the data set manifest and
 * the init checkpoint's checksum file, not recomputed; the run verifies them in full itself.
 */
export function expectedProvenance(cfg: RunConfig): string | null {
  let initSha256: string | null = null;
  if (cfg.init) {
    const sums = path.join(cfg.init, CHECKSUMS);
    if (!fs.existsSync(sums)) return null;
    initSha256 = readJsonFile(sums, "checkpoint checksums", (v) => {
      const w = (v as { sha256?: Record<string, string> })?.sha256?.["weights.bin"];
      if (typeof w !== "string") throw new Error("no SHA-256 of weights.bin");
      return w;
    });
  }
  if (!fs.existsSync(cfg.data)) return null;
  const manifest = readManifest(cfg.data);
  const dataSha256 = Object.fromEntries(
    Object.entries(manifest.files).map(([f, e]) => [f, e.sha256]),
  );
  return JSON.stringify({ config: cfg, initSha256, dataSha256 }, null, 2) + "\n";
}

/** A run's finished metrics if its directory holds exactly this config's result, else why not. */
export function finishedResult(
  runsDir: string,
  cfg: RunConfig,
): { metrics: RunMetrics | null; why: string } {
  const rec = readRun(path.join(runsDir, cfg.name));
  if (rec.state !== "finished") return { metrics: null, why: `${rec.state}: ${rec.reason}` };
  const want = expectedProvenance(cfg);
  if (want === null || rec.provenance !== want)
    return {
      metrics: null,
      why: "stale: trained from another config, data set or starting weights than this one's",
    };
  return { metrics: rec.metrics!, why: "" };
}

/** A provenance without the paths of its data set and starting weights (their SHA-256 stay). */
function contentOf(provenance: string): string | null {
  try {
    const p = JSON.parse(provenance) as { config: Partial<RunConfig> };
    delete p.config.data;
    delete p.config.init;
    return JSON.stringify(p);
  } catch {
    return null;
  }
}

/**
 * A finished run named `name` in another plan's folder beside `planDir` (runs/<other>/<name>)
 * that trained exactly what provenance `want` describes, wherever its data set and starting
 * weights lay: `long` finds `standard`'s stage-1 runs this way. Null when there is none.
 */
export function finishedTwin(
  planDir: string,
  name: string,
  want: string,
): { dir: string; provenance: string } | null {
  const key = contentOf(want);
  if (key === null) return null;
  const root = path.dirname(path.resolve(planDir));
  for (const e of fs.readdirSync(root).sort()) {
    const dir = path.join(root, e, name);
    if (e.startsWith(".") || path.join(root, e) === path.resolve(planDir)) continue;
    if (!fs.existsSync(path.join(dir, COMMIT))) continue;
    const rec = readRun(dir, name);
    if (rec.state === "finished" && rec.provenance && contentOf(rec.provenance) === key)
      return { dir, provenance: rec.provenance };
  }
  return null;
}

/**
 * Runs the plan and returns every run's metrics by name. Nothing is written before the plan's
 * lock is taken: a second experiment of the same name is refused before it touches the saved
 * config or any data set. The data sets stay registered as read until the plan ends, so no
 * `generate` can replace them under its runs.
 */
export async function runPlan(
  plan: Plan,
  opts: {
    parallel: boolean;
    log?: (line: string) => void;
    /** Lines of one run (progress included), by run name. */
    runLine?: (run: string, line: string) => void;
  },
): Promise<Map<string, RunMetrics>> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const runLine =
    opts.runLine ?? ((r: string, l: string) => log(`[${r}] ${l.replace(/^\[[^\]]*\]\s*/, "")}`));
  const release = acquireLock(planLock(plan.dir), plan.what);
  const releases: Array<() => void> = [];
  try {
    fs.mkdirSync(plan.dir, { recursive: true });
    if (plan.saved) writeJsonAtomic(path.join(plan.dir, plan.saved.file), plan.saved.config);
    for (const d of plan.data) {
      ensureDataset(d.spec, d.counts, d.dir, log);
      releases.push(readDataset(d.dir, plan.what));
    }
    const results = new Map<string, RunMetrics>();
    // Runs that are finished as planned are read here, without a worker.
    const done = new Set<string>();
    for (const r of plan.runs) {
      // (A run after a pre-training waits for it: the pre-training may be redone.)
      if (!r.after.every((a) => done.has(a))) continue;
      const runsDir = path.dirname(path.join(plan.dir, r.config.name));
      let f = finishedResult(runsDir, r.config);
      if (!f.metrics && !fs.existsSync(path.join(plan.dir, r.config.name))) {
        // Never started here: another plan in the runs folder may have trained exactly this.
        const want = expectedProvenance(r.config);
        const twin = want === null ? null : finishedTwin(plan.dir, r.config.name, want);
        if (want !== null && twin) {
          try {
            importRun(
              twin.dir,
              path.join(plan.dir, r.config.name),
              r.config,
              want,
              twin.provenance,
            );
            log(
              `[${r.config.name}] copied the finished run ${twin.dir}: the same config, data and starting weights (by SHA-256)`,
            );
          } catch (e) {
            log(`[${r.config.name}] ${(e as Error).message}; training it here instead`);
          }
          f = finishedResult(runsDir, r.config);
        }
      }
      if (!f.metrics) continue;
      verifyRunCheckpoints(path.join(plan.dir, r.config.name));
      results.set(r.config.name, f.metrics);
      done.add(r.config.name);
      log(
        `[${r.config.name}] reusing the finished run (same config, data and init weights): test accuracy ${(100 * f.metrics.test_acc).toFixed(2)}%`,
      );
    }
    const jobs: PoolJob[] = [
      ...plan.pretrain.map((p) => ({
        name: p.name,
        kind: "pretrain",
        payload: p,
        after: [],
      })),
      ...plan.runs
        .filter((r) => !results.has(r.config.name))
        .map((r) => ({
          name: r.config.name,
          kind: "train",
          payload: { config: r.config, runsDir: plan.dir, generators: 0 },
          after: r.after.filter((a) => !done.has(a)),
        })),
    ];
    if (jobs.length) {
      const backend = await initBackend(undefined, { quiet: true });
      const workers = opts.parallel ? trainingProcesses(backend) : 1;
      // Streamed runs render puzzles on the cores the workers leave free (inline where none are).
      for (const j of jobs)
        if (j.kind === "train")
          (j.payload as { generators: number }).generators = freeCores(workers);
      log(
        `${plan.what}: ${jobs.length} job(s) to run, ${results.size} reused; ${Math.min(workers, jobs.length)} worker process(es)`,
      );
      const out = await runPool(jobs, {
        workers,
        module: path.join(__dirname, "..", "..", "bin", "amida.js"),
        args: ["_worker"],
        onLine: runLine,
      });
      for (const r of plan.runs)
        if (out.has(r.config.name))
          results.set(r.config.name, out.get(r.config.name) as RunMetrics);
    }
    return results;
  } finally {
    releases.forEach((r) => r());
    release();
  }
}

/** The worker process (`amida _worker`): what each kind of job does. */
export function serveRunnerJobs(): Promise<number> {
  return serveJobs({
    train: async (payload, log) => {
      const p = payload as { config: RunConfig; runsDir: string; generators: number };
      await initBackend(undefined, { quiet: true });
      return runTraining(p.config, {
        runsDir: p.runsDir,
        quiet: true,
        onLine: log,
        generators: p.generators,
      });
    },
    pretrain: async (payload, log) => {
      const p = payload as PretrainJob;
      await initBackend(undefined, { quiet: true });
      await ensurePretrained(p.config, p.out, { classes: p.classes, quiet: true, onLine: log });
      return null;
    },
  });
}

/** A short stable hash, for names that must change when a config does. */
export const shortHash = (v: unknown) =>
  createHash("sha256").update(JSON.stringify(v)).digest("hex").slice(0, 8);
