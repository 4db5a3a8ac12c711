/**
 * `amida explore` and notebook 04's explorer cell: one self-contained HTML page in which finished
 * runs' models answer puzzles the reader draws or edits, with Grad-CAM, offline from file://.
 *
 * The page holds the bundled script (bundle.ts), the models (topology + weights as base64), the
 * rung-blind rule as a table, cairo's circle sprites (so its pixels are the Node renderer's), the
 * wasm backend's binary, and Node's own numbers for the first test puzzles, which the page checks
 * itself against on load.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/select";
import { rungBlindRule, rungBlindView } from "../data/baselines";
import { DatasetSpec } from "../data/spec";
import { defaultCamLayer } from "../explain/gradcam";
import { parameterCount } from "../models/summary";
import { circleSprite, circleSpriteSpecs } from "../puzzle/render";
import { Puzzle } from "../puzzle/puzzle";
import { writeFileAtomic } from "../util/atomic";
import { imagesToTensor } from "../data/batches";
import "../models/io";
import { bundlePage, ROOT } from "./bundle";
import { pageHtml } from "./html";
import {
  DATA_TAG,
  ExplorerData,
  ExplorerModel,
  GENERATOR,
  NodeReference,
  PAYLOAD_VERSION,
  RungBlindTable,
  SpriteData,
} from "./payload";
import { drawnPuzzle, puzzlePixels } from "./puzzles";
import { ExplorerRun, readRunForExplorer } from "./run";

/** Runs one page shows side by side, at most. */
export const MAX_RUNS = 4;

export interface ExplorerOptions {
  /** Test puzzles whose Node numbers the page checks itself against on load (default 4). */
  referenceCount?: number;
  log?: (line: string) => void;
}

export interface ExplorerSummary {
  out: string;
  /** Size of the page, and of its parts: script, weights (as stored, before base64). */
  bytes: number;
  scriptBytes: number;
  weightBytes: number;
  runs: string[];
  seconds: number;
}

/** Refuses an --out that is a directory or a file this command did not write. */
function checkOut(out: string): void {
  if (!out.endsWith(".html")) throw new Error(`--out must name an .html file, got '${out}'`);
  if (!fs.existsSync(out)) return;
  if (fs.statSync(out).isDirectory())
    throw new Error(`--out '${out}' is an existing directory; name an .html file instead`);
  const fd = fs.openSync(out, "r");
  const head = Buffer.alloc(4096);
  const n = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  if (
    !head.subarray(0, n).toString("utf8").includes(`<meta name="generator" content="${GENERATOR}`)
  )
    throw new Error(
      `refusing to replace '${out}': it is not a page that '${GENERATOR}' wrote; choose another --out, or move that file away yourself`,
    );
}

const sameDifficulty = (a: DatasetSpec["difficulty"], b: DatasetSpec["difficulty"]) =>
  a.lanes === b.lanes &&
  a.rows === b.rows &&
  a.rungsMin === b.rungsMin &&
  a.rungsMax === b.rungsMax &&
  a.size === b.size;

const difficultyText = (d: DatasetSpec["difficulty"]) =>
  `${d.size}x${d.size} px, ${d.lanes} lanes, ${d.rows} rows, ${d.rungsMin}..${d.rungsMax} rungs`;

/** One page shows one puzzle to every model: every run must share the difficulty and image size. */
function checkCompatible(runs: ExplorerRun[]): void {
  const first = runs[0];
  for (const r of runs.slice(1)) {
    if (sameDifficulty(first.spec.difficulty, r.spec.difficulty)) continue;
    const what =
      first.spec.difficulty.size !== r.spec.difficulty.size
        ? `image sizes differ: '${first.dir}' takes ${first.spec.difficulty.size}x${first.spec.difficulty.size} px images, '${r.dir}' takes ${r.spec.difficulty.size}x${r.spec.difficulty.size} px`
        : `difficulties differ: '${first.dir}' was trained on ${difficultyText(first.spec.difficulty)}, '${r.dir}' on ${difficultyText(r.spec.difficulty)}`;
    throw new Error(
      `these runs cannot share one page (${what}); the page shows one puzzle to every model, so give runs trained at one difficulty and image size`,
    );
  }
}

