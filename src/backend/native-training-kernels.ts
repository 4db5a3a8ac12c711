/**
 * Training ops that run as one TensorFlow kernel on the native backend where tfjs composes
 * many. On native TensorFlow a training step is dominated by per-kernel overhead and full-size
 * elementwise passes (`npx amida bench train --backends node --profile`): the closed-form
 * batch-norm gradient written for wasm costs ~15 kernels per layer where TensorFlow's
 * FusedBatchNormV3 / FusedBatchNormGradV3 take two; tfjs-layers' ReLU6, min(6, relu(x)), costs
 * two kernels forward and ~10 backward (tfjs-node's Step alone is six) where TensorFlow's Relu6
 * and Relu6Grad take one each; swish multiplies by 1 and differentiates term by term; layer
 * norm's closed form is ~23 elementwise kernels where two fused batch norms in NCHW do it.
 *
 * Each is a kernel registered for the 'tensorflow' backend only, calling the TensorFlow op
 * through tfjs-node's `executeMultipleOutputs`, so tf.profile sees and names it. Other
 * backends keep what they had.
 */
import * as tf from "@tensorflow/tfjs";
import { customGradient, WithGradient } from "./custom-grad";
import { loadNativeOps, nativeOpsLoaded, NativeOpsState } from "./native-ops";

interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

/** The part of tfjs-node's NodeJSKernelBackend used here. */
interface NodeBackend {
  binding: {
    TF_ATTR_TYPE: number;
    TF_ATTR_FLOAT: number;
    TF_ATTR_STRING: number;
    TF_ATTR_BOOL: number;
    TF_ATTR_INT: number;
    TF_FLOAT: number;
    TF_INT32: number;
    createTensor(shape: number[], dtype: number, values: Int32Array): number;
    executeOp(name: string, attrs: OpAttr[], inputIds: number[], numOutputs: number): unknown[];
  };
  getDTypeInteger(dtype: string): number;
  getInputTensorIds(inputs: tf.TensorInfo[]): number[];
  createOutputTensor(metadata: unknown): tf.Tensor;
  /** Outputs are engine-tracked tensors. */
  executeMultipleOutputs(
    name: string,
    attrs: OpAttr[],
    inputs: tf.TensorInfo[],
    numOutputs: number,
  ): tf.Tensor[];
}

const BN_TRAIN = "AmidaFusedBatchNormTrain";
const BN_GRAD = "AmidaFusedBatchNormGrad";
const RELU6_GRAD = "AmidaRelu6Grad";
const SIGMOID_GRAD = "AmidaSigmoidGrad";
const SOFTPLUS_GRAD = "AmidaSoftplusGrad";
/** This project's own TensorFlow ops (native-ops.c), when they could be built and loaded. */
const SWISH = "AmidaSwish";
const SWISH_GRAD = "AmidaSwishGrad";
const BIAS_SWISH = "AmidaBiasSwish";
const BIAS_SWISH_GRAD = "AmidaBiasSwishGrad";
const LAYER_NORM = "AmidaLayerNorm";
const LAYER_NORM_GRAD = "AmidaLayerNormGrad";
const ATTENTION = "AmidaAttention";
const ATTENTION_GRAD = "AmidaAttentionGrad";
const BATCH_NORM = "AmidaBatchNorm";
const BATCH_NORM_GRAD = "AmidaBatchNormGrad";
/** Run by name from src/train/adamw.ts (train may not import backend): keep the names in step. */
const ADAMW = "AmidaAdamW";

function typeAttr(b: NodeBackend, name: string): OpAttr {
  return { name, type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT };
}

/** `format` NHWC normalizes each channel (the last axis); NCHW each row of [1, rows, 1, c]. */
function bnAttrs(b: NodeBackend, eps: number, format: unknown): OpAttr[] {
  const { binding } = b;
  return [
    typeAttr(b, "T"),
    typeAttr(b, "U"),
    { name: "epsilon", type: binding.TF_ATTR_FLOAT, value: eps },
    { name: "data_format", type: binding.TF_ATTR_STRING, value: format },
    { name: "is_training", type: binding.TF_ATTR_BOOL, value: true },
  ];
}

