import { Puzzle } from "./puzzle";

/** Walks down from the top of `lane`, crossing every rung met; returns the bottom lane. */
export function trace(p: Puzzle, lane: number): number {
  let at = lane;
  for (const r of p.rungs) {
    if (r.left === at) at++;
    else if (r.left + 1 === at) at--;
  }
  return at;
}

/** The plain goal g1: where START ends. */
export function plainLabel(p: Puzzle): number {
  return trace(p, p.start);
}

/**
 * The lanes walked by a k-hop warp: lanes[0] = START, then after each hop the top lane whose
 * colour matches the bottom circle reached. Because top[start] is START's own (hidden) colour,
 * a hop onto the missing colour lands on START again, as TASK_SPEC asks.
 */
export function warpLanes(p: Puzzle, hops: number): number[] {
  if (!Number.isInteger(hops) || hops < 0) throw new Error(`hops must be an integer >= 0, got ${hops}`);
  const lanes = [p.start];
  let goal = trace(p, p.start);
  for (let h = 0; h < hops; h++) {
    const lane = p.top.indexOf(p.bottom[goal]);
    lanes.push(lane);
    goal = trace(p, lane);
  }
  return lanes;
}

/** The class label: the bottom index reached after `hops` warps (0 = plain). */
export function warpLabel(p: Puzzle, hops: number): number {
  const lanes = warpLanes(p, hops);
  return trace(p, lanes[lanes.length - 1]);
}

/** Polyline of a trace in (lane, row-boundary) steps, for drawing: [lane, y] with y in 0..rows. */
export function tracePath(p: Puzzle, lane: number): Array<[number, number]> {
  const pts: Array<[number, number]> = [[lane, -1]];
  let at = lane;
  for (const r of p.rungs) {
    if (r.left === at || r.left + 1 === at) {
      pts.push([at, r.row]);
      at = r.left === at ? at + 1 : at - 1;
      pts.push([at, r.row]);
    }
  }
  pts.push([at, p.rows]);
  return pts;
}

/**
 * P(label = the bottom lane whose colour is missing from the top row | START, colour orders) when
 * the ladder's permutation is uniform: after `hops` hops the walk is back at START exactly when
 * START's cycle in (permutation o colour map) has a length dividing hops + 1, and that length is
 * uniform on 1..lanes. Every other label has (1 - this) / (lanes - 1). 1/lanes for plain, 2/lanes
 * for one hop: the structural part of the rung-blind shortcut (docs/SAMPLING.md).
 */
export function hopBackProbability(lanes: number, hops: number): number {
  let divisors = 0;
  for (let d = 1; d <= lanes; d++) if ((hops + 1) % d === 0) divisors++;
  return divisors / lanes;
}

/** The k-hop label from the ladder's permutation alone (perm[top lane] = bottom lane). */
export function permutationLabel(perm: number[], top: number[], bottom: number[], start: number, hops: number): number {
  let goal = perm[start];
  for (let h = 0; h < hops; h++) goal = perm[top.indexOf(bottom[goal])];
  return goal;
}
