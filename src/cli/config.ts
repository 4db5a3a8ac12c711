/**
 * A mode's config from the command line: every knob of its table is a flag of the same name
 * (`stage1Lr` -> `--stage1-lr`), parsed by the knob's own parser; `--budget` picks the starting
 * config, `--config FILE.json` starts from a saved one instead. An unknown flag is an error with
 * "did you mean" and the allowed flags; everything is checked before the command does any work.
 */
import { parseArgs } from "util";
import {
  budgetOf,
  defaultBudget,
  flagOf,
  Mode,
  resolveConfig,
  Setting,
  Source,
  suggestion,
  validateSaved,
} from "../util/knobs";
import { readJsonFile } from "../util/json";

/** A flag a command takes besides its mode's knobs. */
export interface ExtraFlag {
  type: "string" | "boolean";
  doc: string;
}

/** The usage text: the fixed part, the extra flags, then every knob with its one-line comment. */
export function modeUsage<C>(
  mode: Mode<C>,
  head: string,
  extra: Record<string, ExtraFlag>,
  withBudget = true,
): string {
  const rows = [
    ...(withBudget
      ? [
          ["budget", `the starting config: ${Object.keys(mode.budgets).join(" | ")}`],
          ["config", "start from a saved config (JSON) instead of a budget"],
        ]
      : []),
    ...Object.entries(extra).map(([f, e]) => [f, e.doc]),
    ...mode.knobs.map((k) => [flagOf(k.key), k.doc]),
  ];
  return [head, ...rows.map(([f, d]) => `  --${f.padEnd(26)} ${d}`)].join("\n");
}

/**
 * Parses `argv` into the mode's config (validated) and the values of the extra flags. Throws
 * (with the usage) on anything that is not a known flag, a positional word beyond `positionals`,
 * or a value its knob refuses.
 */
export function configFromArgv<C>(
  mode: Mode<C>,
  argv: string[],
  extra: Record<string, ExtraFlag>,
  usage: string,
  opts: { positionals?: number; withBudget?: boolean } = {},
): {
  config: C;
  sources: Record<string, Source>;
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
} {
  const withBudget = opts.withBudget ?? true;
  const knobFlags = Object.fromEntries(
    mode.knobs.map((k) => [flagOf(k.key), { type: "string" as const }]),
  );
  const options = {
    ...(withBudget
      ? { budget: { type: "string" as const }, config: { type: "string" as const } }
      : {}),
    ...Object.fromEntries(Object.entries(extra).map(([f, e]) => [f, { type: e.type }])),
    ...knobFlags,
    help: { type: "boolean" as const, short: "h" },
  };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // Node's text goes on about positionals starting with '-'; the first sentence is the point.
    const msg = (e as Error).message.replace(/\. To specify a positional.*$/s, "");
    const m = /'(--[^']+)'/.exec(msg);
    const flags = Object.keys(options).map((o) => `--${o}`);
    throw new Error(`${msg}${m ? suggestion(m[1], flags) : ""}\n${usage}`);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const extraPos = parsed.positionals.slice(opts.positionals ?? 0);
  if (extraPos.length)
    throw new Error(
      `unexpected argument${extraPos.length > 1 ? "s" : ""} ${extraPos.map((w) => `'${w}'`).join(" ")} (flags start with --)\n${usage}`,
    );
  const flags = Object.fromEntries(Object.keys(extra).map((f) => [f, v[f]]));
  const help = !!v.help;
  if (v.config !== undefined && v.budget !== undefined)
    throw new Error("--config and --budget both choose the starting config; give one");
  const base =
    v.config !== undefined
      ? readJsonFile(v.config as string, "--config", (x, where) => validateSaved(mode, x, where))
      : budgetOf(mode, (v.budget as string | undefined) ?? defaultBudget(mode));
  const settings: Setting[] = mode.knobs
    .filter((k) => v[flagOf(k.key)] !== undefined)
    .map((k) => ({ key: k.key, value: v[flagOf(k.key)] as string, source: "flag" }));
  if (help) return { config: base, sources: {}, flags, positionals: parsed.positionals, help };
  const { config, sources } = resolveConfig(mode, base, settings);
  return { config, sources, flags, positionals: parsed.positionals, help };
}

/**
 * A mode's command in one call: its usage (the head, the extra flags, every knob), the parsed and
 * validated config, and `--backend` put where every later step reads it. Returns null after
 * printing the usage for --help.
 */
export function modeCommand<C>(
  mode: Mode<C>,
  head: string,
  extra: Record<string, ExtraFlag>,
  argv: string[],
  opts: { positionals?: number; withBudget?: boolean } = {},
): ReturnType<typeof configFromArgv<C>> | null {
  const usage = modeUsage(mode, head, extra, opts.withBudget ?? true);
  const r = configFromArgv(mode, argv, extra, usage, opts);
  if (r.help) {
    console.log(usage);
    return null;
  }
  if (r.flags.backend) process.env.AMIDA_BACKEND = r.flags.backend as string;
  return r;
}
