import { Puzzle, ladderHash, randomPuzzle, structureHash } from "../puzzle/puzzle";
import { debiasAcceptance, permutationLabel, plainLabel, warpLabel } from "../puzzle/trace";
import { permutationLadders } from "../puzzle/ladders";
import { renderRGB } from "../puzzle/render";
import { RENDER_STYLES } from "../puzzle/layout";
import { Rng, rngFor, shuffled } from "../util/rng";
import { DatasetSpec, Split, SPLITS } from "./spec";

export interface Sample {
  puzzle: Puzzle;
  label: number;
  /** g1, the plain goal of START, kept to report how often label == g1. */
  plain: number;
  /** Structure hash (rungs, START and colours): the same puzzle. */
  hash: string;
  /** Ladder hash (rungs and START): decides the split. */
  ladder: string;
}

/**
 * The split a ladder belongs to is a function of its hash, so no two splits can ever share a
 * ladder (rungs + START), whatever the colours, and no split needs to know what the others hold.
 */
export function splitOfHash(ladder: string): Split {
  return SPLITS[parseInt(ladder.slice(0, 8), 16) % SPLITS.length];
}

const MAX_ATTEMPTS = 100_000;
/** Layouts tried for one drawn (permutation, START) before the whole draw is repeated. */
const MAX_REALISE = 64;

/**
 * The seed's sampling: draws whole puzzles until one's ladder hashes into this split and its
 * label is the balanced target. Rejection keeps each class's puzzles distributed exactly as the
 * unconditioned generator's.
 */
function blogPuzzle(spec: DatasetSpec, split: Split, target: number, rng: Rng): Puzzle | null {
  const puzzle = randomPuzzle(rng, spec.difficulty);
  if (!puzzle || warpLabel(puzzle, spec.hops) !== target) return null;
  return splitOfHash(ladderHash(puzzle)) === split ? puzzle : null;
}

/**
 * Debiased sampling (docs/SAMPLING.md): a uniform permutation, START and colour orders are drawn
 * first and accepted when their label is the target, with a probability by case
 * (`debiasAcceptance`) that makes every label equally likely given what a rung-blind rule sees
 * and keeps P(label = g1) = 1/N. Only then are rungs drawn:
 * a rung count the permutation allows, uniform in the range, and a layout uniform among those
 * realising the permutation with that count, redrawn until the ladder hashes into this split.
 */
function debiasedPuzzle(spec: DatasetSpec, split: Split, target: number, rng: Rng): Puzzle | null {
  const d = spec.difficulty;
  const table = permutationLadders(d);
  const perm = shuffled(rng, d.lanes);
  const start = Math.floor(rng() * d.lanes);
  const top = shuffled(rng, d.lanes);
  const bottom = shuffled(rng, d.lanes);
  const label = permutationLabel(perm, top, bottom, start, spec.hops);
  if (label !== target) return null;
  const accept = debiasAcceptance(d.lanes, spec.hops)!;
  const back = label === bottom.indexOf(top[start]);
  const g1 = label === perm[start];
  if (rng() >= (back ? (g1 ? accept.backAndG1 : accept.back) : g1 ? accept.g1 : accept.other)) return null;
  const p = table.indexOf(perm);
  const counts = table.feasibleCounts(p);
  for (let t = 0; t < MAX_REALISE; t++) {
    const c = counts[Math.floor(rng() * counts.length)];
    const puzzle: Puzzle = { lanes: d.lanes, rows: d.rows, rungs: table.sample(rng, p, c), top, bottom, start };
    if (splitOfHash(ladderHash(puzzle)) === split) return puzzle;
  }
  return null;
}

const SAMPLERS = { blog: blogPuzzle, debiased: debiasedPuzzle };

/**
 * Sample `index` of `split`: a pure function of (spec, split, index), drawn from the stream
 * (seed, split, index) by the spec's sampling, with the balanced label `index mod lanes`. With
 * `stream`, sample `index` of training stream `stream` instead (streamed training, src/data/stream.ts):
 * another random stream, the same split rule, so its ladders are training ladders too.
 */
export function samplePuzzle(spec: DatasetSpec, split: Split, index: number, stream?: number): Sample {
  const target = index % spec.difficulty.lanes;
  const rng = stream === undefined ? rngFor(spec.seed, split, index) : rngFor(spec.seed, split, "stream", stream, index);
  const draw = SAMPLERS[spec.sampling];
  if (!draw) throw new Error(`unknown sampling '${spec.sampling}' in spec; allowed: ${Object.keys(SAMPLERS).join(", ")}`);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const puzzle = draw(spec, split, target, rng);
    if (!puzzle) continue;
    return { puzzle, label: target, plain: plainLabel(puzzle), hash: structureHash(puzzle), ladder: ladderHash(puzzle) };
  }
  throw new Error(`could not draw a ${split} puzzle with label ${target} in ${MAX_ATTEMPTS} attempts; the difficulty ${JSON.stringify(spec.difficulty)} admits too few distinct puzzles`);
}

/** The sample and its pixels, in the spec's style (the held-out test file sets `style`). */
export function renderSample(spec: DatasetSpec, split: Split, index: number, stream?: number): Sample & { rgb: Uint8Array } {
  const s = samplePuzzle(spec, split, index, stream);
  const style = RENDER_STYLES[spec.style ?? "standard"];
  const pixels = stream === undefined ? rngFor(spec.seed, split, index, "pixels") : rngFor(spec.seed, split, "stream", stream, index, "pixels");
  const rgb = renderRGB(s.puzzle, spec.difficulty.size, spec.nuisance, pixels, style);
  return { ...s, rgb };
}
