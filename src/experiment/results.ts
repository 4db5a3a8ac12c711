/**
 * The results table: one row per protocol cell (track x stage x freeze arm), over its training
 * seeds, with the rung-blind baseline beside every accuracy. A cell counts as "learned" only if
 * every seed beats that baseline on unseen ladders (see `verdict`).
 */
import type { RunResult } from "./protocol";
import type { RunMetrics } from "./rundir";
import { pct } from "../report/table";
import { Stage, STAGE_LABELS, STAGES } from "./stages";
import * as path from "path";
import { ExperimentConfig, Track } from "./config";
import { writeJsonAtomic } from "../util/atomic";
import { mean, sampleSd, wilsonInterval } from "../util/stats";

export interface ResultRow {
  track: Track;
  model: string;
  stage: Stage;
  /** Freeze group (fine-tunes) or `none`. */
  frozen: string;
  /** Share of the model's parameters frozen, 0..1. */
  frozen_fraction: number;
  task: string;
  train_count: number;
  test_count: number;
  /** Epochs run, per seed (early stopping can differ). */
  epochs: number[];
  seeds: number[];
  test_acc_per_seed: number[];
  test_acc_mean: number;
  /** Sample standard deviation over seeds (0 for one seed). */
  test_acc_sd: number;
  /** Accuracy on the same test puzzles drawn by the held-out renderer, per seed (null: not measured). */
  heldout_style_acc_per_seed: Array<number | null>;
  /** Accuracy on the test puzzles the rung-blind rule gets wrong, per seed (null: not measured). */
  acc_where_rung_blind_wrong_per_seed: Array<number | null>;
  /** The best rule that never looks at the rungs, on this test split. */
  rung_blind_bayes: number | null;
  chance: number;
  verdict: "learned" | "not learned";
  /** Training seconds summed over seeds. */
  seconds: number;
  backend: string;
  /** Test confusion summed over seeds: confusion[true][predicted]. */
  confusion: number[][];
  runs: string[];
}

/** Seed 000's reported numbers, for the side-by-side table (its plain is 5 lanes, pretrained). */
export const SEED_RESULTS: Partial<Record<Stage, Record<Track, number>>> = {
  stage1: { cnn: 0.997, vit: 0.9705 },
  finetune: { cnn: 0.213, vit: 0.9272 },
};

/**
 * "learned" when every seed's 95 % Wilson lower bound clears the rung-blind baseline (or chance
 * where no baseline was measured): a cell above chance but not above what a rung-blind rule
 * scores learned nothing about the rungs.
 */
export function verdict(accs: number[], n: number, baseline: number): "learned" | "not learned" {
  return accs.length > 0 && accs.every((a) => wilsonInterval(Math.round(a * n), n)[0] > baseline)
    ? "learned"
    : "not learned";
}

/** What every table shows of one cell over its training seeds. */
export interface SeedSummary {
  acc_per_seed: number[];
  acc_mean: number;
  /** Sample standard deviation over seeds (0 for one seed). */
  acc_sd: number;
  /** The best rung-blind rule's accuracy on the cell's test split (null: not measured). */
  rung_blind_bayes: number | null;
  chance: number;
  /** The lowest seed's 95 % Wilson lower bound: what the verdict compares with the baseline. */
  lower95: number;
  verdict: "learned" | "not learned";
}

/** One cell's runs (one per seed, same test split) summarised as every table shows them. */
export function summarizeSeeds(ms: RunMetrics[]): SeedSummary {
  const accs = ms.map((m) => m.test_acc);
  const baseline = ms[0].rung_blind_bayes ?? null;
  const n = ms[0].test_count;
  return {
    acc_per_seed: accs,
    acc_mean: mean(accs),
    acc_sd: sampleSd(accs),
    rung_blind_bayes: baseline,
    chance: ms[0].chance,
    lower95: Math.min(...accs.map((a) => wilsonInterval(Math.round(a * n), n)[0])),
    verdict: verdict(accs, n, baseline ?? ms[0].chance),
  };
}

/** "learned" or "not learned", with the numbers that decided it. */
export function verdictText(s: SeedSummary): string {
  const base = s.rung_blind_bayes ?? s.chance;
  return `${s.verdict} (lowest 95 % bound ${pct(s.lower95)} ${s.verdict === "learned" ? ">" : "≤"} ${pct(base)})`;
}