function nativeKernel(
  name: string,
  run: (
    b: NodeBackend,
    inputs: Record<string, tf.TensorInfo>,
    attrs: Record<string, unknown>,
  ) => tf.TensorInfo | tf.TensorInfo[],
): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: "tensorflow",
    kernelFunc: ({ inputs, attrs, backend }) =>
      run(
        backend as unknown as NodeBackend,
        inputs as Record<string, tf.TensorInfo>,
        attrs as Record<string, unknown>,
      ),
  };
}

/** Outputs: y, batch mean, batch variance (Bessel-corrected), and 3 reserve spaces for the gradient. */
const bnTrain = nativeKernel(BN_TRAIN, (b, { x, scale, offset }, { epsilon, format }) => {
  const empty = tf.tensor1d([], "float32"); // training mode computes the statistics itself
  const out = b.executeMultipleOutputs(
    "FusedBatchNormV3",
    bnAttrs(b, epsilon as number, format),
    [x, scale, offset, empty, empty],
    6,
  );
  empty.dispose();
  return out;
});

/** Outputs: dx, dscale, doffset (TensorFlow's two trailing placeholders are dropped). */
const bnGrad = nativeKernel(BN_GRAD, (b, { dy, x, scale, r1, r2, r3 }, { epsilon, format }) => {
  const [dx, dScale, dOffset, p4, p5] = b.executeMultipleOutputs(
    "FusedBatchNormGradV3",
    bnAttrs(b, epsilon as number, format),
    [dy, x, scale, r1, r2, r3],
    5,
  );
  tf.dispose([p4, p5]);
  return [dx, dScale, dOffset];
});

const relu6Grad = nativeKernel(
  RELU6_GRAD,
  (b, { dy, x }) => b.executeMultipleOutputs("Relu6Grad", [typeAttr(b, "T")], [dy, x], 1)[0],
);

/** dy * y * (1 - y), y = sigmoid(x). */
const sigmoidGrad = nativeKernel(
  SIGMOID_GRAD,
  (b, { y, dy }) => b.executeMultipleOutputs("SigmoidGrad", [typeAttr(b, "T")], [y, dy], 1)[0],
);

/** dy * sigmoid(x), in one pass. */
const softplusGrad = nativeKernel(
  SOFTPLUS_GRAD,
  (b, { dy, x }) => b.executeMultipleOutputs("SoftplusGrad", [typeAttr(b, "T")], [dy, x], 1)[0],
);

/**
 * A kernel running the TensorFlow op of the same name from native-ops.c: float32 inputs in
 * `inputNames` order, `outputs` outputs, float attributes `floats` and integer ones `ints`.
 */
function ownOp(
  name: string,
  inputNames: string[],
  outputs: number,
  floats: string[] = [],
  ints: string[] = [],
): tf.KernelConfig {
  return nativeKernel(name, (b, inputs, attrs) => {
    const opAttrs: OpAttr[] = [
      ...floats.map((a) => ({ name: a, type: b.binding.TF_ATTR_FLOAT, value: attrs[a] })),
      ...ints.map((a) => ({ name: a, type: b.binding.TF_ATTR_INT, value: attrs[a] })),
    ];
    const out = b.executeMultipleOutputs(
      name,
      opAttrs,
      inputNames.map((n) => inputs[n]),
      outputs,
    );
    return outputs === 1 ? out[0] : out;
  });
}

