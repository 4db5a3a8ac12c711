import { parseArgs, ParseArgsConfig } from "util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Strict parsing: an unknown flag or a missing value is an error that names it. */
export function parse<T extends Options>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${usage}`);
  }
}

export function intOpt(name: string, text: string | undefined, fallback?: number): number {
  if (text === undefined) {
    if (fallback === undefined) throw new Error(`--${name} is required`);
    return fallback;
  }
  if (!/^-?\d+$/.test(text.trim())) throw new Error(`--${name} must be an integer, got '${text}'`);
  return Number(text);
}

export function numOpt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v)) throw new Error(`--${name} must be a number, got '${text}'`);
  return v;
}
