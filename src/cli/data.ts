import * as fs from "fs";
import * as path from "path";
import { parse, intOpt, numOpt } from "./args";
import { Difficulty, parseRange, presetDifficulty, validateDifficulty } from "../puzzle/difficulty";
import { DatasetSpec, isSplit, Task, TASKS, SPLITS, validateSpec } from "../data/spec";
import { defaultCounts, generateDataset, splitFile, validateCounts } from "../data/generate";
import { SplitReader } from "../data/format";
import { samplePuzzle } from "../data/sample";
import { puzzleWithPaths } from "../puzzle/render";
import { writeFileAtomic } from "../util/atomic";

export const GENERATE_USAGE = `usage: amida generate [--preset easy|medium|seed] [--task plain|warp] [--hops K] [--lanes L] [--rows R]
                      [--rungs MIN..MAX] [--size PX] [--count N] [--val N] [--test N] [--seed S]
                      [--jitter PX] [--tint 0..1] [--noise 0..128] --out DIR
Writes DIR/train.amida, val.amida, test.amida and dataset.json; prints a one-line JSON summary.
  --preset   difficulty preset (default seed: 5 lanes, 10 rows, 6..14 rungs, 64 px); other flags override it
  --task     plain (label = trace of START) or warp (default hops 1)
  --count    training puzzles (default 1000); --val/--test default to count/10`;

const DATA_FLAGS = {
  preset: { type: "string" },
  task: { type: "string" },
  hops: { type: "string" },
  lanes: { type: "string" },
  rows: { type: "string" },
  rungs: { type: "string" },
  size: { type: "string" },
  count: { type: "string" },
  val: { type: "string" },
  test: { type: "string" },
  seed: { type: "string" },
  jitter: { type: "string" },
  tint: { type: "string" },
  noise: { type: "string" },
  out: { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Builds and validates a spec from flags; shared by every command that makes data. */
export function specFromFlags(v: Record<string, string | boolean | undefined>): DatasetSpec {
  const task = (v.task as string | undefined) ?? "plain";
  if (!(TASKS as readonly string[]).includes(task)) throw new Error(`--task must be one of ${TASKS.join(", ")}, got '${task}'`);
  const d: Difficulty = presetDifficulty((v.preset as string | undefined) ?? "seed");
  if (v.lanes !== undefined) d.lanes = intOpt("lanes", v.lanes as string);
  if (v.rows !== undefined) d.rows = intOpt("rows", v.rows as string);
  if (v.size !== undefined) d.size = intOpt("size", v.size as string);
  if (v.rungs !== undefined) [d.rungsMin, d.rungsMax] = parseRange(v.rungs as string);
  validateDifficulty(d);
  return validateSpec({
    task: task as Task,
    hops: intOpt("hops", v.hops as string | undefined, task === "warp" ? 1 : 0),
    difficulty: d,
    nuisance: {
      jitter: numOpt("jitter", v.jitter as string | undefined, 0),
      tint: numOpt("tint", v.tint as string | undefined, 0),
      noise: numOpt("noise", v.noise as string | undefined, 0),
    },
    seed: intOpt("seed", v.seed as string | undefined, 0),
  });
}

export async function generateCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, DATA_FLAGS, GENERATE_USAGE);
  if (v.help) {
    console.log(GENERATE_USAGE);
    return 0;
  }
  if (!v.out) throw new Error(`--out DIR is required\n${GENERATE_USAGE}`);
  const spec = specFromFlags(v);
  const base = defaultCounts(intOpt("count", v.count, 1000));
  const counts = validateCounts({ train: base.train, val: intOpt("val", v.val, base.val), test: intOpt("test", v.test, base.test) });
  const s = generateDataset(spec, counts, v.out, { quiet: v.quiet });
  console.log(
    JSON.stringify({
      out: s.out,
      count: s.count,
      counts: s.counts,
      class_histogram: s.class_histogram,
      fraction_label_eq_plain: Number(s.fraction_label_eq_plain.toFixed(4)),
      duplicates: s.duplicates,
      seconds: Number(s.seconds.toFixed(2)),
      puzzles_per_s: Math.round(s.puzzles_per_s),
    }),
  );
  return 0;
}

export const SHOW_USAGE = `usage: amida show DIR [--split train|val|test] [--index I] [--scale S] --out FILE.png
Renders one stored puzzle enlarged, with its plain trace and every warp hop drawn on it.`;

export async function showCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(
    argv,
    { split: { type: "string" }, index: { type: "string" }, scale: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
    SHOW_USAGE,
    1,
  );
  if (v.help) {
    console.log(SHOW_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new Error(`expected one data set directory, got ${positionals.length}\n${SHOW_USAGE}`);
  if (!v.out) throw new Error(`--out FILE.png is required\n${SHOW_USAGE}`);
  if (!v.out.endsWith(".png")) throw new Error(`--out must name a .png file, got '${v.out}'`);
  if (fs.existsSync(v.out) && fs.statSync(v.out).isDirectory()) throw new Error(`--out '${v.out}' is an existing directory; name a .png file path (nothing was written)`);
  const split = v.split ?? "test";
  if (!isSplit(split)) throw new Error(`--split must be one of ${SPLITS.join(", ")}, got '${split}'`);
  const scale = intOpt("scale", v.scale, 6);
  if (scale < 1 || scale > 32) throw new Error(`--scale must be in 1..32, got ${scale}`);
  const file = splitFile(positionals[0], split);
  if (!fs.existsSync(file)) throw new Error(`no ${split} split at '${file}'; generate one with 'amida generate --out ${positionals[0]}'`);
  const r = new SplitReader(file);
  try {
    const index = intOpt("index", v.index, 0);
    const rgb = r.image(index);
    const spec = r.header.spec;
    const s = samplePuzzle(spec, split, index);
    if (s.hash !== r.records.hashes[index]) throw new Error(`puzzle ${index} regenerated with hash ${s.hash} but the file stores ${r.records.hashes[index]}: the file was made by a different generator version`);
    const png = puzzleWithPaths(rgb, s.puzzle, spec.difficulty.size, spec.hops, scale).toBuffer("image/png");
    writeFileAtomic(v.out, png);
    console.log(JSON.stringify({ out: path.resolve(v.out), split, index, label: s.label, plain_goal: s.plain, hops: spec.hops, hash: s.hash }));
  } finally {
    r.close();
  }
  return 0;
}
