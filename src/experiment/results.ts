/**
 * The results table: one row per protocol cell (track x stage x freeze arm), over its training
 * seeds, with the rung-blind baseline beside every accuracy. A cell counts as "learned" only if
 * every seed beats that baseline on unseen ladders (see `verdict`).
 */
import type { RunResult } from "./protocol";
import type { RunMetrics } from "./rundir";
import { formatShare, markdownTable, pct } from "../report/table";
import { Stage, STAGE_LABELS, STAGES } from "./stages";
import * as path from "path";
import { ExperimentConfig, Track } from "./config";
import { writeJsonAtomic } from "../util/atomic";
import { mean, sampleSd, verdictBaseline, wilsonInterval } from "../util/stats";

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
  /** The lowest seed's 95 % Wilson lower bound: what the verdict compares with the baseline. */
  lower95: number;
  verdict: "learned" | "not learned";
  /** Training images each seed saw. */
  images_seen: number;
  /** Whether its training puzzles were streamed (fresh) rather than passes over a stored set. */
  stream: boolean;
  /** Validation accuracy against training images seen, mean over seeds: [images, val_acc]. */
  curve: Array<[number, number | null]>;
  /** Training accuracy (over the steps before each evaluation) against images, mean over seeds. */
  train_curve: Array<[number, number]>;
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
    verdict: verdict(accs, n, verdictBaseline(baseline, ms[0].chance)),
  };
}

/** "learned" or "not learned", with the numbers that decided it. */
export function verdictText(
  s: Pick<SeedSummary, "verdict" | "lower95" | "rung_blind_bayes" | "chance">,
): string {
  const base = verdictBaseline(s.rung_blind_bayes, s.chance);
  const which = s.rung_blind_bayes !== null && s.rung_blind_bayes >= s.chance ? "" : " chance";
  return `${s.verdict} (lowest 95 % bound ${pct(s.lower95)} ${s.verdict === "learned" ? ">" : "≤"} ${pct(base)}${which})`;
}

/** Mean over seeds of curves evaluated at the same image counts. */
function meanCurve<T extends number | null>(curves: Array<Array<[number, T]>>): Array<[number, T]> {
  return curves[0].map(([images], i) => {
    const ys = curves.map((c) => c[i]?.[1]);
    return [
      images,
      (ys.some((y) => y === null || y === undefined) ? null : mean(ys as number[])) as T,
    ];
  });
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
    const ms = rs.map((r) => r.metrics);
    const classes = m0.confusion.length;
    const confusion = Array.from({ length: classes }, (_, i) =>
      Array.from({ length: classes }, (_, j) => ms.reduce((a, m) => a + m.confusion[i][j], 0)),
    );
    const params = m0.trainable_params + m0.frozen_params;
    const seeds = summarizeSeeds(ms);
    return {
      track: rs[0].run.track,
      model: m0.model,
      stage: rs[0].run.stage,
      frozen: rs[0].run.arm,
      frozen_fraction: params ? m0.frozen_params / params : 0,
      task: m0.task,
      train_count: m0.train_count,
      test_count: m0.test_count,
      epochs: ms.map((m) => m.epochs),
      seeds: rs.map((r) => r.run.seed),
      test_acc_per_seed: seeds.acc_per_seed,
      test_acc_mean: seeds.acc_mean,
      test_acc_sd: seeds.acc_sd,
      heldout_style_acc_per_seed: ms.map((m) => m.test_acc_heldout_style ?? null),
      acc_where_rung_blind_wrong_per_seed: ms.map((m) => m.test_acc_where_rung_blind_wrong ?? null),
      rung_blind_bayes: seeds.rung_blind_bayes,
      chance: seeds.chance,
      lower95: seeds.lower95,
      verdict: seeds.verdict,
      images_seen: m0.images_seen,
      stream: m0.stream,
      curve: meanCurve(ms.map((m) => m.curve)),
      train_curve: meanCurve(ms.map((m) => m.train_curve)),
      seconds: ms.reduce((a, m) => a + m.seconds, 0),
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
  const table = markdownTable(
    rows.map((r) => {
      const seed = SEED_RESULTS[r.stage]?.[r.track];
      return {
        model: r.model,
        stage: STAGE_LABELS[r.stage],
        "frozen (share)": `${r.frozen} (${formatShare(r.frozen_fraction)})`,
        "images seen": `${r.images_seen.toLocaleString("en")}${r.stream ? " fresh" : ` (${r.train_count} stored)`}`,
        "test acc % mean ± SD": `${pct(r.test_acc_mean)} ± ${(100 * r.test_acc_sd).toFixed(1)}`,
        "per seed": r.test_acc_per_seed.map(pct).join(" / "),
        "rung-blind %": pct(r.rung_blind_bayes),
        "chance %": pct(r.chance),
        verdict: verdictText(r),
        "held-out style %": pct(meanOf(r.heldout_style_acc_per_seed)),
        "where rung-blind wrong %": pct(meanOf(r.acc_where_rung_blind_wrong_per_seed)),
        "seed 000 % *": seed === undefined ? "" : pct(seed),
        time: `${r.seconds.toFixed(0)} s`,
      };
    }),
  );
  return `${table}\n\n${SEED_NOTE}`;
}

/** Under every results table: what the seed's column is and is not. */
export const SEED_NOTE =
  "\\* seed 000 %: the blog post's figures on its own task (5 lanes, 10 rows, probably pretrained weights), shown for reference; they are not measured here and not comparable to this row. A verdict is *learned* only when every seed's 95 % lower bound clears the rung-blind rule, and chance where the rule measured below it (the figures in brackets).";

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
