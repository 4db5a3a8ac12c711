/**
 * Ladders counted and drawn by the permutation they realise. `debiased` sampling (data/sample.ts,
 * docs/SAMPLING.md) picks the permutation uniformly and then a rung layout realising it; this file
 * is the exact counting that makes the second step possible, and the capacity of a difficulty.
 */
import { Difficulty, maxRungsPerRow } from "./difficulty";
import { Rung } from "./puzzle";
import { Rng } from "../util/rng";
import { debiasAcceptance } from "./trace";

/** The rung sets one row can hold: sets of left lanes 0..lanes-2, no two adjacent (no shared lane). */
export function rowMatchings(lanes: number): number[][] {
  const out: number[][] = [];
  const walk = (from: number, acc: number[]) => {
    out.push(acc);
    for (let l = from; l < lanes - 1; l++) walk(l + 2, [...acc, l]);
  };
  walk(0, []);
  return out;
}

/**
 * Exact number of rung layouts with c rungs, for c = 0..rows * floor(lanes / 2): the coefficients
 * of (sum over row matchings of x^|M|)^rows. Doubles: exact below 2^53, a close estimate above.
 */
export function layoutsByRungCount(lanes: number, rows: number): number[] {
  const row = new Array(maxRungsPerRow(lanes) + 1).fill(0);
  for (const m of rowMatchings(lanes)) row[m.length]++;
  let poly = [1];
  for (let r = 0; r < rows; r++) {
    const next = new Array(poly.length + row.length - 1).fill(0);
    poly.forEach((a, i) => row.forEach((b, j) => (next[i + j] += a * b)));
    poly = next;
  }
  return poly;
}

/** Largest DP table (permutations x rows x rung counts) the exact sampler builds, in entries. */
const MAX_TABLE = 40_000_000;

/**
 * Uniform sampling of a rung layout that realises a given permutation with a given number of
 * rungs, by counting: `ways[r][tau][c]` is the number of ways rows r..rows-1 can hold c rungs and
 * compose to the permutation tau; walking down the rows, each row's rung set is drawn in
 * proportion to the ways the rest can still finish the job.
 */
export class PermutationLadders {
  /** Every permutation of the lanes, perm[top lane] = bottom lane; index 0 is the identity. */
  readonly perms: number[][];
  private readonly index = new Map<string, number>();
  private readonly matchings: number[][];
  /** compose[p * M + m]: index of perms[p] after row matching m, i.e. p o m. */
  private readonly compose: Int32Array;
  private readonly ways: Float64Array;
  private readonly C: number;

  constructor(readonly d: Difficulty) {
    this.perms = permutations(d.lanes);
    this.perms.forEach((p, i) => this.index.set(p.join(","), i));
    this.matchings = rowMatchings(d.lanes);
    const P = this.perms.length;
    const M = this.matchings.length;
    this.C = d.rungsMax + 1;
    const entries = (d.rows + 1) * P * this.C;
    if (entries > MAX_TABLE) {
      throw new Error(
        `sampling 'debiased' needs a ${entries}-entry table for ${d.lanes} lanes, ${d.rows} rows and up to ${d.rungsMax} rungs (limit ${MAX_TABLE}); use fewer lanes, rows or rungs, or --sampling blog`,
      );
    }
    this.compose = new Int32Array(P * M);
    this.perms.forEach((p, pi) =>
      this.matchings.forEach((m, mi) => {
        const swap = p.map((_, i) => i);
        for (const l of m) [swap[l], swap[l + 1]] = [l + 1, l];
        this.compose[pi * M + mi] = this.index.get(swap.map((j) => p[j]).join(","))!;
      }),
    );
    this.ways = new Float64Array(entries);
    const at = (r: number, p: number, c: number) => (r * P + p) * this.C + c;
    this.ways[at(d.rows, 0, 0)] = 1;
    for (let r = d.rows - 1; r >= 0; r--) {
      for (let p = 0; p < P; p++) {
        for (let c = 0; c < this.C; c++) {
          let w = 0;
          for (let mi = 0; mi < M; mi++) {
            const k = this.matchings[mi].length;
            if (k <= c) w += this.ways[at(r + 1, this.compose[p * M + mi], c - k)];
          }
          this.ways[at(r, p, c)] = w;
        }
      }
    }
  }

