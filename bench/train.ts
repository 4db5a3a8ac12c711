/**
 * Training and inference images/s for MobileNetV2-1.0 and MobileViT-XXS at 64x64, batch 32, on
 * every tfjs backend that is installed; the cpu backend is time-limited. With --profile, one
 * more training step is profiled and its top-10 kernels (self time) printed. Last line: one JSON object.
 *
 *   npx amida bench train [--batch 32] [--size 64] [--steps 5] [--cpu-seconds 120] [--backends node,wasm,cpu] [--models mobilenetv2,mobilevit_xxs] [--profile]
 */
import * as tf from "@tensorflow/tfjs";
import { BACKENDS, describe, initBackend } from "../src/backend/select";
import { buildModel } from "../src/models/registry";
import { trainStep } from "../src/train/trainer";
import { AdamW } from "../src/train/adamw";
import { checkBenchFlags, runBenchIfMain } from "../src/cli/args";
import { formatTop, KernelTime, profileKernels } from "./kernel-profile";

interface Figures {
  train_ips: number;
  infer_ips: number;
  train_steps_timed: number;
  /** With --profile: the ten kernels with the most self time in one training step. */
  top_kernels?: KernelTime[];
}

function timeLoop(
  limitSeconds: number,
  maxRuns: number,
  run: () => void,
): { runs: number; seconds: number } {
  const t0 = performance.now();
  let runs = 0;
  while (runs < maxRuns) {
    run();
    runs++;
    if ((performance.now() - t0) / 1000 >= limitSeconds) break;
  }
  return { runs, seconds: (performance.now() - t0) / 1000 };
}

/** Figures, and with `profile` the top-10 kernel lines to print after them. */
async function benchModel(
  name: string,
  size: number,
  batch: number,
  steps: number,
  limitSeconds: number,
  warmup: boolean,
  profile: boolean,
): Promise<{ f: Figures; lines: string[] }> {
  const model = buildModel({ name, inputSize: size, classes: 5, seed: 0 });
  const xs = tf.randomUniform([batch, size, size, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 5);
  const opt = new AdamW(model.trainableWeights);
  const step = () =>
    void trainStep(
      model,
      opt,
      xs,
      labels,
      5,
      { labelSmoothing: 0, optimizer: "adamw", weightDecay: 0.01 },
      1e-3,
    );
  const infer = () => tf.tidy(() => (model.predict(xs) as tf.Tensor).dataSync());
  if (warmup) {
    step();
    infer();
  }
  const tr = timeLoop(limitSeconds, steps, step);
  const inf = timeLoop(limitSeconds / 4, steps, infer);
  const f: Figures = {
    train_ips: (tr.runs * batch) / tr.seconds,
    infer_ips: (inf.runs * batch) / inf.seconds,
    train_steps_timed: tr.runs,
  };
  let lines: string[] = [];
  if (profile) {
    const p = await profileKernels(step);
    lines = formatTop(p, 10);
    f.top_kernels = p.kernels
      .slice(0, 10)
      .map((k) => ({ ...k, selfMs: Math.round(k.selfMs * 10) / 10 }));
  }
  opt.dispose();
  xs.dispose();
  model.dispose();
  return { f, lines };
}

export async function main(argv: string[]): Promise<number> {
  const usage =
    "usage: amida bench train [--batch 32] [--size 64] [--steps 5] [--cpu-seconds 120] [--backends node,wasm,cpu] [--models mobilenetv2,mobilevit_xxs] [--profile]";
  if (
    !checkBenchFlags(
      argv,
      {
        batch: "int",
        size: "int",
        steps: "int",
        "cpu-seconds": "int",
        backends: "list",
        models: "list",
        profile: "switch",
      },
      usage,
    )
  )
    return 0;
  const arg = (flag: string, d: number) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : d;
  };
  const batch = arg("--batch", 32);
  const size = arg("--size", 64);
  const steps = arg("--steps", 5);
  const cpuSeconds = arg("--cpu-seconds", 120);
  const list = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1].split(",") : null;
  };
  const only = list("--backends");
  const profile = argv.includes("--profile");
  const pick = list("--models");
  const models = Object.fromEntries(
    Object.entries({ mobilenetv2: "mobilenetv2_100", mobilevit_xxs: "mobilevit_xxs" }).filter(
      ([k]) => !pick || pick.includes(k),
    ),
  );
  const result: Record<string, unknown> = { batch, size };
  const figures: Record<string, Record<string, Figures>> = { mobilenetv2: {}, mobilevit_xxs: {} };
  for (const backend of BACKENDS.filter((b) => !only || only.includes(b))) {
    let info;
    try {
      info = await initBackend(backend, { quiet: true });
    } catch (e) {
      console.log(`${backend}: not available (${(e as Error).message.split(";")[0]})`);
      continue;
    }
    console.log(describe(info));
    for (const [key, name] of Object.entries(models)) {
      const cpu = backend === "cpu";
      // The pure-JS backend needs ~30 s for one step: one timed step, no warm-up.
      const { f, lines } = await benchModel(
        name,
        size,
        batch,
        cpu ? 1 : steps,
        cpu ? cpuSeconds : 600,
        !cpu,
        profile && !cpu,
      );
      figures[key][backend] = f;
      console.log(
        `  ${name.padEnd(16)} train ${f.train_ips.toFixed(2).padStart(8)} img/s   inference ${f.infer_ips.toFixed(2).padStart(8)} img/s   (${f.train_steps_timed} timed steps of ${batch})`,
      );
      for (const line of lines) console.log(line);
    }
  }
  const ratio = (k: string) =>
    figures[k]?.wasm && figures[k]?.cpu
      ? figures[k].wasm.train_ips / figures[k].cpu.train_ips
      : null;
  Object.assign(result, figures, {
    ratio_wasm_cpu_train: ratio("mobilenetv2"),
    ratio_wasm_cpu_train_mobilevit: ratio("mobilevit_xxs"),
  });
  console.log(JSON.stringify(result));
  return 0;
}

runBenchIfMain(module, main);
