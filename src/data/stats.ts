/** What TASK_SPEC asks every data set to report about itself. */
export interface DatasetStats {
  count: number;
  class_histogram: number[];
  fraction_label_eq_plain: number;
  /** Samples whose structure already appeared earlier in the same split. */
  duplicates: number;
}

export function computeStats(labels: ArrayLike<number>, plain: ArrayLike<number>, hashes: string[], classes: number): DatasetStats {
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
  return { count: labels.length, class_histogram: hist, fraction_label_eq_plain: labels.length ? same / labels.length : 0, duplicates };
}

export function mergeStats(parts: DatasetStats[]): DatasetStats {
  const count = parts.reduce((a, s) => a + s.count, 0);
  const classes = Math.max(0, ...parts.map((s) => s.class_histogram.length));
  const hist = new Array(classes).fill(0);
  for (const s of parts) s.class_histogram.forEach((v, i) => (hist[i] += v));
  const same = parts.reduce((a, s) => a + s.fraction_label_eq_plain * s.count, 0);
  return { count, class_histogram: hist, fraction_label_eq_plain: count ? same / count : 0, duplicates: parts.reduce((a, s) => a + s.duplicates, 0) };
}
