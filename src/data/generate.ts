import * as fs from "fs";
import * as path from "path";
import { DatasetSpec, Split, SplitCounts, splitFile, SPLITS, validateCounts, validateSpec } from "./spec";
import { renderSample } from "./sample";
import * as os from "os";
import { writeHeldoutTest } from "./heldout";
import { canonicalJson, DATASET_FORMAT, DatasetHeader, HEADER_BYTES, Manifest, MANIFEST, manifestFiles, verifyDataset, writeSplit } from "./format";
import { DatasetStats, mergeStats } from "./stats";
import { cleanLeftovers, describeWriteError, tempPathFor, writeJsonAtomic } from "../util/atomic";
import { acquireLock, acquireReadLock, refuseIfRead } from "../util/lock";
import { killPoint } from "../util/killpoint";
import { Progress } from "../util/progress";

/** What generate reports: where, what, how many, its whole-data-set statistics and speed. */
export interface DatasetSummary extends DatasetStats {
  out: string;
  spec: DatasetSpec;
  counts: SplitCounts;
  splits: Partial<Record<Split, DatasetStats>>;
  seconds: number;
  puzzles_per_s: number;
}

/**
 * Why the data set at `out` cannot be reused for this spec and these counts, or null when it
 * can: its manifest, every file's checksum and the shared spec are checked, not just trusted.
 */
export function datasetMismatch(spec: DatasetSpec, counts: SplitCounts, out: string): string | null {
  let m: Manifest & { counts?: SplitCounts };
  try {
    m = verifyDataset(out);
  } catch (e) {
    return (e as Error).message;
  }
  if (canonicalJson(m.spec) !== canonicalJson(spec)) return `it holds another spec (${JSON.stringify(m.spec)})`;
  if (canonicalJson(m.counts) !== canonicalJson(counts)) return `it holds other counts (${JSON.stringify(m.counts)})`;
  return null;
}

/**
 * The data set at `out`, generated only when it is not already this exact spec and these
 * counts, whole and uncorrupted (generation is deterministic, so a match is the same data).
 */
export function ensureDataset(spec: DatasetSpec, counts: SplitCounts, out: string, log: (line: string) => void = () => {}): string {
  const why = datasetMismatch(spec, counts, out);
  if (why === null) {
    tidy(out);
    log(`data: reusing ${out}`);
    return out;
  }
  if (fs.existsSync(out)) log(`data: regenerating ${out}: ${why.split("; ")[0]}`);
  const s = generateDataset(spec, counts, out, { quiet: true });
  log(`data: ${out}: ${s.count} puzzles in ${s.seconds.toFixed(1)} s, class histogram ${JSON.stringify(s.class_histogram)}, label == g1 ${(100 * s.fraction_label_eq_plain).toFixed(1)}%`);
  return out;
}

/** Removes a crashed writer's temporaries and stale lock beside `out`, unless a live writer holds it. */
function tidy(out: string): void {
  let release: () => void;
  try {
    release = acquireLock(lockFileFor(out), `tidy '${out}'`);
  } catch {
    return;
  }
  cleanLeftovers(path.resolve(out));
  release();
}

/** Bytes the data set's files take on disk. */
export function datasetBytes(spec: DatasetSpec, counts: SplitCounts): number {
  const size = spec.difficulty.size;
  const file = (n: number) => (n ? HEADER_BYTES + n * (size * size * 3 + 10) : 0);
  // The test split twice: its own file and the held-out-style one.
  return SPLITS.reduce((a, s) => a + file(counts[s]), 0) + file(counts.test);
}

