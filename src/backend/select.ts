/**
 * Picks the fastest tfjs backend that is installed and works: tfjs-node-gpu > tfjs-node > wasm
 * > cpu. AMIDA_BACKEND or the `choice` argument overrides; the choice is printed once.
 */
import * as tf from "@tensorflow/tfjs";
import { registerWasmTrainingKernels } from "./wasm-training-kernels";

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
}

const NATIVE: Record<"node-gpu" | "node", string> = { "node-gpu": "@tensorflow/tfjs-node-gpu", node: "@tensorflow/tfjs-node" };

function installHint(name: BackendName): string {
  if (name === "node-gpu") return "npm install --no-save @tensorflow/tfjs-node-gpu@4.22.0  (needs Linux x86-64, CUDA 11.2 + cuDNN 8.1, Node <= 22; see environment.md)";
  if (name === "node") return "npm install --no-save @tensorflow/tfjs-node@4.22.0  (its install downloads libtensorflow; see environment.md)";
  return "npm ci  (it is a regular dependency)";
}

let current: BackendInfo | null = null;

async function tryBackend(name: BackendName): Promise<BackendInfo> {
  if (name === "node-gpu" || name === "node") {
    try {
      require(NATIVE[name]);
    } catch (e) {
      throw new Error(`backend '${name}' is not installed or failed to load (${(e as Error).message.split("\n")[0]}); install it with: ${installHint(name)}`);
    }
    if (!(await tf.setBackend("tensorflow"))) throw new Error(`backend '${name}' loaded but tfjs could not initialise it`);
    const gpu = name === "node-gpu";
    return { name, tfBackend: "tensorflow", threads: require("os").availableParallelism?.() ?? 1, gpu };
  }
  if (name === "wasm") {
    const wasm = require("@tensorflow/tfjs-backend-wasm");
    registerWasmTrainingKernels();
    if (!(await tf.setBackend("wasm"))) throw new Error("backend 'wasm' failed to initialise");
    return { name, tfBackend: "wasm", threads: wasm.getThreadsCount(), simd: Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) };
  }
  await tf.setBackend("cpu");
  return { name, tfBackend: "cpu", threads: 1 };
}

export function describe(b: BackendInfo): string {
  const extra = b.name === "wasm" ? `, SIMD ${b.simd ? "on" : "off"}` : b.gpu ? ", GPU" : "";
  return `backend: ${b.name} (tfjs '${b.tfBackend}', ${b.threads} thread${b.threads === 1 ? "" : "s"}${extra})`;
}

/**
 * Initialises and returns the backend. With "auto" each candidate is tried in order and the
 * first that loads wins; a named backend that cannot load is an error with its install command.
 */
export async function initBackend(choice: string = process.env.AMIDA_BACKEND ?? "auto", opts: { quiet?: boolean } = {}): Promise<BackendInfo> {
  if (choice !== "auto" && !(BACKENDS as readonly string[]).includes(choice)) {
    throw new Error(`unknown backend '${choice}'; allowed: auto, ${BACKENDS.join(", ")}`);
  }
  if (current && (choice === "auto" || choice === current.name)) return current;
  let info: BackendInfo | null = null;
  if (choice === "auto") {
    const errors: string[] = [];
    for (const name of BACKENDS) {
      try {
        info = await tryBackend(name);
        break;
      } catch (e) {
        errors.push(`${name}: ${(e as Error).message.split(";")[0]}`);
      }
    }
    if (!info) throw new Error(`no tfjs backend could be initialised:\n  ${errors.join("\n  ")}`);
  } else {
    info = await tryBackend(choice as BackendName);
  }
  // Our own line says which backend runs and why; tfjs's cpu banner would only repeat it.
  const cpu = tf.findBackend("cpu") as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
  current = info;
  if (!opts.quiet) console.log(describe(info));
  return info;
}
