import { Puzzle } from "./puzzle";
import { Rng } from "../util/rng";

/**
 * How a puzzle's parts are placed, independent of what the puzzle is. The standard style is what
 * every model trains on; the held-out style is drawn only into `test-heldout.amida`, to tell
 * whether a model learned to trace or learned this renderer's pixel templates.
 */
export interface Style {
  /** Distance of the outer lanes from the image's side edges, in standard lane spacings (size / lanes). */
  laneInset: number;
  /** Top and bottom margin, as a fraction of the image size. */
  margin: number;
  /** Circle radius, as a multiple of the standard radius min(0.36 lane spacing, 0.08 size). */
  radius: number;
  /** Line width, as a multiple of the standard width size / 64 (rounded, at least 1 px). */
  lineWidth: number;
  /** Fraction of the band between the circle rows that the rung rows span (centred), 0..1. */
  rowSpan: number;
}

export const STANDARD_STYLE: Readonly<Style> = {
  laneInset: 0.5,
  margin: 0.02,
  radius: 1,
  lineWidth: 1,
  rowSpan: 1,
};

/**
 * Lanes nearer the edges (wider spacing), bigger margins, smaller circles, thicker lines at 64 px,
 * rungs in a narrower band: the same structure and colours, different pixels everywhere.
 * Legible at 32 px for the easy and medium presets and at 64 px for the seed preset.
 */
export const HELDOUT_STYLE: Readonly<Style> = {
  laneInset: 0.3,
  margin: 0.05,
  radius: 0.85,
  lineWidth: 1.7,
  rowSpan: 0.95,
};

/** Half-width of each field's range under `vary` = 1 (it covers the held-out style's values). */
const VARY_RANGE: Readonly<Style> = {
  laneInset: 0.2,
  margin: 0.04,
  radius: 0.25,
  lineWidth: 0.7,
  rowSpan: 0.2,
};

export const RENDER_STYLES = { standard: STANDARD_STYLE, heldout: HELDOUT_STYLE } as const;
export type RenderStyle = keyof typeof RENDER_STYLES;

/** A style drawn per sample around the standard one: each field uniform in standard +- vary * range. */
export function variedStyle(rng: Rng, vary: number): Style {
  const f = (k: keyof Style) => STANDARD_STYLE[k] + (rng() * 2 - 1) * vary * VARY_RANGE[k];
  return {
    laneInset: f("laneInset"),
    margin: Math.max(0.005, f("margin")),
    radius: f("radius"),
    lineWidth: f("lineWidth"),
    rowSpan: Math.min(1, STANDARD_STYLE.rowSpan - rng() * vary * VARY_RANGE.rowSpan),
  };
}

/** Where things sit in a size x size image; shared by the renderer and every overlay. */
export interface Layout {
  size: number;
  radius: number;
  lineWidth: number;
  laneX: (lane: number) => number;
  topY: number;
  bottomY: number;
  /** y of a rung row; row -1 is the top circle and row `rows` the bottom circle. */
  rowY: (row: number) => number;
  /** Distance between neighbouring rung rows before snapping to pixel centres. */
  rowGap: number;
}

/**
 * Largest vertical shift of a rung drawn `lineWidth` wide that keeps it inside its own row's band
 * with a pixel to spare (snapping moves a row by up to 1 px), so jittered rungs of neighbouring
 * rows never touch or swap their visual order, which would contradict the label.
 */
export function rungShiftLimit(L: Layout, lineWidth: number): number {
  return Math.max(0, (L.rowGap - lineWidth) / 2 - 1);
}

export function layout(
  p: Pick<Puzzle, "lanes" | "rows">,
  size: number,
  style: Style = STANDARD_STYLE,
): Layout {
  const spacing = size / p.lanes;
  // Lane step in standard spacings: exactly 1 for the standard inset of half a spacing.
  const step = (p.lanes - 2 * style.laneInset) / (p.lanes - 1);
  const lineWidth = Math.max(1, Math.round((size / 64) * style.lineWidth));
  // Lines render crisp instead of smeared over an extra grey row when odd widths are centred on
  // pixel centres and even widths on pixel edges.
  const snap =
    lineWidth % 2 === 1 ? (v: number) => Math.floor(v) + 0.5 : (v: number) => Math.round(v);
  const laneX = (lane: number) => snap(spacing * (style.laneInset + lane * step));
  // Circles of the outer lanes stay inside the image, whatever the style.
  const radius = Math.min(
    Math.min(0.36 * spacing * step, 0.08 * size) * style.radius,
    laneX(0) - 0.5,
  );
  const margin = Math.max(1, size * style.margin);
  const topY = margin + radius;
  const bottomY = size - margin - radius;
  const y0 = topY + radius + 1;
  const y1 = bottomY - radius - 1;
  const band0 = y0 + ((1 - style.rowSpan) / 2) * (y1 - y0);
  const band = style.rowSpan * (y1 - y0);
  return {
    size,
    radius,
    lineWidth,
    laneX,
    topY,
    bottomY,
    rowY: (row) =>
      row < 0 ? topY : row >= p.rows ? bottomY : snap(band0 + ((row + 0.5) * band) / p.rows),
    rowGap: band / p.rows,
  };
}
