import { Puzzle, randomPuzzle, structureHash } from "../puzzle/puzzle";
import { plainLabel, warpLabel } from "../puzzle/trace";
import { renderRGB } from "../puzzle/render";
import { rngFor } from "../util/rng";
import { DatasetSpec, Split, SPLITS } from "./spec";

export interface Sample {
  puzzle: Puzzle;
  label: number;
  /** g1, the plain goal of START, kept to report how often label == g1. */
  plain: number;
  hash: string;
}

/**
 * The split a structure belongs to is a function of its hash, so no two splits can ever hold the
 * same puzzle and no split needs to know what the others generated.
 */
export function splitOfHash(hash: string): Split {
  return SPLITS[parseInt(hash.slice(0, 8), 16) % SPLITS.length];
}

const MAX_ATTEMPTS = 100_000;

/**
 * Sample `index` of `split`: draws from the stream (seed, split, index) until the structure
 * hashes into this split and its label is the balanced target `index mod lanes`. Rejection keeps
 * each class's puzzles distributed exactly as the unconditioned generator's.
 */
export function samplePuzzle(spec: DatasetSpec, split: Split, index: number): Sample {
  const target = index % spec.difficulty.lanes;
  const rng = rngFor(spec.seed, split, index);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const puzzle = randomPuzzle(rng, spec.difficulty);
    if (!puzzle) continue;
    const label = warpLabel(puzzle, spec.hops);
    if (label !== target) continue;
    const hash = structureHash(puzzle);
    if (splitOfHash(hash) !== split) continue;
    return { puzzle, label, plain: plainLabel(puzzle), hash };
  }
  throw new Error(`could not draw a ${split} puzzle with label ${target} in ${MAX_ATTEMPTS} attempts; the difficulty ${JSON.stringify(spec.difficulty)} admits too few distinct puzzles`);
}

export function renderSample(spec: DatasetSpec, split: Split, index: number): Sample & { rgb: Uint8Array } {
  const s = samplePuzzle(spec, split, index);
  const rgb = renderRGB(s.puzzle, spec.difficulty.size, spec.nuisance, rngFor(spec.seed, split, index, "pixels"));
  return { ...s, rgb };
}
