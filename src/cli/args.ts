import { parseArgs, ParseArgsConfig } from "util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Strict parsing: an unknown flag, a missing value or a word beyond the `positionals` a
 * command takes is an error that names it.
 */
export function parse<T extends Options>(
  argv: string[],
  options: T,
  usage: string,
  positionals = 0,
) {
  let out;
  try {
    out = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${usage}`);
  }
  if (out.positionals.length > positionals) {
    const extra = out.positionals.slice(positionals);
    throw new Error(
      `unexpected argument${extra.length > 1 ? "s" : ""} ${extra.map((w) => `'${w}'`).join(" ")} (flags start with --)\n${usage}`,
    );
  }
  return out;
}

export function intOpt(name: string, text: string | undefined, fallback?: number): number {
  if (text === undefined) {
    if (fallback === undefined) throw new Error(`--${name} is required`);
    return fallback;
  }
  if (!/^-?\d+$/.test(text.trim())) throw new Error(`--${name} must be an integer, got '${text}'`);
  return Number(text);
}

/** An integer flag in lo..hi (a count, a seed, a number of workers). */
export function rangeOpt(
  name: string,
  text: string | undefined,
  lo: number,
  hi: number,
  fallback?: number,
): number {
  const v = intOpt(name, text, fallback);
  if (v < lo || v > hi) throw new Error(`--${name} must be an integer in ${lo}..${hi}, got ${v}`);
  return v;
}

export function numOpt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v))
    throw new Error(`--${name} must be a number, got '${text}'`);
  return v;
}

/**
 * Runs a benchmark's `main` when its file is the process's entry point (`amida bench <name>` runs
 * bench/<name>.ts as its own process): exits with main's code, or prints the error and exits 1.
 */
export function runBenchIfMain(mod: NodeModule, main: (argv: string[]) => Promise<number>): void {
  if (require.main !== mod) return;
  main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e: Error) => {
      console.error(`amida bench: ${e.message}`);
      process.exit(1);
    },
  );
}

/**
 * Checks a benchmark's flags before it runs (bench/*.ts read their values from argv):
 * unknown flags, missing values, extra words and integers below 1 are errors. Returns false
 * after printing `usage` for --help (the benchmark then does not run).
 */
export function checkBenchFlags(
  argv: string[],
  flags: Record<string, "int" | "list" | "switch">,
  usage: string,
): boolean {
  const options: Options = { help: { type: "boolean", short: "h" } };
  for (const [f, kind] of Object.entries(flags))
    options[f] = { type: kind === "switch" ? "boolean" : "string" };
  const { values } = parse(argv, options, usage);
  if (values.help) {
    console.log(usage);
    return false;
  }
  for (const [f, kind] of Object.entries(flags)) {
    const v = values[f] as string | undefined;
    if (v === undefined || kind === "switch") continue;
    if (kind === "int") rangeOpt(f, v, 1, 1_000_000);
    else if (v.split(",").some((s) => s.trim() === ""))
      throw new Error(`--${f} must be a comma-separated list without empty items, got '${v}'`);
  }
  return true;
}
