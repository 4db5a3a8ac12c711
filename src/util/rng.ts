import seedrandom from "seedrandom";

export type Rng = () => number;

/**
 * One independent stream per key: a sample's randomness depends only on (seed, split, index,
 * attempt), never on how many other samples were drawn before it.
 */
export function rngFor(...key: Array<string | number>): Rng {
  return seedrandom.alea(key.join("/"));
}

export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function shuffled(rng: Rng, n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
