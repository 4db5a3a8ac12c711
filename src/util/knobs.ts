/**
 * Knobs: the one way a setting reaches a config, whatever the mode (experiment, sweep, contest,
 * noise, data, a single training run). A knob is one line of a table: its name, what it parses
 * as, its bounds or allowed values, a one-line comment, and where it lives in the config. The same
 * table serves a notebook's config cell (`stage1Lr: 0.003`), an environment variable
 * (`AMIDA_NB_STAGE1_LR=0.003`) and a command-line flag (`--stage1-lr 0.003`), and every error
 * names the setting in the spelling its source used, with "did you mean" and what is allowed.
 */

export type Kind = "int" | "number" | "string" | "bool" | "ints" | "numbers" | "strings" | "range";
export type Value = number | string | boolean | number[] | string[];

/** One settable field of a config of type C. */
export interface Knob<C> {
  /** camelCase name: the cell key; `--kebab-case` flag; `AMIDA_NB_UPPER_SNAKE` variable. */
  key: string;
  kind: Kind;
  /** The one-line comment shown beside it in printed configs, cells and --help. */
  doc: string;
  /** Allowed values of a string knob, or of each item of a strings knob. */
  choices?: () => readonly string[];
  /** Inclusive bounds of a number, or of each item of a list of numbers. */
  min?: number;
  max?: number;
  /** Applied before every other setting (a preset that other knobs then refine). */
  first?: boolean;
  get: (c: C) => Value;
  set: (c: C, v: Value) => void;
}

/**
 * A knob on the field of the config at `path` (`["stage1", "lr"]`): how most tables are written,
 * one line per setting.
 */
export function fieldKnob<C>(
  key: string,
  kind: Kind,
  path: readonly string[],
  doc: string,
  more: Pick<Knob<C>, "min" | "max" | "choices"> = {},
): Knob<C> {
  const last = path[path.length - 1];
  const parent = (c: C) =>
    path
      .slice(0, -1)
      .reduce((o, k) => o[k] as Record<string, unknown>, c as Record<string, unknown>);
  return {
    key,
    kind,
    doc,
    ...more,
    get: (c) => parent(c)[last] as Value,
    set: (c, v) => (parent(c)[last] = v),
  };
}

/** `stage1Lr` -> `stage1-lr` (flag). */
export const flagOf = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
/** `stage1Lr` -> `STAGE1_LR` (environment suffix). */
export const envOf = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
/** The prefix of every notebook environment variable. */
export const ENV_PREFIX = "AMIDA_NB";

/** Where a value came from, for the printed config and for messages. */
export type Source = "budget" | "saved" | "cell" | "flag" | "env";

/** One setting to apply: a knob key and a value (text from a flag or variable, typed from a cell). */
export interface Setting {
  key: string;
  value: Value;
  source: Source;
}

