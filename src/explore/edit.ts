/**
 * Editing a puzzle on the page: a click where a rung can go adds or removes it, START can be moved
 * to another top circle. Pure functions on the Puzzle structure (the renderer draws the result),
 * with the puzzle's own rules: rungs on one row never share a lane, rungs are kept in row order
 * (trace() walks them in that order), and the top row stays a permutation of the colours.
 */
import { Puzzle, Rung } from "../puzzle/puzzle";
import { layout } from "../puzzle/layout";

/** A place a rung can go: row and the left of its two lanes. */
export type Slot = Rung;

export type Edit = { puzzle: Puzzle; message: string } | { puzzle: null; message: string };

const laneWords = (l: number) => `lanes ${l + 1} and ${l + 2}`;

/**
 * Adds the rung at `slot`, or removes it if it is there. Refused (puzzle null, message why) where
 * it would share a lane with a rung on the same row.
 */
export function toggleRung(p: Puzzle, slot: Slot): Edit {
  const { row, left } = slot;
  if (!Number.isInteger(row) || row < 0 || row >= p.rows)
    throw new Error(`row must be an integer in 0..${p.rows - 1}, got ${row}`);
  if (!Number.isInteger(left) || left < 0 || left > p.lanes - 2)
    throw new Error(`left lane must be an integer in 0..${p.lanes - 2}, got ${left}`);
  const here = p.rungs.findIndex((r) => r.row === row && r.left === left);
  if (here >= 0) {
    const rungs = p.rungs.filter((_, i) => i !== here);
    return {
      puzzle: { ...p, rungs },
      message: `removed the rung between ${laneWords(left)} on row ${row + 1}`,
    };
  }
  const clash = p.rungs.find((r) => r.row === row && Math.abs(r.left - left) === 1);
  if (clash)
    return {
      puzzle: null,
      message: `no rung there: it would share a lane with the rung between ${laneWords(clash.left)} on row ${row + 1} (rungs on one row never share a lane); remove that one first`,
    };
  const rungs = [...p.rungs, { row, left }].sort((a, b) => a.row - b.row || a.left - b.left);
  return {
    puzzle: { ...p, rungs },
    message: `added a rung between ${laneWords(left)} on row ${row + 1}`,
  };
}

/**
 * START moves to top lane `lane`: START's circle and that lane's circle swap places, so the
 * top row keeps every colour but one and the missing one (START's own) stays the same.
 */
export function moveStart(p: Puzzle, lane: number): Edit {
  if (!Number.isInteger(lane) || lane < 0 || lane >= p.lanes)
    throw new Error(`lane must be an integer in 0..${p.lanes - 1}, got ${lane}`);
  if (lane === p.start) return { puzzle: null, message: `START is already on lane ${lane + 1}` };
  const top = [...p.top];
  [top[p.start], top[lane]] = [top[lane], top[p.start]];
  return {
    puzzle: { ...p, top, start: lane },
    message: `moved START from lane ${p.start + 1} to lane ${lane + 1}`,
  };
}

/**
 * The rung slot at image point (x, y) of a `size` px picture (the renderer's layout): the
 * nearest row within half a row gap, between the two lanes around x. Null off the ladder.
 */
export function slotAt(p: Puzzle, size: number, x: number, y: number): Slot | null {
  const L = layout(p, size);
  let best = -1;
  for (let r = 0; r < p.rows; r++)
    if (best < 0 || Math.abs(L.rowY(r) - y) < Math.abs(L.rowY(best) - y)) best = r;
  if (best < 0 || Math.abs(L.rowY(best) - y) > Math.max(L.rowGap / 2, 1)) return null;
  for (let l = 0; l < p.lanes - 1; l++)
    if (x > L.laneX(l) && x < L.laneX(l + 1)) return { row: best, left: l };
  return null;
}

/** The top circle at image point (x, y), or null. */
export function topLaneAt(p: Puzzle, size: number, x: number, y: number): number | null {
  const L = layout(p, size);
  const reach = L.radius + Math.max(1, L.lineWidth);
  for (let l = 0; l < p.lanes; l++) if (Math.hypot(x - L.laneX(l), y - L.topY) <= reach) return l;
  return null;
}

/** Image point (centre) of a rung slot: where a click toggles it. */
export function slotPoint(p: Puzzle, size: number, slot: Slot): { x: number; y: number } {
  const L = layout(p, size);
  return { x: (L.laneX(slot.left) + L.laneX(slot.left + 1)) / 2, y: L.rowY(slot.row) };
}

/** Image point (centre) of top circle `lane`. */
export function topPoint(p: Puzzle, size: number, lane: number): { x: number; y: number } {
  const L = layout(p, size);
  return { x: L.laneX(lane), y: L.topY };
}