const ownOps = [
  ownOp(SWISH, ["x"], 1),
  ownOp(SWISH_GRAD, ["dy", "x"], 1),
  ownOp(LAYER_NORM, ["x", "gamma", "beta"], 3, ["eps"]),
  ownOp(LAYER_NORM_GRAD, ["dy", "x", "gamma", "mean", "rstd"], 3),
  ownOp(BIAS_SWISH, ["z", "bias"], 1),
  ownOp(BIAS_SWISH_GRAD, ["dy", "z", "bias"], 2),
  ownOp(ATTENTION, ["qkv", "bias"], 2, ["scale"], ["heads"]),
  ownOp(ATTENTION_GRAD, ["dout", "qkv", "bias", "probs"], 2, ["scale"], ["heads"]),
  ownOp(BATCH_NORM, ["x", "gamma", "beta", "m", "v"], 5, ["eps", "decay"]),
  ownOp(BATCH_NORM_GRAD, ["dy", "x", "gamma", "mean", "rstd"], 3),
  /**
   * AdamW's whole update of N weights in one kernel: inputs g0..g{N-1}, w0..w{N-1}, m, v, hyper
   * (see native-ops.c); attrs decays (N flags) and the constants beta1, beta2, oneMinusBeta1,
   * oneMinusBeta2, epsilon. Outputs the N new weights, then m and v.
   */
  nativeKernel(ADAMW, (b, inputs, attrs) => {
    const decays = attrs.decays as number[];
    const n = decays.length;
    const list = [
      ...decays.map((_, i) => inputs[`g${i}`]),
      ...decays.map((_, i) => inputs[`w${i}`]),
      inputs.m,
      inputs.v,
      inputs.hyper,
    ];
    const float = (name: string, key: string) => ({
      name,
      type: b.binding.TF_ATTR_FLOAT,
      value: attrs[key],
    });
    return b.executeMultipleOutputs(
      ADAMW,
      [
        { name: "N", type: b.binding.TF_ATTR_INT, value: n },
        { name: "decays", type: b.binding.TF_ATTR_INT, value: decays },
        float("beta1", "beta1"),
        float("beta2", "beta2"),
        float("one_minus_beta1", "oneMinusBeta1"),
        float("one_minus_beta2", "oneMinusBeta2"),
        float("epsilon", "epsilon"),
      ],
      list,
      n + 2,
    );
  }),
];

/** TensorFlow handles of int32 shape vectors, one per target shape, kept for the process. */
const shapeHandles = new Map<string, number>();

/** The input itself, shared: what tfjs-node's Identity kernel does, for a no-op of another kernel. */
function same(
  b: NodeBackend & { incRef(dataId: tf.DataId): void },
  x: tf.TensorInfo,
): tf.TensorInfo {
  b.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** A TensorFlow handle of an int32 vector, uploaded once per distinct value for the process. */
function int32Handle(b: NodeBackend, values: number[]): number {
  const key = values.join(",");
  let id = shapeHandles.get(key);
  if (id === undefined) {
    id = b.binding.createTensor([values.length], b.binding.TF_INT32, Int32Array.from(values));
    shapeHandles.set(key, id);
  }
  return id;
}

/** Runs `op` on x and an int32 vector operand (kept by int32Handle) typed by attribute `attr`. */
function withInt32Operand(
  b: NodeBackend,
  op: string,
  x: tf.TensorInfo,
  attr: string,
  values: number[],
): tf.TensorInfo {
  const opAttrs = [
    { name: "T", type: b.binding.TF_ATTR_TYPE, value: b.getDTypeInteger(x.dtype) },
    { name: attr, type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_INT32 },
  ];
  const [out] = b.binding.executeOp(
    op,
    opAttrs,
    [b.getInputTensorIds([x])[0], int32Handle(b, values)],
    1,
  );
  return b.createOutputTensor(out);
}

/**
 * tfjs-node's Reshape uploads the target shape as a new int32 tensor on every call and frees it
 * after; a training step reshapes hundreds of times (tfjs's gradients, matMul, the optimizer).
 * This one uploads each distinct shape once and keeps its handle (half the cost per reshape), and
 * a reshape to the same shape (tfjs's add and multiply gradients make many) runs no kernel.
 */
const reshape: tf.KernelConfig = {
  kernelName: "Reshape",
  backendName: "tensorflow",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const b = backend as unknown as NodeBackend & { incRef(dataId: tf.DataId): void };
    const shape = (attrs as unknown as tf.ReshapeAttrs).shape;
    const x = (inputs as unknown as tf.ReshapeInputs).x as tf.TensorInfo;
    if (shape.length === x.shape.length && shape.every((d, i) => d === x.shape[i]))
      return same(b, x);
    return withInt32Operand(b, "Reshape", x, "Tshape", shape);
  },
};

/**
 * Cast to the dtype it already has runs no kernel: the gradient of every tensor tfjs's tape
 * saves is such a cast (engine.clone's). Other casts are tfjs-node's.
 */
function castConfig(original: tf.KernelConfig): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const x = (args.inputs as unknown as tf.CastInputs).x as tf.TensorInfo;
      if ((args.attrs as unknown as tf.CastAttrs).dtype === x.dtype)
        return same(args.backend as unknown as NodeBackend & { incRef(d: tf.DataId): void }, x);
      return original.kernelFunc(args);
    },
  };
}

