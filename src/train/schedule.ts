/** Linear warm-up to `lr`, then cosine decay to zero at `totalSteps`. */
export function cosineWithWarmup(
  step: number,
  totalSteps: number,
  warmupSteps: number,
  lr: number,
): number {
  if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  const t = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  return 0.5 * lr * (1 + Math.cos(Math.PI * t));
}
