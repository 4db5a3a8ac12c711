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
  if (!Number.isInteger(hops) || hops < 0)
    throw new Error(`hops must be an integer >= 0, got ${hops}`);
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

/** Acceptance probabilities of debiased sampling, by the case a drawn label falls in (`debiasAcceptance`). */
export interface DebiasAcceptance {
  /** Label is the hop-back lane and g1 (the walk never left START's trace: START's lane is a fixed point). */
  backAndG1: number;
  /** Label is the hop-back lane, not g1. */
  back: number;
  /** Label is g1, not the hop-back lane. */
  g1: number;
  /** Neither. */
  other: number;
}

/**
 * With a uniform ladder permutation, what a rung-blind rule sees (START and both colour orders)
 * still tells one label apart: the hop-back lane, the bottom lane whose colour is missing from the
 * top row (P = 2/N after one hop, TASK_SPEC). Accepting each drawn label with these probabilities,
 * by case, makes the label uniform given (START, colour orders) and keeps P(label = g1) = 1/N.
 * Derivation in docs/SAMPLING.md: in the frame START = 0, colour map = identity, the label is
 * pi^(hops+1)(0), g1 = pi(0), the hop-back lane 0, and the cycle length of 0 is uniform on
 * 1..N. Where both cannot hold (every label is the hop-back lane or g1), only the first is kept.
 * Null when no acceptance can do it (every walk returns to START).
 */
export function debiasAcceptance(lanes: number, hops: number): DebiasAcceptance | null {
  if (hops === 0) return { backAndG1: 1, back: 1, g1: 1, other: 1 };
  const n = lanes;
  const divisors = (m: number) => {
    let c = 0;
    for (let d = 1; d <= n; d++) if (m % d === 0) c++;
    return c;
  };
  // Probabilities of the four cases, times n (integers, so a case that cannot happen is exactly 0).
  const cA = 1;
  const cB = divisors(hops + 1) - 1;
  const cC = divisors(hops) - 1;
  const cD = n - cA - cB - cC;
  // Equal mass x from the back and g1 cases keeps P(label = g1) at 1/N; the most x that leaves the
  // hop-back lane no likelier than each other lane.
  const x = Math.min(cB, cC, cD / (n - 2));
  let backAndG1 = Math.max(0, (cD - (n - 2) * x) / ((n - 1) * cA));
  let other = 1;
  if (backAndG1 > 1) {
    backAndG1 = 1;
    other = ((n - 1) * (cA + x) - x) / cD;
  }
  if (cA * backAndG1 + x > 1e-9)
    return { backAndG1, back: cB > 0 ? x / cB : 0, g1: cC > 0 ? x / cC : 0, other };
  // Every label is the hop-back lane or g1 (3 lanes, 2 hops): give up P(label = g1) = 1/N and
  // only thin the hop-back lane down to the others' probability.
  const back = cA + cB;
  if (back >= n) return null;
  const thin = (n - back) / ((n - 1) * back);
  return { backAndG1: thin, back: thin, g1: 1, other: 1 };
}

/** The k-hop label from the ladder's permutation alone (perm[top lane] = bottom lane). */
export function permutationLabel(
  perm: number[],
  top: number[],
  bottom: number[],
  start: number,
  hops: number,
): number {
  let goal = perm[start];
  for (let h = 0; h < hops; h++) goal = perm[top.indexOf(bottom[goal])];
  return goal;
}
