/**
 * Optional distractions drawn per sample; all zero by default so the plain picture is what the
 * spec draws. Every one changes pixels only, never the structure or the label.
 */
export interface Nuisance {
  /**
   * Max displacement in pixels of lanes, rungs and circles, and of the line width. A rung never
   * leaves its own row's band, however large this is (see `rungJitter` in layout.ts).
   */
  jitter: number;
  /** 0..1: how far the background may drift from white towards a random colour. */
  tint: number;
  /** Max absolute per-pixel noise added to each channel, 0..255. */
  noise: number;
  /**
   * 0..1: how far the layout (lane margins, row band, line width, circle size) may vary from the
   * standard style, drawn per sample (layout.ts `variedStyle`). A training-time option: it tests
   * whether robustness to the held-out style can be learned. Absent means 0.
   */
  vary?: number;
}

export const NO_NUISANCE: Nuisance = { jitter: 0, tint: 0, noise: 0 };

export function validateNuisance(n: Nuisance): Nuisance {
  const check = (name: string, v: number, hi: number) => {
    if (!(typeof v === "number" && v >= 0 && v <= hi))
      throw new Error(`nuisance.${name} must be a number in 0..${hi}, got ${v}`);
  };
  check("jitter", n.jitter, 4);
  check("tint", n.tint, 1);
  check("noise", n.noise, 128);
  if (n.vary !== undefined) check("vary", n.vary, 1);
  return n;
}