/** The model's own input and output must fit its data set (a checkpoint swapped by hand would not). */
function checkModelFits(r: ExplorerRun, model: tf.LayersModel): void {
  const shape = model.inputs[0].shape as number[];
  const d = r.spec.difficulty;
  if (shape[1] !== d.size || shape[2] !== d.size || shape[3] !== 3)
    throw new Error(
      `run '${r.dir}': its model takes ${shape[1]}x${shape[2]}x${shape[3]} images, but its data set '${r.dataDir}' draws ${d.size}x${d.size}x3 puzzles; the checkpoint does not belong to this run's data`,
    );
  const classes = (model.outputs[0].shape as number[])[1];
  if (classes !== d.lanes)
    throw new Error(
      `run '${r.dir}': its model answers ${classes} classes, but its data set '${r.dataDir}' has ${d.lanes} lanes`,
    );
}

/** The Bayes rung-blind rule of a spec's test split as a view -> answer table (0, the default, left out). */
function rungBlindTable(spec: DatasetSpec): RungBlindTable {
  const rule = rungBlindRule(spec, "test");
  const n = spec.difficulty.lanes;
  const answers: Array<[number, number]> = [];
  const perms: number[][] = [];
  const walk = (acc: number[]) => {
    if (acc.length === n) return void perms.push(acc);
    for (let i = 0; i < n; i++) if (!acc.includes(i)) walk([...acc, i]);
  };
  walk([]);
  // Every view: START s and sigma (the top lane of each bottom circle's colour), as a puzzle
  // with top = identity and bottom = sigma; rungs do not matter to the rule.
  for (const sigma of perms)
    for (let s = 0; s < n; s++) {
      const p: Puzzle = {
        lanes: n,
        rows: spec.difficulty.rows,
        rungs: [],
        top: perms[0],
        bottom: sigma,
        start: s,
      };
      const a = rule.predict(p);
      if (a !== 0) answers.push([rungBlindView(p), a]);
    }
  return { task: spec.task, hops: spec.hops, samples: rule.samples, answers };
}

/**
 * node-canvas's circle sprites, as RGBA that the browser's putImageData premultiplies back to
 * cairo's own (premultiplied) bytes: cairo's unpremultiplied getImageData truncates, which would
 * be off by one level after the browser's rounding.
 */
function spriteData(d: DatasetSpec["difficulty"]): SpriteData[] {
  const little = os.endianness() === "LE";
  return circleSpriteSpecs(d.lanes, d.rows, d.size).map((s) => {
    const c = circleSprite(s.fill, s.radius, s.lineWidth);
    const raw = c.toBuffer("raw");
    const rgba = Buffer.alloc(raw.length);
    for (let i = 0; i < raw.length; i += 4) {
      // cairo's native ARGB32: BGRA bytes on little-endian machines, ARGB on big-endian ones.
      const [b, g, r, a] = little
        ? [raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]
        : [raw[i + 3], raw[i + 2], raw[i + 1], raw[i]];
      [r, g, b].forEach((p, k) => {
        let v = a === 0 ? 0 : Math.min(255, Math.round((p * 255) / a));
        if (a > 0) {
          while (v > 0 && Math.round((v * a) / 255) > p) v--;
          while (v < 255 && Math.round((v * a) / 255) < p) v++;
        }
        rgba[i + k] = v;
      });
      rgba[i + 3] = a;
    }
    return { ...s, side: c.width, rgba: rgba.toString("base64") };
  });
}

/** Node's probabilities for the first test puzzles (the page recomputes and compares them on load). */
function nodeReference(
  runs: ExplorerRun[],
  models: tf.LayersModel[],
  count: number,
  backend: string,
): NodeReference {
  const base = runs[0].spec;
  const draws = Array.from({ length: count }, (_, index) => ({
    task: base.task,
    hops: base.hops,
    seed: base.seed,
    index,
  }));
  const pixels = draws.map((d) => puzzlePixels(drawnPuzzle(base, d), base, d));
  const size = base.difficulty.size;
  const probabilities = models.map((m) => {
    const x = imagesToTensor(pixels, size, size);
    const p = tf.tidy(() => tf.softmax(m.predict(x) as tf.Tensor).arraySync() as number[][]);
    x.dispose();
    return p;
  });
  return {
    count,
    backend,
    pixels: pixels.map((p) => Buffer.from(p).toString("base64")),
    probabilities,
  };
}

