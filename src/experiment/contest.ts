/**
 * The architecture contest (notebook 06): every model on plain and warp puzzles at one shared
 * budget (difficulty, image size, training puzzles, epochs, batch, learning rate), from scratch,
 * once per training seed; per model and task the mean and SD over seeds beside the rung-blind
 * baseline (when the run records one) or chance, the parameter count and the training speed.
 * Runs are ordinary `runTraining` runs, so finished ones are reused and notebook 07 loads them.
 */
import * as fs from "fs";
import { mean, sampleSd } from "../util/stats";
import * as path from "path";
import { presetDifficulty, validateDifficulty } from "../puzzle/difficulty";
import { NO_NUISANCE } from "../puzzle/nuisance";
import { ensureDataset } from "../data/generate";
import { DatasetSpec, DEFAULT_SAMPLING } from "../data/spec";
import { buildModel, validateModelSpec } from "../models/registry";
import { parameterCount } from "../models/summary";
import { DEFAULT_TRAIN } from "../train/config";
import { DEFAULT_PRETRAIN, pretrain } from "../pretrain/mae";
import { loadHistory, RunMetrics, runTraining } from "./run";

export interface ContestConfig {
  /** Runs go to runs/<name>/, data sets to data/<name>-<task>/. */
  name: string;
  models: string[];
  /** Difficulty preset (easy, medium, small, blog), drawn at `size` px. */
  difficulty: string;
  size: number;
  tasks: Array<"plain" | "warp">;
  train: number;
  val: number;
  test: number;
  epochs: number;
  batch: number;
  lr: number;
  /** Seeds the data sets. */
  dataSeed: number;
  /** Training seeds (weights and visiting order): every model runs once per seed and task. */
  seeds: number[];
}

export const ALL_ARCHITECTURES = [
  "mobilenetv2_100",
  "mobilevit_xxs",
  "vit_seed001",
  "vit_xxs",
  "nest_tiny",
  "mmlit_s",
  "mmlit_xs",
  "mmlit_xxs",
];

export const DEFAULT_CONTEST: ContestConfig = {
  name: "contest",
  models: ALL_ARCHITECTURES,
  difficulty: "small",
  size: 64,
  tasks: ["plain", "warp"],
  train: 1500,
  val: 200,
  test: 400,
  epochs: 3,
  batch: 32,
  lr: 2e-3,
  dataSeed: 0,
  seeds: [0, 1, 2],
};

export function validateContest(c: ContestConfig): ContestConfig {
  if (!/^[A-Za-z0-9._-]+$/.test(c.name))
    throw new Error(`contest name must use letters, digits, '.', '_', '-' only, got '${c.name}'`);
  if (c.models.length === 0) throw new Error("contest.models needs at least one model");
  const diff = validateDifficulty({ ...presetDifficulty(c.difficulty), size: c.size });
  for (const m of c.models)
    validateModelSpec({ name: m, inputSize: diff.size, classes: diff.lanes, seed: 0 });
  if (c.tasks.length === 0 || c.tasks.some((t) => t !== "plain" && t !== "warp"))
    throw new Error(`contest.tasks must list plain and/or warp, got ${JSON.stringify(c.tasks)}`);
  if (c.seeds.length === 0 || c.seeds.some((s) => !Number.isInteger(s) || s < 0))
    throw new Error(`contest.seeds must list integers >= 0, got ${JSON.stringify(c.seeds)}`);
  for (const k of ["train", "test", "epochs", "batch"] as const)
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`contest.${k} must be an integer >= 1, got ${c[k]}`);
  return c;
}

/** One model on one task over its seeds. */
export interface ContestRow {
  model: string;
  task: string;
  params: number;
  seeds: number[];
  acc_per_seed: number[];
  acc_mean: number;
  acc_sd: number;
  /** The rung-blind rule's accuracy when the runs record it, else chance (see `baseline_kind`). */
  baseline: number;
  baseline_kind: "rung_blind_bayes" | "chance";
  chance: number;
  /** Training images per second (mean over epochs and seeds; epoch wall time includes validation). */
  train_ips: number;
  /** Training images each seed saw (train puzzles x epochs). */
  images_seen: number;
  /** Training seconds summed over seeds. */
  seconds: number;
  runs: string[];
}

export const contestRunName = (model: string, task: string, seed: number) =>
  `${task}-${model}-s${seed}`;

/** The contest's data set spec for one task: the shared difficulty at the contest's size, debiased. */
function contestSpec(c: ContestConfig, task: "plain" | "warp"): DatasetSpec {
  return {
    task,
    hops: task === "warp" ? 1 : 0,
    difficulty: { ...presetDifficulty(c.difficulty), size: c.size },
    nuisance: NO_NUISANCE,
    seed: c.dataSeed,
    sampling: DEFAULT_SAMPLING,
  };
}