/** A knob's name as the source spells it. */
export function spell(key: string, source: Source): string {
  if (source === "flag") return `--${flagOf(key)}`;
  if (source === "env") return `${ENV_PREFIX}_${envOf(key)}`;
  return key;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

/** The closest candidate (case-insensitive, or within a third of the word's length), or null. */
export function didYouMean(word: string, candidates: readonly string[]): string | null {
  const w = word.toLowerCase().replace(/[-_]/g, "");
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const cc = c.toLowerCase().replace(/[-_]/g, "");
    // A shortened name (`batch` for `batchSize`) counts as one edit away.
    const d = w.length >= 3 && cc.startsWith(w) ? 1 : distance(w, cc);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== null && bestD <= Math.max(1, Math.floor(w.length / 3)) ? best : null;
}

/** " (did you mean 'x'?)" or "". */
export function suggestion(word: string, candidates: readonly string[]): string {
  const s = didYouMean(word, candidates);
  return s === null ? "" : ` (did you mean '${s}'?)`;
}

const isList = (k: Kind) => k === "ints" || k === "numbers" || k === "strings";
const itemKind = (k: Kind): Kind =>
  k === "ints" ? "int" : k === "numbers" ? "number" : k === "strings" ? "string" : k;

function what(k: Knob<unknown>): string {
  const bounds =
    k.min !== undefined || k.max !== undefined ? ` in ${k.min ?? "-inf"}..${k.max ?? "inf"}` : "";
  switch (k.kind) {
    case "int":
      return `an integer${bounds}`;
    case "number":
      return `a number${bounds}`;
    case "bool":
      return "true or false";
    case "ints":
      return `a list of integers${bounds} like 0,1,2`;
    case "numbers":
      return `a list of numbers${bounds} like 0.001,0.002`;
    case "strings":
      return k.choices ? `a list of ${k.choices().join(" | ")}` : "a comma-separated list";
    case "range":
      return "a range like 2..6 or a single number";
    default:
      return k.choices ? `one of ${k.choices().join(", ")}` : "a string";
  }
}

/** Checks one item against the knob's bounds and choices; `name` spells the setting. */
function checkItem(k: Knob<unknown>, v: number | string, name: string, shown: string): void {
  if (typeof v === "number") {
    if ((k.min !== undefined && v < k.min) || (k.max !== undefined && v > k.max))
      throw new Error(`${name} must be ${what(k)}, got ${shown}`);
    return;
  }
  const allowed = k.choices?.();
  if (allowed && !allowed.includes(v))
    throw new Error(
      `${name} must be one of ${allowed.join(", ")}, got '${v}'${suggestion(v, allowed)}`,
    );
}

/** Parses a knob's text (a flag or an environment variable); the error names the setting as spelled. */
export function parseText<C>(k: Knob<C>, text: string, name: string): Value {
  const bad = () => new Error(`${name} must be ${what(k as Knob<unknown>)}, got '${text}'`);
  const item = (t: string, kind: Kind): number | string | boolean => {
    const s = t.trim();
    if (kind === "int") {
      if (!/^-?\d+$/.test(s)) throw bad();
      return Number(s);
    }
    if (kind === "number") {
      const v = Number(s);
      if (s === "" || !Number.isFinite(v)) throw bad();
      return v;
    }
    if (kind === "bool") {
      if (!/^(true|false|1|0)$/i.test(s)) throw bad();
      return /^(true|1)$/i.test(s);
    }
    return s;
  };
  let v: Value;
  if (k.kind === "range") {
    const m = /^\s*(\d+)(?:\.\.(\d+))?\s*$/.exec(text);
    if (!m) throw bad();
    v = [Number(m[1]), Number(m[2] ?? m[1])];
  } else if (isList(k.kind)) {
    const parts = text.trim() === "" ? [] : text.split(",").map((t) => t.trim());
    if (parts.some((p) => p === "")) throw bad();
    v = parts.map((p) => item(p, itemKind(k.kind))) as number[] | string[];
  } else v = item(text, k.kind) as Value;
  return checkValue(k, v, name, text);
}

/**
 * Checks a typed value (a notebook cell, a config file) against the knob and returns it in the
 * knob's form (a single item is accepted for a list). A string where a number is wanted is refused,
 * saying how to write it, rather than read silently.
 */
export function checkValue<C>(k: Knob<C>, v: unknown, name: string, text?: string): Value {
  const kk = k as Knob<unknown>;
  const shown = typeof v === "string" ? `the string "${v}"` : JSON.stringify(v);
  const quoted =
    typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))
      ? ` (write ${v.trim()} without quotes)`
      : "";
  const typeError = () => new Error(`${name} must be ${what(kk)}, got ${shown}${quoted}`);
  const one = (x: unknown, kind: Kind): number | string | boolean => {
    if (kind === "int") {
      if (typeof x !== "number" || !Number.isInteger(x)) throw typeError();
    } else if (kind === "number") {
      if (typeof x !== "number" || !Number.isFinite(x)) throw typeError();
    } else if (kind === "bool") {
      if (typeof x !== "boolean") throw typeError();
    } else if (typeof x !== "string") throw typeError();
    return x as number | string | boolean;
  };
  let out: Value;
  if (k.kind === "range") {
    if (typeof v === "string") return parseText(k, v, name);
    const r = typeof v === "number" ? [v, v] : v;
    if (!Array.isArray(r) || r.length !== 2 || r.some((x) => !Number.isInteger(x)))
      throw typeError();
    out = r as number[];
  } else if (isList(k.kind)) {
    if (typeof v === "string" && k.kind !== "strings") throw typeError();
    const items =
      typeof v === "string" ? v.split(",").map((t) => t.trim()) : Array.isArray(v) ? v : [v];
    out = items.map((x) => one(x, itemKind(k.kind))) as number[] | string[];
    if (k.kind === "strings" && (out as string[]).some((s) => s === "")) throw typeError();
  } else out = one(v, k.kind) as Value;
  for (const x of Array.isArray(out) ? out : [out])
    if (typeof x !== "boolean")
      checkItem(kk, x, name, text !== undefined ? `'${text}'` : JSON.stringify(x));
  return out;
}

/**
 * Applies settings onto a copy of `base` (knobs marked `first` before the others, then in order:
 * later wins) and returns the config and the source of each knob that was set.
 */
export function applySettings<C>(
  knobs: readonly Knob<C>[],
  base: C,
  settings: readonly Setting[],
): { config: C; sources: Record<string, Source> } {
  const byKey = new Map(knobs.map((k) => [k.key, k]));
  const c: C = JSON.parse(JSON.stringify(base));
  const sources: Record<string, Source> = {};
  const isFirst = (s: Setting) => !!byKey.get(s.key)?.first;
  for (const s of [...settings.filter(isFirst), ...settings.filter((s) => !isFirst(s))]) {
    const name = spell(s.key, s.source);
    const k = byKey.get(s.key);
    if (!k) {
      const names = knobs.map((x) => spell(x.key, s.source));
      throw new Error(
        `unknown setting '${name}'${suggestion(name, names)}; allowed: ${names.join(", ")}`,
      );
    }
    const text = s.source === "flag" || s.source === "env";
    k.set(c, text ? parseText(k, String(s.value), name) : checkValue(k, s.value, name));
    sources[s.key] = s.source;
  }
  return { config: c, sources };
}

