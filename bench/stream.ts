/**
 * Training images/s from a stored split vs streamed puzzles (rendered inline, and by generator
 * processes), same model, batch and steps, the data path included (reading or rendering, bytes to
 * a float tensor, one training step). Issue 17's target: streaming within 5 % of stored data.
 *
 *   npx amida bench stream [--model mobilenetv2_100] [--batch 128] [--steps 12] [--generators 1]
 *
 * Modes alternate step blocks (stored, inline, generators, stored, ...) so that a machine whose
 * speed drifts affects each alike; the last line is JSON.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { checkBenchFlags, runBenchIfMain } from "../src/cli/args";
import { describe, initBackend } from "../src/backend/select";
import { generateDataset } from "../src/data/generate";
import { SplitReader } from "../src/data/format";
import { DatasetSpec, splitFile } from "../src/data/spec";
import { StreamSource } from "../src/data/stream";
import { epochOrder, imagesToTensor } from "../src/data/batches";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { buildModel } from "../src/models/registry";
import { AdamW } from "../src/train/adamw";
import { trainStep } from "../src/train/trainer";
import { DEFAULT_TRAIN } from "../src/train/config";

export async function main(argv: string[]): Promise<number> {
  const usage =
    "usage: amida bench stream [--model mobilenetv2_100] [--batch 128] [--steps 12] [--generators 1]";
  if (
    !checkBenchFlags(argv, { model: "list", batch: "int", steps: "int", generators: "int" }, usage)
  )
    return 0;
  const arg = (flag: string, d: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : d;
  };
  const model = arg("--model", "mobilenetv2_100");
  const batch = Number(arg("--batch", "128"));
  const steps = Number(arg("--steps", "12"));
  const generators = Number(arg("--generators", "1"));
  console.log(describe(await initBackend(undefined, { quiet: true })));
  const spec: DatasetSpec = {
    task: "plain",
    hops: 0,
    difficulty: presetDifficulty("large"),
    nuisance: NO_NUISANCE,
    seed: 0,
    sampling: "debiased",
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-bench-stream-"));
  generateDataset(spec, { train: batch * steps * 2, val: 0, test: 8 }, dir, { quiet: true });
  const reader = new SplitReader(splitFile(dir, "train"));
  const order = epochOrder(reader.count, 0, 0, true);
  const inline = new StreamSource(spec, 0, batch, 0);
  const procs = new StreamSource(spec, 0, batch, generators);
  const net = buildModel({ name: model, inputSize: 64, classes: 4, seed: 0 });
  const opt = new AdamW(net.trainableWeights);
  const modes: Record<
    string,
    (s: number) => Promise<{ images: Uint8Array[] | Uint8Array; labels: Int32Array }>
  > = {
    stored: async (s) => {
      const idx = order.slice(s * batch, (s + 1) * batch);
      return {
        images: idx.map((i) => reader.image(i)),
        labels: Int32Array.from(idx, (i) => reader.records.labels[i]),
      };
    },
    "stream inline": (s) => inline.batch(s),
    [`stream, ${generators} generator process(es)`]: (s) => procs.batch(s),
  };
  const step = async (
    get: (s: number) => Promise<{ images: Uint8Array[] | Uint8Array; labels: Int32Array }>,
    s: number,
  ) => {
    const b = await get(s);
    const xs = imagesToTensor(b.images, 64, 64);
    trainStep(net, opt, xs, b.labels, 4, DEFAULT_TRAIN, 1e-3);
    xs.dispose();
  };
  // Warm-up: every mode, two steps (kernels, generator processes starting).
  for (const get of Object.values(modes)) for (let s = 0; s < 2; s++) await step(get, s);
  const seconds: Record<string, number> = Object.fromEntries(Object.keys(modes).map((m) => [m, 0]));
  const block = 2;
  for (let s = 0; s < steps; s += block)
    for (const [m, get] of Object.entries(modes)) {
      const t0 = performance.now();
      for (let k = s; k < Math.min(steps, s + block); k++) await step(get, k + 2);
      seconds[m] += (performance.now() - t0) / 1000;
    }
  const out: Record<string, number> = {};
  for (const [m, sec] of Object.entries(seconds)) {
    out[m] = (steps * batch) / sec;
    console.log(
      `${model} ${m.padEnd(34)} ${out[m].toFixed(1).padStart(7)} img/s  (${(out[m] / out.stored).toFixed(3)} of stored)`,
    );
  }
  inline.close();
  procs.close();
  opt.dispose();
  net.dispose();
  reader.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ model, batch, steps, numTensors: tf.memory().numTensors, ...out }));
  return 0;
}

runBenchIfMain(module, main);
