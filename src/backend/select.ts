/**
 * Picks the fastest tfjs backend that is installed and works: tfjs-node-gpu > tfjs-node > wasm
 * > cpu. AMIDA_BACKEND or the `choice` argument overrides; the choice is printed once.
 *
 * The native packages are found in node_modules (installed by hand) or in `.native/`, where
 * `scripts/bootstrap.sh` builds tfjs-node against PyPI's TensorFlow (environment.md).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { registerWasmTrainingKernels } from "./wasm-training-kernels";
import { registerNativeTrainingKernels } from "./native-training-kernels";

export const BACKENDS = ["node-gpu", "node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | "auto";

export interface BackendInfo {
  name: BackendName;
  /** The tfjs backend id ("tensorflow", "wasm", "cpu"). */
  tfBackend: string;
  threads: number;
  simd?: boolean;
  gpu?: boolean;
  /** Native only: "own" where native-ops.c's kernels run, else why they are composed. */
  ops?: string;
}

const NATIVE: Record<"node-gpu" | "node", string> = {
  "node-gpu": "@tensorflow/tfjs-node-gpu",
  node: "@tensorflow/tfjs-node",
};

/**
 * Where the native packages are built (git-ignored, project-local): tfjs-node by bootstrap,
 * tfjs-node-gpu by hand (environment.md).
 */
const NATIVE_BUILT: Record<"node-gpu" | "node", string> = {
  node: path.join(__dirname, "..", "..", ".native", "node_modules"),
  "node-gpu": path.join(__dirname, "..", "..", ".native", "gpu", "node_modules"),
};

function installHint(name: BackendName): string {
  if (name === "node-gpu")
    return "tfjs-node-gpu built against PyPI's tensorflow[and-cuda] 2.21.0, by hand: see environment.md (untested)";
  if (name === "node")
    return "bash scripts/bootstrap.sh  (builds tfjs-node against PyPI's tensorflow-cpu wheel on Linux x86-64; see environment.md)";
  return "npm ci  (it is a regular dependency)";
}

/**
 * Intra-op threads of native TensorFlow per process, unless TF_NUM_INTRAOP_THREADS says otherwise.
 * One, and one training process per core instead: a training step is thousands of small kernels,
 * and handing each to a second thread costs more than it saves, while two one-thread processes
 * use both cores fully (measured: environment.md, `npx amida bench parallel --backend node`). The
 * thread count also changes results in the last digits (reduction order), so it is fixed rather
 * than chosen by how many runs share the machine: a run gives the same numbers alone or in a sweep.
 */
const NATIVE_THREADS = 1;

/** tfjs-node(-gpu) from node_modules if installed there, else the one built in .native/. */
function requireNative(name: "node-gpu" | "node"): void {
  // TensorFlow's C++ start-up logging (oneDNN, CPU features) would interleave with our output;
  // errors still reach JavaScript as exceptions.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= "3";
  // Read once, when TensorFlow's eager context is created (loading the addon).
  process.env.TF_NUM_INTRAOP_THREADS ??= String(NATIVE_THREADS);
  try {
    require(NATIVE[name]);
  } catch (first) {
    const local = path.join(NATIVE_BUILT[name], NATIVE[name]);
    if (!fs.existsSync(local)) throw first;
    require(local);
  }
}

/** Whether an NVIDIA GPU is visible: without one, tfjs-node-gpu silently runs on the CPU. */
function nvidiaVisible(): boolean {
  return fs.existsSync("/dev/nvidiactl") || fs.existsSync("/dev/dxg");
}

let current: BackendInfo | null = null;

