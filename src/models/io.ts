/**
 * Save and load in the tfjs format (model.json + weights.bin) on the local disk, for every
 * backend: tfjs's own `file://` handler ships only with tfjs-node. Saving writes a temporary
 * directory and renames it over the target, so a checkpoint is whole or absent; its last file,
 * checksum.json, holds the SHA-256 of every other file (weights, optimizer state, metadata),
 * and loading checks them all first.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { createHash } from "crypto";
import { describeWriteError, tempPathFor } from "../util/atomic";
import { readJsonFile } from "../util/json";
import "./layers/batchnorm";
import "./layers/attention";
import "./layers/patches";
import "./layers/layernorm";
import "./layers/tokens";
import "./layers/blocks";
import "./layers/gqa";
import "./layers/moe";
import "./layers/patchify";

function concat(buffers: ArrayBuffer | ArrayBuffer[]): Buffer {
  return Buffer.concat((Array.isArray(buffers) ? buffers : [buffers]).map((b) => Buffer.from(b)));
}

/** Files saved beside a model: bytes as they are, strings as text, anything else as JSON. */
export type ExtraFiles = Record<string, Uint8Array | string | object>;

/** The file in a checkpoint that lists the SHA-256 of all the others. */
export const CHECKSUMS = "checksum.json";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * Throws unless checkpoint `dir` is whole: checksum.json lists model.json and weights.bin, and
 * every file it lists is there with that SHA-256. The error names the file and the fix.
 */
export function verifyCheckpoint(dir: string): void {
  const fix = `retrain it ('amida train ... --fresh', or delete the run's directory and run again)`;
  if (!fs.existsSync(path.join(dir, "model.json")))
    throw new Error(`no model at '${dir}': ${path.join(dir, "model.json")} is missing`);
  const file = path.join(dir, CHECKSUMS);
  let sums: Record<string, string>;
  try {
    sums = readJsonFile(
      file,
      "checkpoint checksums",
      (v) => (v as { sha256: Record<string, string> }).sha256,
    );
  } catch (e) {
    throw new Error(
      `checkpoint '${dir}' cannot be trusted: ${file} is missing or unreadable (${(e as Error).message.split("\n")[0]}); ${fix}`,
    );
  }
  for (const name of ["model.json", "weights.bin"])
    if (!sums || !(name in sums))
      throw new Error(
        `checkpoint '${dir}' cannot be trusted: ${file} does not list ${name}; ${fix}`,
      );
  for (const [name, want] of Object.entries(sums)) {
    const f = path.join(dir, name);
    if (!fs.existsSync(f))
      throw new Error(`checkpoint '${dir}' is incomplete: ${f} is missing; ${fix}`);
    if (sha256(fs.readFileSync(f)) !== want)
      throw new Error(
        `checkpoint '${dir}' is corrupt: ${f} does not match its SHA-256 in ${CHECKSUMS}; ${fix}`,
      );
  }
}

/** Writes a checkpoint into the new directory `dir`: model.json, weights.bin, extras, checksum.json last. */
function writeCheckpoint(dir: string, art: tf.io.ModelArtifacts, extra: ExtraFiles): void {
  fs.mkdirSync(dir, { recursive: true });
  const files: Record<string, Uint8Array | string> = {};
  files["weights.bin"] = art.weightData ? concat(art.weightData as ArrayBuffer) : Buffer.alloc(0);
  files["model.json"] = JSON.stringify({
    modelTopology: art.modelTopology,
    format: art.format,
    generatedBy: art.generatedBy,
    convertedBy: art.convertedBy,
    weightsManifest: [{ paths: ["weights.bin"], weights: art.weightSpecs }],
  });
  for (const [name, value] of Object.entries(extra))
    files[name] =
      value instanceof Uint8Array || typeof value === "string"
        ? value
        : JSON.stringify(value, null, 2) + "\n";
  const sums: Record<string, string> = {};
  for (const [name, value] of Object.entries(files)) {
    const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    fs.writeFileSync(path.join(dir, name), bytes);
    sums[name] = sha256(bytes);
  }
  fs.writeFileSync(path.join(dir, CHECKSUMS), JSON.stringify({ sha256: sums }, null, 2) + "\n");
}

/**
 * An IOHandler that writes DIR/model.json, DIR/weights.bin, any extra files and checksum.json:
 * into a temporary directory beside DIR, then renamed in (an old DIR is moved aside first and
 * removed after).
 */
export function dirSaver(dir: string, extra: ExtraFiles = {}): tf.io.IOHandler {
  return {
    save: async (art: tf.io.ModelArtifacts) => {
      const tmp = tempPathFor(dir);
      try {
        fs.mkdirSync(path.dirname(dir), { recursive: true });
        writeCheckpoint(tmp, art, extra);
        if (fs.existsSync(dir)) {
          const old = tempPathFor(dir) + "-old";
          fs.renameSync(dir, old);
          fs.renameSync(tmp, dir);
          fs.rmSync(old, { recursive: true, force: true });
        } else fs.renameSync(tmp, dir);
      } catch (e) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw (e as NodeJS.ErrnoException).code ? describeWriteError(dir, e) : e;
      }
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    },
  };
}

/** Loads DIR after `verifyCheckpoint(DIR)`. */
export function dirLoader(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      verifyCheckpoint(dir);
      const json = readJsonFile<{
        weightsManifest: tf.io.WeightsManifestConfig;
        modelTopology: object;
        format?: string;
      }>(path.join(dir, "model.json"), "model topology");
      const manifest = json.weightsManifest as tf.io.WeightsManifestConfig;
      const bin = fs.readFileSync(path.join(dir, manifest[0].paths[0]));
      return {
        modelTopology: json.modelTopology,
        weightSpecs: manifest.flatMap((g) => g.weights),
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
        format: json.format,
      };
    },
  };
}

export async function saveModel(
  model: tf.LayersModel,
  dir: string,
  extra: ExtraFiles = {},
): Promise<void> {
  await model.save(dirSaver(dir, extra), { includeOptimizer: false });
}

export async function loadModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(dirLoader(dir));
}
