/**
 * Child processes that die with their parent: SIGINT/SIGTERM to the parent is forwarded to
 * every live child (and the parent then exits with the signal's status); a child forked by
 * `forkChild` exits within a fraction of a second of its parent's death, however the parent died
 * (a SIGKILL too) and whatever the child is doing (a training step that holds its event loop
 * included); `runAll` and `runPool` stop the other children as soon as one fails. `runPool` runs
 * typed jobs (with dependencies) in a few long-lived worker processes (`serveJobs`).
 */
import { ChildProcess, fork } from "child_process";

const live = new Set<ChildProcess>();
let forwarding = false;

function forwardSignals(): void {
  if (forwarding) return;
  forwarding = true;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const handler = () => {
      for (const c of live) c.kill(sig);
      // Exit as the default action would (128 + signal number), unless the host handles the
      // signal itself (a notebook kernel interrupts the cell and lives on).
      if (process.listeners(sig).every((l) => l === handler))
        process.exit(sig === "SIGINT" ? 130 : 143);
    };
    process.on(sig, handler);
  }
}

/**
 * In a forked child: exit as soon as the parent is gone, even mid-step (src/util/watchdog.cjs;
 * bin/amida.js starts it before anything else loads).
 */
export const dieWithParent: () => void = require("./watchdog.cjs").dieWithParent;

/** One child's outcome. */
export interface ChildResult {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, if any. */
  signal: NodeJS.Signals | null;
}

/**
 * TensorFlow's start-up chatter on a child's stderr, printed by its C++ logging before
 * TF_CPP_MIN_LOG_LEVEL applies: the absl notice and INFO lines such as "oneDNN custom operations
 * are on". In a notebook they would show as a red error box under every training cell. Warnings
 * and errors (W, E, F lines) still pass.
 */
export function isTensorFlowStartupNoise(line: string): boolean {
  return (
    line.startsWith("WARNING: All log messages before absl::InitializeLog() is called") ||
    /^I\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]/.test(line)
  );
}

/** A stderr relay that passes whole lines, leaving out TensorFlow's start-up chatter. */
function stderrFilter(onErr: (chunk: string) => void) {
  let partial = "";
  return {
    write(chunk: string): void {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      const kept = lines.filter((l) => !isTensorFlowStartupNoise(l));
      if (kept.length) onErr(kept.map((l) => l + "\n").join(""));
    },
    /** The last line, when it had no newline. */
    flush(): void {
      if (partial && !isTensorFlowStartupNoise(partial)) onErr(partial);
      partial = "";
    },
  };
}

/** Forks a Node module as a child that is stopped with this process. */
export function forkChild(
  module: string,
  args: string[],
  onOut: (chunk: string) => void,
  onErr: (chunk: string) => void,
  opts: { advanced?: boolean } = {},
): { child: ChildProcess; done: Promise<ChildResult> } {
  forwardSignals();
  // "advanced" IPC passes typed arrays as such (structured clone), not as JSON.
  const child = fork(module, args, {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: opts.advanced ? "advanced" : "json",
  });
  live.add(child);
  child.stdout?.on("data", (d) => onOut(String(d)));
  const err = stderrFilter(onErr);
  child.stderr?.on("data", (d) => err.write(String(d)));
  child.stderr?.on("end", () => err.flush());
  const done = new Promise<ChildResult>((resolve) => {
    child.on("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, done };
}

/** A named unit of work that runs a child; `start` returns its exit. */
export interface Job {
  /** Shown in the summary, e.g. "the cnn track". */
  name: string;
  start: () => { child: ChildProcess; done: Promise<ChildResult> };
}

/**
 * Runs the jobs, `workers` at a time. When one fails, the running ones are stopped (SIGTERM)
 * and nothing new starts; the error then summarises every job: failed, stopped, done, not run.
 */
export async function runAll(jobs: Job[], workers: number): Promise<void> {
  const status = new Map<string, string>(jobs.map((j) => [j.name, "not run"]));
  const running = new Set<ChildProcess>();
  let failed = false;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(workers, jobs.length)) }, async () => {
      while (!failed && next < jobs.length) {
        const job = jobs[next++];
        const { child, done } = job.start();
        running.add(child);
        status.set(job.name, "running");
        const r = await done;
        running.delete(child);
        if (r.code === 0) status.set(job.name, "done");
        else if (failed) status.set(job.name, "stopped");
        else {
          failed = true;
          status.set(job.name, `failed (${r.signal ? `signal ${r.signal}` : `exit ${r.code}`})`);
          for (const c of running) c.kill("SIGTERM");
        }
      }
    }),
  );
  if (failed)
    throw new Error(
      `${[...status].map(([n, s]) => `${n}: ${s}`).join("; ")} (see the lines above)`,
    );
}

/** A typed job for a worker process: its kind (a handler's name), payload, and the jobs it needs first. */
export interface PoolJob {
  /** Unique among the jobs; shown in logs and the summary. */
  name: string;
  kind: string;
  payload: unknown;
  /** Names of jobs that must have finished before this one starts. */
  after: string[];
}

