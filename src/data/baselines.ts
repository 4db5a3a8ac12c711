/**
 * What a rule that never looks at the rungs scores on a data set's split: the bar a model's
 * accuracy must clear before it says anything about tracing (TASK_SPEC, "Rung-blind baselines").
 */
import * as fs from "fs";
import { Puzzle } from "../puzzle/puzzle";
import { DatasetSpec, Split, splitFile } from "./spec";
import { samplePuzzle } from "./sample";
import { SplitReader } from "./format";

/** Accuracies of rung-blind rules on one split (fractions in 0..1). */
export interface Baselines {
  /** 1 / lanes: guessing (the classes are balanced). */
  chance: number;
  /** Answer g1, the plain trace of START: the label itself on plain, exact chance on warp by design. */
  plain_rule: number;
  /** Answer the bottom lane below START. */
  start_rule: number;
  /** The best possible rule from START's position and both colour orders (`RungBlindRule`). */
  rung_blind_bayes: number;
  /** Puzzles in the split. */
  count: number;
  split: Split;
}

/**
 * Samples the Bayes rule is estimated from: at least this many, and 600 per possible view. The
 * estimate falls short of the true Bayes accuracy where a view's best two labels are close; on the
 * blog difficulty's plain task 100,000 draws (167 a view) gave 27.7 %, 400,000 gave 28.9 %.
 */
export const BAYES_MIN_SAMPLES = 100_000;
const BAYES_SAMPLES_PER_VIEW = 600;
const BAYES_MAX_SAMPLES = 2_000_000;
/** Estimation draws use indices no stored split reaches (counts are at most 10,000,000). */
const BAYES_FIRST_INDEX = 10_000_001;

/**
 * Everything a rung-blind rule sees, up to renaming the colours (the generator is invariant under
 * that): START's lane s and sigma, sigma[i] = top.indexOf(bottom[i]), the top lane whose colour
 * bottom circle i has. Encoded as s + lanes * (sigma as a base-lanes number).
 */
export function rungBlindView(p: Puzzle): number {
  let key = 0;
  for (let i = p.lanes - 1; i >= 0; i--) key = key * p.lanes + p.top.indexOf(p.bottom[i]);
  return key * p.lanes + p.start;
}

/**
 * The Bayes-optimal rung-blind rule for one spec and split, estimated from the generator's own
 * distribution: per view, how often each label occurs among `samples` fresh draws of that split.
 * The classes are balanced by rejection, so the most frequent label of a view is
 * argmax P(view | label), the best any rung-blind rule can do; ties and unseen views answer the
 * lowest label (a fixed guess scores chance on balanced classes).
 */
export class RungBlindRule {
  private readonly table = new Map<number, Float64Array>();
  readonly samples: number;

  constructor(readonly spec: DatasetSpec, readonly split: Split, samples?: number) {
    const n = spec.difficulty.lanes;
    let views = n;
    for (let k = 2; k <= n; k++) views *= k;
    const want = samples ?? Math.min(BAYES_MAX_SAMPLES, Math.max(BAYES_MIN_SAMPLES, BAYES_SAMPLES_PER_VIEW * views));
    // A whole number of label cycles, so every class is drawn equally often.
    this.samples = Math.ceil(want / n) * n;
    for (let i = 0; i < this.samples; i++) {
      const s = samplePuzzle(spec, split, BAYES_FIRST_INDEX + i);
      const v = rungBlindView(s.puzzle);
      let row = this.table.get(v);
      if (!row) this.table.set(v, (row = new Float64Array(n)));
      row[s.label]++;
    }
  }

  predict(p: Puzzle): number {
    const row = this.table.get(rungBlindView(p));
    if (!row) return 0;
    let best = 0;
    for (let l = 1; l < row.length; l++) if (row[l] > row[best]) best = l;
    return best;
  }
}

const rules = new Map<string, RungBlindRule>();
/** One estimate per (spec, split) per process: it takes seconds. */
export function rungBlindRule(spec: DatasetSpec, split: Split): RungBlindRule {
  const key = JSON.stringify([spec, split]);
  let r = rules.get(key);
  if (!r) {
    r = new RungBlindRule(spec, split);
    rules.set(key, r);
  }
  return r;
}

/** The stored split's puzzles, regenerated from the header's spec and checked against its hashes. */
function storedPuzzles(dir: string, split: Split): { spec: DatasetSpec; puzzles: Puzzle[]; labels: Uint8Array; plain: Uint8Array } {
  const file = splitFile(dir, split);
  if (!fs.existsSync(file)) throw new Error(`no ${split} split at '${file}'; generate one with 'amida generate --out ${dir}'`);
  const r = new SplitReader(file);
  try {
    const spec = r.header.spec;
    if (!spec.sampling) throw new Error(`'${file}' was made before samplings existed (no 'sampling' in its header); regenerate it with 'amida generate'`);
    const puzzles = r.records.hashes.map((hash, i) => {
      const s = samplePuzzle(spec, split, i);
      if (s.hash !== hash) throw new Error(`puzzle ${i} of '${file}' regenerated with hash ${s.hash} but the file stores ${hash}: the file was made by a different generator version; regenerate it`);
      return s.puzzle;
    });
    return { spec, puzzles, labels: r.records.labels, plain: r.records.plain };
  } finally {
    r.close();
  }
}

/** The rung-blind Bayes rule's answer for each stored puzzle of the split, in file order. */
export function rungBlindPredictions(dir: string, split: Split): Uint8Array {
  const { spec, puzzles } = storedPuzzles(dir, split);
  const rule = rungBlindRule(spec, split);
  return Uint8Array.from(puzzles, (p) => rule.predict(p));
}

/** Accuracies of the rung-blind rules on a data set's split (default: test). */
export function rungBlindBaselines(dir: string, split: Split = "test"): Baselines {
  const { spec, puzzles, labels, plain } = storedPuzzles(dir, split);
  const rule = rungBlindRule(spec, split);
  const n = puzzles.length;
  const acc = (pred: (i: number) => number) => (n ? puzzles.reduce((a, _, i) => a + (pred(i) === labels[i] ? 1 : 0), 0) / n : 0);
  return {
    chance: 1 / spec.difficulty.lanes,
    plain_rule: acc((i) => plain[i]),
    start_rule: acc((i) => puzzles[i].start),
    rung_blind_bayes: acc((i) => rule.predict(puzzles[i])),
    count: n,
    split,
  };
}
