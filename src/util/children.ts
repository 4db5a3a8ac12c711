/**
 * Child processes that die with their parent: SIGINT/SIGTERM to the parent is forwarded to
 * every live child (and the parent then exits with the signal's status), a child forked by
 * `forkChild` exits when its parent's IPC channel closes (the parent was killed, even by
 * SIGKILL), and `runAll` stops the other children as soon as one fails.
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

/** In a forked child: exit as soon as the parent is gone (its IPC channel closes). */
export function dieWithParent(): void {
  if (!process.send) return;
  process.on("disconnect", () => process.exit(129));
}

/** One child's outcome. */
export interface ChildResult {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, if any. */
  signal: NodeJS.Signals | null;
}

/** Forks a Node module as a child that is stopped with this process. */
export function forkChild(
  module: string,
  args: string[],
  onOut: (chunk: string) => void,
  onErr: (chunk: string) => void,
): { child: ChildProcess; done: Promise<ChildResult> } {
  forwardSignals();
  const child = fork(module, args, { stdio: ["ignore", "pipe", "pipe", "ipc"] });
  live.add(child);
  child.stdout?.on("data", (d) => onOut(String(d)));
  child.stderr?.on("data", (d) => onErr(String(d)));
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
