/**
 * The gradient kernels tfjs-backend-wasm lacks, so that convnets can train on it (tfjs#8474).
 *
 * Each kernel is written as a composition of kernels wasm does have (pad, strided slice,
 * concat, batched matMul, depthwise conv, multiply): all the arithmetic stays inside wasm's
 * SIMD kernels; nothing is copied out to JavaScript loops. Gradients are not taped inside a
 * kernel, so composing ops here is safe; the reference counting below keeps inputs alive and
 * hands the result's buffer to the engine.
 *
 * Only NHWC and dilation 1 are supported (what MobileNetV2 and MobileViT use); anything else
 * is an error that says so, rather than a wrong gradient.
 */
import * as tf from "@tensorflow/tfjs";

type Info = tf.TensorInfo;
type Attrs = Record<string, unknown>;
interface RefCounted {
  incRef(dataId: object): void;
}

function wrap(info: Info, backend: RefCounted): tf.Tensor {
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** Registers `compute` (on real tensors) as the wasm kernel `name`. */
function composite(
  name: string,
  compute: (inputs: Record<string, tf.Tensor>, attrs: Attrs) => tf.Tensor,
): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as RefCounted;
      const out = tf.tidy(() => {
        const wrapped: Record<string, tf.Tensor> = {};
        for (const [k, v] of Object.entries(inputs)) wrapped[k] = wrap(v as Info, b);
        return compute(wrapped, attrs as Attrs);
      });
      b.incRef(out.dataId);
      const info = { dataId: out.dataId, shape: out.shape, dtype: out.dtype };
      out.dispose();
      return info;
    },
  };
}

function checkNHWC(kernel: string, attrs: Attrs): void {
  const fmt = attrs.dataFormat as string | undefined;
  if (fmt !== undefined && fmt !== "NHWC" && fmt !== "channelsLast")
    throw new Error(`${kernel} on wasm supports NHWC only, got dataFormat ${fmt}`);
  const d = attrs.dilations as number | number[] | undefined;
  if (d !== undefined && !(d === 1 || (Array.isArray(d) && d.every((v) => v === 1))))
    throw new Error(`${kernel} on wasm supports dilation 1 only, got ${JSON.stringify(d)}`);
}

function convInfo(xShape: number[], filterShape: number[], attrs: Attrs, depthwise: boolean) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number],
    1,
    attrs.pad as "same" | "valid" | number,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    depthwise,
  );
}

function padInput(x: tf.Tensor4D, c: ReturnType<typeof convInfo>): tf.Tensor4D {
  const p = c.padInfo;
  return padOrCrop(x, p.top, p.bottom, p.left, p.right);
}

/** Keeps the first kh x kw positions of a [A, >=kh, >=kw, C] result (the padded input may overhang). */
function cropTaps(y: tf.Tensor4D, kh: number, kw: number): tf.Tensor4D {
  const [a, h, w, ch] = y.shape;
  return h === kh && w === kw ? y : tf.slice(y, [0, 0, 0, 0], [a, kh, kw, ch]);
}

/**
 * dW[kh,kw,ci,co] = sum over b,i,j of xp[b, s*i+kh, s*j+kw, ci] * dy[b,i,j,co].
 * That is itself a convolution: batch becomes the contracted channel axis and dy the (dilated)
 * filter, so XNNPACK's conv does the work. A 1x1 stride-1 conv is one plain matMul.
 */
const conv2DBackpropFilter = composite("Conv2DBackpropFilter", ({ x, dy }, attrs) => {
  checkNHWC("Conv2DBackpropFilter", attrs);
  const x4 = x as tf.Tensor4D;
  const c = convInfo(x4.shape, attrs.filterShape as number[], attrs, false);
  const pointwise =
    c.filterHeight === 1 && c.filterWidth === 1 && c.strideHeight === 1 && c.strideWidth === 1;
  if (pointwise && c.padInfo.top === 0 && c.padInfo.left === 0) {
    // Explicit transpose: wasm's matMul with transposeA is several times slower than this.
    const xt = tf.transpose(tf.reshape(x4, [-1, c.inChannels]));
    return tf.reshape(tf.matMul(xt, tf.reshape(dy, [-1, c.outChannels])), [
      1,
      1,
      c.inChannels,
      c.outChannels,
    ]);
  }
  const xc = tf.transpose(padInput(x4, c), [3, 1, 2, 0]) as tf.Tensor4D; // [Ci, Hp, Wp, B]
  const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [OH, OW, B, Co]
  const out = tf.conv2d(xc, f, 1, "valid", "NHWC", [c.strideHeight, c.strideWidth]); // [Ci, >=KH, >=KW, Co]
  return tf.transpose(cropTaps(out, c.filterHeight, c.filterWidth), [1, 2, 0, 3]);
});