/** Sum with its axes' handle kept (as Reshape's shapes): tfjs-node uploads them on every call. */
const sum: tf.KernelConfig = {
  kernelName: "Sum",
  backendName: "tensorflow",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const b = backend as unknown as NodeBackend & {
      createReductionOpAttrs(x: tf.TensorInfo, keepDims: boolean): OpAttr[];
    };
    const x = (inputs as unknown as tf.SumInputs).x as tf.TensorInfo;
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const [out] = b.binding.executeOp(
      "Sum",
      b.createReductionOpAttrs(x, keepDims),
      [b.getInputTensorIds([x])[0], int32Handle(b, axes)],
      1,
    );
    return b.createOutputTensor(out);
  },
};

/** Transpose with its permutation's handle kept (as Reshape's shapes), and none for the identity. */
const transpose: tf.KernelConfig = {
  kernelName: "Transpose",
  backendName: "tensorflow",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const b = backend as unknown as NodeBackend & { incRef(dataId: tf.DataId): void };
    const perm = (attrs as unknown as tf.TransposeAttrs).perm;
    const x = (inputs as unknown as tf.TransposeInputs).x as tf.TensorInfo;
    if (perm.every((p, i) => p === i)) return same(b, x);
    return withInt32Operand(b, "Transpose", x, "Tperm", perm);
  },
};

type ActivationClass = {
  new (...args: unknown[]): { apply(x: tf.Tensor): tf.Tensor };
  className: string;
};

let registered = false;

/**
 * Idempotent. Registers the kernels above for the 'tensorflow' backend; there, tfjs's ReLU6
 * gradient becomes TensorFlow's Relu6Grad, the layers' "relu6" activation the one Relu6
 * kernel (the same function; at exactly 0 and 6 the gradient is 0 instead of 1, as in
 * TensorFlow), and "swish" the fused form below. Models built afterwards use them.
 */
export function registerNativeTrainingKernels(opts: { gpu: boolean }): NativeOpsState {
  // The own ops are CPU kernels: on a GPU TensorFlow would run them on the host, copying each way.
  const ops: NativeOpsState = opts.gpu
    ? { loaded: false, why: "CPU kernels, not used on a GPU" }
    : loadNativeOps();
  if (registered) return ops;
  registered = true;
  for (const k of [bnTrain, bnGrad, relu6Grad, sigmoidGrad, softplusGrad])
    if (!tf.getKernel(k.kernelName, "tensorflow")) tf.registerKernel(k);
  if (ops.loaded)
    for (const k of ownOps) if (!tf.getKernel(k.kernelName, "tensorflow")) tf.registerKernel(k);
  const cast = castConfig(tf.getKernel("Cast", "tensorflow")!);
  for (const k of [reshape, transpose, sum, cast]) {
    tf.unregisterKernel(k.kernelName, "tensorflow");
    tf.registerKernel(k);
  }
  const original = tf.getGradient("Relu6");
  if (original) {
    tf.unregisterGradient("Relu6");
    tf.registerGradient({
      ...original,
      gradFunc: (dy, saved, attrs) => {
        if (tf.getBackend() !== "tensorflow" || (dy as tf.Tensor).dtype !== "float32")
          return original.gradFunc(dy, saved, attrs);
        return {
          x: () =>
            tf.engine().runKernel(RELU6_GRAD, { dy: dy as tf.Tensor, x: saved[0] }) as tf.Tensor,
        };
      },
    });
  }
  onNative("relu6", (x) => tf.relu6(x));
  onNative("swish", swish);
  leanDense();
  leanConv2D();
  return ops;
}

/** The parts of tfjs-layers' Conv2D that its call reads. */
interface Conv2DLayer {
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  activation: { apply(x: tf.Tensor): tf.Tensor };
  strides: [number, number];
  padding: string;
  dataFormat: string;
  dilationRate: [number, number];
}

/**
 * tfjs-layers' Conv2D, on the native backend, as tf.conv2d (plus the bias) then its activation:
 * the same function. Its own call takes tfjs's fused convolution, a custom gradient that
 * computes every input's gradient, so the first layer's gradient with respect to the image
 * (a full-size Conv2DBackpropInput) is computed and thrown away; tf.conv2d's are computed only
 * where needed.
 */