type ToWorker = { type: "job"; name: string; kind: string; payload: unknown };
type FromWorker =
  | { type: "line"; name: string; line: string }
  | { type: "done"; name: string; result: unknown }
  | { type: "failed"; name: string; message: string };

/**
 * Runs `jobs` in up to `workers` long-lived child processes (`module args...` must call
 * `serveJobs`), each job once its `after` jobs are done, in list order otherwise. Lines a job logs
 * reach `onLine(jobName, line)`. Returns each job's result by name. When a job fails (or its
 * worker dies), the running ones are stopped, nothing new starts, and the error lists every job:
 * done, failed (with its message), stopped, not run.
 */
export async function runPool(
  jobs: PoolJob[],
  opts: {
    workers: number;
    module: string;
    args: string[];
    onLine: (job: string, line: string) => void;
  },
): Promise<Map<string, unknown>> {
  const names = new Set(jobs.map((j) => j.name));
  for (const j of jobs)
    for (const a of j.after)
      if (!names.has(a)) throw new Error(`job '${j.name}' waits for '${a}', which is not a job`);
  const status = new Map<string, string>(jobs.map((j) => [j.name, "not run"]));
  const results = new Map<string, unknown>();
  const pending = [...jobs];
  let failed = false;
  const children: ChildProcess[] = [];
  const ready = () => pending.findIndex((j) => j.after.every((a) => results.has(a)));
  const waiters: Array<() => void> = [];
  const wakeAll = () => waiters.splice(0).forEach((w) => w());
  const worker = async (): Promise<void> => {
    let child: ChildProcess | null = null;
    let exited: Promise<ChildResult> | null = null;
    let onMessage: (m: FromWorker) => void = () => {};
    let onExit: (r: ChildResult) => void = () => {};
    try {
      while (!failed) {
        const k = ready();
        if (k < 0) {
          if (pending.length === 0 || ![...status.values()].includes("running")) return;
          await new Promise<void>((w) => waiters.push(w));
          continue;
        }
        const job = pending.splice(k, 1)[0];
        if (!child) {
          const c = forkChild(
            opts.module,
            opts.args,
            () => {},
            (d) => process.stderr.write(d),
          );
          const me = c.child;
          child = me;
          exited = c.done;
          children.push(me);
          me.on("message", (m: FromWorker) => onMessage(m));
          void c.done.then((r) => {
            if (child === me) child = null;
            onExit(r);
          });
        }
        status.set(job.name, "running");
        const running = child;
        const outcome = await new Promise<FromWorker | ChildResult>((resolve) => {
          onMessage = (m) => {
            if (m.name !== job.name) return;
            if (m.type === "line") opts.onLine(job.name, m.line);
            else resolve(m);
          };
          onExit = resolve;
          running.send({
            type: "job",
            name: job.name,
            kind: job.kind,
            payload: job.payload,
          } as ToWorker);
        });
        onMessage = () => {};
        onExit = () => {};
        if ("type" in outcome && outcome.type === "done") {
          results.set(job.name, outcome.result);
          status.set(job.name, "done");
        } else if (failed) status.set(job.name, "stopped");
        else {
          failed = true;
          status.set(
            job.name,
            "type" in outcome
              ? `failed: ${(outcome as { message: string }).message}`
              : `its worker died (${(outcome as ChildResult).signal ?? `exit ${(outcome as ChildResult).code}`})`,
          );
          for (const c of children) c.kill("SIGTERM");
        }
        wakeAll();
      }
    } finally {
      if (child?.connected) child.disconnect();
      if (exited) await exited;
      wakeAll();
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(opts.workers, jobs.length)) }, worker),
  );
  if (failed || results.size < jobs.length)
    throw new Error(`${[...status].map(([n, s]) => `${n}: ${s}`).join("; ")}`);
  return results;
}

/**
 * The worker side of `runPool`: runs each job it is sent with `handlers[kind]`, one at a time,
 * forwarding its log lines; exits when the parent disconnects (or dies: `dieWithParent`).
 */
export function serveJobs(
  handlers: Record<string, (payload: unknown, log: (line: string) => void) => Promise<unknown>>,
): Promise<number> {
  if (!process.send) throw new Error("serveJobs runs only in a forked worker process");
  const send = (m: FromWorker) => process.send!(m);
  let queue = Promise.resolve();
  process.on("message", (m: ToWorker) => {
    if (m?.type !== "job") return;
    queue = queue.then(async () => {
      const h = handlers[m.kind];
      try {
        if (!h) throw new Error(`unknown job kind '${m.kind}'`);
        const result = await h(m.payload, (line) => send({ type: "line", name: m.name, line }));
        send({ type: "done", name: m.name, result });
      } catch (e) {
        send({ type: "failed", name: m.name, message: (e as Error).message ?? String(e) });
      }
    });
  });
  return new Promise<number>((resolve) => process.on("disconnect", () => resolve(0)));
}