/**
 * Depthwise: dW[kh,kw,c] = sum over b,i,j of xp[b, s*i+kh, s*j+kw, c] * dy[b,i,j,c], a
 * depthwise conv with batch folded into the channels and dy as a dilated filter; the batch is
 * then summed with a (1 x B) @ (B x KH*KW*C) matMul.
 */
const depthwiseBackpropFilter = composite(
  "DepthwiseConv2dNativeBackpropFilter",
  ({ x, dy }, attrs) => {
    checkNHWC("DepthwiseConv2dNativeBackpropFilter", attrs);
    const x4 = x as tf.Tensor4D;
    const fs = attrs.filterShape as number[];
    if (fs[3] !== 1)
      throw new Error(
        `DepthwiseConv2dNativeBackpropFilter on wasm supports channel multiplier 1 only, got ${fs[3]}`,
      );
    const c = convInfo(x4.shape, fs, attrs, true);
    const b = x4.shape[0];
    const ch = c.inChannels;
    const xp = padInput(x4, c);
    const xc = tf.reshape(tf.transpose(xp, [1, 2, 0, 3]), [
      1,
      xp.shape[1],
      xp.shape[2],
      b * ch,
    ]) as tf.Tensor4D;
    const f = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [
      c.outHeight,
      c.outWidth,
      b * ch,
      1,
    ]) as tf.Tensor4D;
    const out = cropTaps(
      tf.depthwiseConv2d(xc, f, 1, "valid", "NHWC", [c.strideHeight, c.strideWidth]),
      c.filterHeight,
      c.filterWidth,
    );
    const perBatch = tf.transpose(
      tf.reshape(out, [c.filterHeight * c.filterWidth, b, ch]),
      [1, 0, 2],
    ); // [B, taps, C]
    return tf.reshape(tf.matMul(tf.ones([1, b]), tf.reshape(perBatch, [b, -1])), fs);
  },
);

/** Inserts stride-1 zeros between rows and columns: [B, (H-1)*s+1, (W-1)*s+1, C]. */
function dilate(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  const [b, h, w, ch] = dy.shape;
  let y: tf.Tensor = dy;
  if (sh > 1) {
    const rows = tf.reshape(y, [b, h, 1, w * ch]);
    y = tf.reshape(tf.concat([rows, tf.zeros([b, h, sh - 1, w * ch])], 2), [b, h * sh, w, ch]);
  }
  const hh = h * sh;
  if (sw > 1) {
    const cols = tf.reshape(y, [b * hh, w, 1, ch]);
    y = tf.reshape(tf.concat([cols, tf.zeros([b * hh, w, sw - 1, ch])], 2), [b, hh, w * sw, ch]);
  }
  return tf.slice(y, [0, 0, 0, 0], [b, (h - 1) * sh + 1, (w - 1) * sw + 1, ch]) as tf.Tensor4D;
}

/** Pads (or crops, for negative amounts) height and width. */
function padOrCrop(
  x: tf.Tensor4D,
  top: number,
  bottom: number,
  left: number,
  right: number,
): tf.Tensor4D {
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return x;
  let y = tf.pad(x, [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ]);
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [b, h, w, ch] = y.shape;
    const t = Math.max(0, -top);
    const l = Math.max(0, -left);
    y = tf.slice(
      y,
      [0, t, l, 0],
      [b, h - t - Math.max(0, -bottom), w - l - Math.max(0, -right), ch],
    );
  }
  return y;
}

/**
 * dx is the full correlation of the stride-dilated dy with the spatially flipped filter: dilate,
 * pad by (K - 1 - pad) before and whatever makes the output H x W after, then a stride-1 valid
 * forward conv, which XNNPACK runs far faster than wasm's own backprop-input kernel. Returns dy
 * dilated and padded for that conv (x's shape is `attrs.inputShape`); each kernel below runs it.
 */