  indexOf(perm: number[]): number {
    return this.index.get(perm.join(","))!;
  }

  /** Number of layouts with c rungs that realise permutation p (by index). */
  count(p: number, c: number): number {
    return c < this.C ? this.ways[p * this.C + c] : 0;
  }

  /** The rung counts in rungsMin..rungsMax with which permutation p can be drawn. */
  feasibleCounts(p: number): number[] {
    const out: number[] = [];
    for (let c = this.d.rungsMin; c <= this.d.rungsMax; c++) if (this.count(p, c) > 0) out.push(c);
    return out;
  }

  /** A layout realising permutation p with c rungs, uniform among all such layouts. */
  sample(rng: Rng, p: number, c: number): Rung[] {
    const P = this.perms.length;
    const M = this.matchings.length;
    const rungs: Rung[] = [];
    let tau = p;
    for (let r = 0; r < this.d.rows; r++) {
      const base = (r + 1) * P;
      let total = 0;
      const w = this.matchings.map((m, mi) => {
        const v =
          m.length <= c
            ? this.ways[(base + this.compose[tau * M + mi]) * this.C + c - m.length]
            : 0;
        total += v;
        return v;
      });
      let u = rng() * total;
      let mi = -1;
      // The last matching with weight is the fallback when rounding leaves u >= total.
      for (let k = 0; k < M; k++) {
        if (w[k] === 0) continue;
        mi = k;
        if (u < w[k]) break;
        u -= w[k];
      }
      for (const left of this.matchings[mi]) rungs.push({ row: r, left });
      tau = this.compose[tau * M + mi];
      c -= this.matchings[mi].length;
    }
    return rungs;
  }
}

function permutations(n: number): number[][] {
  const out: number[][] = [];
  const walk = (acc: number[], used: boolean[]) => {
    if (acc.length === n) return void out.push(acc);
    for (let i = 0; i < n; i++)
      if (!used[i])
        walk(
          [...acc, i],
          used.map((u, j) => u || j === i),
        );
  };
  walk([], new Array(n).fill(false));
  return out;
}

const cache = new Map<string, PermutationLadders>();
/** One table per ladder shape (built once, a few ms for the presets). */
export function permutationLadders(d: Difficulty): PermutationLadders {
  const key = `${d.lanes}|${d.rows}|${d.rungsMin}|${d.rungsMax}`;
  let t = cache.get(key);
  if (!t) {
    t = new PermutationLadders(d);
    cache.set(key, t);
  }
  return t;
}

/**
 * Why `debiased` sampling cannot serve this difficulty and hop count, or null when it can: every
 * permutation must be drawable within the rung range (both parities, enough rungs for the
 * reversal), and the hop-back label must not be certain.
 */
export function debiasedProblem(d: Difficulty, hops: number): string | null {
  if (!debiasAcceptance(d.lanes, hops))
    return `with ${d.lanes} lanes and ${hops} hops every walk returns to START, so no sampling can hide the label from a rung-blind rule`;
  const t = permutationLadders(d);
  const bad = t.perms.filter((_, p) => t.feasibleCounts(p).length === 0);
  if (bad.length === 0) return null;
  return (
    `sampling 'debiased' needs every permutation of ${d.lanes} lanes drawable with ${d.rungsMin}..${d.rungsMax} rungs in ${d.rows} rows, ` +
    `but ${bad.length} of ${t.perms.length} are not (e.g. ${bad[bad.length - 1].join(",")}: the reversal needs ${(d.lanes * (d.lanes - 1)) / 2} rungs, ` +
    `and both parities need a rung count in range); widen the rung range or use --sampling blog`
  );
}
