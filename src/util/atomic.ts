import * as fs from "fs";
import * as path from "path";
import { killPoint } from "./killpoint";

/** The prefix of every temporary name made beside `target`; `cleanLeftovers` removes them. */
function tempPrefix(target: string): string {
  return `.${path.basename(target)}.tmp-`;
}

/** Temp name beside the target, so the final rename stays on one file system. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `${tempPrefix(target)}${process.pid}-${Date.now()}`);
}

/**
 * Names a failed write's real cause: a read-only file system or a missing permission is said
 * as such (Node reports some of them as ENOENT from a recursive mkdir).
 */
export function describeWriteError(target: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  let dir = path.resolve(target);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (a) {
    const code = (a as NodeJS.ErrnoException).code;
    if (code === "EROFS")
      return new Error(
        `cannot write '${target}': '${dir}' is on a read-only file system (EROFS); choose a writable destination`,
      );
    if (code === "EACCES" || code === "EPERM")
      return new Error(
        `cannot write '${target}': no write permission on '${dir}' (${code}); choose a writable destination`,
      );
  }
  if (err?.code === "ENOSPC")
    return new Error(
      `cannot write '${target}': the disk is full (ENOSPC); free space or choose another destination`,
    );
  return new Error(`cannot write '${target}': ${err?.message ?? err}`);
}

/**
 * Runs `write(tmp)` then renames tmp over the file `target`: readers see the old file or the
 * new one, never half of one, and a failure leaves the old file untouched. An existing
 * directory at `target` is refused, never replaced.
 */
export function replaceAtomically(target: string, write: (tmp: string) => void): void {
  if (fs.existsSync(target) && fs.statSync(target).isDirectory())
    throw new Error(`'${target}' is an existing directory; name a file path instead`);
  const tmp = tempPathFor(target);
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    write(tmp);
    killPoint("atomic-before-rename");
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true, recursive: true });
    const code = (e as NodeJS.ErrnoException).code;
    throw code ? describeWriteError(target, e) : e;
  }
}

export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  replaceAtomically(target, (tmp) => {
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  });
}

export function writeJsonAtomic(target: string, value: unknown): void {
  writeFileAtomic(target, JSON.stringify(value, null, 2) + "\n");
}

/**
 * Removes what writers killed mid-write left: the temporaries of `target` (names from
 * `tempPathFor`, beside it) or, with `inside`, every temporary directly in the directory
 * `target`. Call only while holding the lock that excludes every other writer. Returns the names.
 */
export function cleanLeftovers(target: string, opts: { inside?: boolean } = {}): string[] {
  const dir = opts.inside ? target : path.dirname(target);
  if (!fs.existsSync(dir)) return [];
  const mine = (f: string) =>
    opts.inside ? /^\..+\.tmp-\d+-\d+/.test(f) : f.startsWith(tempPrefix(target));
  const gone = fs.readdirSync(dir).filter(mine);
  for (const f of gone) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  return gone;
}
