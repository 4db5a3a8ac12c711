/**
 * Rich output for tslab notebooks. Each figure goes out as one multi-MIME bundle so JupyterLab
 * can show the interactive form while exported HTML and GitHub fall back to the SVG/PNG.
 * Outside a kernel (CLI, tests) nothing is displayed and the functions return quietly.
 */
type Bundle = Record<string, string | object>;

function writer(): ((data: unknown, update: boolean) => void) | null {
  try {
    // tslab's public display API sends one MIME type per output; the bundle needs its internal writer.
    return require("tslab/dist/jupyter").lastWriteDisplayData ?? null;
  } catch {
    return null;
  }
}

/** Sends one output with every MIME type in `data`; false outside a kernel (nothing shown). */
/** Whether a notebook kernel is there to display to (false in the CLI and tests). */
export function inKernel(): boolean {
  return writer() !== null;
}

/** Sends one multi-MIME output; void, so a cell ending in a display prints nothing more. */
export function showBundle(data: Bundle, displayId?: string, update = false): void {
  const w = writer();
  if (!w) return;
  const encoded: Record<string, string | object> = {};
  for (const [k, v] of Object.entries(data))
    encoded[k] = v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v;
  w({ data: encoded, metadata: {}, transient: displayId ? { display_id: displayId } : {} }, update);
}

export const showPNG = (png: Uint8Array): void =>
  showBundle({ "image/png": png as unknown as object });
export const showMarkdown = (md: string): void =>
  showBundle({ "text/markdown": md, "text/plain": md });

/** A display that is overwritten in place: progress lines during long cells. */
export function liveLine(): (line: string) => void {
  const id = `amida-${Math.random().toString(16).slice(2)}`;
  let first = true;
  return (line: string) => {
    showBundle({ "text/plain": line }, id, !first);
    first = false;
  };
}

/** Progress lines carry an ETA or a percentage (src/util/progress.ts). */
const isProgress = (line: string) => / ETA \d+ s|\(\d+%\)/.test(line);

/**
 * A sink for parallel work, one live line per track: `(track, line)` overwrites that track's
 * line when `line` is progress, and prints anything else (epoch summaries, results) as it
 * comes, prefixed with the track. Two models training side by side get two lines, not one line
 * flipping between them. Outside a kernel progress goes to stderr.
 */
export function trackLines(): (track: string, line: string) => void {
  const live = new Map<string, (line: string) => void>();
  return (track: string, line: string) => {
    const text = track ? `[${track}] ${line}` : line;
    if (!isProgress(line)) return console.log(text);
    if (!live.has(track)) live.set(track, liveLine());
    live.get(track)!(text);
    if (!writer()) process.stderr.write(text + "\n");
  };
}

/**
 * A logger for long cells whose lines may carry a `[track] ` prefix (the protocol's parallel
 * tracks): each track's progress overwrites its own live line (trackLines), everything else prints.
 */
export function notebookLogger(): (line: string) => void {
  const sink = trackLines();
  return (line: string) => {
    const m = /^\[([\w.+-]+)\] (.*)$/s.exec(line);
    sink(m ? m[1] : "", m ? m[2] : line);
  };
}
