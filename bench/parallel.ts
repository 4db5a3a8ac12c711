/**
 * What the other cores give: aggregate training images/s with one training process, then with
 * one per core running at once (how `experiment` runs the two model tracks and `sweep` its
 * cells). wasm is single-threaded under Node and native TensorFlow runs one intra-op thread per
 * process here (src/backend/select.ts), so processes are the way to use more cores. With
 * TF_NUM_INTRAOP_THREADS=N set, each native process runs N threads instead.
 *
 *   npx amida bench parallel [--backend node|wasm|...] [--size 32] [--batch 32] [--steps 10] [--model mobilenetv2|mobilevit_xxs]
 */
import { spawn } from "child_process";
import * as os from "os";
import * as path from "path";
import { checkBenchFlags, runBenchIfMain } from "../src/cli/args";
import { BACKENDS, initBackend } from "../src/backend/select";

function trainBench(backend: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [
        path.join(__dirname, "..", "bin", "amida.js"),
        "bench",
        "train",
        "--backends",
        backend,
        ...args,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`bench train exited ${code}`));
      const json = JSON.parse(out.trim().split("\n").at(-1)!);
      const model = Object.keys(json).find((k) => json[k]?.[backend])!;
      resolve(json[model][backend].train_ips);
    });
  });
}

export async function main(argv: string[]): Promise<number> {
  if (
    !checkBenchFlags(
      argv,
      { backend: "list", size: "int", batch: "int", steps: "int", model: "list" },
      "usage: amida bench parallel [--backend node|wasm|...] [--size 32] [--batch 32] [--steps 10] [--model mobilenetv2|mobilevit_xxs]",
    )
  )
    return 0;
  const get = (flag: string, d: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : d;
  };
  const args = [
    "--size",
    get("--size", "32"),
    "--batch",
    get("--batch", "32"),
    "--steps",
    get("--steps", "10"),
    "--models",
    get("--model", "mobilenetv2"),
  ];
  const backend = get("--backend", "") || (await initBackend(undefined, { quiet: true })).name;
  if (!(BACKENDS as readonly string[]).includes(backend))
    throw new Error(
      `bench parallel: unknown --backend '${backend}'; allowed: ${BACKENDS.join(", ")}`,
    );
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const one = await trainBench(backend, args);
  console.log(`${backend}, 1 process:  ${one.toFixed(1)} img/s`);
  const many = await Promise.all(Array.from({ length: cores }, () => trainBench(backend, args)));
  const total = many.reduce((a, b) => a + b, 0);
  console.log(
    `${cores} processes: ${many.map((v) => v.toFixed(1)).join(" + ")} = ${total.toFixed(1)} img/s (x${(total / one).toFixed(2)})`,
  );
  console.log(
    JSON.stringify({
      backend,
      one_process_ips: one,
      processes: cores,
      per_process_ips: many,
      total_ips: total,
      speedup: total / one,
    }),
  );
  return 0;
}

runBenchIfMain(module, main);