function leanConv2D(): void {
  const proto = Object.getPrototypeOf(tf.layers.conv2d({ filters: 1, kernelSize: 1 })) as {
    call(this: Conv2DLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): tf.Tensor;
  };
  const original = proto.call;
  proto.call = function (this: Conv2DLayer, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (
      !fusable(x) ||
      x.rank !== 4 ||
      (Array.isArray(inputs) && inputs.length !== 1) ||
      this.dataFormat !== "channelsLast" ||
      (this.padding !== "same" && this.padding !== "valid")
    )
      return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const kernel = this.kernel.read();
      const [kh, kw] = kernel.shape;
      if (kh === 1 && kw === 1 && this.strides[0] === 1 && this.strides[1] === 1) {
        // A 1x1 convolution is a matmul over the channels: oneDNN's matmul is ~10-20 % faster
        // than its 1x1 convolution here, forward and backward (MobileViT's and MobileNetV2's
        // shapes, batch 128).
        const z = fusedDense(x, kernel, this.bias ? this.bias.read() : null);
        return this.activation.apply(z);
      }
      const pad = this.padding as "same" | "valid";
      const y = tf.conv2d(
        x as tf.Tensor4D,
        kernel as tf.Tensor4D,
        this.strides,
        pad,
        "NHWC",
        this.dilationRate,
      );
      return this.activation.apply(this.bias ? tf.add(y, this.bias.read()) : y);
    });
  };
}

/** The parts of tfjs-layers' Dense that its call reads. */
interface DenseLayer {
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string };
  invokeCallHook(inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): void;
}

/**
 * tfjs-layers' Dense, on the native backend, as fusedDense then its activation: the same
 * function. Its own call transposes the kernel by the identity permutation, reshapes every operand
 * to 3-D and back, and leaves ~25 kernels on the tape per layer. tfjs-layers does not export the
 * class; an instance tells us its prototype. Other backends keep tfjs-layers' call.
 */
function leanDense(): void {
  const proto = Object.getPrototypeOf(tf.layers.dense({ units: 1 })) as {
    call(this: DenseLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): tf.Tensor;
  };
  const original = proto.call;
  proto.call = function (this: DenseLayer, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!fusable(x) || (Array.isArray(inputs) && inputs.length !== 1))
      return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      this.invokeCallHook(inputs, kwargs);
      const bias = this.bias ? this.bias.read() : null;
      if (bias && nativeOpsLoaded() && this.activation.getClassName() === "swish")
        return fusedDenseSwish(x, this.kernel.read(), bias);
      return this.activation.apply(fusedDense(x, this.kernel.read(), bias));
    });
  };
}

/**
 * x W + b over the last axis of x (any rank >= 2), with its gradient: one matmul and one add
 * forward, two matmuls and a sum backward, and x and W kept.
 */
export function fusedDense(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  const inDim = x.shape[x.rank - 1];
  const outDim = kernel.shape[kernel.rank - 1];
  const rows = x.size / inDim;
  const forward = (inputs: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    const [xIn, k4, b] = inputs;
    // A 1x1 convolution's kernel [1, 1, in, out] is this matrix.
    const k = k4.rank === 2 ? k4 : tf.reshape(k4, [inDim, outDim]);
    // TensorFlow's BatchMatMulV2 broadcasts the kernel over x's leading axes: no reshapes.
    const z = tf.matMul(xIn, k);
    save([xIn, k]);
    return {
      value: b ? tf.add(z, b) : z,
      gradFunc: (dy, [xS, kS]) => {
        const flat = (t: tf.Tensor, width: number) =>
          t.rank === 2 ? t : tf.reshape(t, [rows, width]);
        const dz = flat(dy, outDim);
        const dk = tf.matMul(flat(xS, inDim), dz, true, false);
        const grads = [
          tf.matMul(dy, kS, false, true),
          k4.rank === 2 ? dk : tf.reshape(dk, k4.shape),
        ];
        return b ? [...grads, tf.sum(dz, 0)] : grads;
      },
    };
  };
  return customGradient(bias ? [x, kernel, bias] : [x, kernel], forward);
}

/**
 * swish(x W + b) as one custom gradient: the matmul, then this project's bias-swish kernel (the
 * bias add in the same pass) forward; its gradient kernel gives dz and the bias's gradient at
 * once, then two matmuls. x, W, the pre-activation x W and b are kept.
 */
