/**
 * Is a run finished? Notebooks that read runs (04, 00) must not silently explain or tabulate a
 * half-trained model. A run is finished when the runner's verified reader says so
 * (src/experiment/rundir.ts: its commit record matches its files) and, for a fine-tune, the
 * weights it started from are still the ones it was trained from.
 */
import * as fs from "fs";
import * as path from "path";
import { inKernel, showMarkdown } from "./display";
import { collectResults, dataDirs, Paths, protocolRuns, RunResult } from "../experiment/protocol";
import { EXPERIMENT, ExperimentConfig, Track } from "../experiment/config";
import { validateSaved } from "../util/knobs";
import { Stage } from "../experiment/stages";
import { readRun } from "../experiment/rundir";
import { createHash } from "crypto";
import { readJsonFile } from "../util/json";

/** finished: usable; unfinished: started (or stale, or changed since) but not usable; missing: never started. */
export type RunState = "finished" | "unfinished" | "missing";

export interface RunStatus {
  /** Run name (the folder under runsDir). */
  name: string;
  state: RunState;
  /** Why, in words (empty when finished). */
  reason: string;
}

function status(runsDir: string, name: string): RunStatus {
  const rec = readRun(path.join(runsDir, name), name);
  const out = (state: RunState, reason: string): RunStatus => ({ name, state, reason });
  if (rec.state === "missing") return out("missing", rec.reason);
  if (rec.state !== "finished") return out("unfinished", rec.reason);
  const prov = JSON.parse(rec.provenance!) as {
    config: { init: string | null };
    initSha256: string | null;
  };
  const init = prov.config.init;
  if (init) {
    const weights = path.join(init, "weights.bin");
    const sha = fs.existsSync(weights)
      ? createHash("sha256").update(fs.readFileSync(weights)).digest("hex")
      : null;
    if (sha !== prov.initSha256)
      return out(
        "unfinished",
        `stale: the weights it started from (${init}) ${sha ? "changed" : "are gone"} since it trained`,
      );
  }
  return out("finished", "");
}

/** The state of each named run under `runsDir`, in the order given. */
export function runStatuses(runsDir: string, names: string[]): RunStatus[] {
  return names.map((n) => status(runsDir, n));
}

/** A run a notebook reads, and the notebook that makes it. */
export interface NeededRun {
  name: string;
  /** The notebook to run first when it is not finished, e.g. "03_warp_finetune". */
  notebook: string;
}

/**
 * Checks the runs a notebook reads. `mode: "refuse"` throws when any is not finished, naming
 * each run, why, and the notebooks to run first; `mode: "warn"` shows the same loudly (a markdown
 * warning in a notebook, stderr elsewhere) and returns the statuses so the caller can mark rows.
 */
export function requireFinishedRuns(
  runsDir: string,
  runs: NeededRun[],
  opts: { reader: string; mode?: "refuse" | "warn" },
): RunStatus[] {
  const statuses = runStatuses(
    runsDir,
    runs.map((r) => r.name),
  );
  const bad = statuses.filter((s) => s.state !== "finished");
  if (bad.length === 0) return statuses;
  const notebooks = [
    ...new Set(runs.filter((r) => bad.some((b) => b.name === r.name)).map((r) => r.notebook)),
  ];
  const lines = bad.map((b) => `${b.name}: ${b.state}, ${b.reason}`);
  const todo = `run ${notebooks.map((n) => `notebooks/${n}.ipynb`).join(" then ")} first, with the same config`;
  if ((opts.mode ?? "refuse") === "refuse") {
    throw new Error(
      `${opts.reader} reads runs in ${runsDir} that are not finished:\n  ${lines.join("\n  ")}\n${todo}`,
    );
  }
  const md = `**⚠ WARNING: ${bad.length} of ${runs.length} runs in \`${runsDir}\` are not finished; ${opts.reader} marks them below.**\n\n${lines.map((l) => `- ${l}`).join("\n")}\n\nTo fix: ${todo}.`;
  if (inKernel()) showMarkdown(md);
  else console.error(md);
  return statuses;
}

