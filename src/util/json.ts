/**
 * The one checked way to read a JSON file and to accept a path argument. A path that is empty,
 * a directory where a file is wanted (or the reverse), a FIFO or a device is refused by name
 * before anything is read (a FIFO would block a reader forever); a file that does not parse is
 * reported with its path and the parser's position; `validate` then checks the shape, so a reader
 * never works from a file it has not checked.
 */
import * as fs from "fs";

/** What a path argument must be. */
export type PathKind = "file" | "dir";

/** Largest JSON file read (configs, manifests, metrics and histories are far smaller). */
const MAX_JSON_BYTES = 64 * 2 ** 20;

/**
 * Checks that `p` names an existing `kind` (following links): not empty, not a FIFO, socket or
 * device. `what` names the argument ("--config", "data set 'data/x'") in the message.
 */
export function checkExisting(p: string, kind: PathKind, what: string): string {
  if (typeof p !== "string" || p.trim() === "")
    throw new Error(`${what}: the path is empty; give a ${kind === "dir" ? "directory" : "file"}`);
  if (p.includes("\0")) throw new Error(`${what}: the path contains a NUL byte`);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === "ENOENT"
        ? `${what}: no such ${kind === "dir" ? "directory" : "file"} '${p}'`
        : `${what}: cannot read '${p}' (${code ?? (e as Error).message})`,
    );
  }
  if (kind === "file" && st.isDirectory())
    throw new Error(`${what}: '${p}' is a directory; a file is needed`);
  if (kind === "dir" && !st.isDirectory()) throw new Error(`${what}: '${p}' is not a directory`);
  if (kind === "file" && !st.isFile())
    throw new Error(
      `${what}: '${p}' is not a regular file (a FIFO, socket or device); a file is needed`,
    );
  return p;
}

/**
 * Checks an output path before any work: not empty, and where something already exists there it
 * is of the kind that will be written (a directory is never replaced by a file or the reverse).
 */
export function checkOutput(p: string, kind: PathKind, what: string): string {
  if (typeof p !== "string" || p.trim() === "")
    throw new Error(`${what}: the path is empty; name where to write`);
  if (p.includes("\0")) throw new Error(`${what}: the path contains a NUL byte`);
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(p);
  } catch {
    return p;
  }
  if (kind === "file" && st.isDirectory())
    throw new Error(`${what}: '${p}' is an existing directory; name a file path (nothing written)`);
  if (kind === "dir" && !st.isDirectory())
    throw new Error(`${what}: '${p}' exists and is not a directory (nothing written)`);
  if (kind === "file" && !st.isFile())
    throw new Error(`${what}: '${p}' exists and is not a regular file (nothing written)`);
  return p;
}

/**
 * Reads and parses the JSON file `file`, then `validate`s it; every failure names the file and,
 * where given, `fix` (what to do about it).
 */
export function readJsonFile<T>(
  file: string,
  what: string,
  validate: (v: unknown, where: string) => T = (v) => v as T,
  fix = "",
): T {
  const tail = fix ? `; ${fix}` : "";
  checkExisting(file, "file", what);
  const size = fs.statSync(file).size;
  if (size > MAX_JSON_BYTES)
    throw new Error(`${what} '${file}' has ${size} bytes, more than a JSON file here can${tail}`);
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${what} '${file}' is not valid JSON (${(e as Error).message})${tail}`);
  }
  try {
    return validate(v, file);
  } catch (e) {
    throw new Error(`${what} '${file}' is not as expected: ${(e as Error).message}${tail}`);
  }
}

/** A plain JSON object (not null, not a list), for validators. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Minimal schema check for files this project writes: each key of `fields` must be present with
 * that type ("number" accepts NaN and null is never accepted unless the type says "nullable").
 */
export function requireFields(
  v: unknown,
  fields: Record<string, "number" | "string" | "boolean" | "object" | "array" | "nullable-number">,
): Record<string, unknown> {
  if (!isObject(v))
    throw new Error(`expected a JSON object, got ${JSON.stringify(v)?.slice(0, 80)}`);
  for (const [k, t] of Object.entries(fields)) {
    const x = v[k];
    const ok =
      t === "array"
        ? Array.isArray(x)
        : t === "object"
          ? isObject(x)
          : t === "nullable-number"
            ? x === null || typeof x === "number"
            : typeof x === t;
    if (!ok)
      throw new Error(
        `field '${k}' must be ${t.replace("nullable-", "a number or null: ")}, got ${JSON.stringify(x)?.slice(0, 80)}`,
      );
  }
  return v;
}