function fusedDenseSwish(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.rank - 1];
  const outDim = kernel.shape[kernel.rank - 1];
  const rows = x.size / inDim;
  const forward = ([xIn, k, b]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    const z = tf.matMul(xIn, k);
    save([xIn, k, z, b]);
    return {
      value: tf.engine().runKernel(BIAS_SWISH, { z, bias: b }) as tf.Tensor,
      gradFunc: (dy, [xS, kS, zS, bS]) => {
        const [dz, db] = tf
          .engine()
          .runKernel(BIAS_SWISH_GRAD, { dy, z: zS, bias: bS }) as tf.Tensor[];
        const flat = (t: tf.Tensor, width: number) =>
          t.rank === 2 ? t : tf.reshape(t, [rows, width]);
        return [
          tf.matMul(dz, kS, false, true),
          tf.matMul(flat(xS, inDim), flat(dz, outDim), true, false),
          db,
        ];
      },
    };
  };
  return customGradient([x, kernel, bias], forward);
}

/**
 * Makes the tfjs-layers activation `className` compute `apply` while the native backend is
 * active (other backends keep tfjs-layers' own). tfjs-layers does not export its activation
 * classes; the serialization map holds them.
 */
function onNative(className: string, apply: (x: tf.Tensor) => tf.Tensor): void {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className] as unknown as
    [ActivationClass, unknown] | undefined;
  if (!entry) throw new Error(`tfjs-layers has no '${className}' activation to replace`);
  const Base = entry[0];
  class NativeActivation extends Base {
    static className = className;
    apply(x: tf.Tensor): tf.Tensor {
      return tf.getBackend() === "tensorflow" ? apply(x) : super.apply(x);
    }
  }
  tf.serialization.registerClass(
    NativeActivation as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
  );
}

/**
 * x * sigmoid(x) and its gradient dy * s * (1 + x * (1 - s)), one pass each with this project's
 * ops (native-ops.c); without them, TensorFlow's SoftplusGrad(x, x) (= x * sigmoid(x), one
 * pass) and dy * s + SigmoidGrad(s, dy * x): 6 full-size passes where tfjs-layers'
 * mul(sigmoid(mul(x, 1)), x) takes ~11. Only x is kept for the backward pass.
 */
function swish(x: tf.Tensor): tf.Tensor {
  if (x.dtype !== "float32") return tf.mul(x, tf.sigmoid(x));
  const own = nativeOpsLoaded();
  const forward = ([xIn]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    save([xIn]);
    return {
      value: (own
        ? tf.engine().runKernel(SWISH, { x: xIn })
        : tf.engine().runKernel(SOFTPLUS_GRAD, { dy: xIn, x: xIn })) as tf.Tensor,
      gradFunc: (dy, [xS]) => {
        if (own) return tf.engine().runKernel(SWISH_GRAD, { dy, x: xS }) as tf.Tensor;
        const s = tf.sigmoid(xS);
        const curvature = tf.engine().runKernel(SIGMOID_GRAD, { y: s, dy: tf.mul(dy, xS) });
        return tf.add(tf.mul(dy, s), curvature as tf.Tensor);
      },
    };
  };
  return customGradient([x], forward);
}

/** Whether the fused kernels here can take `x`: native backend active and float32. */
function fusable(x: tf.Tensor): boolean {
  return (
    tf.getBackend() === "tensorflow" &&
    !!tf.getKernel(BN_TRAIN, "tensorflow") &&
    x.dtype === "float32"
  );
}

/**
 * Layer norm over the last axis of `x` with TensorFlow's fused batch norm, forward and
 * gradient; null unless the native backend is active. Seen as NCHW [1, rows, 1, c], each row is
 * a "channel" normalized over its c values, which is layer norm without its affine part; gamma
 * and beta are applied outside. 2 fused kernels and ~8 light ones replace ~23 elementwise
 * kernels of the closed form (test/native-kernels.test.ts checks both against each other).
 */
