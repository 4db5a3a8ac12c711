/**
 * Masked-image pre-training for the ViT family (seed 004: "MAE pre-training helps small data
 * sets"), on unlabelled puzzles:
 *
 *   image -> patches; a random `maskRatio` of them per image replaced by a learned mask token ->
 *   the classifier's own encoder (same layer names) -> light decoder (linear to `decoderDim`,
 *   position embeddings, `decoderDepth` transformer layers, linear to p*p*3 pixels) ->
 *   mean squared error on the masked patches' pixels (0..1)
 *
 * Deviation from MAE (He et al. 2022), chosen for one encoder graph shared with the classifier:
 * the encoder sees mask tokens in place of the hidden patches (as in SimMIM) instead of dropping
 * them, so it costs a full forward pass; the decoder and the loss are MAE's. Targets are raw
 * pixels: per-patch normalisation (MAE's norm_pix_loss) divides by ~0 on the puzzles' blank patches.
 *
 * The result is saved as a whole classifier (encoder pre-trained, head freshly initialised) so
 * that `amida train --init DIR` fine-tunes it like any stage-1 checkpoint.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { canonicalJson, SplitReader } from "../data/format";
import { splitFile } from "../data/spec";
import { batches, epochOrder } from "../data/batches";
import { buildModel, familyOf, modelNames, validateModelSpec } from "../models/registry";
import { vitEncoder, vitGeometry, VIT_VARIANTS, VitVariant } from "../models/vit";
import { mmlitEncoder, MMLIT_GRID } from "../models/mmlit";
import { transformerLayer } from "../models/layers/transformer";
import { PositionEmbedding } from "../models/layers/tokens";
import { LayerNorm } from "../models/layers/layernorm";
import { patchRows } from "../models/layers/patchify";
import { Seeds } from "../models/layers/init";
import { CHECKSUMS, saveModel, verifyCheckpoint } from "../models/io";
import { checkExisting, checkOutput, readJsonFile } from "../util/json";
import { checkValue, fieldKnob, Knob, Mode } from "../util/knobs";
import { cosineWithWarmup } from "../train/schedule";
import { AdamW } from "../train/adamw";
import { rngFor, shuffled } from "../util/rng";
import { Progress } from "../util/progress";

type SymTensor = tf.SymbolicTensor;

/** The families masked-image pre-training applies to (a flat token sequence from patches). */
export const PRETRAIN_FAMILIES = ["vit", "mmlit"] as const;

export interface PretrainConfig {
  /** Model name (vit_* or mmlit_*). */
  model: string;
  /** Data set directory; its train split's images are used, labels ignored. */
  data: string;
  epochs: number;
  batchSize: number;
  /** Peak learning rate (Adam, cosine decay after a one-epoch-or-less warm-up). */
  lr: number;
  /** Share of patches hidden per image. */
  maskRatio: number;
  /** Decoder token width and transformer layers. */
  decoderDim: number;
  decoderDepth: number;
  /** Seeds the weights, the masks and the visiting order. */
  seed: number;
}

export const DEFAULT_PRETRAIN: Omit<PretrainConfig, "model" | "data"> = {
  epochs: 5,
  batchSize: 32,
  lr: 1e-3,
  maskRatio: 0.75,
  decoderDim: 64,
  decoderDepth: 1,
  seed: 0,
};

const K = fieldKnob<PretrainConfig>;

/** Every knob of a pre-training (`amida pretrain`'s flags). */
export const PRETRAIN_KNOBS: Knob<PretrainConfig>[] = [
  K("model", "string", ["model"], "a vit_* or mmlit_* model", {
    choices: () => PRETRAIN_FAMILIES.flatMap((f) => modelNames(f)),
  }),
  K("data", "string", ["data"], "the data set whose train images (labels unused) it learns from"),
  K("epochs", "int", ["epochs"], "passes over the training images", { min: 1, max: 10_000 }),
  K("batchSize", "int", ["batchSize"], "images per step", { min: 1, max: 4096 }),
  K("lr", "number", ["lr"], "peak learning rate (cosine decay)", { min: 1e-7, max: 10 }),
  K("maskRatio", "number", ["maskRatio"], "share of patches hidden per image, in (0, 1)", {
    min: 0.01,
    max: 0.99,
  }),
  K("decoderDim", "int", ["decoderDim"], "decoder token width (even)", { min: 8, max: 1024 }),
  K("decoderDepth", "int", ["decoderDepth"], "decoder transformer layers", { min: 0, max: 16 }),
  K("seed", "int", ["seed"], "seeds the weights, the masks and the visiting order", {
    min: 0,
    max: 2 ** 31,
  }),
];

