/**
 * The explorer page's HTML: the skeleton the script fills in, its style, the data and the script.
 * A small inline script before the big one shows any error on the page, so that a page whose
 * script fails says why instead of staying blank. Order: data, script, then the big base64 blobs
 * (weights, wasm), so that a page cut short still has a script to say what is missing.
 */
import { GENERATOR } from "./payload";

/** JSON that is safe inside a <script> element (no "</script>", no "<!--"). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/** A script's text made safe inside a <script> element; refuses what cannot be escaped safely. */
function scriptText(js: string): string {
  if (js.includes("<!--"))
    throw new Error("the page's script contains '<!--', which HTML would misread inside <script>");
  return js.replace(/<\/script/gi, "<\\/script");
}

const STYLE = `
:root { --ink: #1d1d1f; --muted: #5f6368; --line: #d9d9de; --ok: #1a7f37; --bad: #c62828; --accent: #3558c8; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0; background: #fafafb; }
header, main, footer { max-width: 1400px; margin: 0 auto; padding: 0 20px; }
header h1 { font-size: 24px; margin: 18px 0 4px; }
header p { margin: 4px 0; color: var(--muted); max-width: 980px; }
#status { max-width: 1360px; margin: 10px auto; padding: 10px 14px; border-radius: 8px; background: #eef2fb; }
#status.error, .error { background: #fdecea; color: var(--bad); border-radius: 8px; padding: 10px 14px; white-space: pre-wrap; }
main { display: flex; gap: 18px; align-items: flex-start; flex-wrap: wrap; }
section, article { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
#puzzle-panel { flex: 0 0 auto; max-width: 440px; }
#models { display: flex; gap: 18px; flex: 1 1 600px; flex-wrap: wrap; align-items: flex-start; }
article.model { flex: 1 1 330px; min-width: 320px; }
h2 { font-size: 18px; margin: 0 0 8px; }
h3 { font-size: 17px; margin: 0; }
h3 small { font-weight: normal; color: var(--muted); font-size: 13px; }
.controls { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; margin-bottom: 10px; }
.controls label { font-size: 13px; color: var(--muted); }
input[type=number] { width: 90px; }
button { font: inherit; padding: 3px 10px; border-radius: 6px; border: 1px solid #b9bcc6; background: #f4f5f8; cursor: pointer; }
button:hover { background: #e8eaf0; }
.board { position: relative; display: inline-block; touch-action: none; }
.board canvas { display: block; image-rendering: pixelated; }
.board canvas.hover { position: absolute; left: 0; top: 0; cursor: pointer; }
#edit-msg { min-height: 1.4em; font-size: 13px; margin: 6px 0; }
#edit-msg.refused { color: var(--bad); }
.facts { font-size: 13px; color: var(--muted); margin: 6px 0; }
.verdict { font-size: 13px; margin: 6px 0; }
.verdict.learned { color: var(--ok); }
.answer { margin: 10px 0 6px; font-size: 15px; }
.answer .right { color: var(--ok); font-weight: 600; }
.answer .wrong { color: var(--bad); font-weight: 600; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 50%; border: 1px solid #333; vertical-align: -1px; margin: 0 3px; }
.bars { display: grid; grid-template-columns: auto 1fr 56px; gap: 3px 8px; align-items: center; font-size: 13px; margin: 6px 0 10px; }
.bar { height: 14px; background: #eceef3; border-radius: 3px; overflow: hidden; }
.bar > div { height: 100%; background: var(--accent); }
.bar.chosen > div { background: #e08a00; }
.pics { display: flex; gap: 10px; }
figure { margin: 0; flex: 1 1 0; min-width: 0; }
figure canvas { display: block; width: 100%; max-width: 256px; height: auto; image-rendering: pixelated; border: 1px solid var(--line); }
figcaption { font-size: 12px; color: var(--muted); }
.timing { font-size: 12px; color: var(--muted); }
body.quiz .truth { visibility: hidden; }
details { margin-top: 8px; font-size: 13px; }
footer { font-size: 12px; color: var(--muted); margin-top: 16px; padding-bottom: 30px; }
footer p { margin: 4px 0; }
`;

