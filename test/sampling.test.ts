import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { presetDifficulty, Difficulty } from "../src/puzzle/difficulty";
import {
  layoutsByRungCount,
  permutationLadders,
  rowMatchings,
  debiasedProblem,
} from "../src/puzzle/ladders";
import { debiasAcceptance, permutationLabel, trace, warpLabel } from "../src/puzzle/trace";
import { ladderHash, randomPuzzle } from "../src/puzzle/puzzle";
import { DatasetSpec, validateSpec } from "../src/data/spec";
import { renderSample, samplePuzzle, splitOfHash } from "../src/data/sample";
import { capacityWarning, difficultyCapacity } from "../src/data/stats";
import { generateDataset } from "../src/data/generate";
import { splitFile } from "../src/data/spec";
import { independenceCheck } from "../src/data/independence";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { rngFor } from "../src/util/rng";
import { SplitReader } from "../src/data/format";
import { heldoutTestFile } from "../src/data/heldout";

const spec = (over: Partial<DatasetSpec> = {}): DatasetSpec => ({
  task: "warp",
  hops: 1,
  difficulty: presetDifficulty("easy"),
  nuisance: NO_NUISANCE,
  seed: 5,
  sampling: "debiased",
  ...over,
});

/** Every rung layout of a small ladder, by brute force over each row's rung sets. */
function allLayouts(lanes: number, rows: number): number[][][] {
  let out: number[][][] = [[]];
  for (let r = 0; r < rows; r++)
    out = out.flatMap((l) => rowMatchings(lanes).map((m) => [...l, m]));
  return out;
}

test("layout counts: the generating function agrees with brute force, and the permutation table with both", () => {
  for (const [lanes, rows] of [
    [3, 4],
    [4, 3],
    [5, 2],
  ]) {
    const byCount = new Array(rows * Math.floor(lanes / 2) + 1).fill(0);
    for (const l of allLayouts(lanes, rows)) byCount[l.flat().length]++;
    assert.deepEqual(layoutsByRungCount(lanes, rows), byCount);
    const d: Difficulty = { lanes, rows, rungsMin: 0, rungsMax: byCount.length - 1, size: 64 };
    const t = permutationLadders(d);
    byCount.forEach((n, c) =>
      assert.equal(
        t.perms.reduce((a, _, p) => a + t.count(p, c), 0),
        n,
      ),
    );
  }
  // The figures for easy: 72 layouts, 216 ladders, 7,776 puzzles.
  assert.deepEqual(difficultyCapacity(presetDifficulty("easy")), {
    layouts: 72,
    ladders: 216,
    puzzles: 7776,
    exact: true,
  });
});

test("a sampled layout realises the asked permutation with the asked rung count, uniformly", () => {
  const d: Difficulty = { lanes: 4, rows: 3, rungsMin: 2, rungsMax: 4, size: 64 };
  const t = permutationLadders(d);
  const rng = rngFor("layouts");
  for (let p = 0; p < t.perms.length; p++) {
    for (const c of t.feasibleCounts(p)) {
      const rungs = t.sample(rng, p, c);
      assert.equal(rungs.length, c);
      const puzzle = {
        lanes: 4,
        rows: 3,
        rungs,
        top: [0, 1, 2, 3],
        bottom: [0, 1, 2, 3],
        start: 0,
      };
      assert.deepEqual(
        [0, 1, 2, 3].map((l) => trace(puzzle, l)),
        t.perms[p],
      );
    }
  }
  // Identity with 2 rungs: every such layout about equally often.
  const seen = new Map<string, number>();
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const key = JSON.stringify(t.sample(rng, 0, 2));
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  assert.equal(seen.size, t.count(0, 2));
  const expect = n / seen.size;
  for (const v of seen.values())
    assert.ok(Math.abs(v - expect) < 5 * Math.sqrt(expect), `count ${v}, expected ~${expect}`);
});

/**
 * Exact label distribution of debiased sampling over every (permutation, START, colour map), each
 * weighted by its acceptance: what the sampler does, without sampling noise.
 */