/**
 * Writes the explorer page for `runDirs` (finished runs of one difficulty and image size, 1..4
 * of them) to `out` (an .html file; an existing one is replaced only if this command wrote it,
 * atomically). Everything is checked before any work; errors name the run and what is wrong.
 */
export async function writeExplorer(
  runDirs: string[],
  out: string,
  opts: ExplorerOptions = {},
): Promise<ExplorerSummary> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const refCount = opts.referenceCount ?? 4;
  if (!Number.isInteger(refCount) || refCount < 1 || refCount > 64)
    throw new Error(`referenceCount must be an integer in 1..64, got ${refCount}`);
  if (runDirs.length < 1 || runDirs.length > MAX_RUNS)
    throw new Error(
      `give 1 to ${MAX_RUNS} run directories (the page shows them side by side), got ${runDirs.length}`,
    );
  const resolved = runDirs.map((d) => path.resolve(d));
  const dup = resolved.find((d, i) => resolved.indexOf(d) !== i);
  if (dup) throw new Error(`run '${dup}' is given twice; give each run once`);
  checkOut(out);
  const runs = runDirs.map(readRunForExplorer);
  checkCompatible(runs);
  const backend = await initBackend(undefined, { quiet: true });
  const models: tf.LayersModel[] = [];
  try {
    for (const r of runs) {
      const weightData = r.weights.buffer.slice(
        r.weights.byteOffset,
        r.weights.byteOffset + r.weights.byteLength,
      ) as ArrayBuffer;
      const m = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: r.topology,
          weightSpecs: r.weightSpecs as tf.io.WeightsManifestEntry[],
          weightData,
        }),
      );
      models.push(m);
      checkModelFits(r, m);
    }
    const difficulty = runs[0].spec.difficulty;
    log(`explore: ${runs.length} run(s) at ${difficultyText(difficulty)}; rung-blind rules...`);
    const rungBlind: Record<string, RungBlindTable> = {};
    const entries: ExplorerModel[] = runs.map((r, i) => {
      const key = JSON.stringify(r.spec);
      if (!rungBlind[key]) rungBlind[key] = rungBlindTable(r.spec);
      return {
        facts: { ...r.facts, params: parameterCount(models[i]) },
        spec: r.spec,
        topology: r.topology,
        weightSpecs: r.weightSpecs,
        weightsTag: `amida-weights-${i}`,
        weightBytes: r.weights.length,
        camLayer: defaultCamLayer(models[i]),
        rungBlindKey: key,
      };
    });
    const reference = nodeReference(runs, models, refCount, backend.name);
    log("explore: bundling the page's script (esbuild)...");
    const bundle = await bundlePage();
    const wasmFile = path.join(
      ROOT,
      "node_modules",
      "@tensorflow",
      "tfjs-backend-wasm",
      "dist",
      "tfjs-backend-wasm-simd.wasm",
    );
    const wasm = fs.readFileSync(wasmFile);
    const data: ExplorerData = {
      version: PAYLOAD_VERSION,
      created: new Date().toISOString(),
      generator: GENERATOR,
      difficulty,
      models: entries,
      rungBlind,
      sprites: spriteData(difficulty),
      wasmTag: "amida-wasm",
      wasmBytes: wasm.length,
      reference,
    };
    const blobs: Record<string, string> = {
      [data.wasmTag]: wasm.toString("base64"),
    };
    runs.forEach((r, i) => (blobs[entries[i].weightsTag] = r.weights.toString("base64")));
    const html = pageHtml({ dataTag: DATA_TAG, data, blobs, script: bundle.js });
    writeFileAtomic(out, html);
    const summary: ExplorerSummary = {
      out,
      bytes: Buffer.byteLength(html),
      scriptBytes: Buffer.byteLength(bundle.js),
      weightBytes: runs.reduce((a, r) => a + r.weights.length, 0),
      runs: runs.map((r) => r.dir),
      seconds: (Date.now() - t0) / 1000,
    };
    log(
      `explore: wrote ${out} (${(summary.bytes / 1e6).toFixed(1)} MB: ${(summary.weightBytes / 1e6).toFixed(1)} MB of weights, 4/3 of that as base64; script ${(summary.scriptBytes / 1e6).toFixed(1)} MB) in ${summary.seconds.toFixed(1)} s`,
    );
    return summary;
  } finally {
    models.forEach((m) => m.dispose());
  }
}
