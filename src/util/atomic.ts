import * as fs from "fs";
import * as path from "path";

/** Temp name beside the target, so the final rename stays on one file system. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}`);
}

/**
 * Runs `write(tmp)` then renames tmp over `target`: readers see the old file or the new one,
 * never half of one, and a failure leaves the old file untouched. A directory target (a
 * checkpoint) is swapped: old aside, new in, old removed.
 */
export function replaceAtomically(target: string, write: (tmp: string) => void): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    write(tmp);
    if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
      const old = `${tmp}.old`;
      fs.renameSync(target, old);
      fs.renameSync(tmp, target);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, target);
    }
  } catch (e) {
    fs.rmSync(tmp, { force: true, recursive: true });
    throw e;
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