async function tryBackend(name: BackendName, auto: boolean): Promise<BackendInfo> {
  if (name === "node-gpu" || name === "node") {
    if (name === "node-gpu" && auto && !nvidiaVisible())
      throw new Error("backend 'node-gpu' skipped: no NVIDIA GPU visible (/dev/nvidiactl)");
    try {
      requireNative(name);
    } catch (e) {
      throw new Error(
        `backend '${name}' is not installed or failed to load (${(e as Error).message.split("\n")[0]}); install it with: ${installHint(name)}`,
      );
    }
    if (!(await tf.setBackend("tensorflow")))
      throw new Error(`backend '${name}' loaded but tfjs could not initialise it`);
    const gpu = name === "node-gpu";
    const ops = registerNativeTrainingKernels({ gpu });
    const threads = Number(process.env.TF_NUM_INTRAOP_THREADS) || cores(); // 0: TensorFlow's default, every core
    return {
      name,
      tfBackend: "tensorflow",
      threads,
      gpu,
      ops: ops.loaded ? "own" : `composed (own ops not built: ${ops.why})`,
    };
  }
  if (name === "wasm") {
    const wasm = require("@tensorflow/tfjs-backend-wasm");
    registerWasmTrainingKernels();
    if (!(await tf.setBackend("wasm"))) throw new Error("backend 'wasm' failed to initialise");
    return {
      name,
      tfBackend: "wasm",
      threads: wasm.getThreadsCount(),
      simd: Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")),
    };
  }
  await tf.setBackend("cpu");
  return { name, tfBackend: "cpu", threads: 1 };
}

export function describe(b: BackendInfo): string {
  const extra =
    (b.name === "wasm" ? `, SIMD ${b.simd ? "on" : "off"}` : b.gpu ? ", GPU" : "") +
    (b.ops === undefined ? "" : b.ops === "own" ? ", own TensorFlow ops" : `, ops ${b.ops}`);
  return `backend: ${b.name} (tfjs '${b.tfBackend}', ${b.threads} thread${b.threads === 1 ? "" : "s"}${extra})`;
}

/**
 * Initialises and returns the backend. With "auto" each candidate is tried in order and the
 * first that loads wins; a named backend that cannot load is an error with its install command.
 */
export async function initBackend(
  choice: string = process.env.AMIDA_BACKEND ?? "auto",
  opts: { quiet?: boolean } = {},
): Promise<BackendInfo> {
  if (choice !== "auto" && !(BACKENDS as readonly string[]).includes(choice)) {
    throw new Error(`unknown backend '${choice}'; allowed: auto, ${BACKENDS.join(", ")}`);
  }
  // TensorFlow ignores a value that is not a whole number and aborts the process on a negative
  // one; checked here, before any backend is tried, so that it is an error and not a quiet wasm.
  const threads = process.env.TF_NUM_INTRAOP_THREADS;
  if (threads !== undefined && !/^\d+$/.test(threads))
    throw new Error(
      `TF_NUM_INTRAOP_THREADS must be a whole number of threads (0: every core), got '${threads}'`,
    );
  if (current && (choice === "auto" || choice === current.name)) return current;
  let info: BackendInfo | null = null;
  if (choice === "auto") {
    const errors: string[] = [];
    for (const name of BACKENDS) {
      try {
        info = await tryBackend(name, true);
        break;
      } catch (e) {
        errors.push(`${name}: ${(e as Error).message.split(";")[0]}`);
      }
    }
    if (!info) throw new Error(`no tfjs backend could be initialised:\n  ${errors.join("\n  ")}`);
  } else {
    info = await tryBackend(choice as BackendName, false);
  }
  // Our own line says which backend runs and why; tfjs's cpu banner would only repeat it.
  const cpu = tf.findBackend("cpu") as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
  current = info;
  if (!opts.quiet) console.log(describe(info));
  return info;
}

function cores(): number {
  return os.availableParallelism?.() ?? os.cpus().length;
}

/**
 * How many training processes to run side by side (the experiment's two model tracks, the
 * sweep's cells): as many as the cores hold at the backend's threads per process (wasm, cpu and
 * native all use one), and one on a GPU, which the processes would share.
 */
export function trainingProcesses(b: BackendInfo): number {
  return b.gpu ? 1 : Math.max(1, Math.floor(cores() / b.threads));
}