/** The contest's data set for one task (generated once, reused while unchanged). */
function contestData(
  c: ContestConfig,
  task: "plain" | "warp",
  paths: { dataDir: string },
  log: (l: string) => void,
): string {
  return ensureDataset(
    contestSpec(c, task),
    { train: c.train, val: c.val, test: c.test },
    path.join(paths.dataDir, `${c.name}-${task}`),
    log,
  );
}

/** Trains (or reuses) every run of the contest and aggregates them per model and task. */
export async function runContest(
  c: ContestConfig,
  paths: { runsDir: string; dataDir: string },
  log: (l: string) => void = console.log,
): Promise<ContestRow[]> {
  validateContest(c);
  const difficulty = { ...presetDifficulty(c.difficulty), size: c.size };
  const runsDir = path.join(paths.runsDir, c.name);
  const rows: ContestRow[] = [];
  for (const task of c.tasks) {
    const data = contestData(c, task, paths, log);
    for (const model of c.models) {
      const metrics: RunMetrics[] = [];
      for (const seed of c.seeds) {
        const name = contestRunName(model, task, seed);
        metrics.push(
          await runTraining(
            {
              name,
              model,
              data,
              init: null,
              freeze: "none",
              train: { ...DEFAULT_TRAIN, epochs: c.epochs, batchSize: c.batch, lr: c.lr, seed },
              modelSeed: seed,
            },
            { runsDir, quiet: true, onLine: (l) => /test accuracy|reusing/.test(l) && log(l) },
          ),
        );
      }
      const m = buildModel({ name: model, inputSize: c.size, classes: difficulty.lanes, seed: 0 });
      const params = parameterCount(m);
      m.dispose();
      const accs = metrics.map((r) => r.test_acc);
      const rungBlind = metrics
        .map((r) => (r as RunMetrics & { rung_blind_bayes?: number }).rung_blind_bayes)
        .filter((v): v is number => typeof v === "number");
      const ips = metrics.flatMap((r) => loadHistory(runsDir, r.name).map((h) => h.images_per_s));
      rows.push({
        model,
        task,
        params,
        seeds: c.seeds,
        acc_per_seed: accs,
        acc_mean: mean(accs),
        acc_sd: sampleSd(accs),
        baseline: rungBlind.length ? mean(rungBlind) : metrics[0].chance,
        baseline_kind: rungBlind.length ? "rung_blind_bayes" : "chance",
        chance: metrics[0].chance,
        train_ips: mean(ips),
        images_seen: c.train * c.epochs,
        seconds: metrics.reduce((a, r) => a + r.seconds, 0),
        runs: metrics.map((r) => r.name),
      });
    }
  }
  fs.writeFileSync(path.join(runsDir, "contest.json"), JSON.stringify(rows, null, 2) + "\n");
  return rows;
}

const pct = (v: number) => (100 * v).toFixed(1);

export function contestMarkdown(rows: ContestRow[]): string {
  const head =
    "| model | params | task | test acc, mean ± SD | per seed | baseline | train img/s | seconds |\n|---|---|---|---|---|---|---|---|";
  const lines = rows.map(
    (r) =>
      `| ${r.model} | ${r.params.toLocaleString("en")} | ${r.task} | ${pct(r.acc_mean)} ± ${pct(r.acc_sd)} % | ${r.acc_per_seed.map(pct).join(", ")} | ${pct(r.baseline)} % (${r.baseline_kind === "chance" ? "chance" : "rung-blind"}) | ${r.train_ips.toFixed(1)} | ${r.seconds.toFixed(0)} |`,
  );
  return [head, ...lines].join("\n");
}

/** Mean accuracy vs parameters, one point per model, one panel per task, baseline as a rule. */
export function accuracyVsParamsSpec(rows: ContestRow[], title: string): Record<string, unknown> {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: {
      values: rows.map((r) => ({
        ...r,
        acc: r.acc_mean,
        lo: r.acc_mean - r.acc_sd,
        hi: r.acc_mean + r.acc_sd,
      })),
    },
    facet: { column: { field: "task", type: "nominal" } },
    spec: {
      width: 260,
      height: 220,
      layer: [
        {
          mark: "rule",
          encoding: {
            x: { field: "params", type: "quantitative" },
            y: { field: "lo", type: "quantitative" },
            y2: { field: "hi" },
            color: { field: "model", type: "nominal" },
          },
        },
        {
          mark: { type: "point", filled: true, size: 70 },
          encoding: {
            x: {
              field: "params",
              type: "quantitative",
              scale: { type: "log" },
              title: "parameters",
            },
            y: {
              field: "acc",
              type: "quantitative",
              scale: { domain: [0, 1] },
              title: "test accuracy (mean ± SD over seeds)",
            },
            color: { field: "model", type: "nominal" },
            tooltip: [{ field: "model" }, { field: "acc", format: ".3f" }, { field: "params" }],
          },
        },
        {
          mark: { type: "rule", strokeDash: [4, 3], color: "gray" },
          encoding: { y: { aggregate: "mean", field: "baseline", type: "quantitative" } },
        },
      ],
    },
  };
}