/** Groups finished runs into cells, in protocol order. */
export function resultRows(results: RunResult[]): ResultRow[] {
  const cells = new Map<string, RunResult[]>();
  for (const r of results) {
    const key = `${r.run.track}|${r.run.stage}|${r.run.arm}`;
    cells.set(key, [...(cells.get(key) ?? []), r]);
  }
  return [...cells.values()].map((rs) => {
    const m0 = rs[0].metrics;
    const accs = rs.map((r) => r.metrics.test_acc);
    const baseline = m0.rung_blind_bayes ?? null;
    const classes = m0.confusion.length;
    const confusion = Array.from({ length: classes }, (_, i) =>
      Array.from({ length: classes }, (_, j) =>
        rs.reduce((a, r) => a + r.metrics.confusion[i][j], 0),
      ),
    );
    const params = m0.trainable_params + m0.frozen_params;
    return {
      track: rs[0].run.track,
      model: m0.model,
      stage: rs[0].run.stage,
      frozen: rs[0].run.arm,
      frozen_fraction: params ? m0.frozen_params / params : 0,
      task: m0.task,
      train_count: m0.train_count,
      test_count: m0.test_count,
      epochs: rs.map((r) => r.metrics.epochs),
      seeds: rs.map((r) => r.run.seed),
      test_acc_per_seed: accs,
      test_acc_mean: mean(accs),
      test_acc_sd: sampleSd(accs),
      heldout_style_acc_per_seed: rs.map((r) => r.metrics.test_acc_heldout_style ?? null),
      acc_where_rung_blind_wrong_per_seed: rs.map(
        (r) => r.metrics.test_acc_where_rung_blind_wrong ?? null,
      ),
      rung_blind_bayes: baseline,
      chance: m0.chance,
      verdict: verdict(accs, m0.test_count, baseline ?? m0.chance),
      seconds: rs.reduce((a, r) => a + r.metrics.seconds, 0),
      backend: m0.backend,
      confusion,
      runs: rs.map((r) => r.run.config.name),
    };
  });
}

const meanOf = (xs: Array<number | null>) =>
  xs.some((x) => x === null) ? null : mean(xs as number[]);

/** The markdown table: every accuracy beside its rung-blind baseline, mean ± SD over seeds and each seed's value. */
export function resultsMarkdown(rows: ResultRow[]): string {
  const head = [
    "| model | stage | frozen (share) | train | test acc % mean ± SD | per seed | rung-blind % | chance % | verdict | held-out style % | where rung-blind wrong % | seed 000 % | time |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const body = rows.map((r) => {
    const seed = SEED_RESULTS[r.stage]?.[r.track];
    return `| ${r.model} | ${STAGE_LABELS[r.stage]} | ${r.frozen} (${(100 * r.frozen_fraction).toFixed(0)} %) | ${r.train_count} | ${pct(r.test_acc_mean)} ± ${(100 * r.test_acc_sd).toFixed(1)} | ${r.test_acc_per_seed.map(pct).join(" / ")} | ${pct(r.rung_blind_bayes)} | ${pct(r.chance)} | ${r.verdict} | ${pct(meanOf(r.heldout_style_acc_per_seed))} | ${pct(meanOf(r.acc_where_rung_blind_wrong_per_seed))} | ${seed === undefined ? "" : pct(seed)} | ${r.seconds.toFixed(0)} s |`;
  });
  return [...head, ...body].join("\n");
}

/** The rows of reports/results.json: the table's fields without the bulky confusion matrices. */
export function resultsJson(rows: ResultRow[]): Array<Omit<ResultRow, "confusion">> {
  return rows.map(({ confusion, ...row }) => row);
}

/** A row's panel in charts: its label (the stage, and the freeze arm of a fine-tune) and its place (stage order). */
export function cellOf(r: Pick<ResultRow, "stage" | "frozen">): { cell: string; order: number } {
  return {
    cell: r.stage === "finetune" ? `fine-tune: ${r.frozen}` : STAGE_LABELS[r.stage],
    order: STAGES.indexOf(r.stage),
  };
}

/**
 * Writes `reportsDir/results.json` (the config and the table's rows, without confusion matrices)
 * and `runsDir/results.json` (with them); returns a one-line summary.
 */
export function writeReport(
  cfg: ExperimentConfig,
  rows: ResultRow[],
  reportsDir: string,
  runsDir: string,
): string {
  writeJsonAtomic(path.join(reportsDir, "results.json"), {
    experiment: cfg.name,
    budget: cfg.budget,
    difficulty: cfg.difficulty,
    sampling: cfg.sampling,
    seeds: cfg.seeds,
    rows: resultsJson(rows),
  });
  writeJsonAtomic(path.join(runsDir, "results.json"), rows);
  const learned = rows
    .filter((r) => r.verdict === "learned")
    .map((r) => `${r.model} ${cellOf(r).cell}`);
  return `wrote ${path.join(reportsDir, "results.json")} (${rows.length} rows); learned: ${learned.length ? learned.join("; ") : "nothing"}`;
}
