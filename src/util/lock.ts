import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describeWriteError } from "./atomic";

/** What a lock file holds: who took it, so a second writer can name it and a dead one be detected. */
export interface LockInfo {
  /** Process id of the holder. */
  pid: number;
  /** Host of the holder (a PID is only meaningful there). */
  host: string;
  /** What the holder is doing, e.g. "train run cnn-1-plain". */
  what: string;
  /** ISO time it was taken. */
  since: string;
}

/** This process as a lock holder. */
const holderInfo = (what: string): LockInfo => ({
  pid: process.pid,
  host: os.hostname(),
  what,
  since: new Date().toISOString(),
});

/** Removes `file` once: when called, or when this process exits normally. */
function removerOf(file: string): () => void {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.removeListener("exit", release);
    fs.rmSync(file, { force: true });
  };
  process.on("exit", release);
  return release;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the lock file `file` (O_EXCL create) or throws naming its holder. A lock whose holder
 * is dead (same host, PID gone: a kill -9, a power cut) is stale and taken over. Returns the
 * release function; the lock is also released when this process exits normally.
 */
export function acquireLock(file: string, what: string): () => void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (e) {
    throw describeWriteError(file, e);
  }
  const me = holderInfo(what);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, "wx");
      fs.writeSync(fd, JSON.stringify(me) + "\n");
      fs.closeSync(fd);
      return removerOf(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw describeWriteError(file, e);
    }
    let holder: LockInfo | null = null;
    try {
      holder = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
      // Empty or half-written: its writer died between create and write (the write is one call).
    }
    if (holder && (holder.host !== os.hostname() || alive(holder.pid))) {
      throw new Error(
        `'${path.dirname(file)}' is in use: ${holder.what} by process ${holder.pid} on ${holder.host} since ${holder.since} (lock ${file}); wait for it to finish or stop that process`,
      );
    }
    // Stale. Move it aside under a name of our own, then look again: if another process took
    // the lock in between, what we moved is its live lock, and it goes back.
    const aside = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue;
    }
    const moved = fs.readFileSync(aside, "utf8");
    let movedHolder: LockInfo | null = null;
    try {
      movedHolder = JSON.parse(moved);
    } catch {
      // still the half-written stale one
    }
    if (movedHolder && movedHolder.pid !== holder?.pid && alive(movedHolder.pid)) {
      try {
        fs.linkSync(aside, file);
      } catch {
        // a third process holds it now; the retry names it
      }
    }
    fs.rmSync(aside, { force: true });
  }
  throw new Error(`could not take the lock ${file} after 3 tries; another process keeps taking it`);
}

/** Holder of the lock file `file` if it is held by a live process (a dead holder's lock is stale). */
export function liveHolder(file: string): LockInfo | null {
  let holder: LockInfo;
  try {
    holder = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
  return holder.host !== os.hostname() || alive(holder.pid) ? holder : null;
}

const readerPrefix = (target: string) =>
  path.join(path.dirname(path.resolve(target)), `.${path.basename(path.resolve(target))}.read-`);
let readers = 0;

/**
 * Registers this process as a reader of `target` (a data set directory) until the returned
 * function is called (or the process exits): a writer that would replace `target` sees it and
 * refuses. Refused here while a live writer holds `writerLock`. The order (register, then look
 * for a writer; a writer locks, then looks for readers) leaves no moment where both proceed.
 */
export function acquireReadLock(target: string, writerLock: string, what: string): () => void {
  liveReaders(target); // clears the files of readers killed before they could remove their own
  const file = `${readerPrefix(target)}${process.pid}-${++readers}`;
  const me = holderInfo(what);
  try {
    fs.writeFileSync(file, JSON.stringify(me) + "\n", { flag: "wx" });
  } catch (e) {
    throw describeWriteError(file, e);
  }
  const release = removerOf(file);
  const writer = liveHolder(writerLock);
  if (writer) {
    release();
    throw new Error(
      `'${target}' is being written: ${writer.what} by process ${writer.pid} on ${writer.host} since ${writer.since}; wait for it to finish or stop that process`,
    );
  }
  return release;
}

/** The live readers of `target`; the files of dead ones (kill -9) are removed. */
export function liveReaders(target: string): LockInfo[] {
  const prefix = readerPrefix(target);
  const dir = path.dirname(prefix);
  if (!fs.existsSync(dir)) return [];
  const out: LockInfo[] = [];
  for (const f of fs.readdirSync(dir)) {
    const file = path.join(dir, f);
    if (!file.startsWith(prefix)) continue;
    const h = liveHolder(file);
    if (h) out.push(h);
    else if (Date.now() - fs.statSync(file).mtimeMs > 1000) fs.rmSync(file, { force: true });
  }
  return out;
}

/** Throws naming the readers of `target`, if any: it must not be replaced under them. */
export function refuseIfRead(target: string, action: string): void {
  const r = liveReaders(target);
  if (r.length)
    throw new Error(
      `cannot ${action}: '${target}' is in use by ${r.map((h) => `${h.what} (process ${h.pid} since ${h.since})`).join("; ")}; wait for ${r.length > 1 ? "them" : "it"} to finish or stop ${r.length > 1 ? "them" : "it"}`,
    );
}