/** Validation accuracy after each epoch against the training images seen so far, mean over seeds. */
export function learningCurveRows(
  c: ContestConfig,
  rows: ContestRow[],
  runsDir: string,
): Array<{ model: string; task: string; images_seen: number; val_acc: number }> {
  return rows.flatMap((r) => {
    const histories = r.runs.map((name) => loadHistory(path.join(runsDir, c.name), name));
    return histories[0].map((h, e) => ({
      model: r.model,
      task: r.task,
      images_seen: h.epoch * c.train,
      val_acc: mean(histories.map((hs) => hs[e]?.val_acc ?? NaN)),
    }));
  });
}

/** Validation accuracy vs images seen: one line per model, one panel per task. */
export function learningCurveSpec(
  points: ReturnType<typeof learningCurveRows>,
  title: string,
): Record<string, unknown> {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: { values: points },
    facet: { column: { field: "task", type: "nominal" } },
    spec: {
      width: 260,
      height: 200,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "images_seen", type: "quantitative", title: "training images seen" },
        y: {
          field: "val_acc",
          type: "quantitative",
          scale: { domain: [0, 1] },
          title: "validation accuracy (mean over seeds)",
        },
        color: { field: "model", type: "nominal" },
      },
    },
  };
}

/** Scratch vs masked-image pre-trained, for one model at a small labelled budget. */
export interface PretrainRow {
  model: string;
  task: string;
  /** Labelled training puzzles. */
  train: number;
  init: "scratch" | "mae";
  acc_per_seed: number[];
  acc_mean: number;
  acc_sd: number;
  runs: string[];
}

/**
 * Seed 004's claim on our task: `model` pre-trained (masked-image modelling, `pretrainEpochs`) on
 * the contest's unlabelled training images of each task, then fine-tuned on only `smallTrain`
 * labelled puzzles, against the same model from scratch on those puzzles; every seed, same budget.
 */
export async function runPretrainComparison(
  c: ContestConfig,
  o: { model: string; smallTrain: number; pretrainEpochs: number },
  paths: { runsDir: string; dataDir: string },
  log: (l: string) => void = console.log,
): Promise<PretrainRow[]> {
  validateContest({ ...c, models: [o.model] });
  const runsDir = path.join(paths.runsDir, c.name);
  const rows: PretrainRow[] = [];
  for (const task of c.tasks) {
    const spec = contestSpec(c, task);
    const full = contestData(c, task, paths, log);
    const small = ensureDataset(
      spec,
      { train: o.smallTrain, val: c.val, test: c.test },
      path.join(paths.dataDir, `${c.name}-${task}-${o.smallTrain}`),
      log,
    );
    const pre = path.join(runsDir, `mae-${task}-${o.model}-e${o.pretrainEpochs}`);
    if (!fs.existsSync(path.join(pre, "model.json")))
      await pretrain(
        {
          ...DEFAULT_PRETRAIN,
          model: o.model,
          data: full,
          epochs: o.pretrainEpochs,
          batchSize: c.batch,
          seed: c.dataSeed,
        },
        pre,
        {
          quiet: true,
          onLine: (l) => /reconstruction loss/.test(l) && log(`[${path.basename(pre)}] ${l}`),
        },
      );
    for (const init of ["scratch", "mae"] as const) {
      const ms: RunMetrics[] = [];
      for (const seed of c.seeds) {
        const name = `${init}-${task}-${o.smallTrain}-${o.model}-s${seed}`;
        ms.push(
          await runTraining(
            {
              name,
              model: o.model,
              data: small,
              init: init === "mae" ? pre : null,
              freeze: "none",
              train: { ...DEFAULT_TRAIN, epochs: c.epochs, batchSize: c.batch, lr: c.lr, seed },
              modelSeed: seed,
            },
            { runsDir, quiet: true, onLine: (l) => /test accuracy|reusing/.test(l) && log(l) },
          ),
        );
      }
      const accs = ms.map((m) => m.test_acc);
      rows.push({
        model: o.model,
        task,
        train: o.smallTrain,
        init,
        acc_per_seed: accs,
        acc_mean: mean(accs),
        acc_sd: sampleSd(accs),
        runs: ms.map((m) => m.name),
      });
    }
  }
  return rows;
}
