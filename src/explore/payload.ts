/**
 * What `amida explore` puts into the page beside its script: one JSON object (ExplorerData) and,
 * in their own tags, each model's weights and the wasm binary as base64. Shared by the Node side
 * (build.ts writes it) and the page (page.ts reads it); no Node or DOM imports here.
 */
import type { DatasetSpec } from "../data/spec";

/** The id of the page's `<script type="application/json">` holding ExplorerData. */
export const DATA_TAG = "amida-explorer-data";
/** The `<meta name="generator">` every explorer page carries: `--out` may replace only such a file. */
export const GENERATOR = "amida explore";
/** Bumped when the payload's shape changes. */
export const PAYLOAD_VERSION = 1;

/** What the page says about a run: where it came from and what it measured on its test split. */
export interface RunFacts {
  /** The run's directory name, e.g. cnn-stage1-s0. */
  name: string;
  /** The experiment folder it sits in (the run directory's parent's name). */
  experiment: string;
  /** Registry name, e.g. mobilenetv2_100. */
  model: string;
  /** stage1, finetune or scratch (src/experiment/stages.ts). */
  stage: string;
  /** Freeze group applied while training ("none" for from-scratch runs). */
  frozen: string;
  task: string;
  hops: number;
  trainCount: number;
  epochs: number;
  /** Training images seen, and whether each was a fresh puzzle (streamed) rather than a stored one. */
  imagesSeen: number | null;
  stream: boolean;
  testAcc: number;
  ci95: [number, number];
  testCount: number;
  /** The best rung-blind rule on the same test puzzles (absent for runs made before it was measured). */
  rungBlind: number | null;
  chance: number;
  /** Accuracy on the held-out rendering style's test puzzles, when measured. */
  heldoutStyleAcc: number | null;
  params: number;
}

/** One model of the page. */
export interface ExplorerModel {
  facts: RunFacts;
  /** The data set's spec: the puzzles the model was trained and tested on. */
  spec: DatasetSpec;
  /** tfjs model.json's modelTopology and its weight specs; the bytes are in tag `weightsTag`. */
  topology: object;
  weightSpecs: object[];
  weightsTag: string;
  weightBytes: number;
  /** Grad-CAM layer Node chose (defaultCamLayer): the page computes its own and must agree. */
  camLayer: string;
  /** Key into ExplorerData.rungBlind for this model's task. */
  rungBlindKey: string;
}

/** The Bayes rung-blind rule of one spec's test split, as a table: view -> answer. */
export interface RungBlindTable {
  task: string;
  hops: number;
  /** Draws of the generator it was estimated from. */
  samples: number;
  /** [rungBlindView, answer] for every view whose answer is not 0 (0 is the rule's default). */
  answers: Array<[number, number]>;
}

/** A circle sprite as node-canvas (cairo) drew it, for the page's renderer (render.ts seedCircleSprite). */
export interface SpriteData {
  fill: string;
  radius: number;
  lineWidth: number;
  side: number;
  /** side*side*4 bytes RGBA, base64, chosen so that the browser's premultiplication gives cairo's bytes back. */
  rgba: string;
}

export interface ExplorerData {
  version: number;
  /** When and by what the page was written. */
  created: string;
  generator: string;
  /** Puzzle shape every model shares: lanes, rows, rung range, image side. */
  difficulty: DatasetSpec["difficulty"];
  models: ExplorerModel[];
  rungBlind: Record<string, RungBlindTable>;
  sprites: SpriteData[];
  /** Tag holding the wasm backend's SIMD binary (base64), and its size in bytes. */
  wasmTag: string;
  wasmBytes: number;
  /** What Node computed for the first puzzles of the test split, which the page checks itself against on load. */
  reference: NodeReference;
}

/** Node's numbers for the first `count` puzzles of the first model's test split (samplePuzzle). */
export interface NodeReference {
  count: number;
  /** The backend that computed them (e.g. node: native TensorFlow). */
  backend: string;
  /** Node's rendering of each puzzle, size*size*3 RGB, base64. */
  pixels: string[];
  /** probabilities[model][puzzle][class], on Node's pixels. */
  probabilities: number[][][];
}
