/**
 * One progress line for long work: redrawn in place on a terminal, a line every few seconds in
 * logs (nbconvert, CI), and optionally forwarded to a notebook display.
 */
export class Progress {
  private done: number;
  private readonly first: number;
  private readonly t0 = Date.now();
  private lastDraw = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly opts: {
      quiet?: boolean;
      unit?: string;
      onLine?: (line: string) => void;
      /** Work already done (a resumed run): counted in the total, not in the rate. */
      done?: number;
    } = {},
  ) {
    this.done = opts.done ?? 0;
    this.first = this.done;
  }

  line(extra = ""): string {
    const s = (Date.now() - this.t0) / 1000;
    const rate = s > 0 ? (this.done - this.first) / s : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : NaN;
    const pct = this.total ? ((100 * this.done) / this.total).toFixed(0) : "100";
    const unit = this.opts.unit ?? "it";
    return `${this.label} ${this.done}/${this.total} (${pct}%) ${rate.toFixed(1)} ${unit}/s, ${s.toFixed(1)} s elapsed${Number.isFinite(eta) ? `, ETA ${eta.toFixed(0)} s` : ""}${extra ? ` | ${extra}` : ""}`;
  }

  tick(n = 1, extra = ""): void {
    this.done += n;
    const now = Date.now();
    const every = this.tty ? 100 : 5000;
    if (now - this.lastDraw >= every || this.done >= this.total) {
      this.lastDraw = now;
      this.emit(this.line(extra), this.done >= this.total);
    }
  }

  finish(extra = ""): void {
    this.emit(this.line(extra), true);
  }

  private emit(line: string, final: boolean): void {
    this.opts.onLine?.(line);
    if (this.opts.quiet) return;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line}${final ? "\n" : ""}`);
    else process.stderr.write(line + "\n");
  }
}