export function validatePretrainConfig(c: PretrainConfig): PretrainConfig {
  for (const k of ["model", "data"] as const)
    if (!c[k]) throw new Error(`a pre-training needs a ${k} (amida pretrain --${k} ...)`);
  const fam = familyOf(c.model);
  if (!(PRETRAIN_FAMILIES as readonly string[]).includes(fam))
    throw new Error(
      `masked-image pre-training is for the ViT family; got '${c.model}', allowed families: ${PRETRAIN_FAMILIES.join(", ")}`,
    );
  for (const k of PRETRAIN_KNOBS) checkValue(k, k.get(c), `pretrain.${k.key}`);
  if (c.decoderDim % 2 !== 0)
    throw new Error(`pretrain.decoderDim must be even (2 decoder heads), got ${c.decoderDim}`);
  checkExisting(c.data, "dir", "the pre-training's data set");
  if (!fs.existsSync(splitFile(c.data, "train")))
    throw new Error(`data set '${c.data}' has no train split (${splitFile(c.data, "train")})`);
  return c;
}

/** Pre-training as a mode: `amida pretrain`'s flags are these knobs. */
export const PRETRAIN: Mode<PretrainConfig> = {
  name: "pre-training",
  knobs: PRETRAIN_KNOBS,
  budgets: { default: () => ({ ...DEFAULT_PRETRAIN, model: "", data: "" }) },
  validate: validatePretrainConfig,
  file: null,
};

/** Patch side and token grid side of a ViT-family model at `inputSize`. */
export function patchGeometry(model: string, inputSize: number): { patch: number; grid: number } {
  const variant = model.slice(model.indexOf("_") + 1);
  if (familyOf(model) === "vit") return vitGeometry(VIT_VARIANTS[variant as VitVariant], inputSize);
  return { patch: inputSize / MMLIT_GRID, grid: MMLIT_GRID };
}

/**
 * The pre-training network: inputs [image [B, S, S, 3], mask [B, N]], output pixel predictions
 * [B, T, p*p*3] for every token (T = N, or 1 + N with ViT's class token first).
 */
export function maeNetwork(
  c: Pick<PretrainConfig, "model" | "decoderDim" | "decoderDepth" | "seed">,
  inputSize: number,
): tf.LayersModel {
  const { patch, grid } = patchGeometry(c.model, inputSize);
  const variant = c.model.slice(c.model.indexOf("_") + 1);
  const seeds = new Seeds(c.seed);
  const image = tf.input({ shape: [inputSize, inputSize, 3], name: "image" });
  const mask = tf.input({ shape: [grid * grid], name: "mask" });
  const encode = familyOf(c.model) === "vit" ? vitEncoder : mmlitEncoder;
  let x = encode(image, { variant, inputSize, seeds, mask });
  x = tf.layers
    .dense({ units: c.decoderDim, name: "decoder_embed", kernelInitializer: seeds.glorotUniform() })
    .apply(x) as SymTensor;
  x = new PositionEmbedding({ seed: seeds.int(), name: "decoder_pos" }).apply(x) as SymTensor;
  for (let i = 0; i < c.decoderDepth; i++)
    x = transformerLayer(x, {
      dim: c.decoderDim,
      ffn: 2 * c.decoderDim,
      heads: 2,
      act: "gelu",
      name: `decoder_t${i}`,
      seeds,
    });
  x = new LayerNorm({ epsilon: 1e-5, name: "decoder_ln" }).apply(x) as SymTensor;
  const pixels = tf.layers
    .dense({
      units: patch * patch * 3,
      name: "decoder_pred",
      kernelInitializer: seeds.glorotUniform(),
    })
    .apply(x) as SymTensor;
  return tf.model({ inputs: [image, mask], outputs: pixels, name: `mae_${c.model}` });
}

