import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./src/backend/select";
import { buildModel } from "./src/models/registry";
import { parameterCount } from "./src/models/summary";
import { trainStep } from "./src/train/trainer";
(async () => {
  await initBackend("wasm", { quiet: true });
  const [size, batch, steps] = [64, 32, 3];
  for (const name of process.argv.slice(2)) {
    const m = buildModel({ name, inputSize: size, classes: 5, seed: 0 });
    const xs = tf.randomUniform([batch, size, size, 3], 0, 1, "float32", 1) as tf.Tensor4D;
    const labels = Int32Array.from({ length: batch }, (_, i) => i % 5);
    const opt = tf.train.adam(1e-3);
    const step = () => trainStep(m, opt, xs, labels, 5, { labelSmoothing: 0, optimizer: "adamw", weightDecay: 0.01 }, 1e-3);
    step();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    const s = (performance.now() - t0) / 1000;
    console.log(`${name.padEnd(14)} ${parameterCount(m).toLocaleString("en").padStart(10)} params  train ${((steps * batch) / s).toFixed(1)} img/s (wasm, 64 px, batch 32, ${steps} timed steps after 1 warm-up)`);
    tf.dispose([xs]);
    opt.dispose();
    m.dispose();
  }
})();
