/**
 * A run's checkpoints as one unit: `checkpoints` is a symbolic link to a generation directory
 * `.checkpoints.gen-<epoch>-<pid>-<ms>` holding `last/`, `best/` and `history.json`. A new
 * epoch's generation is written whole beside the current one (an unchanged `best/` hard-linked
 * over) and then the link is replaced by one rename, which is atomic: after a crash at any
 * point `last`, `best` and `history.json` are those of one epoch, never of two.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { ExtraFiles, saveModel } from "../models/io";
import { cleanLeftovers, describeWriteError, tempPathFor } from "../util/atomic";
import { killPoint } from "../util/killpoint";

const genPrefix = (link: string) => `.${path.basename(link)}.gen-`;

/** The generation directory `link` points to, or null (no checkpoint yet). */
function current(link: string): string | null {
  try {
    return path.join(path.dirname(link), fs.readlinkSync(link));
  } catch {
    return null;
  }
}

/** What one epoch's checkpoint set holds. */
export interface CheckpointSet {
  /** Saved with the model as `last/` (resumable: optimizer and trainer state among them). */
  last: ExtraFiles;
  /** Saved with the model as `best/` when this epoch is the best so far; otherwise `best/` is carried over. */
  best: ExtraFiles | null;
  /** Written as history.json. */
  history: unknown;
  /** The epoch (from 1), part of the generation's name. */
  epoch: number;
}

/** Writes the next generation and switches `link` to it; removes the previous generation. */
export async function commitCheckpoints(
  link: string,
  model: tf.LayersModel,
  set: CheckpointSet,
): Promise<void> {
  const parent = path.dirname(link);
  const gen = path.join(
    parent,
    `${genPrefix(link)}${String(set.epoch).padStart(4, "0")}-${process.pid}-${Date.now()}`,
  );
  const prev = current(link);
  await saveModel(model, path.join(gen, "last"), set.last);
  if (set.best) await saveModel(model, path.join(gen, "best"), set.best);
  else if (prev && fs.existsSync(path.join(prev, "best"))) {
    fs.mkdirSync(path.join(gen, "best"));
    for (const f of fs.readdirSync(path.join(prev, "best")))
      fs.linkSync(path.join(prev, "best", f), path.join(gen, "best", f));
  }
  fs.writeFileSync(path.join(gen, "history.json"), JSON.stringify(set.history, null, 2) + "\n");
  killPoint("checkpoint-before-commit");
  const tmpLink = tempPathFor(link);
  try {
    fs.symlinkSync(path.basename(gen), tmpLink);
    if (prev === null && fs.existsSync(link)) fs.rmSync(link, { recursive: true, force: true }); // a plain directory from an older version
    fs.renameSync(tmpLink, link);
  } catch (e) {
    fs.rmSync(tmpLink, { force: true });
    throw describeWriteError(link, e);
  }
  killPoint("checkpoint-after-commit");
  if (prev) fs.rmSync(prev, { recursive: true, force: true });
}

/**
 * Removes what crashed writers left beside `link`: temporaries and generations it does not
 * point to. Call only while holding the run's lock. Returns the names removed.
 */
export function cleanCheckpointLeftovers(link: string): string[] {
  const parent = path.dirname(link);
  if (!fs.existsSync(parent)) return [];
  const keep = current(link);
  const gone = cleanLeftovers(parent, { inside: true });
  for (const f of fs.readdirSync(parent)) {
    if (!f.startsWith(genPrefix(link)) || (keep && path.join(parent, f) === keep)) continue;
    fs.rmSync(path.join(parent, f), { recursive: true, force: true });
    gone.push(f);
  }
  return gone;
}

/** Removes the checkpoints behind `link` and the link. */
export function removeCheckpoints(link: string): void {
  const gen = current(link);
  if (gen) fs.rmSync(gen, { recursive: true, force: true });
  fs.rmSync(link, { recursive: true, force: true });
}
