/**
 * The native backend (tfjs-node built by scripts/bootstrap.sh) against the cpu backend: the
 * same kernel checks as wasm's, this project's native training kernels (fused batch norm,
 * ReLU6) and own TensorFlow ops (src/backend/native-ops.c: swish, layer norm, attention, batch
 * norm, AdamW's update), each against tf.grads of the plain formula on cpu (AdamW's in
 * test/adamw.test.ts), with the ops and without them
 * (TensorFlow's compositions), and whole-model gradients. Skipped, saying why, where it is not
 * installed.
 */
import { test, TestContext } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as os from "os";
import { execFileSync } from "child_process";
import { initBackend, trainingProcesses } from "../src/backend/select";
import { FreezableBatchNorm } from "../src/models/layers/batchnorm";
import { LayerNorm } from "../src/models/layers/layernorm";
import { MultiHeadSelfAttention } from "../src/models/layers/attention";
import { loadNativeOps, nativeOpsLoaded, useNativeOps } from "../src/backend/native-ops";
import { buildModel } from "../src/models/registry";
import { AdamW } from "../src/train/adamw";
import { trainStep } from "../src/train/trainer";
import {
  checkConvGradients,
  checkTransposedMatMuls,
  checkWholeModelGradients,
  compare,
  on,
  rand,
  relErr,
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
function nativeTest(name: string, body: (t: TestContext) => Promise<void>): void {
  test(name, async (t) => {
    if (missing) return t.skip(missing);
    await initBackend("node", { quiet: true });
    await body(t);
  });
}

/**
 * Runs `body` with this project's native ops in use (where they could be built), then with
 * TensorFlow's compositions instead; `own` says which.
 */
async function bothPaths(body: (own: boolean) => Promise<void>): Promise<void> {
  const paths = loadNativeOps().loaded ? [true, false] : [false];
  for (const own of paths) {
    useNativeOps(own);
    try {
      await body(own);
    } finally {
      useNativeOps(true);
    }
  }
}

/**
 * Asserts that `fused` on the native backend and `plain` (the textbook formula, with tfjs's own
 * autodiff for its gradients) on cpu give every output within relative error `tol`: 1e-5 for
 * this project's ops (they round like the plain formula: ~1e-7), 1e-4 for TensorFlow's
 * compositions (fused batch norm rounds more).
 */
async function againstPlain(
  name: string,
  fused: () => tf.Tensor[],
  plain: () => tf.Tensor[],
  tol = nativeOpsLoaded() ? 1e-5 : 1e-4,
): Promise<void> {
  const want = await on("cpu", plain);
  const got = await on(B, fused);
  want.forEach((w, i) => {
    const e = relErr(got[i], w);
    assert.ok(e < tol, `${name} output ${i}: relative error ${e}`);
  });
}

/** The kernels `f` runs on the native backend, by name. */
async function kernelsOf(f: () => tf.Tensor | tf.Tensor[]): Promise<string[]> {
  await tf.setBackend(B);
  return (await tf.profile(f)).kernelNames;
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
  "native batch norm (own ops, or TensorFlow's fused ones): output, moving averages and gradients match tf.grads of the plain formula on cpu",
  async () => {
    await bothPaths(async (own) => {
      // Channel counts compiled as constants (16, 48) and not (8, 3); more rows than one block.
      for (const shape of [
        [4, 6, 6, 8],
        [3, 10, 16],
        [50, 3],
        [3, 11, 13, 48],
      ]) {
        const c = shape.at(-1)!;
        const x = () => tf.add(tf.mul(rand(shape, 21)(), 2), 0.5);
        const w = rand(shape, 22);
        const g = () => tf.add(tf.mul(rand([c], 23)(), 0.5), 1);
        const b = rand([c], 24);
        const m0 = rand([c], 25);
        const v0 = () => tf.add(rand([c], 26)(), 2);
        const viaLayer = () => {
          const bn = new FreezableBatchNorm({ momentum: 0.9, epsilon: 1e-3 });
          bn.build(shape);
          bn.setWeights([g(), b(), m0(), v0()]);
          const vars = bn.trainableWeights.map((v) => v.read() as tf.Variable);
          const f = (xin: tf.Tensor) =>
            tf.sum(tf.mul(bn.apply(xin, { training: true }) as tf.Tensor, w()));
          const [dx] = tf.grads(f)([x()]);
          const { grads } = tf.variableGrads(() => f(x()) as tf.Scalar, vars);
          const y = bn.apply(x(), { training: true }) as tf.Tensor;
          // After three training calls: the moving averages moved three times.
          const [, , movingMean, movingVar] = bn.getWeights();
          return [y, dx, grads[vars[0].name], grads[vars[1].name], movingMean, movingVar];
        };
        const viaPlain = () => {
          const axes = shape.slice(0, -1).map((_, i) => i);
          const plain = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => {
            const mean = tf.mean(xi, axes);
            const variance = tf.mean(tf.square(tf.sub(xi, mean)), axes);
            const xhat = tf.div(tf.sub(xi, mean), tf.sqrt(tf.add(variance, 1e-3)));
            return tf.add(tf.mul(xhat, gi), bi);
          };
          const grads = tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) =>
            tf.sum(tf.mul(plain(xi, gi, bi), w())),
          )([x(), g(), b()]);
          const mean = tf.mean(x(), axes);
          const variance = tf.mean(tf.square(tf.sub(x(), mean)), axes);
          let [m, v] = [m0(), v0()];
          for (let i = 0; i < 3; i++) {
            m = tf.sub(m, tf.mul(tf.sub(m, mean), 1 - 0.9));
            v = tf.sub(v, tf.mul(tf.sub(v, variance), 1 - 0.9));
          }
          return [plain(x(), g(), b()), ...grads, m, v];
        };
        await againstPlain(`batch norm ${shape} (own ops: ${own})`, viaLayer, viaPlain);
      }
      const bn = new FreezableBatchNorm({});
      bn.build([4, 8]);
      const names = await kernelsOf(
        () => bn.apply(tf.ones([4, 8]), { training: true }) as tf.Tensor,
      );
      const want = own ? "AmidaBatchNorm" : "AmidaFusedBatchNormTrain";
      assert.ok(names.includes(want), `${want} ran (own ops: ${own}): ${names}`);
    });
  },
);

