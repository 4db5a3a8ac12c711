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

export function showBundle(data: Bundle, displayId?: string, update = false): void {
  const w = writer();
  if (!w) return;
  const encoded: Record<string, string | object> = {};
  for (const [k, v] of Object.entries(data)) encoded[k] = v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v;
  w({ data: encoded, metadata: {}, transient: displayId ? { display_id: displayId } : {} }, update);
}

export const showPNG = (png: Uint8Array) => showBundle({ "image/png": png as unknown as object });
export const showMarkdown = (md: string) => showBundle({ "text/markdown": md, "text/plain": md });

/** A display that is overwritten in place: progress lines during long cells. */
export function liveLine(): (line: string) => void {
  const id = `amida-${Math.random().toString(16).slice(2)}`;
  let first = true;
  return (line: string) => {
    showBundle({ "text/plain": line }, id, !first);
    first = false;
  };
}

/**
 * A logger for long cells: progress lines (they carry an ETA) overwrite one live display,
 * everything else (epoch summaries, results) prints as it comes.
 */
export function notebookLogger(): (line: string) => void {
  const live = liveLine();
  return (line: string) => {
    if (/ ETA \d+ s|\(\d+%\)/.test(line)) live(line);
    else console.log(line);
  };
}
