import * as fs from "fs";
import * as path from "path";
import { parse, intOpt, numOpt } from "./args";
import { Difficulty, parseRange, presetDifficulty, validateDifficulty } from "../puzzle/difficulty";
import {
  DatasetSpec,
  DEFAULT_SAMPLING,
  isSplit,
  Sampling,
  SAMPLINGS,
  Task,
  TASKS,
  SPLITS,
  validateSpec,
} from "../data/spec";
import { generateDataset } from "../data/generate";
import { defaultCounts, splitFile, validateCounts } from "../data/spec";
import { SplitReader } from "../data/format";
import { samplePuzzle } from "../data/sample";
import { puzzleWithPaths } from "../puzzle/annotate";
import { writeFileAtomic } from "../util/atomic";
import { capacityWarning } from "../data/stats";
import { rungBlindBaselines } from "../data/baselines";

export const GENERATE_USAGE = `usage: amida generate [--difficulty easy|medium|small|blog] [--task plain|warp] [--hops K] [--lanes L] [--rows R]
                      [--rungs MIN..MAX] [--size PX] [--count N] [--val N] [--test N] [--seed S]
                      [--sampling debiased|blog] [--jitter PX] [--tint 0..1] [--noise 0..128] [--vary 0..1] --out DIR
Writes DIR/train.amida, val.amida, test.amida, test-heldout.amida (the test puzzles in the held-out
rendering style, when --test > 0) and dataset.json; prints a one-line JSON summary.
  --difficulty  a preset (default blog: the seed post's 5 lanes, 10 rows, 6..14 rungs, 64 px); other flags override it
  --task     plain (label = trace of START) or warp (default hops 1)
  --sampling debiased (default: the label is independent of START and both colour orders, so a rung-blind
             rule scores chance) or blog (the seed's sampling); docs/SAMPLING.md
  --count    training puzzles (default 1000); --val/--test default to count/10
  --jitter/--tint/--noise  pixel nuisances (default 0); --vary 0..1: lane margins, row band, line width and
             circle size drawn per sample around the standard style (a training-time robustness option)`;