/** A 0/1 mask [b, n] hiding round(ratio * n) patches of each image, fixed by (seed, epoch, step). */
export function randomMask(
  b: number,
  n: number,
  ratio: number,
  seed: number,
  epoch: number,
  step: number,
): tf.Tensor2D {
  const hidden = Math.max(1, Math.min(n - 1, Math.round(ratio * n)));
  const m = new Float32Array(b * n);
  for (let i = 0; i < b; i++)
    shuffled(rngFor(seed, "mae-mask", epoch, step, i), n)
      .slice(0, hidden)
      .forEach((j) => (m[i * n + j] = 1));
  return tf.tensor2d(m, [b, n]);
}

/** Mean squared error over the masked patches' pixels (a class token's prediction is ignored). */
export function reconstructionLoss(
  pred: tf.Tensor3D,
  target: tf.Tensor3D,
  mask: tf.Tensor2D,
): tf.Scalar {
  return tf.tidy(() => {
    const n = target.shape[1];
    const patches =
      pred.shape[1] === n ? pred : tf.slice(pred, [0, pred.shape[1] - n, 0], [-1, n, -1]); // drop the class token
    const perPatch = tf.mean(tf.square(tf.sub(patches, target)), 2); // [B, N]
    return tf.div(tf.sum(tf.mul(perPatch, mask)), tf.sum(mask)) as tf.Scalar;
  });
}

/** One pre-training epoch's record. */
export interface PretrainEpoch {
  epoch: number;
  /** Mean reconstruction loss over the epoch's batches. */
  loss: number;
  seconds: number;
  images_per_s: number;
}

/**
 * Pre-trains `cfg.model`'s encoder on the data set's train images and saves, in `out`, the
 * classifier (for `classes` outputs, default: the data set's lanes) with the pre-trained encoder:
 * model.json + weights.bin + pretrain.json (config and history).
 */
export async function pretrain(
  cfg: PretrainConfig,
  out: string,
  opts: { classes?: number; quiet?: boolean; onLine?: (l: string) => void } = {},
): Promise<PretrainEpoch[]> {
  validatePretrainConfig(cfg);
  checkPretrainOut(out);
  const reader = new SplitReader(splitFile(cfg.data, "train"));
  const size = reader.header.image.height;
  const classes = opts.classes ?? reader.header.spec.difficulty.lanes;
  validateModelSpec({ name: cfg.model, inputSize: size, classes, seed: cfg.seed });
  const net = maeNetwork(cfg, size);
  const { patch, grid } = patchGeometry(cfg.model, size);
  const opt = new AdamW(net.trainableWeights);
  const stepsPerEpoch = Math.ceil(reader.count / cfg.batchSize);
  const total = cfg.epochs * stepsPerEpoch;
  const history: PretrainEpoch[] = [];
  const log = (l: string) => {
    opts.onLine?.(l);
    if (!opts.quiet) console.log(l);
  };
  try {
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      const t0 = Date.now();
      const progress = new Progress(`pretrain epoch ${epoch + 1}/${cfg.epochs}`, stepsPerEpoch, {
        unit: "steps",
        quiet: opts.quiet,
        onLine: opts.onLine,
      });
      let sum = 0;
      let seen = 0;
      let step = 0;
      for (const b of batches(
        reader,
        epochOrder(reader.count, cfg.seed, epoch, true),
        cfg.batchSize,
      )) {
        const lr = cosineWithWarmup(
          epoch * stepsPerEpoch + step,
          total,
          Math.min(stepsPerEpoch, Math.round(total / 10)),
          cfg.lr,
        );
        const n = b.labels.length;
        const mask = randomMask(n, grid * grid, cfg.maskRatio, cfg.seed, epoch, step++);
        const target = patchRows(b.xs, patch);
        const loss = opt.minimize(
          () =>
            reconstructionLoss(
              net.apply([b.xs, mask], { training: true }) as tf.Tensor3D,
              target,
              mask,
            ),
          lr,
          0,
        );
        sum += loss.dataSync()[0] * n;
        seen += n;
        tf.dispose([loss, mask, target, b.xs]);
        progress.tick(1, `loss ${(sum / seen).toFixed(5)}`);
      }
      const seconds = (Date.now() - t0) / 1000;
      history.push({ epoch: epoch + 1, loss: sum / seen, seconds, images_per_s: seen / seconds });
      log(
        `pretrain epoch ${epoch + 1}/${cfg.epochs}: reconstruction loss ${(sum / seen).toFixed(5)} | ${(seen / seconds).toFixed(1)} img/s, ${seconds.toFixed(1)} s`,
      );
    }
    const classifier = buildModel({ name: cfg.model, inputSize: size, classes, seed: cfg.seed });
    try {
      const copied = copyEncoder(net, classifier);
      fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
      checkPretrainOut(out);
      await saveModel(classifier, out, {
        "pretrain.json": { config: cfg, classes, copiedLayers: copied, history },
      });
      log(
        `saved the classifier with the pre-trained encoder (${copied.length} layers) to ${out}: fine-tune it with 'amida train --init ${out}'`,
      );
    } finally {
      classifier.dispose();
    }
  } finally {
    opt.dispose();
    net.dispose();
    reader.close();
  }
  return history;
}