nativeTest(
  "native layer norm (own op, or fused batch norm over rows): output and gradients match tf.grads of the plain formula on cpu",
  async () => {
    await bothPaths(async (own) => {
      for (const shape of [
        [6, 5, 16],
        [40, 3],
        [3, 7, 96],
      ]) {
        const c = shape.at(-1)!;
        const x = () => tf.add(tf.mul(rand(shape, 41)(), 3), 1); // rows far from zero mean
        const w = rand(shape, 42);
        const g = () => tf.add(tf.mul(rand([c], 43)(), 0.5), 1);
        const b = rand([c], 44);
        const plain = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => {
          const mean = tf.mean(xi, -1, true);
          const variance = tf.mean(tf.square(tf.sub(xi, mean)), -1, true);
          const xhat = tf.div(tf.sub(xi, mean), tf.sqrt(tf.add(variance, 1e-5)));
          return tf.add(tf.mul(xhat, gi), bi);
        };
        const viaPlain = () => {
          const grads = tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) =>
            tf.sum(tf.mul(plain(xi, gi, bi), w())),
          )([x(), g(), b()]);
          return [plain(x(), g(), b()), ...grads];
        };
        const viaLayer = () => {
          const ln = new LayerNorm({ epsilon: 1e-5 });
          ln.build(shape);
          ln.setWeights([g(), b()]);
          const f = (xi: tf.Tensor) => tf.sum(tf.mul(ln.apply(xi) as tf.Tensor, w()));
          const [dx] = tf.grads(f)([x()]);
          const vars = ln.trainableWeights.map((v) => v.read() as tf.Variable);
          const { grads } = tf.variableGrads(() => f(x()) as tf.Scalar, vars);
          return [ln.apply(x()) as tf.Tensor, dx, grads[vars[0].name], grads[vars[1].name]];
        };
        await againstPlain(`layer norm ${shape} (own ops: ${own})`, viaLayer, viaPlain);
      }
      const ln = new LayerNorm({});
      ln.build([4, 8]);
      const names = await kernelsOf(() => ln.apply(tf.ones([4, 8])) as tf.Tensor);
      const want = own ? "AmidaLayerNorm" : "AmidaFusedBatchNormTrain";
      assert.ok(names.includes(want), `${want} ran (own ops: ${own}): ${names}`);
    });
  },
);