const BODY = `
<header>
  <h1>Warp amidakuji: ask a trained model</h1>
  <p>Make a ladder, see what the model answers and where it looked. Start at the white circle and walk
  down; whenever a rung meets your lane, cross it. <b>Plain</b> question: which bottom circle do you reach?
  <b>Warp</b>: then jump to the top circle of that bottom circle's colour and walk down again.</p>
</header>
<div id="status">Loading the models (a few seconds)...</div>
<main>
  <section id="puzzle-panel">
    <h2>The puzzle</h2>
    <div class="controls">
      <label>draw like <select id="task"></select></label>
      <label>seed <input id="seed" type="number" min="0" step="1"></label>
      <label>number <input id="index" type="number" min="1" step="1"></label>
      <button id="new" title="the next puzzle of this seed">New puzzle</button>
      <button id="reset" title="back to the puzzle as drawn">Undo edits</button>
    </div>
    <div class="controls">
      <button id="start-left" title="move START one lane left">&#9664; START</button>
      <button id="start-right" title="move START one lane right">START &#9654;</button>
      <label><input type="checkbox" id="quiz"> hide the true answers (quiz)</label>
    </div>
    <div class="board" id="board"></div>
    <p id="edit-msg">Click between two lanes to add a rung there, click a rung to remove it, drag START to another top circle.</p>
    <p id="puzzle-info" class="facts"></p>
    <details><summary>What the models see</summary>
      <p>Exactly this picture, enlarged: the puzzle drawn at the models' image size by the project's own
      renderer (the same code that drew their training data). The heat maps (Grad-CAM) show which
      places raised the score of the answer the model gave, measured at one layer part-way through the
      network (named under each map, with its grid) and scaled up to the picture. Red: strong, blue: weak.</p>
    </details>
  </section>
  <div id="models"></div>
</main>
<footer id="footer"></footer>
`;

/**
 * Shows an uncaught error on the page (installed before the main script), and says so when the
 * main script never ran (a file cut short before it: the script sits before the big blobs, which
 * it reads once the whole document is parsed).
 */
const GUARD = `
document.addEventListener("DOMContentLoaded", function () {
  if (window.amidaExplorer) return;
  var s = document.getElementById("status");
  if (s) { s.className = "error"; s.textContent = "This page is incomplete: its script is missing (was the file cut short while copying?). Copy it again whole, or rebuild it with 'amida explore'."; }
});
window.addEventListener("error", function (e) {
  var s = document.getElementById("status");
  if (s) { s.className = "error"; s.textContent = "The page failed: " + (e.message || e.error) + ". Reload it; if it fails again, rebuild it with 'amida explore'."; }
});
window.addEventListener("unhandledrejection", function (e) {
  var s = document.getElementById("status");
  if (s) { s.className = "error"; s.textContent = "The page failed: " + (e.reason && e.reason.message ? e.reason.message : e.reason) + ". Reload it; if it fails again, rebuild it with 'amida explore'."; }
});
`;

export function pageHtml(parts: {
  dataTag: string;
  data: unknown;
  /** Base64 blobs by element id (weights, wasm). */
  blobs: Record<string, string>;
  script: string;
}): string {
  const blobs = Object.entries(parts.blobs)
    .map(([id, b64]) => `<script id="${id}" type="application/octet-stream">${b64}</script>`)
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="${GENERATOR}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Warp amidakuji explorer</title>
<style>${STYLE}</style>
<script>${GUARD}</script>
</head>
<body>
${BODY}
<noscript><p class="error">This page needs JavaScript: the models run in your browser.</p></noscript>
<script id="${parts.dataTag}" type="application/json">${scriptJson(parts.data)}</script>
<script>${scriptText(parts.script)}</script>
${blobs}
</body>
</html>
`;
}
