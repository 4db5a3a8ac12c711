import { test } from "node:test";
import assert from "node:assert/strict";
import { Puzzle, randomPuzzle, structureHash } from "../src/puzzle/puzzle";
import { plainLabel, trace, warpLabel, warpLanes } from "../src/puzzle/trace";
import {
  presetDifficulty,
  validateDifficulty,
  parseRange,
  DIFFICULTY_PRESETS,
} from "../src/puzzle/difficulty";
import { rngFor } from "../src/util/rng";
import { layout, HELDOUT_STYLE, STANDARD_STYLE, variedStyle } from "../src/puzzle/layout";
import { renderRGB, PALETTE } from "../src/puzzle/render";

// Hand-made: 3 lanes, rungs (row0: 0-1), (row1: 1-2). Lane 0 -> 1 -> 2; lane 1 -> 0; lane 2 -> 1.
const P3: Puzzle = {
  lanes: 3,
  rows: 2,
  rungs: [
    { row: 0, left: 0 },
    { row: 1, left: 1 },
  ],
  top: [0, 1, 2],
  bottom: [2, 0, 1],
  start: 0,
};

test("trace follows rungs on a hand-made ladder", () => {
  assert.deepEqual(
    [0, 1, 2].map((l) => trace(P3, l)),
    [2, 0, 1],
  );
  assert.equal(plainLabel(P3), 2);
});

test("trace with two rungs on one row swaps both pairs", () => {
  const p: Puzzle = {
    lanes: 4,
    rows: 1,
    rungs: [
      { row: 0, left: 0 },
      { row: 0, left: 2 },
    ],
    top: [0, 1, 2, 3],
    bottom: [0, 1, 2, 3],
    start: 0,
  };
  assert.deepEqual(
    [0, 1, 2, 3].map((l) => trace(p, l)),
    [1, 0, 3, 2],
  );
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
  const d = presetDifficulty("blog");
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
  assert.notEqual(
    structureHash({
      ...P3,
      rungs: [
        { row: 1, left: 0 },
        { row: 1, left: 1 },
      ],
    }),
    h,
  );
  assert.notEqual(structureHash({ ...P3, bottom: [0, 2, 1] }), h);
  assert.equal(structureHash({ ...P3, rungs: P3.rungs.map((r) => ({ ...r })) }), h);
});

test("difficulty validation names the field and the allowed range", () => {
  const seed = presetDifficulty("blog");
  assert.throws(
    () => validateDifficulty({ ...seed, lanes: 2 }),
    /lanes must be an integer in 3\.\.8, got 2/,
  );
  assert.throws(
    () => validateDifficulty({ ...seed, lanes: 9 }),
    /lanes must be an integer in 3\.\.8, got 9/,
  );
  assert.throws(
    () => validateDifficulty({ ...seed, size: 16 }),
    /size must be an integer in 50\.\.1024.*got 16/,
  );
  assert.throws(
    () => validateDifficulty({ ...seed, rungsMax: 99 }),
    /rungsMax must be an integer in 6\.\.20/,
  );
  assert.throws(
    () => presetDifficulty("hard"),
    /unknown difficulty preset 'hard'; allowed: easy, medium, small, large, blog/,
  );
  assert.throws(() => parseRange("6-14"), /rung range must look like 6\.\.14/);
  assert.deepEqual(parseRange("6..14"), [6, 14]);
  for (const d of Object.values(DIFFICULTY_PRESETS)) validateDifficulty({ ...d });
  assert.deepEqual(DIFFICULTY_PRESETS.blog, {
    lanes: 5,
    rows: 10,
    rungsMin: 6,
    rungsMax: 14,
    size: 64,
  });
});

/** Rows (y) where the column x is not white: the rungs crossing it (antialiased edges included). */
function darkRows(rgb: Uint8Array, size: number, x: number, y0: number, y1: number): number[] {
  const out: number[] = [];
  for (let y = Math.ceil(y0); y < y1; y++) {
    const o = (y * size + Math.floor(x)) * 3;
    if (rgb[o] + rgb[o + 1] + rgb[o + 2] < 3 * 230) out.push(y);
  }
  return out;
}