function exactDebiased(n: number, hops: number, accept = debiasAcceptance(n, hops)!) {
  const perms = permutationLadders({
    lanes: n,
    rows: n * n,
    rungsMin: 0,
    rungsMax: n * n,
    size: 64,
  }).perms;
  const ident = perms[0];
  const byView = new Map<string, number[]>();
  let same = 0;
  let total = 0;
  for (const sigma of perms) {
    // top = identity colours, bottom[i] = sigma[i]: top.indexOf(bottom[i]) = sigma[i].
    for (let s = 0; s < n; s++) {
      const row = new Array(n).fill(0);
      for (const perm of perms) {
        const label = permutationLabel(perm, ident, sigma, s, hops);
        const back = label === sigma.indexOf(s);
        const g1 = label === perm[s];
        const w = back ? (g1 ? accept.backAndG1 : accept.back) : g1 ? accept.g1 : accept.other;
        row[label] += w;
        if (g1) same += w;
        total += w;
      }
      byView.set(`${s}|${sigma}`, row);
    }
  }
  return { byView, fractionG1: same / total };
}

test("debiased acceptance: the label is uniform given START and the colour orders, and P(label = g1) = 1/N", () => {
  for (const n of [3, 4, 5]) {
    for (const hops of [1, 2, 3]) {
      const acc = debiasAcceptance(n, hops);
      if (!acc) continue;
      const { byView, fractionG1 } = exactDebiased(n, hops, acc);
      for (const row of byView.values()) {
        const sum = row.reduce((a, b) => a + b, 0);
        for (const v of row)
          assert.ok(Math.abs(v / sum - 1 / n) < 1e-9, `n ${n} hops ${hops}: ${row}`);
      }
      // Where every label is the hop-back lane or g1, only the first property can hold.
      if (acc.g1 !== 1 || acc.backAndG1 !== acc.back)
        assert.ok(Math.abs(fractionG1 - 1 / n) < 1e-9, `n ${n} hops ${hops}: ${fractionG1}`);
    }
  }
  // Without the acceptance (uniform permutations alone), the hop-back lane has 2/N after one hop.
  const plainUniform = exactDebiased(5, 1, { backAndG1: 1, back: 1, g1: 1, other: 1 });
  const row = plainUniform.byView.get(`0|${[0, 1, 2, 3, 4]}`)!;
  assert.ok(Math.abs(row[0] / row.reduce((a, b) => a + b, 0) - 2 / 5) < 1e-9);
  assert.equal(debiasAcceptance(3, 5), null);
});

test("debiased sampling: deterministic, balanced, the k-hop label, rung counts in range, independent of g1", () => {
  for (const preset of ["easy", "medium", "blog"]) {
    const s = spec({ difficulty: presetDifficulty(preset), hops: 1 });
    const d = s.difficulty;
    const hist = new Array(d.lanes).fill(0);
    const plain: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 1500; i++) {
      const x = samplePuzzle(s, "train", i);
      assert.equal(x.label, warpLabel(x.puzzle, 1));
      assert.ok(x.puzzle.rungs.length >= d.rungsMin && x.puzzle.rungs.length <= d.rungsMax);
      hist[x.label]++;
      plain.push(x.plain);
      labels.push(x.label);
    }
    assert.ok(hist.every((h) => Math.abs(h - 1500 / d.lanes) <= 1));
    const ic = independenceCheck(plain, labels, d.lanes);
    assert.ok(
      Math.abs(ic.fraction_equal - 1 / d.lanes) < 0.04,
      `${preset}: P(label = g1) = ${ic.fraction_equal}`,
    );
    assert.deepEqual(samplePuzzle(s, "train", 77), samplePuzzle(s, "train", 77));
  }
});

test("blog sampling is the seed's: the first puzzle of the stream with the target label and a ladder in the split", () => {
  const s = spec({ sampling: "blog", difficulty: presetDifficulty("blog") });
  for (let i = 0; i < 30; i++) {
    const rng = rngFor(s.seed, "val", i);
    let p = randomPuzzle(rng, s.difficulty);
    while (!p || warpLabel(p, 1) !== i % 5 || splitOfHash(ladderHash(p)) !== "val")
      p = randomPuzzle(rng, s.difficulty);
    assert.deepEqual(samplePuzzle(s, "val", i).puzzle, p);
  }
});

test("splits never share a ladder, for both samplings, even where ladders are few", () => {
  for (const sampling of ["debiased", "blog"] as const) {
    const s = spec({ sampling, task: "plain", hops: 0 });
    const owner = new Map<string, string>();
    for (const split of ["train", "val", "test"] as const) {
      for (let i = 0; i < 400; i++) {
        const x = samplePuzzle(s, split, i);
        assert.equal(splitOfHash(x.ladder), split);
        const prev = owner.get(x.ladder);
        assert.ok(
          prev === undefined || prev === split,
          `${sampling}: ladder ${x.ladder} in ${prev} and ${split}`,
        );
        owner.set(x.ladder, split);
      }
    }
    // 216 ladders in all on easy: 1,200 puzzles must reuse them within a split.
    assert.ok(owner.size <= 216);
  }
});

