/**
 * Builds and loads native-ops.c: TensorFlow CPU kernels that TensorFlow's op set lacks (a
 * one-pass swish gradient, bias + swish, layer norm, attention over short sequences, batch norm
 * with its moving averages in one pass, AdamW's whole update), registered into the TensorFlow
 * that tfjs-node has loaded. The C file needs no headers; it is compiled once per machine (about
 * a second) with the C compiler (`$CC`, else `cc`), linked against the very
 * libtensorflow_framework the process has loaded, and cached in `.native/ops/` under a hash of
 * the source, the compiler flags, the compiler and that library's path.
 *
 * Where it cannot be built (no compiler, not Linux), on a GPU (these are CPU kernels), or with
 * AMIDA_NATIVE_OPS=0, the native backend keeps composing these from TensorFlow's own ops: the
 * same functions, slower, and different in the last digits. A failed build is remembered beside
 * the cache (`*.failed`, the compiler's output in build.log) and not retried until the source,
 * flags or compiler change.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// Functions, not constants: the explorer page bundles this file (through the layers) with Node's
// modules stubbed to throw when called, so nothing here may run at load.
const sourceFile = () => path.join(__dirname, "native-ops.c");
const cacheDir = () => path.join(__dirname, "..", "..", ".native", "ops");

/**
 * Whether the ops are loaded: `file` when they are, `why` not. (One shape, not a union on
 * `loaded`: tslab compiles without strictNullChecks, where a boolean discriminant does not narrow.)
 */
export interface NativeOpsState {
  loaded: boolean;
  file?: string;
  why?: string;
}

let state: NativeOpsState | null = null;

/** The libtensorflow_framework this process has mapped (tfjs-node loaded it), or null. */
function loadedFramework(): string | null {
  let maps: string;
  try {
    maps = fs.readFileSync("/proc/self/maps", "utf8");
  } catch {
    return null;
  }
  const m = maps.match(/(\/\S*libtensorflow_framework\.so(\.\d+)*)\s*$/m);
  return m ? m[1] : null;
}

/** -march for this CPU's vector units (the build stays on this machine: .native/ is local). */
function archFlags(): string[] {
  let flags = "";
  try {
    flags = fs.readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:(.*)$/m)?.[1] ?? "";
  } catch {
    return [];
  }
  const has = (f: string) => new RegExp(`\\b${f}\\b`).test(flags);
  if (os.arch() !== "x64") return [];
  if (has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq"))
    return ["-march=x86-64-v4"];
  if (has("avx2") && has("fma") && has("bmi2")) return ["-march=x86-64-v3"];
  return [];
}

/** Where the compiler's whole output of the last failed build goes. */
const buildLog = () => path.join(cacheDir(), "build.log");

function build(cc: string, framework: string, out: string, flags: string[]): void {
  const dir = path.dirname(framework);
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync(
      cc,
      [
        ...flags,
        "-shared",
        "-fPIC",
        "-o",
        tmp,
        sourceFile(),
        framework,
        `-Wl,-rpath,${dir}`,
        "-lm",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    fs.renameSync(tmp, out); // atomic: processes starting together may build it side by side
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** `cc --version`'s first line, so that another compiler builds (and caches) its own copy. */
function compilerVersion(cc: string): string {
  try {
    return execFileSync(cc, ["--version"], { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .split("\n")[0];
  } catch {
    return "";
  }
}

/**
 * Idempotent: builds (if needed) and loads the ops into this process; call after tfjs-node is
 * loaded. Returns whether they are available and, if not, why.
 */
export function loadNativeOps(): NativeOpsState {
  if (state) return state;
  if (process.env.AMIDA_NATIVE_OPS === "0")
    return (state = { loaded: false, why: "AMIDA_NATIVE_OPS=0" });
  const framework = loadedFramework();
  if (!framework)
    return (state = { loaded: false, why: "no libtensorflow_framework mapped (Linux only)" });
  // -ffp-contract=off: no fused multiply-adds, whatever the compiler's default (clang contracts
  // on x86-64-v3/v4), so AdamW and the moving averages stay bit for bit tfjs's.
  const flags = [
    "-O3",
    "-Wall",
    "-ffp-contract=off",
    "-fopenmp-simd",
    "-fno-math-errno",
    "-fno-trapping-math",
    ...archFlags(),
  ];
  const cc = process.env.CC || "cc";
  const src = fs.readFileSync(sourceFile());
  const hash = crypto
    .createHash("sha256")
    .update(src)
    .update(flags.join(" "))
    .update(framework)
    .update(`${cc}\n${compilerVersion(cc)}`)
    .digest("hex")
    .slice(0, 16);
  const file = path.join(cacheDir(), `amida-ops-${hash}.node`);
  // A failed build is remembered (per source, flags and compiler): later processes do not retry.
  const failed = `${file}.failed`;
  if (fs.existsSync(failed))
    return (state = { loaded: false, why: fs.readFileSync(failed, "utf8").trim() });
  try {
    if (!fs.existsSync(file)) {
      fs.mkdirSync(cacheDir(), { recursive: true });
      build(cc, framework, file, flags);
    }
    process.dlopen({ exports: {} }, file);
  } catch (e) {
    const err = e as Error & { stderr?: Buffer };
    const out = err.stderr?.toString().trim() || err.message;
    const first =
      out.split("\n").find((l) => /error|cannot|not found/i.test(l)) ?? out.split("\n")[0];
    const why = `${first.trim()}; the compiler's output: ${buildLog()}; AMIDA_NATIVE_OPS=0 skips the build`;
    try {
      fs.mkdirSync(cacheDir(), { recursive: true });
      fs.writeFileSync(buildLog(), out + "\n");
      fs.writeFileSync(failed, why + "\n");
    } catch {
      // a read-only checkout: say why all the same
    }
    return (state = { loaded: false, why });
  }
  return (state = { loaded: true, file });
}

let enabled = true;

/**
 * Whether the native backend's layers use the ops (default: when loaded); for tests and
 * comparisons, which switch between them and TensorFlow's compositions in one process.
 */
export function useNativeOps(on: boolean): void {
  enabled = on;
}

/** Whether the ops are loaded and in use (false before loadNativeOps ran). */
export function nativeOpsLoaded(): boolean {
  return enabled && state?.loaded === true;
}