function backpropInput(
  dy: tf.Tensor,
  filterShape: number[],
  attrs: Attrs,
  depthwise: boolean,
): tf.Tensor4D {
  const inShape = attrs.inputShape as number[];
  const c = convInfo(inShape, filterShape, attrs, depthwise);
  const d = dilate(dy as tf.Tensor4D, c.strideHeight, c.strideWidth);
  const top = c.filterHeight - 1 - c.padInfo.top;
  const left = c.filterWidth - 1 - c.padInfo.left;
  const bottom = inShape[1] + c.filterHeight - 1 - top - d.shape[1];
  const right = inShape[2] + c.filterWidth - 1 - left - d.shape[2];
  return padOrCrop(d, top, bottom, left, right);
}

const depthwiseBackpropInput = composite(
  "DepthwiseConv2dNativeBackpropInput",
  ({ dy, filter }, attrs) => {
    checkNHWC("DepthwiseConv2dNativeBackpropInput", attrs);
    const f = filter as tf.Tensor4D;
    if (f.shape[3] !== 1)
      throw new Error(
        `DepthwiseConv2dNativeBackpropInput on wasm supports channel multiplier 1 only, got ${f.shape[3]}`,
      );
    const padded = backpropInput(dy, f.shape, attrs, true);
    return tf.depthwiseConv2d(padded, tf.reverse(f, [0, 1]), 1, "valid");
  },
);

/** Replaces wasm's own Conv2DBackpropInput: same maths as above with W flipped and transposed. */
const conv2DBackpropInput = composite("Conv2DBackpropInput", ({ dy, filter }, attrs) => {
  checkNHWC("Conv2DBackpropInput", attrs);
  const f = filter as tf.Tensor4D; // [KH, KW, Ci, Co]
  const padded = backpropInput(dy, f.shape, attrs, false);
  const flipped = f.shape[0] === 1 && f.shape[1] === 1 ? f : tf.reverse(f, [0, 1]);
  return tf.conv2d(padded, tf.transpose(flipped, [0, 1, 3, 2]) as tf.Tensor4D, 1, "valid"); // W^T: [KH, KW, Co, Ci]
});

/**
 * wasm's matMul is several times slower with transposeA/transposeB than on pre-transposed
 * operands, and every matMul gradient asks for a transpose: transpose explicitly, then call
 * the original kernel.
 */
function pretransposed(name: string): tf.KernelConfig | null {
  const original = tf.getKernel(name, "wasm");
  const transpose = tf.getKernel("Transpose", "wasm");
  if (!original || !transpose) return null;
  return {
    kernelName: name,
    backendName: "wasm",
    // The wasm backend binds each kernel's C function in its setupFunc when it initialises.
    setupFunc: original.setupFunc,
    kernelFunc: (args) => {
      const attrs = args.attrs as Attrs;
      if (!attrs.transposeA && !attrs.transposeB) return original.kernelFunc(args);
      const backend = args.backend as unknown as { disposeData(id: object): void };
      const inputs = { ...args.inputs } as Record<string, Info>;
      const temps: Info[] = [];
      for (const [key, flag] of [
        ["a", attrs.transposeA],
        ["b", attrs.transposeB],
      ] as const) {
        if (!flag) continue;
        const t = inputs[key];
        const perm = t.shape.map((_, i) => i);
        [perm[perm.length - 1], perm[perm.length - 2]] = [
          perm[perm.length - 2],
          perm[perm.length - 1],
        ];
        const out = transpose.kernelFunc({
          inputs: { x: t },
          backend: args.backend,
          attrs: { perm },
        }) as Info;
        temps.push(out);
        inputs[key] = out;
      }
      const result = original.kernelFunc({
        ...args,
        inputs,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
      for (const t of temps) backend.disposeData(t.dataId);
      return result;
    },
  };
}

/** Kernels wasm lacks: training a convnet fails without them. */
export const WASM_MISSING_KERNELS = [
  conv2DBackpropFilter,
  depthwiseBackpropFilter,
  depthwiseBackpropInput,
];

let registered = false;
/**
 * Idempotent. Missing kernels are added (left alone if a future tfjs ships them); the slow
 * Conv2DBackpropInput and transposed matMuls are replaced by the faster compositions above.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  for (const k of WASM_MISSING_KERNELS) {
    if (!tf.getKernel(k.kernelName, "wasm")) tf.registerKernel(k);
  }
  const replacements = [
    conv2DBackpropInput,
    pretransposed("BatchMatMul"),
    pretransposed("_FusedMatMul"),
  ];
  for (const k of replacements) {
    if (!k) continue;
    if (tf.getKernel(k.kernelName, "wasm")) tf.unregisterKernel(k.kernelName, "wasm");
    tf.registerKernel(k);
  }
}