export function fusedLayerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): tf.Tensor | null {
  if (!fusable(x)) return null;
  if (nativeOpsLoaded()) return ownLayerNorm(x, gamma, beta, eps);
  const c = x.shape[x.rank - 1];
  const rows = x.size / c;
  const attrs = { epsilon: eps, format: "NCHW" };
  const forward = ([xIn, g, b]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    const x4 = tf.reshape(xIn, [1, rows, 1, c]); // NCHW: channel = row, spatial = the c values
    const ones = tf.ones([rows]);
    const zeros = tf.zeros([rows]);
    const [xhat4, , , r1, r2, r3] = tf
      .engine()
      .runKernel(BN_TRAIN, { x: x4, scale: ones, offset: zeros }, attrs) as tf.Tensor[];
    const xhat = tf.reshape(xhat4, xIn.shape);
    save([x4, ones, r1, r2, r3, xhat, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy, [x4S, onesS, r1S, r2S, r3S, xhatS, gS]) => {
        const dxhat = tf.reshape(tf.mul(dy, gS), [1, rows, 1, c]);
        const [dx] = tf
          .engine()
          .runKernel(
            BN_GRAD,
            { dy: dxhat, x: x4S, scale: onesS, r1: r1S, r2: r2S, r3: r3S },
            attrs,
          ) as tf.Tensor[];
        const perChannel = (t: tf.Tensor) => tf.sum(tf.reshape(t, [rows, c]), 0);
        return [tf.reshape(dx, xIn.shape), perChannel(tf.mul(dy, xhatS)), perChannel(dy)];
      },
    };
  };
  return customGradient([x, gamma, beta], forward);
}

/**
 * A training batch norm's moving averages: the current values, the decay (1 - momentum), and
 * where the updated ones go (the layer writes its variables).
 */
export interface MovingStats {
  mean: tf.Tensor;
  variance: tf.Tensor;
  decay: number;
  update(mean: tf.Tensor, variance: tf.Tensor): void;
}

/**
 * Training-mode batch norm over the last axis of `x` (any rank), forward and gradient, on the
 * native backend (null elsewhere): this project's two ops (one pass for the statistics, one to
 * normalize; the moving averages in the same kernel), else TensorFlow's FusedBatchNormV3 /
 * FusedBatchNormGradV3. The moving averages use the batch's biased variance, as the closed
 * form does, and are updated inside the forward pass, where nothing is recorded for the
 * gradient.
 */
export function fusedBatchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  moving: MovingStats,
): tf.Tensor | null {
  if (!fusable(x)) return null;
  if (nativeOpsLoaded()) return ownBatchNorm(x, gamma, beta, eps, moving);
  const c = x.shape[x.rank - 1];
  const n = x.size / c;
  const forward = ([xIn, g, b]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    const x4 = tf.reshape(xIn, [1, n, 1, c]); // every position of every sample is one "pixel"
    const [y, batchMean, , r1, r2, r3] = tf
      .engine()
      .runKernel(
        BN_TRAIN,
        { x: x4, scale: g, offset: b },
        { epsilon: eps, format: "NHWC" },
      ) as tf.Tensor[];
    // The second reserve space is the biased batch variance (TensorFlow's CPU kernel; checked
    // against tf.moments in test/native-kernels.test.ts).
    moving.update(...movingAverages(moving.mean, moving.variance, batchMean, r2, moving.decay));
    save([x4, g, r1, r2, r3]);
    return {
      value: tf.reshape(y, xIn.shape),
      gradFunc: (dyIn, [x4S, gS, r1S, r2S, r3S]) => {
        const dy = tf.reshape(dyIn, [1, n, 1, c]);
        const [dx, dGamma, dBeta] = tf
          .engine()
          .runKernel(
            BN_GRAD,
            { dy, x: x4S, scale: gS, r1: r1S, r2: r2S, r3: r3S },
            { epsilon: eps, format: "NHWC" },
          ) as tf.Tensor[];
        return [tf.reshape(dx, xIn.shape), dGamma, dBeta];
      },
    };
  };
  return customGradient([x, gamma, beta], forward);
}

/**
 * A norm as two of this project's ops: `kernels[0]` maps (x, gamma, beta, ...extra) to
 * [y, mean, rstd, ...more] in one pass (`more` goes to `rest`), `kernels[1]` maps
 * (dy, x, gamma, mean, rstd) to the gradients of x, gamma and beta in one pass.
 */