nativeTest(
  "native relu6 and swish activations: same values and gradients as tf.grads of the plain formula on cpu",
  async () => {
    // Values in (-8, 8), where relu6's bends and swish's curvature are (a formula off by 0.1 %
    // fails), then in (-60, 60), where the sigmoid saturates both ways.
    let scale = 8;
    const x = () => tf.mul(rand([5, 7, 9], 31)(), scale);
    const w = rand([5, 7, 9], 32);
    const plainOf = {
      relu6: (a: tf.Tensor) => tf.minimum(tf.relu(a), 6),
      swish: (a: tf.Tensor) => tf.mul(a, tf.sigmoid(a)),
    };
    const withGrad = (f: (a: tf.Tensor) => tf.Tensor) => () => {
      const [dx] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(f(a), w())))([x()]);
      return [f(x()), dx];
    };
    await bothPaths(async (own) => {
      for (scale of [8, 60])
        for (const activation of ["relu6", "swish"] as const) {
          const act = tf.layers.activation({ activation });
          await againstPlain(
            `${activation} in (-${scale}, ${scale}) (own ops: ${own})`,
            withGrad((a) => act.apply(a) as tf.Tensor),
            withGrad(plainOf[activation]),
          );
        }
      scale = 8;
      const names = async (activation: "relu6" | "swish") => {
        const act = tf.layers.activation({ activation });
        return kernelsOf(() =>
          tf.grads((a: tf.Tensor) => tf.sum(act.apply(a) as tf.Tensor))([x()]),
        );
      };
      const swish = await names("swish");
      if (own)
        assert.ok(swish.includes("AmidaSwishGrad") && swish.includes("AmidaSwish"), `${swish}`);
      else assert.ok(swish.includes("AmidaSoftplusGrad"), "the composed swish ran");
      assert.ok((await names("relu6")).includes("AmidaRelu6Grad"), "TensorFlow's Relu6Grad ran");
    });
  },
);

nativeTest("native ops: built with the C compiler and loaded, or a reason why not", async (t) => {
  const state = loadNativeOps();
  if (!state.loaded) return t.skip(`native ops not built: ${state.why}`);
  assert.ok(nativeOpsLoaded());
  useNativeOps(false);
  assert.equal(nativeOpsLoaded(), false);
  useNativeOps(true);
  // A bad input is TensorFlow's error, not a crash.
  const run =
    (name: string, inputs: tf.NamedTensorMap, attrs = {}) =>
    () =>
      tf.engine().runKernel(name, inputs, attrs);
  assert.throws(
    run("AmidaSwishGrad", { dy: tf.ones([3]), x: tf.ones([4]) }),
    /dy and x differ in size/,
  );
  assert.throws(
    run(
      "AmidaAttention",
      { qkv: tf.ones([2, 3, 10]), bias: tf.ones([10]) },
      { heads: 2, scale: 1 },
    ),
    /not 3 \* heads \* dh/,
  );
  assert.throws(
    run(
      "AmidaBatchNorm",
      {
        x: tf.ones([4, 3]),
        gamma: tf.ones([3]),
        beta: tf.ones([2]),
        m: tf.ones([3]),
        v: tf.ones([3]),
      },
      { eps: 1e-3, decay: 0.1 },
    ),
    /must have x's channels/,
  );
});

