import { Difficulty } from "../puzzle/difficulty";
import { layoutsByRungCount } from "../puzzle/ladders";
import { DatasetSpec, SplitCounts, SPLITS } from "./spec";

/** What TASK_SPEC asks every data set to report about itself. */
export interface DatasetStats {
  count: number;
  class_histogram: number[];
  fraction_label_eq_plain: number;
  /** Samples whose structure already appeared earlier in the same split. */
  duplicates: number;
  /** Different puzzles (rungs, START and colours) in the split. */
  distinct_puzzles: number;
  /** Different ladders (rungs and START) in the split; no ladder is in two splits. */
  distinct_ladders: number;
}

export function computeStats(labels: ArrayLike<number>, plain: ArrayLike<number>, hashes: string[], ladders: string[], classes: number): DatasetStats {
  const hist = new Array(classes).fill(0);
  let same = 0;
  const seen = new Set<string>();
  let duplicates = 0;
  for (let i = 0; i < labels.length; i++) {
    hist[labels[i]]++;
    if (labels[i] === plain[i]) same++;
    if (seen.has(hashes[i])) duplicates++;
    else seen.add(hashes[i]);
  }
  return {
    count: labels.length,
    class_histogram: hist,
    fraction_label_eq_plain: labels.length ? same / labels.length : 0,
    duplicates,
    distinct_puzzles: seen.size,
    distinct_ladders: new Set(ladders).size,
  };
}

/** Whole-data-set figures; distinct counts add up because splits never share a ladder. */
export function mergeStats(parts: DatasetStats[]): DatasetStats {
  const count = parts.reduce((a, s) => a + s.count, 0);
  const classes = Math.max(0, ...parts.map((s) => s.class_histogram.length));
  const hist = new Array(classes).fill(0);
  for (const s of parts) s.class_histogram.forEach((v, i) => (hist[i] += v));
  const same = parts.reduce((a, s) => a + s.fraction_label_eq_plain * s.count, 0);
  const sum = (k: "duplicates" | "distinct_puzzles" | "distinct_ladders") => parts.reduce((a, s) => a + s[k], 0);
  return {
    count,
    class_histogram: hist,
    fraction_label_eq_plain: count ? same / count : 0,
    duplicates: sum("duplicates"),
    distinct_puzzles: sum("distinct_puzzles"),
    distinct_ladders: sum("distinct_ladders"),
  };
}

/** How many different things a difficulty can draw, whatever the sampling. */
export interface Capacity {
  /** Rung layouts with rungsMin..rungsMax rungs. */
  layouts: number;
  /** Layouts x START positions. */
  ladders: number;
  /** Ladders x the lanes! orders of each colour row. */
  puzzles: number;
  /** True when every figure is an exact count (below 2^53); otherwise a close floating-point estimate. */
  exact: boolean;
}

/** Exact counts by generating function (puzzle/ladders.ts `layoutsByRungCount`). */
export function difficultyCapacity(d: Difficulty): Capacity {
  const byCount = layoutsByRungCount(d.lanes, d.rows);
  let layouts = 0;
  for (let c = d.rungsMin; c <= d.rungsMax; c++) layouts += byCount[c] ?? 0;
  let orders = 1;
  for (let k = 2; k <= d.lanes; k++) orders *= k;
  const ladders = layouts * d.lanes;
  const puzzles = ladders * orders * orders;
  return { layouts, ladders, puzzles, exact: puzzles <= Number.MAX_SAFE_INTEGER };
}

/**
 * A warning (or null) when the training split asks for more puzzles, or more ladders, than the
 * difficulty can hold there: the split is a hash of the ladder, so about a third of every count
 * falls in each split (an estimate; the totals are exact).
 */
export function capacityWarning(spec: DatasetSpec, counts: SplitCounts): string | null {
  const cap = difficultyCapacity(spec.difficulty);
  const share = (x: number) => Math.round(x / SPLITS.length);
  const n = counts.train;
  if (n <= share(cap.ladders)) return null;
  const d = spec.difficulty;
  const how = cap.exact ? "exact" : "estimated";
  const totals = `${d.lanes} lanes, ${d.rows} rows, ${d.rungsMin}..${d.rungsMax} rungs hold ${cap.layouts} rung layouts x ${d.lanes} START positions = ${cap.ladders} ladders and ${cap.puzzles} puzzles (${how})`;
  const what = n > share(cap.puzzles) ? `more than the ~${share(cap.puzzles)} distinct puzzles` : `more than the ~${share(cap.ladders)} distinct ladders`;
  return `warning: ${n} training puzzles asked, ${what} the training split can hold (~1/${SPLITS.length} of all, estimated: the split is a hash of the ladder); ${totals}. Training puzzles will repeat ladders${n > share(cap.puzzles) ? " and whole puzzles" : " with other colours"}.`;
}