function ownNorm(
  kernels: [string, string],
  inputs: [tf.Tensor, tf.Tensor, tf.Tensor],
  extra: tf.NamedTensorMap,
  attrs: Record<string, number>,
  rest: (more: tf.Tensor[]) => void = () => {},
): tf.Tensor {
  const forward = ([xIn, g, b]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    const [y, mean, rstd, ...more] = tf
      .engine()
      .runKernel(kernels[0], { x: xIn, gamma: g, beta: b, ...extra }, attrs) as tf.Tensor[];
    rest(more);
    save([xIn, g, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy, [xS, gS, meanS, rstdS]) =>
        tf.engine().runKernel(kernels[1], {
          dy,
          x: xS,
          gamma: gS,
          mean: meanS,
          rstd: rstdS,
        }) as tf.Tensor[],
    };
  };
  return customGradient(inputs, forward);
}

/** Batch norm as this project's two ops: no reshapes, the moving averages in the forward kernel. */
const ownBatchNorm = (
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  moving: MovingStats,
): tf.Tensor =>
  ownNorm(
    [BATCH_NORM, BATCH_NORM_GRAD],
    [x, gamma, beta],
    { m: moving.mean, v: moving.variance },
    { eps, decay: moving.decay },
    ([m, v]) => moving.update(m, v),
  );

/** A batch norm's moving averages m - (m - batch) * decay of its mean and variance, as tfjs ops. */
export function movingAverages(
  m: tf.Tensor,
  v: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  decay: number,
): [tf.Tensor, tf.Tensor] {
  const step = (old: tf.Tensor, batch: tf.Tensor) => tf.sub(old, tf.mul(tf.sub(old, batch), decay));
  return [step(m, mean), step(v, variance)];
}

/** Layer norm as this project's two ops: one pass forward (with gamma and beta), one backward. */
const ownLayerNorm = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor =>
  ownNorm([LAYER_NORM, LAYER_NORM_GRAD], [x, gamma, beta], {}, { eps });

/** The weights of a projection y = x W + b, read: W [in, out], b [out]. */
export interface DenseWeights {
  kernel: tf.Tensor;
  bias: tf.Tensor;
}

/**
 * Multi-head self-attention of x [B, N, D] with one qkv projection (columns Q's heads, K's, V's)
 * and an output projection, as this project's attention ops on the native backend; null
 * elsewhere or without them. `capture`, when given, receives the attention maps [B, h, N, N]
 * (kept). Forward: 2 matmuls, 2 bias adds and 1 attention kernel where tfjs composes ~20 kernels
 * (transposes, unstack, scale, softmax); backward likewise ~10 instead of ~30.
 */
export function fusedSelfAttention(
  x: tf.Tensor3D,
  qkv: DenseWeights,
  out: DenseWeights,
  heads: number,
  capture: { maps: tf.Tensor | null } | null,
): tf.Tensor | null {
  if (!fusable(x) || !nativeOpsLoaded()) return null;
  const [b, n, d] = x.shape;
  const attrs = { heads, scale: 1 / Math.sqrt(d / heads) };
  const forward = ([xIn, wq, bq, wo, bo]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    // BatchMatMulV2 broadcasts the weights over [B, N]: no reshapes forward. The qkv bias is
    // added inside the attention kernel, and its gradient comes out of the backward one.
    const qkv3 = tf.matMul(xIn, wq);
    const [o, probs] = tf
      .engine()
      .runKernel(ATTENTION, { qkv: qkv3, bias: bq }, attrs) as tf.Tensor[];
    if (capture) {
      capture.maps?.dispose();
      capture.maps = tf.keep(tf.clone(probs));
    }
    save([xIn, wq, bq, qkv3, probs, o, wo]);
    return {
      value: tf.add(tf.matMul(o, wo), bo),
      gradFunc: (dy, [xS, wqS, bqS, qkvS, probsS, oS, woS]) => {
        const rows = (t: tf.Tensor) => tf.reshape(t, [b * n, t.shape[2]!]);
        const dO = tf.matMul(dy, woS, false, true);
        const [dqkv, dbq] = tf
          .engine()
          .runKernel(
            ATTENTION_GRAD,
            { dout: dO, qkv: qkvS, bias: bqS, probs: probsS },
            attrs,
          ) as tf.Tensor[];
        const dyRows = rows(dy);
        return [
          tf.matMul(dqkv, wqS, false, true),
          tf.matMul(rows(xS), rows(dqkv), true, false),
          dbq,
          tf.matMul(rows(oS), dyRows, true, false),
          tf.sum(dyRows, 0),
        ];
      },
    };
  };
  return customGradient([x, qkv.kernel, qkv.bias, out.kernel, out.bias], forward);
}
