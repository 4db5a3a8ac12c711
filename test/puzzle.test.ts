import { test } from "node:test";
import assert from "node:assert/strict";
import { Puzzle, randomPuzzle, structureHash } from "../src/puzzle/puzzle";
import { plainLabel, trace, warpLabel, warpLanes } from "../src/puzzle/trace";
import { presetDifficulty, validateDifficulty, parseRange, DIFFICULTY_PRESETS } from "../src/puzzle/difficulty";
import { rngFor } from "../src/util/rng";

// Hand-made: 3 lanes, rungs (row0: 0-1), (row1: 1-2). Lane 0 -> 1 -> 2; lane 1 -> 0; lane 2 -> 1.
const P3: Puzzle = { lanes: 3, rows: 2, rungs: [{ row: 0, left: 0 }, { row: 1, left: 1 }], top: [0, 1, 2], bottom: [2, 0, 1], start: 0 };

test("trace follows rungs on a hand-made ladder", () => {
  assert.deepEqual([0, 1, 2].map((l) => trace(P3, l)), [2, 0, 1]);
  assert.equal(plainLabel(P3), 2);
});

test("trace with two rungs on one row swaps both pairs", () => {
  const p: Puzzle = { lanes: 4, rows: 1, rungs: [{ row: 0, left: 0 }, { row: 0, left: 2 }], top: [0, 1, 2, 3], bottom: [0, 1, 2, 3], start: 0 };
  assert.deepEqual([0, 1, 2, 3].map((l) => trace(p, l)), [1, 0, 3, 2]);
});

test("one-hop warp jumps to the top circle of the bottom colour", () => {
  // START=0 ends at bottom 2 (colour 1); top lane with colour 1 is lane 1; lane 1 ends at 0.
  assert.deepEqual(warpLanes(P3, 1), [0, 1]);
  assert.equal(warpLabel(P3, 1), 0);
  assert.equal(warpLabel(P3, 0), plainLabel(P3));
});

test("a hop onto START's own (missing) colour returns to START: label = g1", () => {
  // bottom[2] = 0 = top[start]: the hop lands on START again.
  const p: Puzzle = { ...P3, bottom: [1, 2, 0] };
  assert.deepEqual(warpLanes(p, 1), [0, 0]);
  assert.equal(warpLabel(p, 1), plainLabel(p));
});

test("two hops chain the warp twice", () => {
  // hop1: lane 1 -> bottom 0 (colour 2) -> top lane 2 -> bottom 1.
  assert.deepEqual(warpLanes(P3, 2), [0, 1, 2]);
  assert.equal(warpLabel(P3, 2), 1);
});

test("hops must be a non-negative integer", () => {
  assert.throws(() => warpLabel(P3, -1), /hops must be an integer >= 0/);
});

test("random puzzles obey the spec: rung range, no shared lane on a row, permutations", () => {
  const d = presetDifficulty("seed");
  for (let i = 0; i < 300; i++) {
    const p = randomPuzzle(rngFor(7, i), d);
    if (!p) continue;
    assert.ok(p.rungs.length >= d.rungsMin && p.rungs.length <= d.rungsMax);
    const used = new Set<string>();
    for (const r of p.rungs) {
      for (const lane of [r.left, r.left + 1]) {
        const key = `${r.row}:${lane}`;
        assert.ok(!used.has(key), `lane ${lane} used twice on row ${r.row}`);
        used.add(key);
      }
    }
    assert.deepEqual([...p.top].sort(), [0, 1, 2, 3, 4]);
    assert.deepEqual([...p.bottom].sort(), [0, 1, 2, 3, 4]);
    assert.deepEqual(Array.from({ length: 5 }, (_, l) => trace(p, l)).sort(), [0, 1, 2, 3, 4]);
  }
});

test("structure hash changes with any part of the structure", () => {
  const h = structureHash(P3);
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.notEqual(structureHash({ ...P3, start: 1 }), h);
  assert.notEqual(structureHash({ ...P3, rungs: [{ row: 1, left: 0 }, { row: 1, left: 1 }] }), h);
  assert.notEqual(structureHash({ ...P3, bottom: [0, 2, 1] }), h);
  assert.equal(structureHash({ ...P3, rungs: P3.rungs.map((r) => ({ ...r })) }), h);
});

test("difficulty validation names the field and the allowed range", () => {
  const seed = presetDifficulty("seed");
  assert.throws(() => validateDifficulty({ ...seed, lanes: 2 }), /lanes must be an integer in 3\.\.8, got 2/);
  assert.throws(() => validateDifficulty({ ...seed, lanes: 9 }), /lanes must be an integer in 3\.\.8, got 9/);
  assert.throws(() => validateDifficulty({ ...seed, size: 16 }), /size must be an integer in 50\.\.1024.*got 16/);
  assert.throws(() => validateDifficulty({ ...seed, rungsMax: 99 }), /rungsMax must be an integer in 6\.\.20/);
  assert.throws(() => presetDifficulty("hard"), /unknown difficulty preset 'hard'; allowed: easy, medium, seed/);
  assert.throws(() => parseRange("6-14"), /rung range must look like 6\.\.14/);
  assert.deepEqual(parseRange("6..14"), [6, 14]);
  for (const d of Object.values(DIFFICULTY_PRESETS)) validateDifficulty({ ...d });
  assert.deepEqual(DIFFICULTY_PRESETS.seed, { lanes: 5, rows: 10, rungsMin: 6, rungsMax: 14, size: 64 });
});
