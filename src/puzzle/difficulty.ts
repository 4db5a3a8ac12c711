import { fieldKnob, Knob } from "../util/knobs";

/**
 * Difficulty decides whether the task can be learned at all with a given budget
 * (TASK_SPEC), so it is a named, validated, recorded setting rather than loose numbers.
 */
export interface Difficulty {
  /** Vertical lanes, 3..8; also the number of classes. */
  lanes: number;
  /** Discrete heights at which rungs can sit. */
  rows: number;
  /** Inclusive range of the number of rungs per puzzle. */
  rungsMin: number;
  rungsMax: number;
  /** Image side in pixels (square RGB). */
  size: number;
}

export const DIFFICULTY_PRESETS = {
  easy: { lanes: 3, rows: 4, rungsMin: 2, rungsMax: 4, size: 32 },
  medium: { lanes: 4, rows: 6, rungsMin: 3, rungsMax: 7, size: 32 },
  /** The experiment's budgets (quick, standard): 3 lanes, 2,148 ladders, every MobileViT block attends over > 1 patch. */
  small: { lanes: 3, rows: 6, rungsMin: 2, rungsMax: 6, size: 64 },
  /** The blog post's (seed 000) difficulty. */
  blog: { lanes: 5, rows: 10, rungsMin: 6, rungsMax: 14, size: 64 },
} satisfies Record<string, Difficulty>;

export type DifficultyPreset = keyof typeof DIFFICULTY_PRESETS;

export const LANES_MIN = 3;
export const LANES_MAX = 8;
/** Below this many pixels per lane the circles and rungs stop being legible. */
export const MIN_PIXELS_PER_LANE = 7;

export function isPreset(name: string): name is DifficultyPreset {
  return Object.prototype.hasOwnProperty.call(DIFFICULTY_PRESETS, name);
}

export function presetDifficulty(name: string): Difficulty {
  if (!isPreset(name)) {
    throw new Error(
      `unknown difficulty preset '${name}'; allowed: ${Object.keys(DIFFICULTY_PRESETS).join(", ")}`,
    );
  }
  return { ...DIFFICULTY_PRESETS[name] };
}

function checkInt(name: string, v: number, lo: number, hi: number, why = ""): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new Error(`${name} must be an integer in ${lo}..${hi}${why}, got ${v}`);
  }
}

/** Most rungs a row can hold: rungs on one row never share a lane. */
export function maxRungsPerRow(lanes: number): number {
  return Math.floor(lanes / 2);
}

export function minSizeFor(d: Pick<Difficulty, "lanes" | "rows">): number {
  // Lanes need MIN_PIXELS_PER_LANE each. The circle rows and margins take about 36 % of the
  // height (render.ts layout), and each rung row needs 3 px of what is left.
  return Math.max(d.lanes * MIN_PIXELS_PER_LANE, Math.ceil((3 * d.rows + 2) / 0.64), 24);
}

/** Throws a message naming the bad field and what is allowed; returns the value for chaining. */
export function validateDifficulty(d: Difficulty): Difficulty {
  checkInt("lanes", d.lanes, LANES_MIN, LANES_MAX);
  checkInt("rows", d.rows, 1, 64);
  const cap = d.rows * maxRungsPerRow(d.lanes);
  const capWhy = ` (${d.rows} rows x at most ${maxRungsPerRow(d.lanes)} rungs a row for ${d.lanes} lanes)`;
  checkInt("rungsMin", d.rungsMin, 0, cap, capWhy);
  checkInt("rungsMax", d.rungsMax, d.rungsMin, cap, capWhy);
  checkInt(
    "size",
    d.size,
    minSizeFor(d),
    1024,
    ` (smaller images cannot draw ${d.lanes} lanes and ${d.rows} rows legibly)`,
  );
  return d;
}

/** Parses "6..14" or "8" into an inclusive range. */
export function parseRange(text: string): [number, number] {
  const m = /^(\d+)(?:\.\.(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`rung range must look like 6..14 or 8, got '${text}'`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return [lo, hi];
}

/** The preset whose lanes, rows and rung range `d` has (its size aside), or "custom". */
export function presetName(d: Difficulty): string {
  const same = (p: Difficulty) =>
    p.lanes === d.lanes &&
    p.rows === d.rows &&
    p.rungsMin === d.rungsMin &&
    p.rungsMax === d.rungsMax;
  return Object.entries(DIFFICULTY_PRESETS).find(([, p]) => same(p))?.[0] ?? "custom";
}

/**
 * The knobs of the Difficulty at `path` of a config C: a preset (applied first, so explicit fields
 * win whatever their order; it keeps the image size unless `presetSize`) and the five fields.
 */
export function difficultyKnobs<C>(
  path: readonly string[],
  opts: { presetSize?: boolean } = {},
): Knob<C>[] {
  const at = (c: C) =>
    path.reduce(
      (o, k) => o[k] as Record<string, unknown>,
      c as Record<string, unknown>,
    ) as unknown as Difficulty;
  const K = (key: string, field: keyof Difficulty, doc: string, more: Partial<Knob<C>>) =>
    fieldKnob<C>(key, more.kind ?? "int", [...path, field], doc, more);
  return [
    {
      key: "difficulty",
      kind: "string",
      first: true,
      choices: () => Object.keys(DIFFICULTY_PRESETS),
      doc: `a preset for lanes, rows, rungs${opts.presetSize ? " and size" : ""}: ${Object.keys(DIFFICULTY_PRESETS).join(" | ")}`,
      get: (c) => presetName(at(c)),
      set: (c, v) =>
        Object.assign(at(c), {
          ...presetDifficulty(v as string),
          ...(opts.presetSize ? {} : { size: at(c).size }),
        }),
    },
    K("lanes", "lanes", `lanes = classes, ${LANES_MIN}..${LANES_MAX}`, {
      min: LANES_MIN,
      max: LANES_MAX,
    }),
    K("rows", "rows", "rung rows", { min: 1, max: 64 }),
    {
      key: "rungs",
      kind: "range",
      doc: "rungs per puzzle, e.g. 2..6",
      get: (c) => `${at(c).rungsMin}..${at(c).rungsMax}`,
      set: (c, v) => ([at(c).rungsMin, at(c).rungsMax] = v as number[]),
    },
    K(
      "size",
      "size",
      "image side in pixels (>= 64: every MobileViT block then attends over > 1 patch)",
      {
        min: 16,
        max: 1024,
      },
    ),
  ];
}
