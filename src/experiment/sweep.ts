/**
 * A grid of single training runs (model x difficulty x train size x task x epochs x training
 * seed), each in its own process (`amida train`), as many at once as the backend makes pay;
 * aggregated over seeds into sweep.csv, sweep.json and a heatmap (the difficulty "phase diagram").
 */
import * as fs from "fs";
import { mean, sampleSd } from "../util/stats";
import * as path from "path";
import { forkChild, Job, runAll } from "../util/children";
import { presetDifficulty, validateDifficulty } from "../puzzle/difficulty";
import { NO_NUISANCE } from "../puzzle/nuisance";
import { ensureDataset } from "../data/generate";
import { DatasetSpec } from "../data/spec";
import { validateModelSpec } from "../models/registry";
import { attentionSpanOf } from "../models/summary";
import { Sampling, SAMPLINGS } from "../data/spec";
import { verdict } from "./results";
import { validateName } from "../util/names";
import { initBackend, trainingProcesses } from "../backend/select";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic";
import { RunMetrics } from "./run";

export interface SweepGrid {
  /** Runs go to runs/<name>/, data sets to data/<name>-<difficulty>-<task>-<train>/. */
  name: string;
  /** Models to train in every cell. */
  models: string[];
  /** Difficulty preset names (easy, medium, small, blog), each drawn at `size` px. */
  difficulties: string[];
  /** Image side for every difficulty (>= 64: every MobileViT block attends over > 1 patch). */
  size: number;
  /** Training-set sizes. */
  trainCounts: number[];
  tasks: Array<"plain" | "warp">;
  /** Epoch budgets. */
  epochs: number[];
  valCount: number;
  testCount: number;
  batchSize: number;
  lr: number;
  /** How puzzles are drawn (debiased: rung-blind rules score chance). */
  sampling: Sampling;
  /** Seeds the data sets. */
  dataSeed: number;
  /** Training seeds: every cell runs once per seed. */
  seeds: number[];
}

/** The default grid, shared by `amida sweep`, notebook 05 and `make reproduce`. */
export const DEFAULT_SWEEP: SweepGrid = {
  name: "difficulty",
  models: ["mobilenetv2_100", "mobilevit_xxs"],
  difficulties: ["easy", "small"],
  size: 64,
  trainCounts: [800],
  tasks: ["plain", "warp"],
  epochs: [2],
  valCount: 100,
  testCount: 300,
  batchSize: 64,
  lr: 2e-3,
  sampling: "debiased",
  dataSeed: 0,
  seeds: [0, 1, 2],
};

/** One cell of the grid over its seeds. */
export interface SweepRow {
  difficulty: string;
  train: number;
  task: string;
  model: string;
  epochs: number;
  seeds: number[];
  acc_per_seed: number[];
  acc_mean: number;
  acc_sd: number;
  /** The best rung-blind rule's accuracy on the cell's test split (null: not measured). */
  rung_blind_bayes: number | null;
  chance: number;
  verdict: "learned" | "not learned";
  /** Training seconds summed over seeds. */
  seconds: number;
  runs: string[];
}

export function validateSweep(g: SweepGrid): SweepGrid {
  validateName("sweep", g.name);
  for (const [k, v] of Object.entries({
    models: g.models,
    difficulties: g.difficulties,
    trainCounts: g.trainCounts,
    tasks: g.tasks,
    epochs: g.epochs,
  })) {
    if (!Array.isArray(v) || v.length === 0) throw new Error(`sweep.${k} needs at least one value`);
  }
  for (const d of g.difficulties) {
    const diff = validateDifficulty({ ...presetDifficulty(d), size: g.size });
    for (const m of g.models)
      validateModelSpec({ name: m, inputSize: diff.size, classes: diff.lanes, seed: 0 });
  }
  for (const m of g.models) {
    const single = attentionSpanOf(m, g.size).filter((x) => x.patches < 2);
    if (single.length)
      throw new Error(
        `size ${g.size} px leaves ${m}'s ${single.map((x) => x.stage).join(", ")} attending over a single patch; use a larger --size`,
      );
  }
  if (!SAMPLINGS.includes(g.sampling))
    throw new Error(`sampling must be one of ${SAMPLINGS.join(", ")}, got '${g.sampling}'`);
  if (
    !Array.isArray(g.seeds) ||
    g.seeds.length === 0 ||
    g.seeds.some((x) => !Number.isInteger(x) || x < 0)
  )
    throw new Error(`seeds must list integers >= 0, got ${JSON.stringify(g.seeds)}`);
  for (const t of g.tasks)
    if (t !== "plain" && t !== "warp")
      throw new Error(`sweep task must be plain or warp, got '${t}'`);
  for (const n of [...g.trainCounts, ...g.epochs])
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`sweep counts and epochs must be integers >= 1, got ${n}`);
  return g;
}

