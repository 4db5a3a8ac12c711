/**
 * How the project's kernel shows an error thrown by a cell: its message, and the cell's own line
 * that raised it, instead of Node's inspection of the error (the source line of a `src/*.js` file
 * that tslab compiled in memory, a caret, and ~10 stack frames into those files and node:vm).
 *
 *   Error: stage1.lr must be a number in 1e-7..10, got -1
 *     (cell line 2: const { cfg } = experimentFromNotebook({)
 *
 * A cause (`new Error(msg, { cause })`) is added on its own line. AMIDA_STACK=1 in the kernel's
 * environment shows the whole stack again (for debugging src/).
 *
 * The cell's line: tslab runs the cell's compiled JavaScript in `vm` ("evalmachine.<anonymous>"),
 * without a source map, and compiling moves lines (imports become requires, declarations get
 * `exports.x = x` lines). The frame's line in the compiled output is matched back to the cell line
 * that shares the most identifiers with it; nothing is shown when no line shares any.
 */
"use strict";
const util = require("util");

const KEYWORDS = new Set(
  (
    "const let var await async function return new this exports require void typeof if else for of in " +
    "while do true false null undefined Object defineProperty value __esModule tsLastExpr default"
  ).split(" "),
);

/** The identifiers of a line of code, without keywords and tslab's rewriting (`experiment_1.`). */
function identifiers(line) {
  const code = line.replace(/\/\/.*$/, "").replace(/(["'`])(?:\\.|(?!\1).)*\1/g, " ");
  return new Set(
    (code.match(/[A-Za-z_$][\w$]*/g) || []).filter((w) => !KEYWORDS.has(w) && !/_\d+$/.test(w)),
  );
}

/** The innermost frame in the cell's compiled code: its 1-based line and column, or null. */
function cellFrame(stack) {
  const m = /evalmachine\.<anonymous>:(\d+):(\d+)/.exec(String(stack || ""));
  return m ? { line: Number(m[1]), column: Number(m[2]) } : null;
}

/**
 * The cell's line (1-based, with its text) that a stack points at, given the cell's source and the
 * JavaScript tslab compiled it to; null when the stack has no frame in the cell or nothing matches.
 */
function cellLine(stack, src, output) {
  const frame = cellFrame(stack);
  if (!frame || typeof src !== "string" || typeof output !== "string") return null;
  const compiled = output.split("\n")[frame.line - 1];
  if (compiled === undefined) return null;
  const want = identifiers(compiled);
  if (want.size === 0) return null;
  const lines = src.split("\n");
  const outLines = output.split("\n").length;
  let best = null;
  lines.forEach((text, i) => {
    const got = identifiers(text);
    let shared = 0;
    for (const w of want) if (got.has(w)) shared++;
    if (shared === 0) return;
    // Ties go to the line at the same relative place in the cell as the frame in the output.
    const distance = Math.abs(i / Math.max(1, lines.length) - (frame.line - 1) / outLines);
    if (!best || shared > best.shared || (shared === best.shared && distance < best.distance))
      best = { line: i + 1, text: text.trim(), shared, distance };
  });
  return best && { line: best.line, text: best.text };
}

/** `Name: message` of an error (its own `name`, or the class's), or Node's inspection of anything else. */
function headline(err) {
  if (err instanceof Error || (err && typeof err.message === "string" && err.stack)) {
    const name = err.name || (err.constructor && err.constructor.name) || "Error";
    return err.message ? `${name}: ${err.message}` : name;
  }
  return `thrown: ${util.inspect(err, { depth: 2 })}`;
}

/** The text shown for an error a cell threw; `cell` is `{ src, output }` of the cell that ran. */
function formatCellError(err, cell, env = process.env) {
  if (env.AMIDA_STACK === "1") return util.inspect(err);
  const lines = [headline(err)];
  for (let c = err && err.cause, depth = 0; c !== undefined && c !== null && depth < 3; depth++) {
    lines.push(`  caused by ${headline(c)}`);
    c = c.cause;
  }
  const at = err && cell ? cellLine(err.stack, cell.src, cell.output) : null;
  if (at)
    lines.push(
      `  (cell line ${at.line}: ${at.text.length > 100 ? at.text.slice(0, 97) + "..." : at.text})`,
    );
  return lines.join("\n");
}

module.exports = { formatCellError, cellLine, identifiers };