test("jittered rungs never swap visual order with the next row's rung (issue 8 item 8)", () => {
  // Rung A (row r, lanes 0-1) is met before rung B (row r+1, lanes 1-2): A must be drawn above B.
  for (const [rows, size] of [
    [4, 32],
    [6, 32],
    [10, 64],
  ]) {
    for (let r = 0; r + 1 < rows; r++) {
      const p: Puzzle = {
        lanes: 3,
        rows,
        rungs: [
          { row: r, left: 0 },
          { row: r + 1, left: 1 },
        ],
        top: [0, 1, 2],
        bottom: [0, 1, 2],
        start: 0,
      };
      const L = layout(p, size);
      const xa = (L.laneX(0) + L.laneX(1)) / 2;
      const xb = (L.laneX(1) + L.laneX(2)) / 2;
      for (let k = 0; k < 40; k++) {
        const rgb = renderRGB(
          p,
          size,
          { jitter: 4, tint: 0, noise: 0 },
          rngFor("jitter", rows, r, k),
        );
        const band = [L.topY + L.radius + 1, L.bottomY - L.radius - 1] as const;
        const a = darkRows(rgb, size, xa, ...band);
        const b = darkRows(rgb, size, xb, ...band);
        assert.ok(a.length > 0 && b.length > 0, "both rungs drawn");
        assert.ok(
          Math.max(...a) < Math.min(...b),
          `rows ${rows} size ${size} row ${r}: rung A at ${a}, rung B at ${b}`,
        );
      }
    }
  }
});

test("every style keeps rung rows apart and circles inside the image, at 32 and 64 px", () => {
  const rng = rngFor("styles");
  const styles = [
    STANDARD_STYLE,
    HELDOUT_STYLE,
    ...Array.from({ length: 30 }, () => variedStyle(rng, 1)),
  ];
  for (const d of [
    presetDifficulty("easy"),
    presetDifficulty("medium"),
    presetDifficulty("blog"),
    { ...presetDifficulty("blog"), size: 96 },
  ]) {
    for (const style of styles) {
      const L = layout(d, d.size, style);
      for (let r = 0; r + 1 < d.rows; r++)
        assert.ok(L.rowY(r + 1) - L.rowY(r) >= 2, `rows ${r}, ${r + 1} less than 2 px apart`);
      assert.ok(
        L.rowY(0) - L.topY > L.radius && L.bottomY - L.rowY(d.rows - 1) > L.radius,
        "rungs clear of the circles",
      );
      assert.ok(
        L.laneX(0) - L.radius >= 0 && L.laneX(d.lanes - 1) + L.radius <= d.size,
        `circles inside the image: ${JSON.stringify(style)} ${d.size}`,
      );
      assert.ok(L.laneX(1) - L.laneX(0) >= 2 * L.radius + 1, "circles of neighbouring lanes apart");
    }
  }
});

test("the held-out style moves every part: lanes, rows, circles and, at 64 px, line width", () => {
  const d = presetDifficulty("blog");
  const a = layout(d, 64);
  const b = layout(d, 64, HELDOUT_STYLE);
  assert.notEqual(a.laneX(0), b.laneX(0));
  assert.notEqual(a.rowY(0), b.rowY(0));
  assert.notEqual(a.topY, b.topY);
  assert.notEqual(a.radius, b.radius);
  assert.equal(a.lineWidth, 1);
  assert.equal(b.lineWidth, 2);
  // Same puzzle, same colours at the circle centres, different pixels.
  const p: Puzzle = {
    lanes: 5,
    rows: 10,
    rungs: [
      { row: 2, left: 1 },
      { row: 5, left: 3 },
    ],
    top: [0, 1, 2, 3, 4],
    bottom: [4, 3, 2, 1, 0],
    start: 2,
  };
  const ra = renderRGB(p, 64);
  const rb = renderRGB(p, 64, undefined, undefined, HELDOUT_STYLE);
  assert.notDeepEqual(Buffer.from(ra), Buffer.from(rb));
  for (let lane = 0; lane < 5; lane++) {
    const o = (Math.floor(b.bottomY) * 64 + Math.floor(b.laneX(lane))) * 3;
    assert.deepEqual([rb[o], rb[o + 1], rb[o + 2]], [...PALETTE[p.bottom[lane]]]);
  }
});
