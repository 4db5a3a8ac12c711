import { chiSquareSurvival } from "../util/stats";

export interface IndependenceCheck {
  n: number;
  fraction_equal: number;
  /** counts[g1][label] */
  counts: number[][];
  chi2: number;
  df: number;
  p_value: number;
}

/**
 * TASK_SPEC's claim, checked on data: after a warp hop the label carries no information about
 * g1, so P(label = g1) = 1/N and the (g1, label) table is consistent with independence.
 */
export function independenceCheck(plain: ArrayLike<number>, labels: ArrayLike<number>, classes: number): IndependenceCheck {
  const n = labels.length;
  const counts = Array.from({ length: classes }, () => new Array(classes).fill(0));
  let equal = 0;
  for (let i = 0; i < n; i++) {
    counts[plain[i]][labels[i]]++;
    if (plain[i] === labels[i]) equal++;
  }
  const rows = counts.map((r) => r.reduce((a, b) => a + b, 0));
  const cols = counts[0].map((_, j) => counts.reduce((a, r) => a + r[j], 0));
  let chi2 = 0;
  for (let i = 0; i < classes; i++) {
    for (let j = 0; j < classes; j++) {
      const e = (rows[i] * cols[j]) / n;
      if (e > 0) chi2 += (counts[i][j] - e) ** 2 / e;
    }
  }
  const df = (classes - 1) ** 2;
  return { n, fraction_equal: n ? equal / n : 0, counts, chi2, df, p_value: chiSquareSurvival(chi2, df) };
}
