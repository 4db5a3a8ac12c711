/**
 * Per-kernel time of one call of `f` (a training step), from tf.profile and the backend's own
 * kernel timer. Kernels written as compositions of other kernels (this project's wasm training
 * kernels) would count their inner kernels twice; each kernel is charged its self time only.
 */
import * as tf from "@tensorflow/tfjs";

export interface KernelTime {
  /** Kernel name, e.g. "Conv2DBackpropFilter". */
  name: string;
  /** How many times it ran in the profiled call. */
  calls: number;
  /** Milliseconds spent in it, excluding kernels it ran itself. */
  selfMs: number;
}

export interface KernelProfile {
  /** Sum of every kernel's self time, ms. */
  totalMs: number;
  /** Wall-clock time of the profiled call, ms (includes JavaScript between kernels). */
  wallMs: number;
  /** Kernels by self time, largest first. */
  kernels: KernelTime[];
}

interface Profiler {
  profileKernel(name: string, inputs: unknown, f: () => unknown): unknown;
}

export async function profileKernels(f: () => void): Promise<KernelProfile> {
  const engine = tf.engine() as unknown as { profiler: Profiler; state: { kernelDepth: number } };
  // tf.profile records kernels flat, in completion order; the engine's nesting depth at each
  // kernel (read where it calls the profiler, in the same order) recovers which ran inside which.
  const depths: number[] = [];
  const profiler = engine.profiler;
  const original = profiler.profileKernel;
  profiler.profileKernel = function (name, inputs, fn) {
    const depth = engine.state.kernelDepth;
    const out = original.call(this, name, inputs, fn);
    depths.push(depth);
    return out;
  };
  // Checking every output for NaN reads it back: that would be timed as well.
  const check = tf.env().getBool("CHECK_COMPUTATION_FOR_ERRORS");
  tf.env().set("CHECK_COMPUTATION_FOR_ERRORS", false);
  let info: Awaited<ReturnType<typeof tf.profile>>;
  const t0 = performance.now();
  try {
    info = await tf.profile(f);
  } finally {
    profiler.profileKernel = original;
    tf.env().set("CHECK_COMPUTATION_FOR_ERRORS", check);
  }
  const wallMs = performance.now() - t0;
  if (depths.length !== info.kernels.length)
    throw new Error(
      `kernel profile: ${info.kernels.length} kernels but ${depths.length} depths recorded`,
    );
  // A kernel completes after the kernels it ran: walking in order, children's times are pending
  // at depth d + 1 when their parent (depth d) completes.
  const pending: number[] = [];
  const byName = new Map<string, KernelTime>();
  info.kernels.forEach((k, i) => {
    const d = depths[i];
    const ms = k.kernelTimeMs as number;
    const children = pending[d + 1] ?? 0;
    pending[d + 1] = 0;
    pending[d] = (pending[d] ?? 0) + ms;
    const e = byName.get(k.name) ?? { name: k.name, calls: 0, selfMs: 0 };
    e.calls++;
    e.selfMs += Math.max(0, ms - children);
    byName.set(k.name, e);
  });
  const kernels = [...byName.values()].sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs: kernels.reduce((s, k) => s + k.selfMs, 0), wallMs, kernels };
}

/** The top `n` kernels as printable lines. */
export function formatTop(p: KernelProfile, n: number): string[] {
  const lines = [
    `    kernel time ${p.totalMs.toFixed(0)} ms of ${p.wallMs.toFixed(0)} ms wall (one step, profiled); top ${n}:`,
  ];
  for (const k of p.kernels.slice(0, n)) {
    lines.push(
      `      ${k.name.padEnd(38)} ${k.selfMs.toFixed(1).padStart(8)} ms ${((100 * k.selfMs) / p.totalMs).toFixed(1).padStart(5)} %  ${String(k.calls).padStart(5)} calls`,
    );
  }
  return lines;
}