/** The textbook multi-head attention of x [b, n, d]: per image and head, softmax written out. */
function plainAttention(
  x: tf.Tensor,
  wQkv: tf.Tensor,
  bQkv: tf.Tensor,
  wOut: tf.Tensor,
  bOut: tf.Tensor,
  heads: number,
): { y: tf.Tensor; maps: tf.Tensor } {
  const [b, n, d] = x.shape;
  const dh = d / heads;
  const maps: tf.Tensor[] = [];
  const y = tf.stack(
    Array.from({ length: b }, (_, i) => {
      const xi = tf.squeeze(tf.slice(x, [i, 0, 0], [1, n, d]), [0]) as tf.Tensor2D;
      const qkv = tf.add(tf.matMul(xi, wQkv), bQkv);
      const outs = Array.from({ length: heads }, (_, h) => {
        const q = tf.slice(qkv, [0, h * dh], [n, dh]);
        const k = tf.slice(qkv, [0, d + h * dh], [n, dh]);
        const v = tf.slice(qkv, [0, 2 * d + h * dh], [n, dh]);
        const scores = tf.div(tf.matMul(q, tf.transpose(k)), Math.sqrt(dh));
        const e = tf.exp(tf.sub(scores, tf.max(scores, 1, true)));
        const a = tf.div(e, tf.sum(e, 1, true));
        maps.push(a);
        return tf.matMul(a, v);
      });
      return tf.add(tf.matMul(tf.concat(outs, 1), wOut), bOut);
    }),
  );
  return { y, maps: tf.reshape(tf.stack(maps), [b, heads, n, n]) };
}

nativeTest(
  "native attention (own ops, or tfjs ops): output, maps and gradients (x and all four weights) match tf.grads of a per-head loop on cpu",
  async () => {
    // (images, tokens, width, heads): MobileViT's sizes at 64 px (compiled as constants) and odd
    // ones (the run-time loop), one token included.
    const cases = [
      [2, 16, 64, 4],
      [3, 4, 80, 4],
      [2, 4, 96, 4],
      [3, 5, 12, 2],
      [2, 1, 8, 2],
      [1, 7, 9, 3],
    ];
    await bothPaths(async (own) => {
      for (const [b, n, d, heads] of cases) {
        const x = () => tf.mul(rand([b, n, d], 51)(), 2);
        const w = rand([b, n, d], 52);
        const weights = [
          () => tf.mul(rand([d, 3 * d], 53)(), 0.6),
          () => tf.mul(rand([3 * d], 54)(), 0.3),
          () => tf.mul(rand([d, d], 55)(), 0.6),
          () => tf.mul(rand([d], 56)(), 0.3),
        ];
        const viaPlain = () => {
          const f = (...a: tf.Tensor[]) => {
            const [xi, wq, bq, wo, bo] = a;
            return plainAttention(xi, wq, bq, wo, bo, heads);
          };
          const inputs = () => [x(), ...weights.map((m) => m())];
          const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a).y, w())))(inputs());
          const { y, maps } = f(...inputs());
          return [y, maps, ...grads];
        };
        const viaLayer = () => {
          const layer = new MultiHeadSelfAttention({ dim: d, heads, seed: 3 });
          layer.build();
          layer.setWeights(weights.map((m) => m()));
          const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
          const f = (xi: tf.Tensor) => tf.sum(tf.mul(layer.apply(xi) as tf.Tensor, w()));
          const [dx] = tf.grads(f)([x()]);
          const { grads } = tf.variableGrads(() => f(x()) as tf.Scalar, vars);
          layer.capture = { maps: null };
          const y = layer.apply(x()) as tf.Tensor;
          const maps = layer.capture.maps!;
          layer.capture = null;
          return [y, maps, dx, ...vars.map((v) => grads[v.name])];
        };
        await againstPlain(`attention ${[b, n, d, heads]} (own ops: ${own})`, viaLayer, viaPlain);
      }
      const layer = new MultiHeadSelfAttention({ dim: 8, heads: 2 });
      layer.build();
      const names = await kernelsOf(() => layer.apply(tf.ones([2, 4, 8])) as tf.Tensor);
      assert.equal(names.includes("AmidaAttention"), own, `AmidaAttention ran: ${own}`);
    });
  },
);

