/**
 * Streamed training puzzles: instead of passes over a stored training split, every step draws
 * fresh puzzles from the generator, so a run can see millions of images without memorising a
 * few thousand ladders. Position p of stream s is `renderSample(spec, "train", p, s)`: a pure
 * function of (spec, s, p), so the stream is deterministic, resumable at any step (p = step x
 * batch) and independent of who renders it; its ladders hash into the training split, by the same
 * rule the stored splits use, so no validation, test or held-out ladder is ever trained on.
 *
 * Rendering runs in generator processes (`amida _generate`) ahead of the trainer where cores are
 * free (node-canvas cannot run in worker threads: it crashes at their exit), otherwise inline.
 */
import * as path from "path";
import { ChildProcess } from "child_process";
import { DatasetSpec } from "./spec";
import { renderSample } from "./sample";
import { forkChild } from "../util/children";

/** A stretch of a stream: images [count, H, W, 3] as bytes, and their labels. */
export interface StreamChunk {
  images: Uint8Array;
  labels: Int32Array;
}

/** Positions [from, from + count) of stream `stream` of `spec`'s training split. */
export function streamChunk(
  spec: DatasetSpec,
  stream: number,
  from: number,
  count: number,
): StreamChunk {
  const size = spec.difficulty.size;
  const per = size * size * 3;
  const images = new Uint8Array(count * per);
  const labels = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    const s = renderSample(spec, "train", from + k, stream);
    images.set(s.rgb, k * per);
    labels[k] = s.label;
  }
  return { images, labels };
}

type Request = { spec: DatasetSpec; stream: number; from: number; count: number };

/** The generator process: renders what it is asked for, in order; exits with its parent. */
export function serveStream(): Promise<number> {
  if (!process.send) throw new Error("serveStream runs only in a forked generator process");
  process.on("message", (r: Request) => {
    const c = streamChunk(r.spec, r.stream, r.from, r.count);
    process.send!({ from: r.from, images: c.images, labels: c.labels });
  });
  // A parent that left while this process was loading: bin/amida.js's watchdog exits it.
  return new Promise<number>((resolve) => process.on("disconnect", () => resolve(0)));
}

/**
 * Batches of one stream in order, rendered `ahead` batches in advance by `generators` child
 * processes (round robin), or inline when `generators` is 0. Same bytes either way.
 */
export class StreamSource {
  private readonly children: ChildProcess[] = [];
  private readonly pending = new Map<number, Promise<StreamChunk>>();
  private next = 0;

  constructor(
    readonly spec: DatasetSpec,
    readonly stream: number,
    readonly batchSize: number,
    private readonly generators: number,
    private readonly ahead = 4,
  ) {
    for (let i = 0; i < generators; i++) {
      const c = forkChild(
        path.join(__dirname, "..", "..", "bin", "amida.js"),
        ["_generate"],
        () => {},
        (d) => process.stderr.write(d),
        { advanced: true },
      );
      this.children.push(c.child);
    }
  }

  /** Asks a generator for batch `b` (positions b x batch ...). */
  private request(b: number): Promise<StreamChunk> {
    const from = b * this.batchSize;
    const child = this.children[b % this.children.length];
    return new Promise<StreamChunk>((resolve, reject) => {
      const onMessage = (m: { from: number } & StreamChunk) => {
        if (m.from !== from) return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve({ images: m.images, labels: m.labels });
      };
      const onExit = (code: number | null, signal: string | null) =>
        reject(new Error(`the puzzle generator process stopped (${signal ?? `exit ${code}`})`));
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.send({ spec: this.spec, stream: this.stream, from, count: this.batchSize } as Request);
    });
  }

  /** Batch `b` of the stream; keeps the next `ahead` batches rendering. */
  async batch(b: number): Promise<StreamChunk> {
    if (this.generators === 0)
      return streamChunk(this.spec, this.stream, b * this.batchSize, this.batchSize);
    this.next = Math.max(this.next, b);
    for (; this.next < b + this.ahead; this.next++)
      if (!this.pending.has(this.next)) {
        const p = this.request(this.next);
        p.catch(() => {}); // a batch asked ahead and never awaited (the run ended) is no error
        this.pending.set(this.next, p);
      }
    const p = this.pending.get(b) ?? this.request(b);
    this.pending.delete(b);
    return p;
  }

  /**
   * Stops the generator processes: they hold nothing worth keeping, so each is also killed (one
   * still loading when the channel closed could otherwise miss the disconnect).
   */
  close(): void {
    for (const c of this.children) {
      c.on("error", () => {}); // a request still queued on the channel fails once it closes
      if (c.connected) c.disconnect();
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    }
    this.pending.clear();
  }
}
