import * as fs from "fs";
import * as path from "path";
import { DatasetSpec, Split, SPLITS, validateSpec } from "./spec";
import { renderSample } from "./sample";
import { heldoutTestFile, writeHeldoutTest } from "./heldout";
import { DatasetHeader, writeSplit } from "./format";
import { DatasetStats, mergeStats } from "./stats";
import { writeJsonAtomic } from "../util/atomic";
import { Progress } from "../util/progress";

export type SplitCounts = Record<Split, number>;

export interface DatasetSummary {
  out: string;
  spec: DatasetSpec;
  counts: SplitCounts;
  splits: Partial<Record<Split, DatasetStats>>;
  count: number;
  class_histogram: number[];
  fraction_label_eq_plain: number;
  duplicates: number;
  distinct_puzzles: number;
  distinct_ladders: number;
  seconds: number;
  puzzles_per_s: number;
}

export function splitFile(dir: string, split: Split): string {
  return path.join(dir, `${split}.amida`);
}

export function validateCounts(c: SplitCounts): SplitCounts {
  for (const s of SPLITS) {
    const v = c[s];
    const lo = s === "train" ? 1 : 0;
    if (!Number.isInteger(v) || v < lo || v > 10_000_000) throw new Error(`${s} count must be an integer in ${lo}..10000000, got ${v}`);
  }
  return c;
}

/** Val and test default to a tenth of train each (at least one puzzle when train allows). */
export function defaultCounts(train: number): SplitCounts {
  const side = Math.max(1, Math.round(train / 10));
  return { train, val: side, test: side };
}

/**
 * The data set at `out`, generated only when `out/dataset.json` does not record this exact spec
 * and these counts (generation is deterministic, so an existing match is the same data).
 */
export function ensureDataset(spec: DatasetSpec, counts: SplitCounts, out: string, log: (line: string) => void = () => {}): string {
  const meta = path.join(out, "dataset.json");
  if (fs.existsSync(meta)) {
    const old = JSON.parse(fs.readFileSync(meta, "utf8"));
    if (JSON.stringify(old.spec) === JSON.stringify(spec) && JSON.stringify(old.counts) === JSON.stringify(counts)) {
      log(`data: reusing ${out}`);
      return out;
    }
  }
  const s = generateDataset(spec, counts, out, { quiet: true });
  log(`data: ${out}: ${s.count} puzzles in ${s.seconds.toFixed(1)} s, class histogram ${JSON.stringify(s.class_histogram)}, label == g1 ${(100 * s.fraction_label_eq_plain).toFixed(1)}%`);
  return out;
}

/**
 * Writes DIR/{train,val,test}.amida, DIR/test-heldout.amida (data/heldout.ts) and DIR/dataset.json.
 * Everything is validated before the first puzzle is drawn; each file appears whole or not at all.
 */
export function generateDataset(spec: DatasetSpec, counts: SplitCounts, out: string, opts: { quiet?: boolean; onLine?: (l: string) => void } = {}): DatasetSummary {
  validateSpec(spec);
  if (spec.style !== undefined) throw new Error(`style '${spec.style}' is only for the held-out test file that generate writes itself; data sets are drawn in the standard style`);
  validateCounts(counts);
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new Error(`output '${out}' exists and is not a directory`);
  fs.mkdirSync(out, { recursive: true });
  const t0 = Date.now();
  const total = SPLITS.reduce((a, s) => a + counts[s], 0);
  const progress = new Progress("generate", total, { quiet: opts.quiet, unit: "puzzles", onLine: opts.onLine });
  const headers: Partial<Record<Split, DatasetHeader>> = {};
  for (const split of SPLITS) {
    if (counts[split] === 0) continue;
    headers[split] = writeSplit(splitFile(out, split), spec, split, counts[split], (i) => {
      progress.tick(1, split);
      return renderSample(spec, split, i);
    });
  }
  if (counts.test > 0) writeHeldoutTest(spec, counts.test, out);
  else fs.rmSync(heldoutTestFile(out), { force: true });
  const seconds = (Date.now() - t0) / 1000;
  const splits = Object.fromEntries(Object.entries(headers).map(([k, h]) => [k, h!.stats])) as Partial<Record<Split, DatasetStats>>;
  const merged = mergeStats(Object.values(splits));
  const summary: DatasetSummary = { out, spec, counts, splits, ...merged, seconds, puzzles_per_s: seconds > 0 ? total / seconds : total };
  writeJsonAtomic(path.join(out, "dataset.json"), summary);
  return summary;
}
