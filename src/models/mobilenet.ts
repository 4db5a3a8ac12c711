/**
 * MobileNetV2 (Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks"),
 * Table 2: a 3x3 stride-2 stem, seven stages of inverted-residual bottlenecks, a 1x1 head conv,
 * global pooling and a classifier. Layer names carry the structure so freeze groups can name it.
 */
import * as tf from "@tensorflow/tfjs";
import { ModelEntry } from "./entry";
import { FreezableBatchNorm } from "./layers/batchnorm";
import { Seeds } from "./layers/init";

type Act = "relu6" | "swish";
type SymTensor = tf.SymbolicTensor;

/** Rounds channels to a multiple of 8, never dropping more than 10 % (the paper's reference code). */
export function makeDivisible(v: number, divisor = 8): number {
  const r = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return r < 0.9 * v ? r + divisor : r;
}

/** conv (no bias) -> batch norm -> optional activation, named `${name}`, `${name}_bn`. */
export function convBn(
  x: SymTensor,
  o: {
    filters: number;
    kernel: number;
    stride?: number;
    act?: Act;
    name: string;
    seeds: Seeds;
    depthwise?: boolean;
  },
): SymTensor {
  const common = {
    kernelSize: o.kernel,
    strides: o.stride ?? 1,
    padding: "same" as const,
    useBias: false,
    name: o.name,
  };
  const conv = o.depthwise
    ? tf.layers.depthwiseConv2d({
        ...common,
        depthMultiplier: 1,
        depthwiseInitializer: o.seeds.heNormal(),
      })
    : tf.layers.conv2d({ ...common, filters: o.filters, kernelInitializer: o.seeds.heNormal() });
  let y = conv.apply(x) as SymTensor;
  y = new FreezableBatchNorm({ name: `${o.name}_bn`, momentum: 0.9, epsilon: 1e-5 }).apply(
    y,
  ) as SymTensor;
  return o.act
    ? (tf.layers
        .activation({ activation: o.act, name: `${o.name}_${o.act}` })
        .apply(y) as SymTensor)
    : y;
}

/** Inverted residual: 1x1 expand -> 3x3 depthwise -> 1x1 linear projection, + skip when shapes allow. */
export function invertedResidual(
  x: SymTensor,
  o: { out: number; expand: number; stride: number; act: Act; name: string; seeds: Seeds },
): SymTensor {
  const cin = x.shape[3] as number;
  let y = x;
  if (o.expand !== 1)
    y = convBn(y, {
      filters: cin * o.expand,
      kernel: 1,
      act: o.act,
      name: `${o.name}_expand`,
      seeds: o.seeds,
    });
  y = convBn(y, {
    filters: 0,
    kernel: 3,
    stride: o.stride,
    act: o.act,
    depthwise: true,
    name: `${o.name}_dw`,
    seeds: o.seeds,
  });
  y = convBn(y, { filters: o.out, kernel: 1, name: `${o.name}_project`, seeds: o.seeds });
  return o.stride === 1 && cin === o.out
    ? (tf.layers.add({ name: `${o.name}_add` }).apply([x, y]) as SymTensor)
    : y;
}

/** Table 2: expansion t, output channels c, repeats n, first stride s. */
const STAGES: Array<[t: number, c: number, n: number, s: number]> = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

export const MOBILENET_WIDTHS = [0.35, 0.5, 0.75, 1.0] as const;

export interface MobileNetOptions {
  /** Image side in pixels (a multiple of 32). */
  inputSize: number;
  /** Output classes (lanes). */
  classes: number;
  /** Width multiplier: 0.35, 0.5, 0.75 or 1.0 (Table 2 of the paper). */
  width: number;
  /** Seeds every initializer: same seed, same initial weights. */
  seed: number;
}

export function mobilenetV2(o: MobileNetOptions): tf.LayersModel {
  if (!(MOBILENET_WIDTHS as readonly number[]).includes(o.width))
    throw new Error(
      `MobileNetV2 width must be one of ${MOBILENET_WIDTHS.join(", ")}, got ${o.width}`,
    );
  const seeds = new Seeds(o.seed);
  const input = tf.input({ shape: [o.inputSize, o.inputSize, 3], name: "image" });
  let x = convBn(input, {
    filters: makeDivisible(32 * o.width),
    kernel: 3,
    stride: 2,
    act: "relu6",
    name: "stem_conv",
    seeds,
  });
  let block = 0;
  for (const [t, c, n, s] of STAGES) {
    for (let i = 0; i < n; i++) {
      x = invertedResidual(x, {
        out: makeDivisible(c * o.width),
        expand: t,
        stride: i === 0 ? s : 1,
        act: "relu6",
        name: `block${block++}`,
        seeds,
      });
    }
  }
  x = convBn(x, {
    filters: o.width > 1 ? makeDivisible(1280 * o.width) : 1280,
    kernel: 1,
    act: "relu6",
    name: "head_conv",
    seeds,
  });
  x = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as SymTensor;
  const logits = tf.layers
    .dense({ units: o.classes, name: "classifier", kernelInitializer: seeds.glorotUniform() })
    .apply(x) as SymTensor;
  return tf.model({
    inputs: input,
    outputs: logits,
    name: `mobilenetv2_${String(Math.round(o.width * 100)).padStart(3, "0")}`,
  });
}

/** mobilenetv2_035 .. mobilenetv2_100: one entry per width multiplier. */
export const MOBILENET_MODELS: ModelEntry[] = MOBILENET_WIDTHS.map((width) => ({
  name: `mobilenetv2_${String(Math.round(width * 100)).padStart(3, "0")}`,
  family: "mobilenetv2",
  build: (o) => mobilenetV2({ ...o, width }),
  attention: () => [],
}));
