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

/** TensorFlow handles of int32 shape vectors, one per target shape, kept for the process. */
const shapeHandles = new Map<string, number>();

/**
 * tfjs-node's Reshape uploads the target shape as a new int32 tensor on every call and frees it
 * after; a training step reshapes ~1,000 times (tfjs's gradients, matMul, the optimizer). This
 * one uploads each distinct shape once and keeps its handle: half the cost per reshape.
 */
const reshape: tf.KernelConfig = {
  kernelName: "Reshape",
  backendName: "tensorflow",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const b = backend as unknown as NodeBackend;
    const shape = (attrs as unknown as tf.ReshapeAttrs).shape;
    const x = (inputs as unknown as tf.ReshapeInputs).x as tf.TensorInfo;
    const key = shape.join(",");
    let id = shapeHandles.get(key);
    if (id === undefined) {
      id = b.binding.createTensor([shape.length], b.binding.TF_INT32, Int32Array.from(shape));
      shapeHandles.set(key, id);
    }
    const opAttrs = [
      { name: "T", type: b.binding.TF_ATTR_TYPE, value: b.getDTypeInteger(x.dtype) },
      { name: "Tshape", type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_INT32 },
    ];
    const [out] = b.binding.executeOp("Reshape", opAttrs, [b.getInputTensorIds([x])[0], id], 1);
    return b.createOutputTensor(out);
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
export function registerNativeTrainingKernels(): void {
  if (registered) return;
  registered = true;
  for (const k of [bnTrain, bnGrad, relu6Grad, sigmoidGrad, softplusGrad])
    if (!tf.getKernel(k.kernelName, "tensorflow")) tf.registerKernel(k);
  tf.unregisterKernel(reshape.kernelName, "tensorflow");
  tf.registerKernel(reshape);
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
 * x * sigmoid(x) as TensorFlow's SoftplusGrad(x, x) (= x * sigmoid(x), one pass), with the
 * gradient dy * s + SigmoidGrad(s, dy * x) = dy * s * (1 + x * (1 - s)): 6 full-size passes for
 * forward and backward where tfjs-layers' mul(sigmoid(mul(x, 1)), x) takes ~11, and only x is
 * kept for the backward pass.
 */
function swish(x: tf.Tensor): tf.Tensor {
  if (x.dtype !== "float32") return tf.mul(x, tf.sigmoid(x));
  const forward = ([xIn]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    save([xIn]);
    return {
      value: tf.engine().runKernel(SOFTPLUS_GRAD, { dy: xIn, x: xIn }) as tf.Tensor,
      gradFunc: (dy, [xS]) => {
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
 * Training-mode batch norm over the last axis of `x` (any rank) with TensorFlow's fused
 * kernels, forward and gradient; null unless the native backend is active. `mean` and
 * `variance` are the batch's (biased variance, as in the closed form) and are kept: the caller
 * disposes them.
 */
export function fusedBatchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } | null {
  if (!fusable(x)) return null;
  const c = x.shape[x.rank - 1];
  const n = x.size / c;
  let mean!: tf.Tensor;
  let variance!: tf.Tensor;
  const forward = ([xIn, g, b]: tf.Tensor[], save: tf.GradSaveFunc): WithGradient => {
    const x4 = tf.reshape(xIn, [1, n, 1, c]); // every position of every sample is one "pixel"
    const [y, batchMean, , r1, r2, r3] = tf
      .engine()
      .runKernel(
        BN_TRAIN,
        { x: x4, scale: g, offset: b },
        { epsilon: eps, format: "NHWC" },
      ) as tf.Tensor[];
    mean = tf.keep(batchMean);
    // The second reserve space is the biased batch variance (TensorFlow's CPU kernel; checked
    // against tf.moments in test/native-kernels.test.ts). A clone: the caller disposes it.
    variance = tf.keep(tf.clone(r2));
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
  const y = customGradient([x, gamma, beta], forward);
  return { y, mean, variance };
}