/**
 * The config as a table a reader sees whole: a title, then every knob, its value, where the value
 * came from (`<- cell`, `<- env`, `<- flag`) and what it does.
 */
export function describeConfig<C>(
  title: string,
  knobs: readonly Knob<C>[],
  c: C,
  sources: Record<string, Source> = {},
): string {
  const rows = knobs.map((k) => {
    const v = k.get(c);
    const shown = Array.isArray(v) ? v.join(",") : String(v);
    const src = sources[k.key];
    const mark = src && src !== "budget" ? `<- ${src}` : "";
    return `${k.key.padEnd(24)} ${shown.padEnd(28)} ${mark.padEnd(9)} # ${k.doc}`;
  });
  return [title, ...rows].join("\n");
}

/**
 * Checks that `value` has exactly the shape of `template` (a complete config of the same mode):
 * the same keys at every level, each of the same type. A config read from a file is refused, naming
 * the key by its path, when it lacks a field, has one the template does not ("stage1.epochz"), or
 * holds a value of another type (`models: {}`, `difficulty: null`).
 */
export function checkShape(value: unknown, template: unknown, where: string): void {
  const type = (x: unknown) => (x === null ? "null" : Array.isArray(x) ? "array" : typeof x);
  const tt = type(template);
  if (tt === "null") return;
  if (type(value) !== tt)
    throw new Error(
      `${where} must be ${tt === "object" ? "an object" : tt === "array" ? "a list" : `a ${tt}`}, got ${JSON.stringify(value)}`,
    );
  if (tt === "array") {
    const t = template as unknown[];
    if (t.length) (value as unknown[]).forEach((x, i) => checkShape(x, t[0], `${where}[${i}]`));
    return;
  }
  if (tt !== "object") return;
  const t = template as Record<string, unknown>;
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v))
    if (!(key in t))
      throw new Error(
        `${where} has an unknown field '${key}'${suggestion(key, Object.keys(t))}; allowed: ${Object.keys(t).join(", ")}`,
      );
  for (const key of Object.keys(t)) {
    if (!(key in v)) throw new Error(`${where} lacks the field '${key}'`);
    checkShape(v[key], t[key], `${where}.${key}`);
  }
}

/**
 * A kind of run (an experiment, a sweep, a contest, ...): its config's knob table, the budgets a
 * config starts from, and the check of a whole config. Notebooks, environment variables and
 * command lines all reach a mode's config through `resolveConfig`.
 */
export interface Mode<C> {
  /** What it is called in messages: "experiment", "sweep", ... */
  name: string;
  knobs: readonly Knob<C>[];
  /** Complete configs by budget name; `quick` (else the first) is the default. */
  budgets: Record<string, () => C>;
  /** Throws a message naming the bad field and what is allowed; returns the config. */
  validate: (c: C) => C;
  /** The file its config is saved as beside its runs (runs/<name>/<file>), or null. */
  file: string | null;
}

/** The budget names every mode answers to (one AMIDA_NB_BUDGET switches every notebook). */
export const BUDGET_NAMES = ["tiny", "quick", "standard", "long", "full"] as const;

/**
 * A mode's budgets under every name of BUDGET_NAMES: those it does not define run its nearest
 * larger one it does (a mode with tiny and quick runs quick under standard, long and full), with
 * `budget` saying which was asked for.
 */
export function everyBudget<C extends { budget: string }>(
  own: Record<string, () => C>,
): Record<string, () => C> {
  const out: Record<string, () => C> = { ...own };
  let last: (() => C) | undefined;
  for (const b of BUDGET_NAMES) {
    if (own[b]) last = own[b];
    else if (last) {
      const make = last;
      out[b] = () => ({ ...make(), budget: b });
    }
  }
  return out;
}

/** The budget a mode runs when none is named: `quick` where it has one. */
export function defaultBudget<C>(mode: Mode<C>): string {
  return "quick" in mode.budgets ? "quick" : Object.keys(mode.budgets)[0];
}

/** A budget's config; an unknown name is an error listing them. */
export function budgetOf<C>(mode: Mode<C>, budget: string): C {
  const make = Object.prototype.hasOwnProperty.call(mode.budgets, budget)
    ? mode.budgets[budget]
    : undefined;
  const names = Object.keys(mode.budgets);
  if (!make)
    throw new Error(
      `unknown budget '${budget}' for the ${mode.name}${suggestion(budget, names)}; allowed: ${names.join(", ")}`,
    );
  return make();
}

/** Applies settings onto `base` and validates the result once. */
export function resolveConfig<C>(
  mode: Mode<C>,
  base: C,
  settings: readonly Setting[],
): { config: C; sources: Record<string, Source> } {
  const { config, sources } = applySettings(mode.knobs, base, settings);
  return { config: mode.validate(config), sources };
}

/** A config read from a file (or saved with runs): its shape, then its values. */
export function validateSaved<C>(mode: Mode<C>, value: unknown, where: string): C {
  checkShape(value, Object.values(mode.budgets)[0](), where);
  // Presets (`first`) set several fields and are no field themselves.
  for (const k of mode.knobs) if (!k.first) checkValue(k, k.get(value as C), `${where}: ${k.key}`);
  return mode.validate(value as C);
}
