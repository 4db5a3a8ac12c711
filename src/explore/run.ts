/**
 * The one place the explorer reads a run directory (runs/<experiment>/<run>/): a renamed file or
 * a new record of the runner is a change here only.
 */
import * as fs from "fs";
import * as path from "path";
import { readManifest } from "../data/format";
import { DatasetSpec } from "../data/spec";
import { verifyCheckpoint } from "../models/io";
import { readRun, RunConfig } from "../experiment/rundir";
import { readJsonFile, requireFields } from "../util/json";
import type { RunFacts } from "./payload";

/** A finished run, as the explorer needs it. */
export interface ExplorerRun {
  /** The directory given. */
  dir: string;
  facts: Omit<RunFacts, "params">;
  /** The spec of the data set it trained and was tested on. */
  spec: DatasetSpec;
  dataDir: string;
  /** The checkpoint its test accuracy came from (best by validation, else last), verified whole. */
  checkpoint: string;
  /** model.json's modelTopology and weight specs, and the weight bytes. */
  topology: object;
  weightSpecs: object[];
  weights: Buffer;
}

/**
 * Reads a finished run; anything else is an error that names the directory, why, and what to do.
 * Finished means what the runner means (src/experiment/rundir.ts): its commit record verifies.
 */
export function readRunForExplorer(dir: string): ExplorerRun {
  const name = path.basename(path.resolve(dir));
  const parent = path.dirname(path.resolve(dir));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new Error(`no run directory at '${dir}'; give runs/<experiment>/<run>/ of a trained run`);
  if (!fs.existsSync(path.join(dir, "config.json")))
    throw new Error(
      `'${dir}' is not a run directory (no config.json); give runs/<experiment>/<run>/ of a trained run, e.g. runs/quick/cnn-stage1-s0`,
    );
  const status = readRun(dir, name);
  if (status.state !== "finished")
    throw new Error(
      `run '${dir}' is not finished (${status.state}: ${status.reason}); finish it first ('amida experiment' or 'amida train' with the same settings resumes it), or give a finished run`,
    );
  const config = readJsonFile(
    path.join(dir, "config.json"),
    `run '${name}''s config`,
    (v) => requireFields(v, { model: "string", data: "string" }) as unknown as RunConfig,
  );
  const metrics = status.metrics!;
  const best = path.join(dir, "checkpoints", "best");
  const checkpoint = fs.existsSync(path.join(best, "model.json"))
    ? best
    : path.join(dir, "checkpoints", "last");
  verifyCheckpoint(checkpoint);
  let spec: DatasetSpec;
  try {
    spec = readManifest(config.data).spec;
  } catch (e) {
    throw new Error(
      `run '${dir}' was trained on data set '${config.data}', which cannot be read (${(e as Error).message}); the explorer draws puzzles from that data set's spec: regenerate it with the same settings ('amida experiment' does) or give another run`,
    );
  }
  const json = readJsonFile(path.join(checkpoint, "model.json"), `run '${name}''s model`, (v) =>
    requireFields(v, { modelTopology: "object", weightsManifest: "array" }),
  );
  const manifest = json.weightsManifest as Array<{ paths: string[]; weights: object[] }>;
  if (!Array.isArray(manifest) || manifest.length !== 1 || manifest[0].paths.length !== 1)
    throw new Error(
      `run '${name}''s ${path.join(checkpoint, "model.json")} does not list one weights file (the project saves weights.bin)`,
    );
  return {
    dir,
    facts: {
      name,
      experiment: path.basename(parent),
      model: config.model,
      stage: metrics.stage,
      frozen: metrics.frozen,
      task: spec.task,
      hops: spec.hops,
      trainCount: metrics.train_count,
      epochs: metrics.epochs,
      imagesSeen: metrics.images_seen ?? null,
      stream: metrics.stream ?? false,
      testAcc: metrics.test_acc,
      ci95: metrics.ci95,
      testCount: metrics.test_count,
      rungBlind: metrics.rung_blind_bayes ?? null,
      chance: metrics.chance,
      heldoutStyleAcc: metrics.test_acc_heldout_style ?? null,
    },
    spec,
    dataDir: config.data,
    checkpoint,
    topology: json.modelTopology as object,
    weightSpecs: manifest[0].weights,
    weights: fs.readFileSync(path.join(checkpoint, manifest[0].paths[0])),
  };
}