test("stats count distinct puzzles and ladders per split; too many training puzzles warn with the numbers", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-sampling-"));
  const sum = generateDataset(spec(), { train: 600, val: 60, test: 60 }, dir, { quiet: true });
  const tr = sum.splits.train!;
  assert.ok(
    tr.distinct_ladders <= 216 / 3 + 20 && tr.distinct_ladders >= 30,
    `${tr.distinct_ladders}`,
  );
  assert.ok(tr.distinct_puzzles <= 600 && tr.distinct_puzzles >= tr.distinct_ladders);
  assert.equal(tr.duplicates, 600 - tr.distinct_puzzles);
  assert.equal(
    sum.distinct_ladders,
    tr.distinct_ladders + sum.splits.val!.distinct_ladders + sum.splits.test!.distinct_ladders,
  );
  const warn = capacityWarning(spec(), { train: 4000, val: 400, test: 400 })!;
  assert.match(warn, /4000 training puzzles asked, more than the ~2592 distinct puzzles/);
  assert.match(
    warn,
    /72 rung layouts x 3 START positions = 216 ladders and 7776 puzzles \(exact\)/,
  );
  assert.match(
    capacityWarning(spec(), { train: 200, val: 20, test: 20 })!,
    /more than the ~72 distinct ladders/,
  );
  assert.equal(
    capacityWarning(spec({ difficulty: presetDifficulty("blog") }), {
      train: 50000,
      val: 5000,
      test: 5000,
    }),
    null,
  );
});

test("debiased sampling refuses difficulties it cannot serve, naming why", () => {
  const tsMedium = { lanes: 4, rows: 6, rungsMin: 2, rungsMax: 5, size: 32 };
  assert.throws(
    () => validateSpec(spec({ difficulty: tsMedium })),
    /needs every permutation of 4 lanes drawable with 2\.\.5 rungs in 6 rows.*reversal needs 6 rungs/,
  );
  assert.equal(debiasedProblem(presetDifficulty("medium"), 1), null);
  validateSpec(spec({ difficulty: tsMedium, sampling: "blog" }));
  assert.throws(() => validateSpec(spec({ hops: 5 })), /every walk returns to START/);
  assert.throws(
    () => validateSpec(spec({ sampling: "uniform" as never })),
    /unknown sampling 'uniform'; allowed: debiased, blog/,
  );
});

test("generate writes test-heldout.amida: the test puzzles, same order and labels, in the held-out style", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-heldout-"));
  const s = spec({ difficulty: presetDifficulty("blog") });
  generateDataset(s, { train: 10, val: 0, test: 25 }, dir, { quiet: true });
  const test = new SplitReader(splitFile(dir, "test"));
  const held = new SplitReader(heldoutTestFile(dir));
  assert.equal(held.header.spec.style, "heldout");
  assert.equal(held.header.split, "test");
  assert.deepEqual(held.records.labels, test.records.labels);
  assert.deepEqual(held.records.hashes, test.records.hashes);
  for (let i = 0; i < 25; i++)
    assert.notDeepEqual(Buffer.from(held.image(i)), Buffer.from(test.image(i)));
  test.close();
  held.close();
  const none = fs.mkdtempSync(path.join(os.tmpdir(), "amida-heldout-"));
  generateDataset(s, { train: 10, val: 0, test: 0 }, none, { quiet: true });
  assert.equal(fs.existsSync(heldoutTestFile(none)), false);
  assert.throws(
    () => generateDataset({ ...s, style: "heldout" }, { train: 5, val: 0, test: 0 }, none),
    /only for the held-out test file/,
  );
});

test("--vary draws a style per sample: deterministic, different pixels, same puzzle", () => {
  const s = spec({ nuisance: { ...NO_NUISANCE, vary: 1 } });
  const a = renderSample(s, "train", 4);
  assert.deepEqual(Buffer.from(renderSample(s, "train", 4).rgb), Buffer.from(a.rgb));
  const plain = renderSample(spec(), "train", 4);
  assert.deepEqual(a.puzzle, plain.puzzle);
  assert.notDeepEqual(Buffer.from(a.rgb), Buffer.from(plain.rgb));
  assert.throws(
    () => validateSpec(spec({ nuisance: { ...NO_NUISANCE, vary: 2 } })),
    /nuisance\.vary must be a number in 0\.\.1/,
  );
});