/** What a pre-training output directory holds (saveModel's files and pretrain.json). */
const PRETRAIN_FILES = ["model.json", "weights.bin", "pretrain.json", CHECKSUMS];

/**
 * Refuses, before any work, an output path that pre-training did not make: it may replace only
 * nothing, an empty directory, or an earlier pre-training's output (never a file, a run directory
 * or a folder holding anything else).
 */
export function checkPretrainOut(out: string): void {
  checkOutput(out, "dir", "pretrain --out");
  if (!fs.existsSync(out)) return;
  const foreign = fs.readdirSync(out).filter((f) => !PRETRAIN_FILES.includes(f));
  if (
    foreign.length ||
    (fs.readdirSync(out).length > 0 && !fs.existsSync(path.join(out, "pretrain.json")))
  )
    throw new Error(
      `pretrain --out '${out}' exists and is not a pre-training output (it holds ${fs.readdirSync(out).slice(0, 3).join(", ")}${fs.readdirSync(out).length > 3 ? ", ..." : ""}); pre-training replaces the whole directory, so choose a new or empty --out`,
    );
}

/**
 * The pre-trained classifier at `out`: reused when it holds exactly this config's output (its
 * checkpoint verified), otherwise pre-trained (an earlier pre-training's output is replaced).
 */
export async function ensurePretrained(
  cfg: PretrainConfig,
  out: string,
  opts: { classes: number; quiet?: boolean; onLine?: (l: string) => void },
): Promise<void> {
  validatePretrainConfig(cfg);
  checkPretrainOut(out);
  const file = path.join(out, "pretrain.json");
  if (fs.existsSync(file)) {
    verifyCheckpoint(out);
    const saved = readJsonFile(
      file,
      "pre-training record",
      (v) => v as { config: unknown; classes: number },
    );
    if (canonicalJson(saved.config) === canonicalJson(cfg) && saved.classes === opts.classes) {
      opts.onLine?.(`reusing the pre-trained encoder in ${out} (same config)`);
      return;
    }
  }
  await pretrain(cfg, out, opts);
}

/** Copies every weight layer of `to` that `from` has (by name); returns their names. */
export function copyEncoder(from: tf.LayersModel, to: tf.LayersModel): string[] {
  const copied: string[] = [];
  for (const l of to.layers) {
    if (l.weights.length === 0) continue;
    const src = from.layers.find((s) => s.name === l.name);
    if (!src) continue;
    l.setWeights(src.getWeights());
    copied.push(l.name);
  }
  return copied;
}
