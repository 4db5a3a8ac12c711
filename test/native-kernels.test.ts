/**
 * The native backend (tfjs-node built by scripts/bootstrap.sh) against the cpu backend: the
 * same kernel checks as wasm's, this project's native training kernels (fused batch norm,
 * ReLU6), and whole-model gradients. Skipped, saying why, where it is not installed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as os from "os";
import { execFileSync } from "child_process";
import { initBackend, trainingProcesses } from "../src/backend/select";
import { FreezableBatchNorm } from "../src/models/layers/batchnorm";
import { LayerNorm } from "../src/models/layers/layernorm";
import {
  checkConvGradients,
  checkTransposedMatMuls,
  checkWholeModelGradients,
  compare,
  rand,
} from "./backend-checks";

const B = "tensorflow";
let missing: string | false = false;
test.before(async () => {
  missing = await initBackend("node", { quiet: true }).then(
    () => false,
    (e: Error) =>
      `native backend not installed (${e.message.split(";")[0]}); bash scripts/bootstrap.sh builds it`,
  );
});

/** A test that runs on the native backend, or is skipped with the reason. */
function nativeTest(name: string, body: () => Promise<void>): void {
  test(name, async (t) => {
    if (missing) return t.skip(missing);
    await initBackend("node", { quiet: true });
    await body();
  });
}

test("training processes fill the cores at the backend's threads per process; one on a GPU", () => {
  const cores = os.availableParallelism();
  const info = (threads: number, gpu = false) => ({
    name: "node" as const,
    tfBackend: "tensorflow",
    threads,
    gpu,
  });
  assert.equal(trainingProcesses(info(1)), cores);
  assert.equal(trainingProcesses(info(cores)), 1);
  assert.equal(trainingProcesses(info(2 * cores)), 1);
  assert.equal(trainingProcesses(info(1, true)), 1);
});