/** Refuses, before any work, a data set that cannot fit the free disk (the old one stays until the swap) or memory. */
function checkResources(spec: DatasetSpec, counts: SplitCounts, out: string): void {
  const gb = (b: number) => (b < 1e9 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e9).toFixed(1)} GB`);
  const need = datasetBytes(spec, counts);
  let dir = path.resolve(out);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const st = fs.statfsSync(dir);
  const free = st.bavail * st.bsize;
  if (need > free) throw new Error(`this data set needs ${gb(need)} on disk but '${dir}' has ${gb(free)} free; lower --count/--val/--test or --size, or choose another --out`);
  // Per puzzle while writing: label, goal and hash bytes plus the hash as a JS string (~80 bytes).
  const total = SPLITS.reduce((a, s) => a + counts[s], 0);
  const mem = total * 100;
  if (mem > os.freemem()) throw new Error(`this data set needs about ${gb(mem)} of memory for its ${total} puzzle records but ${gb(os.freemem())} is free; lower --count/--val/--test`);
}

/** A directory `generate` may replace: absent, empty, or a data set (only data files and the manifest). */
function checkReplaceable(out: string): void {
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) throw new Error(`output '${out}' exists and is not a directory`);
  const foreign = fs.readdirSync(out).filter((f) => f !== MANIFEST && !f.endsWith(".amida"));
  if (foreign.length) throw new Error(`output '${out}' exists and is not a data set (it holds ${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", ..." : ""}); generation replaces the whole directory, so choose a new or empty --out`);
}

/**
 * Registers a reader of data set `dir` for as long as it uses it (a training run, an experiment):
 * generate refuses to replace it meanwhile. Returns the release function.
 */
export function readDataset(dir: string, what: string): () => void {
  return acquireReadLock(dir, lockFileFor(dir), what);
}

/** The lock that admits one writer per data set; beside it, since the directory itself is swapped. */
function lockFileFor(out: string): string {
  return path.join(path.dirname(path.resolve(out)), `.${path.basename(path.resolve(out))}.lock`);
}

/**
 * Writes DIR/{train,val,test}.amida, DIR/test-heldout.amida (data/heldout.ts) and DIR/dataset.json,
 * the manifest, last. Everything is validated before the first puzzle is drawn; the files are
 * written into a fresh temporary directory beside DIR that then replaces DIR whole, so DIR holds
 * the old data set or the new one, never a mix. A second writer of DIR is refused while it runs.
 */
export function generateDataset(spec: DatasetSpec, counts: SplitCounts, out: string, opts: { quiet?: boolean; onLine?: (l: string) => void } = {}): DatasetSummary {
  validateSpec(spec);
  if (spec.style !== undefined) throw new Error(`style '${spec.style}' is only for the held-out test file that generate writes itself; data sets are drawn in the standard style`);
  validateCounts(counts);
  checkReplaceable(out);
  checkResources(spec, counts, out);
  try {
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  } catch (e) {
    throw describeWriteError(out, e);
  }
  const release = acquireLock(lockFileFor(out), `generate into '${out}'`);
  try {
    checkReplaceable(out);
    refuseIfRead(out, `regenerate the data set`);
    cleanLeftovers(path.resolve(out));
    const tmp = tempPathFor(path.resolve(out));
    try {
      fs.mkdirSync(tmp);
    } catch (e) {
      throw describeWriteError(out, e);
    }
    const t0 = Date.now();
    const total = SPLITS.reduce((a, s) => a + counts[s], 0);
    const progress = new Progress("generate", total, { quiet: opts.quiet, unit: "puzzles", onLine: opts.onLine });
    const headers: Partial<Record<Split, DatasetHeader>> = {};
    try {
      for (const split of SPLITS) {
        if (counts[split] === 0) continue;
        headers[split] = writeSplit(splitFile(tmp, split), spec, split, counts[split], (i) => {
          progress.tick(1, split);
          return renderSample(spec, split, i);
        });
        killPoint("generate-split-written");
      }
      if (counts.test > 0) writeHeldoutTest(spec, counts.test, tmp);
      const seconds = (Date.now() - t0) / 1000;
      const splits = Object.fromEntries(Object.entries(headers).map(([k, h]) => [k, h!.stats])) as Partial<Record<Split, DatasetStats>>;
      const merged = mergeStats(Object.values(splits));
      const summary: DatasetSummary = { out, spec, counts, splits, ...merged, seconds, puzzles_per_s: seconds > 0 ? total / seconds : total };
      const manifest: Manifest = { format: DATASET_FORMAT, spec, files: manifestFiles(tmp, spec) };
      writeJsonAtomic(path.join(tmp, MANIFEST), { ...summary, ...manifest });
      killPoint("generate-manifest-written");
      // Readers that started while this ran (they refuse a held writer lock, so none can start now).
      refuseIfRead(out, `replace the data set`);
      swapIn(tmp, path.resolve(out));
      return summary;
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  } finally {
    release();
  }
}

/** Puts the finished directory `tmp` at `out`: the old one aside, the new one in, the old one removed. */
function swapIn(tmp: string, out: string): void {
  if (!fs.existsSync(out)) {
    fs.renameSync(tmp, out);
    return;
  }
  const old = tempPathFor(out);
  fs.renameSync(out, old);
  // A kill here leaves no `out` (readers say so; the next generate cleans both temporaries).
  killPoint("generate-mid-swap");
  fs.renameSync(tmp, out);
  fs.rmSync(old, { recursive: true, force: true });
}
