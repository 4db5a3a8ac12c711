/**
 * Save and load in the tfjs format (model.json + weights.bin) on the local disk, for every
 * backend: tfjs's own `file://` handler ships only with tfjs-node. Saving writes a temporary
 * directory and renames it over the target, so a checkpoint is whole or absent.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { replaceAtomically } from "../util/atomic";
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

function writeExtra(file: string, value: Uint8Array | string | object): void {
  fs.writeFileSync(file, value instanceof Uint8Array || typeof value === "string" ? value : JSON.stringify(value, null, 2) + "\n");
}

/** An IOHandler that writes DIR/model.json and DIR/weights.bin, plus any extra files. */
export function dirSaver(dir: string, extra: ExtraFiles = {}): tf.io.IOHandler {
  return {
    save: async (art: tf.io.ModelArtifacts) => {
      replaceAtomically(dir, (tmp) => {
        fs.mkdirSync(tmp, { recursive: true });
        const weights = art.weightData ? concat(art.weightData as ArrayBuffer) : Buffer.alloc(0);
        fs.writeFileSync(path.join(tmp, "weights.bin"), weights);
        const json = { modelTopology: art.modelTopology, format: art.format, generatedBy: art.generatedBy, convertedBy: art.convertedBy, weightsManifest: [{ paths: ["weights.bin"], weights: art.weightSpecs }] };
        fs.writeFileSync(path.join(tmp, "model.json"), JSON.stringify(json));
        for (const [name, value] of Object.entries(extra)) writeExtra(path.join(tmp, name), value);
      });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    },
  };
}

export function dirLoader(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const file = path.join(dir, "model.json");
      if (!fs.existsSync(file)) throw new Error(`no model at '${dir}': ${file} is missing`);
      const json = JSON.parse(fs.readFileSync(file, "utf8"));
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

export async function saveModel(model: tf.LayersModel, dir: string, extra: ExtraFiles = {}): Promise<void> {
  await model.save(dirSaver(dir, extra), { includeOptimizer: false });
}

export async function loadModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(dirLoader(dir));
}