/** A run of the experiment with its place in the protocol, its data set, and the notebook that makes it. */
export interface ExplainableRun {
  name: string;
  track: Track;
  stage: Stage;
  /** Freeze group of a fine-tune, `none` otherwise. */
  arm: string;
  seed: number;
  /** Data set directory it was trained and tested on. */
  data: string;
  notebook: string;
}

/** Every run of the experiment (names from the protocol), CNN track first. */
export function experimentRuns(cfg: ExperimentConfig, paths: Paths): ExplainableRun[] {
  return protocolRuns(cfg, dataDirs(cfg, paths.dataDir), path.join(paths.runsDir, cfg.name)).map(
    (r) => ({
      name: r.config.name,
      track: r.track,
      stage: r.stage,
      arm: r.arm,
      seed: r.seed,
      data: r.config.data,
      notebook: r.stage === "stage1" ? "02_train_plain" : "03_warp_finetune",
    }),
  );
}

/** An experiment saved under a runs folder (runs/<name>/experiment.json) and how many of its runs are finished. */
export interface SavedExperiment {
  name: string;
  budget: string;
  finished: number;
  runs: number;
}

/** Every experiment saved under `runsDir`, by name. */
export function savedExperiments(paths: Paths): SavedExperiment[] {
  if (!fs.existsSync(paths.runsDir)) return [];
  const out: SavedExperiment[] = [];
  for (const dir of fs.readdirSync(paths.runsDir).sort()) {
    const file = path.join(paths.runsDir, dir, "experiment.json");
    if (!fs.existsSync(file)) continue;
    let cfg: ExperimentConfig;
    try {
      cfg = readJsonFile(file, "saved experiment config", (v, where) =>
        validateSaved(EXPERIMENT, v, where),
      );
    } catch {
      continue; // another version's or a damaged config: not an experiment this code can show
    }
    const names = experimentRuns(cfg, paths).map((r) => r.name);
    const finished = runStatuses(path.join(paths.runsDir, dir), names).filter(
      (s) => s.state === "finished",
    ).length;
    out.push({ name: cfg.name, budget: cfg.budget, finished, runs: names.length });
  }
  return out;
}

/**
 * What notebook 00 says when the experiment it collects is not (all) trained: how many runs are
 * finished, which notebooks make the rest, and which experiments under the same runs folder are
 * finished (e.g. another budget's), with how to show one of those instead.
 */
export function notTrainedMessage(
  cfg: ExperimentConfig,
  paths: Paths,
  unfinished: string[],
): string {
  const runs = experimentRuns(cfg, paths);
  const notebooks = [
    ...new Set(runs.filter((r) => unfinished.includes(r.name)).map((r) => r.notebook)),
  ].sort();
  const where = path.join(paths.runsDir, cfg.name);
  const lines = [
    `No results yet for experiment '${cfg.name}' (budget '${cfg.budget}'): ${runs.length - unfinished.length} of ${runs.length} runs are finished in ${where}.`,
    `Run ${notebooks.map((n) => `notebooks/${n}.ipynb`).join(", then ")} first with budget '${cfg.budget}' (or, in a terminal, \`npx amida experiment --budget ${cfg.budget}\`); this notebook then collects their results. No report is written from a partial experiment.`,
  ];
  const others = savedExperiments(paths).filter((e) => e.name !== cfg.name && e.finished > 0);
  const done = others.filter((e) => e.finished === e.runs);
  if (others.length)
    lines.push(
      `Under ${paths.runsDir}/: ${others.map((e) => `'${e.name}' (budget '${e.budget}', ${e.finished} of ${e.runs} runs finished)`).join("; ")}.` +
        (done.length
          ? ` To show '${done[0].name}' instead: budget: "${done[0].budget}" in the config cell, or start JupyterLab with AMIDA_NB_BUDGET=${done[0].budget}.`
          : ""),
    );
  return lines.join("\n");
}

/** The results of every run of the experiment; throws notTrainedMessage when any is not finished. */
export function experimentResults(cfg: ExperimentConfig, paths: Paths): RunResult[] {
  const { results, unfinished } = collectResults(cfg, paths);
  if (unfinished.length) throw new Error(notTrainedMessage(cfg, paths, unfinished));
  return results;
}
