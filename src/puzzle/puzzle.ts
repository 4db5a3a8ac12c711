import { Difficulty, maxRungsPerRow } from "./difficulty";
import { Rng, randInt, shuffled } from "../util/rng";

/** A rung joins lane `left` and `left + 1` at height `row` (0 = top). */
export interface Rung {
  row: number;
  left: number;
}

/**
 * The structure of one puzzle; pixels are derived from it by render.ts.
 * Colours are palette indices. `top[start]` is START's own colour: it is the colour missing from
 * the drawn top row, where START is shown white.
 */
export interface Puzzle {
  lanes: number;
  rows: number;
  rungs: Rung[];
  top: number[];
  bottom: number[];
  start: number;
}

/**
 * Draws a random puzzle, or null when the random slot order could not seat the drawn number of
 * rungs (the caller retries with a fresh stream).
 */
export function randomPuzzle(rng: Rng, d: Difficulty): Puzzle | null {
  const want = randInt(rng, d.rungsMin, d.rungsMax);
  const slots = d.rows * (d.lanes - 1);
  const order = Array.from({ length: slots }, (_, i) => i);
  const busy = new Uint8Array(d.rows * d.lanes);
  const rungs: Rung[] = [];
  // Lazy Fisher-Yates: only as many slots are drawn as it takes to seat `want` rungs.
  for (let k = 0; k < slots && rungs.length < want; k++) {
    const j = k + Math.floor(rng() * (slots - k));
    const s = order[j];
    order[j] = order[k];
    order[k] = s;
    const row = Math.floor(s / (d.lanes - 1));
    const left = s % (d.lanes - 1);
    const at = row * d.lanes + left;
    if (busy[at] || busy[at + 1]) continue;
    busy[at] = busy[at + 1] = 1;
    rungs.push({ row, left });
  }
  if (rungs.length < want || want > d.rows * maxRungsPerRow(d.lanes)) return null;
  rungs.sort((a, b) => a.row - b.row || a.left - b.left);
  return {
    lanes: d.lanes,
    rows: d.rows,
    rungs,
    top: shuffled(rng, d.lanes),
    bottom: shuffled(rng, d.lanes),
    start: Math.floor(rng() * d.lanes),
  };
}

function fnv1a(text: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Canonical text of everything that makes two puzzles the same puzzle. */
export function structureKey(p: Puzzle): string {
  const rungs = p.rungs.map((r) => `${r.row}.${r.left}`).join(",");
  return `${p.lanes}|${p.rows}|${rungs}|${p.top.join(",")}|${p.bottom.join(",")}|${p.start}`;
}

/** 64-bit structure hash as 16 hex digits (two independent 32-bit FNV-1a lanes). */
export function structureHash(p: Puzzle): string {
  return hash64(structureKey(p));
}

/** Two independent 32-bit FNV-1a lanes, as 16 hex digits. */
function hash64(key: string): string {
  const a = fnv1a(key, 0x811c9dc5);
  const b = fnv1a(key, 0x050c5d1f);
  return a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0");
}

/** Canonical text of a ladder: the rungs and START, whatever the colours. */
export function ladderKey(p: Puzzle): string {
  const rungs = p.rungs.map((r) => `${r.row}.${r.left}`).join(",");
  return `${p.lanes}|${p.rows}|${rungs}|${p.start}`;
}

/** 64-bit ladder hash as 16 hex digits: splits are a function of it, so they never share a ladder. */
export function ladderHash(p: Puzzle): string {
  return hash64(ladderKey(p));
}
