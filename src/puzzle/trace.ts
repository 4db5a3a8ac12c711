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
