/**
 * Is a run finished? Notebooks that read runs (04, 00) must not silently explain or tabulate a
 * half-trained model. A run (src/experiment/run.ts) is finished when its metrics.json exists and
 * agrees with its checkpoints: the last checkpoint is at the epoch count metrics.json reports, the
 * best checkpoint at its best epoch, and a fine-tune's starting weights are still the ones it
 * was trained from.
 */
import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import { inKernel, showMarkdown } from "./display";

/** finished: usable; unfinished: started (or stale) but not usable; missing: never started. */
export type RunState = "finished" | "unfinished" | "missing";

export interface RunStatus {
  /** Run name (the folder under runsDir). */
  name: string;
  state: RunState;
  /** Why, in words (empty when finished). */
  reason: string;
}

function readJson(file: string): any {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

function status(runsDir: string, name: string): RunStatus {
  const dir = path.join(runsDir, name);
  const out = (state: RunState, reason: string): RunStatus => ({ name, state, reason });
  if (!fs.existsSync(dir)) return out("missing", `no folder ${dir}`);
  const lastState = path.join(dir, "checkpoints", "last", "state.json");
  const last = fs.existsSync(lastState) ? readJson(lastState) : null;
  const metricsFile = path.join(dir, "metrics.json");
  if (!fs.existsSync(metricsFile)) {
    const cfgFile = path.join(dir, "config.json");
    const planned = fs.existsSync(cfgFile) ? readJson(cfgFile).train?.epochs : undefined;
    return out(
      "unfinished",
      last
        ? `stopped after epoch ${last.epoch + 1}${planned ? ` of ${planned}` : ""} (no metrics.json)`
        : "no checkpoint and no metrics.json yet",
    );
  }
  let m: any;
  try {
    m = readJson(metricsFile);
  } catch (e) {
    return out("unfinished", `metrics.json does not parse: ${(e as Error).message}`);
  }
  if (m.name !== name) return out("unfinished", `metrics.json is run '${m.name}''s`);
  if (!last) return out("unfinished", "metrics.json but no last checkpoint");
  if (last.epoch + 1 !== m.epochs)
    return out(
      "unfinished",
      `the last checkpoint is at epoch ${last.epoch + 1} but metrics.json reports ${m.epochs} epochs (trained again since?)`,
    );
  const bestState = path.join(dir, "checkpoints", "best", "state.json");
  if (m.best_epoch > 0) {
    const best = fs.existsSync(bestState) ? readJson(bestState) : null;
    if (!best || best.bestEpoch !== m.best_epoch)
      return out(
        "unfinished",
        `metrics.json was tested at best epoch ${m.best_epoch}, the best checkpoint is ${best ? `epoch ${best.bestEpoch}` : "missing"}`,
      );
  }
  const provFile = path.join(dir, "provenance.json");
  const prov = fs.existsSync(provFile) ? readJson(provFile) : null;
  const init: string | null = prov?.config?.init ?? null;
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