const DATA_FLAGS = {
  difficulty: { type: "string" },
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
  vary: { type: "string" },
  sampling: { type: "string" },
  out: { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Builds and validates a spec from flags; shared by every command that makes data. */
export function specFromFlags(v: Record<string, string | boolean | undefined>): DatasetSpec {
  const task = (v.task as string | undefined) ?? "plain";
  if (!(TASKS as readonly string[]).includes(task))
    throw new Error(`--task must be one of ${TASKS.join(", ")}, got '${task}'`);
  const d: Difficulty = presetDifficulty((v.difficulty as string | undefined) ?? "blog");
  if (v.lanes !== undefined) d.lanes = intOpt("lanes", v.lanes as string);
  if (v.rows !== undefined) d.rows = intOpt("rows", v.rows as string);
  if (v.size !== undefined) d.size = intOpt("size", v.size as string);
  if (v.rungs !== undefined) [d.rungsMin, d.rungsMax] = parseRange(v.rungs as string);
  validateDifficulty(d);
  const sampling = (v.sampling as string | undefined) ?? DEFAULT_SAMPLING;
  if (!(SAMPLINGS as readonly string[]).includes(sampling))
    throw new Error(`--sampling must be one of ${SAMPLINGS.join(", ")}, got '${sampling}'`);
  return validateSpec({
    task: task as Task,
    hops: intOpt("hops", v.hops as string | undefined, task === "warp" ? 1 : 0),
    difficulty: d,
    nuisance: {
      jitter: numOpt("jitter", v.jitter as string | undefined, 0),
      tint: numOpt("tint", v.tint as string | undefined, 0),
      noise: numOpt("noise", v.noise as string | undefined, 0),
      ...(v.vary !== undefined ? { vary: numOpt("vary", v.vary as string, 0) } : {}),
    },
    seed: intOpt("seed", v.seed as string | undefined, 0),
    sampling: sampling as Sampling,
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
  const counts = validateCounts({
    train: base.train,
    val: intOpt("val", v.val, base.val),
    test: intOpt("test", v.test, base.test),
  });
  const warning = capacityWarning(spec, counts);
  if (warning) console.error(warning);
  const s = generateDataset(spec, counts, v.out, { quiet: v.quiet });
  console.log(
    JSON.stringify({
      out: s.out,
      sampling: spec.sampling,
      count: s.count,
      counts: s.counts,
      class_histogram: s.class_histogram,
      fraction_label_eq_plain: Number(s.fraction_label_eq_plain.toFixed(4)),
      duplicates: s.duplicates,
      distinct_ladders: Object.fromEntries(
        Object.entries(s.splits).map(([k, st]) => [k, st!.distinct_ladders]),
      ),
      distinct_puzzles: Object.fromEntries(
        Object.entries(s.splits).map(([k, st]) => [k, st!.distinct_puzzles]),
      ),
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
    {
      split: { type: "string" },
      index: { type: "string" },
      scale: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    SHOW_USAGE,
    1,
  );
  if (v.help) {
    console.log(SHOW_USAGE);
    return 0;
  }
  if (positionals.length !== 1)
    throw new Error(`expected one data set directory, got ${positionals.length}\n${SHOW_USAGE}`);
  if (!v.out) throw new Error(`--out FILE.png is required\n${SHOW_USAGE}`);
  if (!v.out.endsWith(".png")) throw new Error(`--out must name a .png file, got '${v.out}'`);
  if (fs.existsSync(v.out) && fs.statSync(v.out).isDirectory())
    throw new Error(
      `--out '${v.out}' is an existing directory; name a .png file path (nothing was written)`,
    );
  const split = v.split ?? "test";
  if (!isSplit(split))
    throw new Error(`--split must be one of ${SPLITS.join(", ")}, got '${split}'`);
  const scale = intOpt("scale", v.scale, 6);
  if (scale < 1 || scale > 32) throw new Error(`--scale must be in 1..32, got ${scale}`);
  const file = splitFile(positionals[0], split);
  if (!fs.existsSync(file))
    throw new Error(
      `no ${split} split at '${file}'; generate one with 'amida generate --out ${positionals[0]}'`,
    );
  const r = new SplitReader(file);
  try {
    const index = intOpt("index", v.index, 0);
    const rgb = r.image(index);
    const spec = r.header.spec;
    const s = samplePuzzle(spec, split, index);
    if (s.hash !== r.records.hashes[index])
      throw new Error(
        `puzzle ${index} regenerated with hash ${s.hash} but the file stores ${r.records.hashes[index]}: the file was made by a different generator version`,
      );
    const png = puzzleWithPaths(rgb, s.puzzle, spec.difficulty.size, spec.hops, scale).toBuffer(
      "image/png",
    );
    writeFileAtomic(v.out, png);
    console.log(
      JSON.stringify({
        out: path.resolve(v.out),
        split,
        index,
        label: s.label,
        plain_goal: s.plain,
        hops: spec.hops,
        hash: s.hash,
      }),
    );
  } finally {
    r.close();
  }
  return 0;
}

export const BASELINES_USAGE = `usage: amida baselines DIR [--split train|val|test]
Accuracies of rules that never look at the rungs, on a data set's split (default test):
  chance            1 / lanes
  plain_rule        answer g1, the plain trace of START (exact chance on warp by design)
  start_rule        answer the bottom lane below START
  rung_blind_bayes  the best possible rule from START's position and both colour orders, estimated
                    from >= 100,000 fresh draws of the generator for this spec and split
The last line is one JSON object with these keys, count and split.`;

export async function baselinesCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(
    argv,
    { split: { type: "string" }, help: { type: "boolean", short: "h" } },
    BASELINES_USAGE,
    1,
  );
  if (v.help) {
    console.log(BASELINES_USAGE);
    return 0;
  }
  if (positionals.length !== 1)
    throw new Error(
      `expected one data set directory, got ${positionals.length}\n${BASELINES_USAGE}`,
    );
  const split = v.split ?? "test";
  if (!isSplit(split))
    throw new Error(`--split must be one of ${SPLITS.join(", ")}, got '${split}'`);
  const b = rungBlindBaselines(positionals[0], split);
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  console.log(
    `${positionals[0]} ${split} (${b.count} puzzles): chance ${pct(b.chance)}, plain_rule ${pct(b.plain_rule)}, start_rule ${pct(b.start_rule)}, rung_blind_bayes ${pct(b.rung_blind_bayes)}`,
  );
  const round = (x: number) => Number(x.toFixed(4));
  console.log(
    JSON.stringify({
      chance: round(b.chance),
      plain_rule: round(b.plain_rule),
      start_rule: round(b.start_rule),
      rung_blind_bayes: round(b.rung_blind_bayes),
      count: b.count,
      split: b.split,
    }),
  );
  return 0;
}