nativeTest(
  "native Dense and Conv2D layers (lean calls): values and gradients match tfjs-layers' on cpu; the image gets no gradient",
  async () => {
    await bothPaths(async (own) => {
      for (const activation of ["linear", "relu", "swish"] as const)
        for (const useBias of [true, false])
          for (const shape of [
            [6, 10],
            [3, 4, 10],
          ]) {
            await compare(
              B,
              `dense ${activation} bias ${useBias} ${shape} (own ops: ${own})`,
              () => {
                const layer = tf.layers.dense({
                  units: 7,
                  activation,
                  useBias,
                  kernelInitializer: "glorotUniform",
                  biasInitializer: "randomNormal",
                });
                layer.build(shape);
                layer.setWeights(layer.getWeights().map((v, i) => rand(v.shape, 61 + i)()));
                const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
                const w = rand([...shape.slice(0, -1), 7], 63);
                const f = (xi: tf.Tensor) => tf.sum(tf.mul(layer.apply(xi) as tf.Tensor, w()));
                const x = () => tf.mul(rand(shape, 64)(), 4);
                const [dx] = tf.grads(f)([x()]);
                const { grads } = tf.variableGrads(() => f(x()) as tf.Scalar, vars);
                return [layer.apply(x()) as tf.Tensor, dx, ...vars.map((v) => grads[v.name])];
              },
            );
          }
      const layer = tf.layers.dense({ units: 3, activation: "swish" });
      const names = await kernelsOf(() => layer.apply(tf.ones([2, 4])) as tf.Tensor);
      assert.equal(names.includes("AmidaBiasSwish"), own, `${names}`);
    });
    // 3x3 (tf.conv2d) and 1x1 (a matmul at stride 1, tf.conv2d at stride 2).
    for (const [kernelSize, strides, padding, activation, useBias] of [
      [3, 1, "same", "linear", false],
      [3, 2, "same", "relu6", true],
      [3, 2, "valid", "swish", false],
      [3, 1, "valid", "relu", true],
      [1, 1, "same", "linear", false],
      [1, 1, "valid", "swish", true],
      [1, 2, "same", "relu6", false],
    ] as const) {
      const label = `conv2d ${kernelSize}x${kernelSize} ${strides} ${padding} ${activation} bias ${useBias}`;
      const make = () => {
        const layer = tf.layers.conv2d({
          filters: 5,
          kernelSize,
          strides,
          padding,
          activation,
          useBias,
          biasInitializer: "randomNormal",
        });
        layer.build([2, 9, 9, 4]);
        layer.setWeights(layer.getWeights().map((v, i) => rand(v.shape, 71 + i)()));
        return layer;
      };
      await compare(B, label, () => {
        const layer = make();
        const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
        const x = rand([2, 9, 9, 4], 73);
        const y0 = layer.apply(x()) as tf.Tensor;
        const w = rand(y0.shape, 74);
        const f = (xi: tf.Tensor) => tf.sum(tf.mul(layer.apply(xi) as tf.Tensor, w()));
        const [dx] = tf.grads(f)([x()]);
        const { grads } = tf.variableGrads(() => f(x()) as tf.Scalar, vars);
        return [y0, dx, ...vars.map((v) => grads[v.name])];
      });
      const layer = make();
      const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
      const names = await kernelsOf(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(layer.apply(tf.ones([2, 9, 9, 4])) as tf.Tensor) as tf.Scalar,
          vars,
        );
        return [value, ...Object.values(grads)];
      });
      if (kernelSize === 1 && strides === 1) {
        assert.ok(!names.includes("Conv2D"), `${label}: a matmul, not a convolution: ${names}`);
      } else {
        assert.ok(names.includes("Conv2DBackpropFilter"), `${label}: ${names}`);
        assert.ok(!names.includes("Conv2DBackpropInput"), `${label}: the image's gradient ran`);
      }
    }
  },
);

nativeTest(
  "native batch norm (own op): its moving averages are bit for bit tfjs's m - (m - batch) * decay of its statistics",
  async (t) => {
    if (!loadNativeOps().loaded) return t.skip("native ops not built");
    for (const shape of [
      [5, 1],
      [40, 7],
      [300, 48],
    ]) {
      const c = shape[1];
      const [got, want] = tf.tidy(() => {
        const x = tf.add(tf.mul(rand(shape, 81)(), 3), 1);
        const g = tf.ones([c]);
        const m0 = rand([c], 82)();
        const [, mean, , m] = tf
          .engine()
          .runKernel(
            "AmidaBatchNorm",
            { x, gamma: g, beta: tf.zerosLike(g), m: m0, v: tf.abs(m0) },
            { eps: 1e-3, decay: 0.01 },
          ) as tf.Tensor[];
        return [m, tf.sub(m0, tf.mul(tf.sub(m0, mean), 0.01))].map((v) => Array.from(v.dataSync()));
      });
      assert.deepEqual(got, want, `moving mean of ${shape}`);
    }
  },
);

