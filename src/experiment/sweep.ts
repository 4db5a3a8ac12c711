/**
 * A grid of single training runs (model x difficulty x train size x task x epochs), each in its
 * own process (`amida train`), as many at once as there are cores; aggregated into
 * sweep.csv, sweep.json and a heatmap (the difficulty "phase diagram").
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { forkChild, Job, runAll } from "../util/children";
import { presetDifficulty } from "../puzzle/difficulty";
import { NO_NUISANCE } from "../puzzle/render";
import { ensureDataset } from "../data/generate";
import { DatasetSpec } from "../data/spec";
import { validateModelSpec } from "../models/registry";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic";
import { RunMetrics } from "./run";

export interface SweepGrid {
  name: string;
  models: string[];
  /** Difficulty preset names (easy, medium, seed). */
  difficulties: string[];
  trainCounts: number[];
  tasks: Array<"plain" | "warp">;
  epochs: number[];
  valCount: number;
  testCount: number;
  batchSize: number;
  lr: number;
  seed: number;
}

export interface SweepRow {
  difficulty: string;
  train: number;
  task: string;
  model: string;
  epochs: number;
  acc: number;
  ci_low: number;
  ci_high: number;
  chance: number;
  seconds: number;
  run: string;
}

export function validateSweep(g: SweepGrid): SweepGrid {
  if (!/^[A-Za-z0-9._-]+$/.test(g.name)) throw new Error(`sweep name must use letters, digits, '.', '_', '-' only, got '${g.name}'`);
  for (const [k, v] of Object.entries({ models: g.models, difficulties: g.difficulties, trainCounts: g.trainCounts, tasks: g.tasks, epochs: g.epochs })) {
    if (!Array.isArray(v) || v.length === 0) throw new Error(`sweep.${k} needs at least one value`);
  }
  for (const d of g.difficulties) {
    const diff = presetDifficulty(d);
    for (const m of g.models) validateModelSpec({ name: m, inputSize: diff.size, classes: diff.lanes, seed: 0 });
  }
  for (const t of g.tasks) if (t !== "plain" && t !== "warp") throw new Error(`sweep task must be plain or warp, got '${t}'`);
  for (const n of [...g.trainCounts, ...g.epochs]) if (!Number.isInteger(n) || n < 1) throw new Error(`sweep counts and epochs must be integers >= 1, got ${n}`);
  return g;
}

interface Cell {
  row: Omit<SweepRow, "acc" | "ci_low" | "ci_high" | "seconds" | "chance">;
  args: string[];
}

function cells(g: SweepGrid, paths: { runsDir: string; dataDir: string }): Cell[] {
  const out: Cell[] = [];
  for (const difficulty of g.difficulties)
    for (const task of g.tasks)
      for (const train of g.trainCounts) {
        const data = path.join(paths.dataDir, `${g.name}-${difficulty}-${task}-${train}`);
        for (const model of g.models)
          for (const epochs of g.epochs) {
            const run = `${difficulty}-${task}-${train}-${model}-e${epochs}`;
            out.push({
              row: { difficulty, train, task, model, epochs, run },
              args: ["train", "--model", model, "--data", data, "--name", run, "--runs", path.join(paths.runsDir, g.name), "--epochs", String(epochs), "--batch", String(g.batchSize), "--lr", String(g.lr), "--seed", String(g.seed)],
            });
          }
      }
  return out;
}

function runCell(name: string, args: string[], log: (l: string) => void): Job {
  return {
    name,
    start: () => {
      let err = "";
      const run = forkChild(path.join(__dirname, "..", "..", "bin", "amida.js"), args, (d) => d.split("\n").filter((l) => /test accuracy/.test(l)).forEach(log), (d) => (err += d));
      // Name the failing command and its own error line in the log before the summary.
      run.done.then((r) => r.code !== 0 && r.signal === null && log(`amida ${args.join(" ")} failed (exit ${r.code ?? r.signal}): ${err.split("\n").filter((l) => l.startsWith("amida:")).join(" ")}`));
      return run;
    },
  };
}

export async function runSweep(g: SweepGrid, paths: { runsDir: string; dataDir: string }, opts: { log?: (l: string) => void; workers?: number } = {}): Promise<SweepRow[]> {
  validateSweep(g);
  const log = opts.log ?? ((l: string) => console.log(l));
  const dir = path.join(paths.runsDir, g.name);
  fs.mkdirSync(dir, { recursive: true });
  writeJsonAtomic(path.join(dir, "sweep-config.json"), g);
  for (const difficulty of g.difficulties)
    for (const task of g.tasks)
      for (const train of g.trainCounts) {
        const spec: DatasetSpec = { task, hops: task === "warp" ? 1 : 0, difficulty: presetDifficulty(difficulty), nuisance: NO_NUISANCE, seed: g.seed };
        ensureDataset(spec, { train, val: g.valCount, test: g.testCount }, path.join(paths.dataDir, `${g.name}-${difficulty}-${task}-${train}`), log);
      }
  const todo = cells(g, paths);
  const workers = Math.max(1, Math.min(opts.workers ?? (os.availableParallelism?.() ?? os.cpus().length), todo.length));
  log(`sweep '${g.name}': ${todo.length} runs, ${workers} at a time`);
  await runAll(
    todo.map((c) => runCell(c.row.run, c.args, (l) => log(`[${c.row.run}] ${l.replace(/^\[[^\]]*\]\s*/, "")}`))),
    workers,
  );
  const rows: SweepRow[] = todo.map((c) => {
    const m: RunMetrics = JSON.parse(fs.readFileSync(path.join(dir, c.row.run, "metrics.json"), "utf8"));
    return { ...c.row, acc: m.test_acc, ci_low: m.ci95[0], ci_high: m.ci95[1], chance: m.chance, seconds: m.seconds };
  });
  writeJsonAtomic(path.join(dir, "sweep.json"), rows);
  const cols = Object.keys(rows[0]) as Array<keyof SweepRow>;
  writeFileAtomic(path.join(dir, "sweep.csv"), [cols.join(","), ...rows.map((r) => cols.map((k) => r[k]).join(","))].join("\n") + "\n");
  return rows;
}

/** Parses "a,b,c" lists from the command line; numbers where the field is numeric. */
export function listArg(text: string | undefined, fallback: string[]): string[] {
  return text === undefined ? fallback : text.split(",").map((s) => s.trim()).filter(Boolean);
}