interface Cell {
  key: Pick<SweepRow, "difficulty" | "train" | "task" | "model" | "epochs">;
  seed: number;
  run: string;
  args: string[];
}

function cells(g: SweepGrid, paths: { runsDir: string; dataDir: string }): Cell[] {
  const out: Cell[] = [];
  for (const difficulty of g.difficulties)
    for (const task of g.tasks)
      for (const train of g.trainCounts) {
        const data = path.join(paths.dataDir, `${g.name}-${difficulty}-${task}-${train}`);
        for (const model of g.models)
          for (const epochs of g.epochs)
            for (const seed of g.seeds) {
              const run = `${difficulty}-${task}-${train}-${model}-e${epochs}-s${seed}`;
              out.push({
                key: { difficulty, train, task, model, epochs },
                seed,
                run,
                args: [
                  "train",
                  "--model",
                  model,
                  "--data",
                  data,
                  "--name",
                  run,
                  "--runs",
                  path.join(paths.runsDir, g.name),
                  "--epochs",
                  String(epochs),
                  "--batch",
                  String(g.batchSize),
                  "--lr",
                  String(g.lr),
                  "--seed",
                  String(seed),
                  "--model-seed",
                  String(seed),
                ],
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
      const run = forkChild(
        path.join(__dirname, "..", "..", "bin", "amida.js"),
        args,
        (d) =>
          d
            .split("\n")
            .filter((l) => /test accuracy/.test(l))
            .forEach(log),
        (d) => (err += d),
      );
      // Name the failing command and its own error line in the log before the summary.
      void run.done.then(
        (r) =>
          r.code !== 0 &&
          r.signal === null &&
          log(
            `amida ${args.join(" ")} failed (exit ${r.code ?? r.signal}): ${err
              .split("\n")
              .filter((l) => l.startsWith("amida:"))
              .join(" ")}`,
          ),
      );
      return run;
    },
  };
}

export async function runSweep(
  g: SweepGrid,
  paths: { runsDir: string; dataDir: string },
  opts: { log?: (l: string) => void; workers?: number } = {},
): Promise<SweepRow[]> {
  validateSweep(g);
  const log = opts.log ?? ((l: string) => console.log(l));
  const dir = path.join(paths.runsDir, g.name);
  fs.mkdirSync(dir, { recursive: true });
  writeJsonAtomic(path.join(dir, "sweep-config.json"), g);
  for (const difficulty of g.difficulties)
    for (const task of g.tasks)
      for (const train of g.trainCounts) {
        const spec: DatasetSpec = {
          task,
          hops: task === "warp" ? 1 : 0,
          difficulty: { ...presetDifficulty(difficulty), size: g.size },
          nuisance: NO_NUISANCE,
          seed: g.dataSeed,
          sampling: g.sampling,
        };
        ensureDataset(
          spec,
          { train, val: g.valCount, test: g.testCount },
          path.join(paths.dataDir, `${g.name}-${difficulty}-${task}-${train}`),
          log,
        );
      }
  const todo = cells(g, paths);
  const workers = Math.max(1, Math.min(opts.workers ?? (await defaultWorkers()), todo.length));
  log(`sweep '${g.name}': ${todo.length} runs, ${workers} at a time`);
  await runAll(
    todo.map((c) =>
      runCell(c.run, c.args, (l) => log(`[${c.run}] ${l.replace(/^\[[^\]]*\]\s*/, "")}`)),
    ),
    workers,
  );
  const rows = sweepRows(todo, dir);
  writeJsonAtomic(path.join(dir, "sweep.json"), rows);
  const cols = Object.keys(rows[0]) as Array<keyof SweepRow>;
  writeFileAtomic(
    path.join(dir, "sweep.csv"),
    [cols.join(","), ...rows.map((r) => cols.map((k) => csvCell(r[k])).join(","))].join("\n") +
      "\n",
  );
  return rows;
}

const csvCell = (v: unknown) => (Array.isArray(v) ? v.join(";") : String(v));

/**
 * One training process per core where the backend is single-threaded (wasm, cpu); one at a time
 * where it threads itself (tfjs-node), since two would fight over the same cores.
 */
async function defaultWorkers(): Promise<number> {
  return trainingProcesses(await initBackend(undefined, { quiet: true }));
}

/** Groups the finished runs of the grid by cell, over seeds. */
function sweepRows(todo: Cell[], dir: string): SweepRow[] {
  const cells = new Map<string, Cell[]>();
  for (const c of todo) {
    const k = JSON.stringify(c.key);
    cells.set(k, [...(cells.get(k) ?? []), c]);
  }
  return [...cells.values()].map((cs) => {
    const ms: RunMetrics[] = cs.map((c) =>
      JSON.parse(fs.readFileSync(path.join(dir, c.run, "metrics.json"), "utf8")),
    );
    const accs = ms.map((m) => m.test_acc);
    const baseline = ms[0].rung_blind_bayes ?? null;
    return {
      ...cs[0].key,
      seeds: cs.map((c) => c.seed),
      acc_per_seed: accs,
      acc_mean: mean(accs),
      acc_sd: sampleSd(accs),
      rung_blind_bayes: baseline,
      chance: ms[0].chance,
      verdict: verdict(accs, ms[0].test_count, baseline ?? ms[0].chance),
      seconds: ms.reduce((a, m) => a + m.seconds, 0),
      runs: cs.map((c) => c.run),
    };
  });
}

/** Rows for the heatmap: one accuracy per cell, the mean over seeds. */
export function heatmapRows(
  rows: SweepRow[],
): Array<{ difficulty: string; train: number; model: string; task: string; acc: number }> {
  return rows.map((r) => ({
    difficulty: r.difficulty,
    train: r.train,
    model: r.model,
    task: r.task,
    acc: r.acc_mean,
  }));
}

/** The sweep as a markdown table: each cell's mean ± SD over seeds beside its rung-blind baseline. */
export function sweepMarkdown(rows: SweepRow[]): string {
  const pct = (v: number | null) => (v === null ? "n/a" : (100 * v).toFixed(1));
  return [
    "| difficulty | task | train | model | epochs | test acc % mean ± SD | per seed | rung-blind % | chance % | verdict |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.difficulty} | ${r.task} | ${r.train} | ${r.model} | ${r.epochs} | ${pct(r.acc_mean)} ± ${(100 * r.acc_sd).toFixed(1)} | ${r.acc_per_seed.map(pct).join(" / ")} | ${pct(r.rung_blind_bayes)} | ${pct(r.chance)} | ${r.verdict} |`,
    ),
  ].join("\n");
}

/** Parses "a,b,c" lists from the command line; numbers where the field is numeric. */
export function listArg(text: string | undefined, fallback: string[]): string[] {
  return text === undefined
    ? fallback
    : text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
}

/** A sweep's settings as a notebook cell or the command line gives them: lists as "a,b,c" text. */
export interface SweepParams {
  name: string;
  models: string;
  difficulties: string;
  size: number;
  train: string;
  tasks: string;
  epochs: string;
  val: number;
  test: number;
  batch: number;
  lr: number;
  sampling: string;
  dataSeed: number;
  seeds: string;
}

/** The default grid as SweepParams (what notebook 05's cell and `amida sweep --help` show). */
export function defaultSweepParams(): SweepParams {
  const d = DEFAULT_SWEEP;
  return {
    name: d.name,
    models: d.models.join(","),
    difficulties: d.difficulties.join(","),
    size: d.size,
    train: d.trainCounts.join(","),
    tasks: d.tasks.join(","),
    epochs: d.epochs.join(","),
    val: d.valCount,
    test: d.testCount,
    batch: d.batchSize,
    lr: d.lr,
    sampling: d.sampling,
    dataSeed: d.dataSeed,
    seeds: d.seeds.join(","),
  };
}

/** Parses the lists and validates the grid; an error names the field and the bad entry. */
export function sweepFromParams(p: SweepParams): SweepGrid {
  const ints = (field: string, text: string) =>
    listArg(String(text), []).map((t) => {
      if (!/^\d+$/.test(t))
        throw new Error(
          `sweep ${field} must be a list of integers >= 0 like 1000,3000, got '${text}'`,
        );
      return Number(t);
    });
  return validateSweep({
    name: p.name,
    models: listArg(p.models, []),
    difficulties: listArg(p.difficulties, []),
    size: p.size,
    trainCounts: ints("train", p.train),
    tasks: listArg(p.tasks, []) as SweepGrid["tasks"],
    epochs: ints("epochs", p.epochs),
    valCount: p.val,
    testCount: p.test,
    batchSize: p.batch,
    lr: p.lr,
    sampling: p.sampling as Sampling,
    dataSeed: p.dataSeed,
    seeds: ints("seeds", p.seeds),
  });
}