nativeTest(
  "native no-op kernels: a reshape to the same shape, a cast to the same dtype and the identity transpose share the data and run nothing; Sum keeps its axes",
  async () => {
    const x = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const same = [tf.reshape(x, [2, 3]), tf.cast(x, "float32"), tf.transpose(x, [0, 1])];
    const moved = tf.transpose(x, [1, 0]);
    x.dispose(); // the shared data stays while a tensor holds it
    for (const t of same)
      assert.deepEqual(t.arraySync(), [
        [1, 2, 3],
        [4, 5, 6],
      ]);
    assert.deepEqual(moved.arraySync(), [
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    assert.deepEqual(tf.transpose(moved, [1, 0]).arraySync(), [
      [1, 2, 3],
      [4, 5, 6],
    ]); // cached perm
    const before = tf.memory().numTensors;
    tf.dispose(same);
    assert.equal(tf.memory().numTensors, before - 3);
    const names = await kernelsOf(() => {
      const y = tf.ones([2, 3]);
      return [tf.reshape(y, [2, 3]), tf.cast(y, "float32"), tf.transpose(y, [0, 1])];
    });
    assert.deepEqual(names, ["Reshape", "Cast", "Transpose"]); // tfjs kernels, no TensorFlow op
    // Sum with its axes' handles kept: every axis form, twice (the second from the cache).
    const v = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 3, 2]);
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(tf.sum(v).arraySync(), 78);
      assert.deepEqual(tf.sum(v, 0).arraySync(), [
        [8, 10],
        [12, 14],
        [16, 18],
      ]);
      assert.deepEqual(tf.sum(v, [0, 2], true).arraySync(), [[[18], [26], [34]]]);
      assert.deepEqual(tf.sum(v, -1).arraySync(), [
        [3, 7, 11],
        [15, 19, 23],
      ]);
      assert.deepEqual(tf.sum(tf.tensor1d([1, 2], "int32")).arraySync(), 3);
    }
  },
);

nativeTest(
  "native training steps of MobileViT-XXS with own ops: tf.memory().numTensors stays flat, the same losses run to run",
  async () => {
    const run = () => {
      const model = buildModel({ name: "mobilevit_xxs", inputSize: 32, classes: 5, seed: 0 });
      const opt = new AdamW(model.trainableWeights);
      const xs = tf.randomUniform([4, 32, 32, 3], 0, 1, "float32", 1) as tf.Tensor4D;
      const labels = Int32Array.from([0, 1, 2, 3]);
      const cfg = { labelSmoothing: 0, optimizer: "adamw" as const, weightDecay: 0.01 };
      const losses: number[] = [];
      const tensors: number[] = [];
      for (let i = 0; i < 4; i++) {
        losses.push(trainStep(model, opt, xs, labels, 5, cfg, 1e-3).loss);
        tensors.push(tf.memory().numTensors);
      }
      opt.dispose();
      xs.dispose();
      model.dispose();
      return { losses, tensors };
    };
    const a = run();
    const b = run();
    assert.deepEqual(a.tensors.slice(1), [a.tensors[1], a.tensors[1], a.tensors[1]]);
    assert.deepEqual(a.losses, b.losses);
    assert.ok(a.losses[3] < a.losses[0], `the loss went down: ${a.losses}`);
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
  const own = loadNativeOps().loaded
    ? [
        "AmidaSwish",
        "AmidaSwishGrad",
        "AmidaBiasSwish",
        "AmidaBiasSwishGrad",
        "AmidaLayerNorm",
        "AmidaLayerNormGrad",
        "AmidaAttention",
        "AmidaAttentionGrad",
        "AmidaBatchNorm",
        "AmidaBatchNormGrad",
        "AmidaAdamW",
      ]
    : [];
  for (const k of [
    "AmidaFusedBatchNormTrain",
    "AmidaFusedBatchNormGrad",
    "AmidaRelu6Grad",
    "AmidaSigmoidGrad",
    "AmidaSoftplusGrad",
    ...own,
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