nativeTest(
  "native TensorFlow runs one intra-op thread unless TF_NUM_INTRAOP_THREADS says otherwise, and rejects a bad value",
  async () => {
    // The child reports the threads it was given and how busy TensorFlow kept the CPU during
    // matmuls: CPU time / wall time stays near 1 with one thread, whatever the cores.
    const code = `
      const tf = require("@tensorflow/tfjs");
      require("./src/backend/select").initBackend("node", { quiet: true }).then((b) => {
        const a = tf.randomNormal([512, 512]);
        tf.matMul(a, a).dataSync();
        const cpu0 = process.cpuUsage(), t0 = performance.now();
        for (let i = 0; i < 60; i++) tf.matMul(a, a).dataSync();
        const cpu = process.cpuUsage(cpu0);
        console.log(JSON.stringify({ threads: b.threads, busy: (cpu.user + cpu.system) / 1000 / (performance.now() - t0) }));
      });`;
    const run = (env: NodeJS.ProcessEnv) => {
      const out = execFileSync(process.execPath, ["--import", "tsx", "-e", code], {
        env,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      return JSON.parse(out.trim().split("\n").at(-1)!) as { threads: number; busy: number };
    };
    const { TF_NUM_INTRAOP_THREADS: _, ...env } = process.env;
    const one = run(env);
    assert.equal(one.threads, 1);
    assert.ok(one.busy < 1.2, `one thread kept ${one.busy.toFixed(2)} cores busy`);
    assert.equal(run({ ...env, TF_NUM_INTRAOP_THREADS: "2" }).threads, 2);
    assert.throws(
      () => run({ ...env, TF_NUM_INTRAOP_THREADS: "1.5" }),
      /TF_NUM_INTRAOP_THREADS must be a whole number of threads \(0: every core\), got '1.5'/,
    );
  },
);

nativeTest("native conv2d and depthwise gradients match the cpu backend", () =>
  checkConvGradients(B),
);

nativeTest("native transposed matMuls match the cpu backend", () => checkTransposedMatMuls(B));

nativeTest(
  "native fused batch norm: output, batch statistics, moving averages and gradients match the closed form on cpu",
  async () => {
    for (const shape of [
      [4, 6, 6, 8],
      [3, 10, 16],
    ]) {
      const x = rand(shape, 21);
      const w = rand(shape, 22);
      await compare(B, `batch norm ${shape}`, () => {
        const bn = new FreezableBatchNorm({
          momentum: 0.9,
          epsilon: 1e-3,
          gammaInitializer: "randomNormal",
        });
        bn.build(shape);
        bn.setWeights([
          tf.add(tf.mul(rand([shape.at(-1)!], 23)(), 0.5), 1),
          rand([shape.at(-1)!], 24)(),
          rand([shape.at(-1)!], 25)(),
          tf.add(rand([shape.at(-1)!], 26)(), 2),
        ]);
        const vars = bn.trainableWeights.map((v) => v.read() as tf.Variable);
        const f = (xin: tf.Tensor) =>
          tf.sum(tf.mul(bn.apply(xin, { training: true }) as tf.Tensor, w()));
        const [dx] = tf.grads(f)([x()]);
        const { grads } = tf.variableGrads(() => f(x()) as tf.Scalar, vars);
        const y = bn.apply(x(), { training: true }) as tf.Tensor;
        // After three training calls: the moving averages moved three times.
        const [, , movingMean, movingVar] = bn.getWeights();
        return [y, dx, grads[vars[0].name], grads[vars[1].name], movingMean, movingVar];
      });
    }
  },
);

nativeTest(
  "native layer norm (fused batch norm over rows): output and gradients match the closed form on cpu",
  async () => {
    for (const shape of [
      [6, 5, 16],
      [40, 3],
    ]) {
      const c = shape.at(-1)!;
      const x = () => tf.add(tf.mul(rand(shape, 41)(), 3), 1); // rows far from zero mean, unit variance
      const w = rand(shape, 42);
      await compare(B, `layer norm ${shape}`, () => {
        const ln = new LayerNorm({ epsilon: 1e-5 });
        ln.build(shape);
        ln.setWeights([tf.add(tf.mul(rand([c], 43)(), 0.5), 1), rand([c], 44)()]);
        const vars = ln.trainableWeights.map((v) => v.read() as tf.Variable);
        const f = (xin: tf.Tensor) => tf.sum(tf.mul(ln.apply(xin) as tf.Tensor, w()));
        const [dx] = tf.grads(f)([x()]);
        const { grads } = tf.variableGrads(() => f(x()) as tf.Scalar, vars);
        return [ln.apply(x()) as tf.Tensor, dx, grads[vars[0].name], grads[vars[1].name]];
      });
    }
    const ln = new LayerNorm({});
    ln.build([4, 8]);
    const info = await tf.profile(() => ln.apply(tf.ones([4, 8])) as tf.Tensor);
    assert.ok(info.kernelNames.includes("AmidaFusedBatchNormTrain"), "the fused path ran");
  },
);

nativeTest(
  "native relu6 and swish activations: same values and gradients as tfjs-layers' on cpu",
  async () => {
    const x = () => tf.mul(rand([5, 7, 9], 31)(), 8); // values in (-8, 8): relu6's bends are crossed
    for (const activation of ["relu6", "swish"] as const) {
      await compare(B, activation, () => {
        const act = tf.layers.activation({ activation });
        const [dx] = tf.grads((a: tf.Tensor) =>
          tf.sum(tf.mul(act.apply(a) as tf.Tensor, rand([5, 7, 9], 32)())),
        )([x()]);
        return [act.apply(x()) as tf.Tensor, dx];
      });
    }
    const kernelsOf = async (activation: "relu6" | "swish") => {
      const act = tf.layers.activation({ activation });
      const info = await tf.profile(() => {
        const [dx] = tf.grads((a: tf.Tensor) => tf.sum(act.apply(a) as tf.Tensor))([x()]);
        return dx;
      });
      return info.kernelNames;
    };
    assert.ok((await kernelsOf("swish")).includes("AmidaSoftplusGrad"), "the fused swish ran");
    assert.ok((await kernelsOf("relu6")).includes("AmidaRelu6Grad"), "TensorFlow's Relu6Grad ran");
  },
);

nativeTest(
  "native Reshape with cached shape operands: every dtype, -1 and scalar shapes",
  async () => {
    const ints = tf.tensor1d([1, 2, 3, 4, 5, 6], "int32");
    for (let i = 0; i < 2; i++) {
      // The second pass takes the cached shape operands.
      const a = tf.reshape(ints, [2, -1]);
      assert.equal(a.dtype, "int32");
      assert.deepEqual(a.arraySync(), [
        [1, 2, 3],
        [4, 5, 6],
      ]);
      assert.deepEqual(tf.reshape(ints, [3, 2]).shape, [3, 2]); // same size, another shape
      const flags = tf.reshape(tf.tensor1d([true, false, true, true], "bool"), [2, 2]);
      assert.equal(flags.dtype, "bool");
      assert.deepEqual(flags.arraySync(), [
        [1, 0],
        [1, 1],
      ]);
      const scalar = tf.reshape(tf.tensor1d([7.5]), []);
      assert.deepEqual([scalar.shape, scalar.arraySync()], [[], 7.5]);
    }
    assert.throws(() => tf.reshape(ints, [4, 2]));
    const [dx] = tf.grads((a: tf.Tensor) =>
      tf.sum(
        tf.mul(tf.reshape(a, [3, 2]), [
          [1, 2],
          [3, 4],
          [5, 6],
        ]),
      ),
    )([tf.zeros([2, 3])]);
    assert.deepEqual(dx.arraySync(), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
  },
);

nativeTest("native training kernels are registered for the native backend only", async () => {
  for (const k of [
    "AmidaFusedBatchNormTrain",
    "AmidaFusedBatchNormGrad",
    "AmidaRelu6Grad",
    "AmidaSigmoidGrad",
    "AmidaSoftplusGrad",
  ]) {
    assert.ok(tf.getKernel(k, "tensorflow"), `${k} on tensorflow`);
    assert.equal(tf.getKernel(k, "wasm"), undefined);
    assert.equal(tf.getKernel(k, "cpu"), undefined);
  }
});

nativeTest(
  "whole MobileNetV2-like model: native gradients differ from cpu no more than cpu from itself",
  () => checkWholeModelGradients(B, { name: "mobilenetv2_035", inputSize: 64, batch: 8 }),
);

nativeTest(
  "whole MobileViT-XXS: native gradients differ from cpu no more than cpu from itself",
  () => checkWholeModelGradients(B, { name: "mobilevit_xxs", inputSize: 32, batch: 4 }),
);
