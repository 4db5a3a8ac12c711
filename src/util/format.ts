/**
 * A share of a network's parameters (0..1) as the tables print it, one way everywhere: "0 %" for
 * none, "<0.1 %" for a share that one decimal would round to nothing, else one decimal
 * ("0.2 %", "18.0 %", "99.0 %"). The freeze table (notebook 03) and the results table use it, so
 * `first5` reads 0.2 % in both.
 */
export function formatShare(fraction: number): string {
  if (!Number.isFinite(fraction)) return "n/a";
  if (fraction === 0) return "0 %";
  if (fraction < 0.0005) return "<0.1 %";
  return `${(100 * fraction).toFixed(1)} %`;
}
