/**
 * The explorer page's script (bundled by bundle.ts; runs in the browser only). It draws puzzles
 * with the project's generator and renderer, lets the reader edit them, and shows each model's
 * probabilities, answer, the true answer with its route, the rung-blind rule's answer and the
 * Grad-CAM map, all computed here with the code the Node side runs (src/puzzle, src/data,
 * src/explain/gradcam.ts).
 *
 * `window.amidaExplorer` (ExplorerApi) exposes what the page computed, for tests and benchmarks.
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "../models/io";
import { registerWasmTrainingKernels } from "../backend/wasm-training-kernels";
import { defaultCamLayer, gradCam } from "../explain/gradcam";
import { overlay } from "../explain/overlay";
import { imagesToTensor } from "../data/batches";
import { rungBlindView } from "../data/baselines";
import { splitOfHash } from "../data/sample";
import { Task } from "../data/spec";
import { puzzleWithPaths, rgbToCanvas } from "../puzzle/annotate";
import { layout } from "../puzzle/layout";
import { ladderHash, Puzzle, structureKey } from "../puzzle/puzzle";
import { PALETTE, PALETTE_NAMES, seedCircleSprite } from "../puzzle/render";
import { warpLabel } from "../puzzle/trace";
import { createCanvas } from "./browser-canvas";
import { moveStart, slotAt, slotPoint, toggleRung, topLaneAt, topPoint, Slot } from "./edit";
import { DATA_TAG, ExplorerData, ExplorerModel, PAYLOAD_VERSION } from "./payload";
import { Draw, drawnPuzzle, puzzlePixels } from "./puzzles";
import { measuredWords, modelTitle, questionWords, trainedWords } from "./words";

/** One model's answer to one picture. */
export interface ModelAnswer {
  run: string;
  probabilities: number[];
  predicted: number;
  /** The true answer to the question this model was trained on, and the rung-blind rule's. */
  truth: number;
  rungBlind: number;
  /** Grad-CAM map, size*size in 0..1, and its layer. */
  heat: number[];
  layer: string;
  /** Milliseconds for the picture's tensor, the prediction and Grad-CAM. */
  ms: number;
}

export interface ExplorerApi {
  ready: boolean;
  /** Set when the page could not start (also shown on it). */
  error: string | null;
  backend: string;
  /** From navigation start to the first answers shown, in ms. */
  loadMs: number;
  /** Full updates (picture, answers, maps) so far. */
  renders: number;
  /** Messages shown in place of a model (a model that cannot answer these puzzles). */
  modelErrors: string[];
  /** The page's own check against Node's numbers (payload reference), run on load. */
  selfCheck: {
    puzzles: number;
    pixelBytesDiffering: number;
    pixelMaxDiff: number;
    probMaxDiff: number;
  } | null;
  puzzle(): Puzzle;
  draw(): Draw;
  current(): { rgb: string; answers: ModelAnswer[] };
  /** Every model's answers for the given puzzles (pixels from each one's draw). */
  evaluate(
    items: Array<{ puzzle: Puzzle; draw: Draw }>,
  ): Array<{ rgb: string; answers: ModelAnswer[] }>;
  /** Viewport coordinates of a rung slot's centre and of a top circle on the board. */
  slotPoint(row: number, left: number): { x: number; y: number };
  topPoint(lane: number): { x: number; y: number };
  numTensors(): number;
  /** n timed predictions + Grad-CAM per model on the current picture, and n full updates (ms). */
  bench(n: number): { perModel: number[][]; update: number[] };
}

declare global {
  interface Window {
    amidaExplorer: ExplorerApi;
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = (tag: string, cls = "", text = ""): HTMLElement => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
};

function setStatus(text: string, error = false): void {
  const s = $("status");
  s.textContent = text;
  s.className = error ? "error" : "";
  s.style.display = text ? "" : "none";
}

async function base64Bytes(b64: string): Promise<ArrayBuffer> {
  // fetch decodes data: URLs natively (far faster than atob for megabytes); data: is local.
  return (await fetch(`data:application/octet-stream;base64,${b64}`)).arrayBuffer();
}

/** The bytes of a base64 tag that must hold `bytes` bytes; a clear error when it is missing or short. */
async function blob(id: string, what: string, bytes: number): Promise<ArrayBuffer> {
  const text = document.getElementById(id)?.textContent?.trim() ?? "";
  const want = 4 * Math.ceil(bytes / 3);
  if (text.length !== want)
    throw new Error(
      `${what} ${text ? `is cut short (${text.length} of ${want} base64 characters)` : "is missing"} in this page (tag '${id}'); the file was probably cut short while copying: copy it again whole, or rebuild it with 'amida explore'`,
    );
  const buf = await base64Bytes(text);
  if (buf.byteLength !== bytes)
    throw new Error(`${what} in this page is damaged; rebuild it with 'amida explore'`);
  return buf;
}

function readData(): ExplorerData {
  const text = document.getElementById(DATA_TAG)?.textContent;
  let data: ExplorerData;
  try {
    data = JSON.parse(text ?? "");
  } catch {
    throw new Error(
      "this page's data is missing or damaged (was the file cut short while copying?); copy it again whole, or rebuild it with 'amida explore'",
    );
  }
  if (data.version !== PAYLOAD_VERSION)
    throw new Error(
      `this page's data is version ${data.version}, its script reads version ${PAYLOAD_VERSION}; rebuild it with 'amida explore'`,
    );
  return data;
}

const BACKENDS = ["auto", "wasm", "webgl", "cpu"] as const;

/** wasm first: on CPUs (and software GPUs) it is the fastest here; then WebGL, then plain JS. */
async function startBackend(data: ExplorerData, choice: string): Promise<string> {
  const order = choice === "auto" ? ["wasm", "webgl", "cpu"] : [choice];
  const failures: string[] = [];
  for (const name of order) {
    try {
      if (name === "wasm") {
        const bin = await blob(data.wasmTag, "the wasm backend's binary", data.wasmBytes);
        const url = URL.createObjectURL(new Blob([bin], { type: "application/wasm" }));
        // Only the SIMD build is shipped (every current browser has SIMD); threads need a
        // cross-origin-isolated page, which a file:// page is not.
        setWasmPaths({
          "tfjs-backend-wasm.wasm": url,
          "tfjs-backend-wasm-simd.wasm": url,
          "tfjs-backend-wasm-threaded-simd.wasm": url,
        });
        // Grad-CAM's gradient needs kernels tfjs' wasm backend lacks (depthwise convolution's).
        registerWasmTrainingKernels();
      }
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
      failures.push(`${name}: did not start`);
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no TensorFlow.js backend started in this browser (${failures.join("; ")})`);
}

interface Loaded {
  entry: ExplorerModel;
  model: tf.LayersModel | null;
  layer: string;
  error: string | null;
  panel: Panel;
}

interface Panel {
  root: HTMLElement;
  answer: HTMLElement;
  bars: HTMLElement;
  route: HTMLElement;
  heat: HTMLElement;
  timing: HTMLElement;
}

function makePanel(entry: ExplorerModel): Panel {
  const f = entry.facts;
  const { title, kind } = modelTitle(f.model);
  const root = el("article", "model");
  const h = el("h3", "", `${title} `);
  h.appendChild(el("small", "", `${kind}, ${(f.params / 1e6).toFixed(2)} M parameters`));
  root.appendChild(h);
  root.appendChild(el("p", "facts", `Run ${f.name} of experiment ${f.experiment}.`));
  root.appendChild(el("p", "facts", trainedWords(f, entry.spec)));
  const m = measuredWords(f);
  root.appendChild(el("p", "facts", m.line));
  root.appendChild(el("p", m.learned ? "verdict learned" : "verdict", m.verdict));
  const panel: Panel = {
    root,
    answer: el("div", "answer"),
    bars: el("div", "bars"),
    route: el("figure"),
    heat: el("figure"),
    timing: el("p", "timing"),
  };
  const pics = el("div", "pics");
  panel.route.classList.add("truth");
  pics.append(panel.route, panel.heat);
  root.append(panel.answer, panel.bars, pics, panel.timing);
  return panel;
}

const colourOf = (p: Puzzle, bottom: number) => PALETTE[p.bottom[bottom]];
const colourName = (p: Puzzle, bottom: number) => PALETTE_NAMES[p.bottom[bottom]];
const rgbCss = (c: readonly number[]) => `rgb(${c[0]},${c[1]},${c[2]})`;

function swatch(p: Puzzle, bottom: number): HTMLElement {
  const s = el("span", "swatch");
  s.style.background = rgbCss(colourOf(p, bottom));
  return s;
}

/** "circle 2 (green)" with a swatch. */
function circleWords(p: Puzzle, bottom: number): HTMLElement {
  const s = el("span");
  s.append(`circle ${bottom + 1}`, swatch(p, bottom), `(${colourName(p, bottom)})`);
  return s;
}

async function main(): Promise<void> {
  const data = readData();
  const size = data.difficulty.size;
  const api: ExplorerApi = Object.assign(window.amidaExplorer, {
    ready: false,
    error: null,
    backend: "",
    loadMs: 0,
    renders: 0,
    modelErrors: [],
    selfCheck: null,
    puzzle: () => state.puzzle,
    draw: () => state.draw,
    current: () => ({ rgb: toB64(state.rgb), answers: state.answers }),
    evaluate: (items) =>
      items.map(({ puzzle, draw }) => {
        const rgb = puzzlePixels(puzzle, base, draw);
        return { rgb: toB64(rgb), answers: answerAll(puzzle, rgb) };
      }),
    slotPoint: (row, left) => toViewport(slotPoint(state.puzzle, size, { row, left })),
    topPoint: (lane) => toViewport(topPoint(state.puzzle, size, lane)),
    numTensors: () => tf.memory().numTensors,
    bench: (n) => {
      const perModel = usable().map((l) => {
        const times: number[] = [];
        for (let i = 0; i < n; i++) times.push(answer(l, state.puzzle, state.rgb).ms);
        return times;
      });
      const update: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        render();
        update.push(performance.now() - t);
      }
      return { perModel, update };
    },
  } as ExplorerApi);

  // The page's renderer uses cairo's circles (payload), so its pixels are the Node renderer's.
  for (const s of data.sprites) {
    const c = createCanvas(s.side, s.side);
    const ctx = c.getContext("2d")!;
    const img = ctx.createImageData(s.side, s.side);
    img.data.set(new Uint8Array(await base64Bytes(s.rgba)));
    ctx.putImageData(img, 0, 0);
    seedCircleSprite(s, c as unknown as Parameters<typeof seedCircleSprite>[1]);
  }

  const params = new URLSearchParams(location.search);
  const choice = params.get("backend") ?? "auto";
  if (!(BACKENDS as readonly string[]).includes(choice))
    throw new Error(`unknown backend '${choice}' in the address; allowed: ${BACKENDS.join(", ")}`);
  setStatus("Starting TensorFlow.js...");
  api.backend = await startBackend(data, choice);

  const loaded: Loaded[] = [];
  const modelsEl = $("models");
  for (const entry of data.models) {
    const panel = makePanel(entry);
    modelsEl.appendChild(panel.root);
    const item: Loaded = { entry, model: null, layer: "", error: null, panel };
    loaded.push(item);
    const f = entry.facts;
    try {
      setStatus(`Loading ${modelTitle(f.model).title} (${f.name})...`);
      const weightData = await blob(
        entry.weightsTag,
        `the weights of run ${f.name}`,
        entry.weightBytes,
      );
      const model = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: entry.topology,
          weightSpecs: entry.weightSpecs as tf.io.WeightsManifestEntry[],
          weightData,
        }),
      );
      const shape = model.inputs[0].shape as number[];
      if (shape[1] !== size || shape[2] !== size) {
        model.dispose();
        throw new Error(
          `run ${f.name}'s model takes ${shape[1]}x${shape[2]} px images, but the puzzles on this page are ${size}x${size} px: it cannot answer them (build the page from runs of one image size)`,
        );
      }
      item.model = model;
      item.layer = defaultCamLayer(model);
      if (item.layer !== entry.camLayer)
        throw new Error(
          `Grad-CAM layer '${item.layer}' here but '${entry.camLayer}' in Node: the page's script and its models disagree; rebuild it with 'amida explore'`,
        );
    } catch (e) {
      item.error = `This model cannot answer here: ${(e as Error).message}`;
      api.modelErrors.push(item.error);
      panel.answer.className = "error";
      panel.answer.textContent = item.error;
    }
  }
  const usable = () => loaded.filter((l): l is Loaded & { model: tf.LayersModel } => !!l.model);
  if (usable().length === 0)
    throw new Error(`none of the models can answer here:\n${api.modelErrors.join("\n")}`);

  const rungBlindTables = new Map(
    Object.entries(data.rungBlind).map(([k, t]) => [k, new Map(t.answers)]),
  );
  const base = data.models[0].spec;
  const first = data.models[0];
  const warpHops = data.models.find((m) => m.spec.task === "warp")?.spec.hops ?? 1;
  const state = {
    draw: {
      task: first.spec.task,
      hops: first.spec.task === "warp" ? first.spec.hops : warpHops,
      seed: base.seed,
      index: 0,
    } as Draw,
    drawn: null as unknown as Puzzle,
    puzzle: null as unknown as Puzzle,
    rgb: new Uint8Array(0),
    answers: [] as ModelAnswer[],
  };

  function answer(l: Loaded & { model: tf.LayersModel }, p: Puzzle, rgb: Uint8Array): ModelAnswer {
    const t = performance.now();
    const x = imagesToTensor([rgb], size, size);
    const cam = gradCam(l.model, x, { layer: l.layer });
    x.dispose();
    const ms = performance.now() - t;
    const rb = rungBlindTables.get(l.entry.rungBlindKey)!.get(rungBlindView(p)) ?? 0;
    return {
      run: l.entry.facts.name,
      probabilities: Array.from(cam.probabilities[0]),
      predicted: cam.predicted[0],
      truth: warpLabel(p, l.entry.spec.hops),
      rungBlind: rb,
      heat: Array.from(cam.maps[0]),
      layer: cam.layer,
      ms,
    };
  }
  const answerAll = (p: Puzzle, rgb: Uint8Array) => usable().map((l) => answer(l, p, rgb));

  // --- the self-check against Node's numbers (also warms every kernel up) ---
  const ref = data.reference;
  let pixelBytesDiffering = 0;
  let pixelMaxDiff = 0;
  let probMaxDiff = 0;
  for (let i = 0; i < ref.count; i++) {
    const d: Draw = { task: base.task, hops: base.hops, seed: base.seed, index: i };
    const rgb = puzzlePixels(drawnPuzzle(base, d), base, d);
    const want = new Uint8Array(await base64Bytes(ref.pixels[i]));
    for (let k = 0; k < rgb.length; k++) {
      const diff = Math.abs(rgb[k] - want[k]);
      if (diff) pixelBytesDiffering++;
      pixelMaxDiff = Math.max(pixelMaxDiff, diff);
    }
    loaded.forEach((l, m) => {
      if (!l.model) return;
      const a = answer(l as Loaded & { model: tf.LayersModel }, drawnPuzzle(base, d), rgb);
      a.probabilities.forEach(
        (v, c) => (probMaxDiff = Math.max(probMaxDiff, Math.abs(v - ref.probabilities[m][i][c]))),
      );
    });
  }
  api.selfCheck = { puzzles: ref.count, pixelBytesDiffering, pixelMaxDiff, probMaxDiff };

  // --- the board ---
  const scale = Math.max(2, Math.round(384 / size));
  const board = $("board");
  const hover = createCanvas(size * scale, size * scale);
  hover.className = "hover";
  hover.setAttribute("role", "img");
  hover.setAttribute(
    "aria-label",
    "the puzzle: click between two lanes to add or remove a rung, drag START to move it",
  );
  let picture: HTMLCanvasElement = createCanvas(size * scale, size * scale);
  board.append(picture, hover);
  const toImage = (ev: PointerEvent) => {
    const r = hover.getBoundingClientRect();
    return {
      x: ((ev.clientX - r.left) / r.width) * size,
      y: ((ev.clientY - r.top) / r.height) * size,
    };
  };
  function toViewport(pt: { x: number; y: number }) {
    const r = hover.getBoundingClientRect();
    return { x: r.left + (pt.x / size) * r.width, y: r.top + (pt.y / size) * r.height };
  }

  const editMsg = $("edit-msg");
  function say(text: string, refused = false) {
    editMsg.textContent = text;
    editMsg.className = refused ? "refused" : "";
  }

  function applyEdit(e: ReturnType<typeof toggleRung>) {
    if (!e.puzzle) return say(e.message, true);
    state.puzzle = e.puzzle;
    say(e.message);
    render();
  }

  function drawHover(slot: Slot | null, startLane: number | null, dragFrom: number | null) {
    const ctx = hover.getContext("2d")!;
    ctx.clearRect(0, 0, hover.width, hover.height);
    const L = layout(state.puzzle, size);
    ctx.save();
    ctx.scale(scale, scale);
    ctx.lineWidth = 2 / scale;
    if (slot && dragFrom === null) {
      const there = state.puzzle.rungs.some((r) => r.row === slot.row && r.left === slot.left);
      const clash = state.puzzle.rungs.some(
        (r) => r.row === slot.row && Math.abs(r.left - slot.left) === 1,
      );
      ctx.strokeStyle = there
        ? "rgba(200,0,0,0.9)"
        : clash
          ? "rgba(150,150,150,0.9)"
          : "rgba(0,150,60,0.9)";
      ctx.setLineDash(there ? [] : [(2 / scale) * 2, (2 / scale) * 2]);
      ctx.beginPath();
      const y = L.rowY(slot.row);
      ctx.moveTo(L.laneX(slot.left), y);
      ctx.lineTo(L.laneX(slot.left + 1), y);
      ctx.stroke();
    }
    const ring = (lane: number, colour: string) => {
      ctx.strokeStyle = colour;
      ctx.setLineDash([]);
      ctx.beginPath();
      ctx.arc(L.laneX(lane), L.topY, L.radius + 1.5, 0, 2 * Math.PI);
      ctx.stroke();
    };
    if (dragFrom !== null) {
      ring(dragFrom, "rgba(53,88,200,0.9)");
      if (startLane !== null && startLane !== dragFrom) ring(startLane, "rgba(0,150,60,0.9)");
    } else if (startLane === state.puzzle.start) ring(startLane, "rgba(53,88,200,0.7)");
    ctx.restore();
  }

  let dragFrom: number | null = null;
  hover.addEventListener("pointerdown", (ev) => {
    const pt = toImage(ev);
    const lane = topLaneAt(state.puzzle, size, pt.x, pt.y);
    if (lane !== null && lane === state.puzzle.start) {
      dragFrom = lane;
      hover.setPointerCapture(ev.pointerId);
      drawHover(null, lane, dragFrom);
    }
  });
  hover.addEventListener("pointermove", (ev) => {
    const pt = toImage(ev);
    drawHover(
      slotAt(state.puzzle, size, pt.x, pt.y),
      topLaneAt(state.puzzle, size, pt.x, pt.y),
      dragFrom,
    );
  });
  hover.addEventListener("pointerup", (ev) => {
    const pt = toImage(ev);
    const from = dragFrom;
    dragFrom = null;
    if (from !== null) {
      const lane = topLaneAt(state.puzzle, size, pt.x, pt.y);
      if (lane !== null && lane !== from) applyEdit(moveStart(state.puzzle, lane));
      drawHover(null, null, null);
      return;
    }
    const slot = slotAt(state.puzzle, size, pt.x, pt.y);
    if (slot) applyEdit(toggleRung(state.puzzle, slot));
    drawHover(slot, null, null);
  });
  hover.addEventListener("pointerleave", () => drawHover(null, null, dragFrom));

  // --- controls ---
  const taskSel = $<HTMLSelectElement>("task");
  for (const [task, label] of [
    ["plain", "the plain test set"],
    ["warp", `the warp test set (${warpHops} hop${warpHops === 1 ? "" : "s"})`],
  ]) {
    const o = document.createElement("option");
    o.value = task;
    o.textContent = label;
    taskSel.appendChild(o);
  }
  taskSel.value = state.draw.task;
  const seedIn = $<HTMLInputElement>("seed");
  const indexIn = $<HTMLInputElement>("index");
  function newPuzzle(d: Draw) {
    state.draw = d;
    state.drawn = drawnPuzzle(base, d);
    state.puzzle = state.drawn;
    seedIn.value = String(d.seed);
    indexIn.value = String(d.index + 1);
    taskSel.value = d.task;
    say(
      "Click between two lanes to add a rung there, click a rung to remove it, drag START to another top circle.",
    );
    render();
  }
  const readInt = (input: HTMLInputElement, what: string, min: number): number | null => {
    const v = Number(input.value);
    if (!Number.isInteger(v) || v < min || v > 2 ** 31) {
      say(`${what} must be a whole number from ${min} to 2147483648, got '${input.value}'`, true);
      return null;
    }
    return v;
  };
  const fromInputs = (next: number) => {
    const seed = readInt(seedIn, "the seed", 0);
    const index = readInt(indexIn, "the number", 1);
    if (seed === null || index === null) return;
    newPuzzle({ ...state.draw, task: taskSel.value as Task, seed, index: index - 1 + next });
  };
  $("new").addEventListener("click", () => fromInputs(1));
  seedIn.addEventListener("change", () => fromInputs(0));
  indexIn.addEventListener("change", () => fromInputs(0));
  taskSel.addEventListener("change", () => fromInputs(0));
  $("reset").addEventListener("click", () => newPuzzle(state.draw));
  $("start-left").addEventListener("click", () =>
    state.puzzle.start > 0
      ? applyEdit(moveStart(state.puzzle, state.puzzle.start - 1))
      : say("START is already on the leftmost lane", true),
  );
  $("start-right").addEventListener("click", () =>
    state.puzzle.start < state.puzzle.lanes - 1
      ? applyEdit(moveStart(state.puzzle, state.puzzle.start + 1))
      : say("START is already on the rightmost lane", true),
  );
  $<HTMLInputElement>("quiz").addEventListener("change", (e) =>
    document.body.classList.toggle("quiz", (e.target as HTMLInputElement).checked),
  );

  // --- one full update: picture, every model's answer and map ---
  function render() {
    const p = state.puzzle;
    state.rgb = puzzlePixels(p, base, state.draw);
    const big = rgbToCanvas(state.rgb, size, scale) as unknown as HTMLCanvasElement;
    picture.replaceWith(big);
    picture = big;
    state.answers = [];
    for (const l of usable()) {
      const a = answer(l, p, state.rgb);
      state.answers.push(a);
      showAnswer(l, p, a);
    }
    showInfo(p);
    api.renders++;
  }

  function showAnswer(l: Loaded, p: Puzzle, a: ModelAnswer) {
    const P = l.panel;
    const hops = l.entry.spec.hops;
    P.answer.replaceChildren();
    const line1 = el("div");
    const ok = a.predicted === a.truth;
    line1.append(
      "Model's answer: ",
      circleWords(p, a.predicted),
      ` (${(100 * a.probabilities[a.predicted]).toFixed(1)} %)`,
    );
    const verdict = el("span", ok ? "right truth" : "wrong truth", ok ? "  right" : "  wrong");
    line1.append(verdict);
    const line2 = el("div", "truth");
    line2.append(
      `True answer to ${questionWords(l.entry.spec.task, hops)}: `,
      circleWords(p, a.truth),
    );
    const line3 = el("div", "facts");
    line3.append("A rule that never looks at the rungs answers ", circleWords(p, a.rungBlind), ".");
    P.answer.append(line1, line2, line3);
    P.bars.replaceChildren();
    const head = el("span", "facts", "How sure it is (its probability for each bottom circle):");
    head.style.gridColumn = "1 / -1";
    P.bars.appendChild(head);
    a.probabilities.forEach((v, c) => {
      const name = el("span");
      name.append(swatch(p, c), `circle ${c + 1}`);
      const bar = el("div", c === a.predicted ? "bar chosen" : "bar");
      const fill = el("div");
      fill.style.width = `${(100 * v).toFixed(2)}%`;
      bar.appendChild(fill);
      P.bars.append(name, bar, el("span", "", `${(100 * v).toFixed(1)} %`));
    });
    const picScale = Math.max(1, Math.round(192 / size));
    const route = puzzleWithPaths(
      state.rgb,
      p,
      size,
      hops,
      picScale,
    ) as unknown as HTMLCanvasElement;
    P.route.replaceChildren(
      route,
      el(
        "figcaption",
        "",
        hops === 0
          ? "The true route: from START down to the answer."
          : "The true route: black from START, dashed hop to the top circle of the colour reached, then red.",
      ),
    );
    const blank = a.heat.every((v) => v === 0);
    const heat = overlay(
      state.rgb,
      Float32Array.from(a.heat),
      size,
      picScale,
    ) as unknown as HTMLCanvasElement;
    const side = l.model
      ? ((l.model.getLayer(a.layer).getOutputAt(0) as tf.SymbolicTensor).shape[1] as number)
      : 0;
    P.heat.replaceChildren(
      heat,
      el(
        "figcaption",
        "",
        blank
          ? `Grad-CAM at ${a.layer} (${side}x${side}) is blank: nothing at that layer raised the score of its answer.`
          : `Grad-CAM at ${a.layer} (${side}x${side} grid): where the evidence for its answer was (red strong, blue none).`,
      ),
    );
    P.timing.textContent = `prediction + Grad-CAM: ${a.ms.toFixed(0)} ms (${api.backend})`;
  }

  function showInfo(p: Puzzle) {
    const info = $("puzzle-info");
    const d = base.difficulty;
    const n = p.rungs.length;
    const drawnWords =
      state.draw.seed === base.seed && state.draw.task === base.task
        ? `test puzzle ${state.draw.index + 1} of the data set`
        : `puzzle ${state.draw.index + 1} drawn with seed ${state.draw.seed}`;
    const edited = structureKey(p) !== structureKey(state.drawn) ? ", edited" : "";
    const range =
      n < d.rungsMin || n > d.rungsMax
        ? ` (outside the ${d.rungsMin} to ${d.rungsMax} the models trained on)`
        : "";
    const split = splitOfHash(ladderHash(p));
    const seen =
      split === "test"
        ? "Its ladder belongs to the test split: no model here trained on it."
        : `Its ladder hashes into the ${split === "train" ? "training" : "validation"} split: ${split === "train" ? "a model here may have trained on this very ladder" : "models were validated, not trained, on such ladders"}.`;
    info.replaceChildren(
      `${drawnWords}${edited}: ${n} rung${n === 1 ? "" : "s"}${range}. ${seen} `,
    );
    const truths = el("span", "truth");
    truths.append(" Plain answer: ", circleWords(p, warpLabel(p, 0)), ".");
    if (data.models.some((m) => m.spec.task === "warp"))
      truths.append(
        ` Warp answer (${warpHops} hop${warpHops === 1 ? "" : "s"}): `,
        circleWords(p, warpLabel(p, warpHops)),
        ".",
      );
    info.appendChild(truths);
  }

  // --- footer: backend, self-check, how the page was made ---
  const footer = $("footer");
  const sc = api.selfCheck;
  const check = el(
    "p",
    "",
    `Checked on load against the numbers Node computed when the page was built (${ref.backend}, ${ref.count} test puzzles): ` +
      (sc.pixelBytesDiffering === 0
        ? "the pictures are byte for byte the same"
        : `${sc.pixelBytesDiffering} of ${ref.count * size * size * 3} picture bytes differ, by at most ${sc.pixelMaxDiff}`) +
      `, the probabilities agree within ${sc.probMaxDiff.toExponential(1)}` +
      (sc.pixelBytesDiffering > 0
        ? " (a trained model's answer moves a little with those 1-level edge pixels)."
        : "."),
  );
  // Same pictures: the numbers must agree to float rounding. Pictures 1 level apart on a few
  // antialiased edge pixels move a trained model's probabilities by up to ~1e-3 (measured).
  const probLimit = sc.pixelBytesDiffering === 0 ? 1e-4 : 1e-2;
  if (sc.probMaxDiff > probLimit || sc.pixelMaxDiff > 1) check.className = "error";
  const backendP = el("p");
  const sel = document.createElement("select");
  for (const b of BACKENDS) {
    const o = document.createElement("option");
    o.value = b;
    o.textContent = b === "auto" ? "automatic" : b;
    sel.appendChild(o);
  }
  sel.value = choice;
  sel.addEventListener("change", () => {
    const q = new URLSearchParams(location.search);
    q.set("backend", sel.value);
    location.search = q.toString();
  });
  backendP.append(
    `Computed in this browser with TensorFlow.js ${tf.version.tfjs} on `,
    el("b", "", api.backend),
    "; use ",
    sel,
  );
  footer.append(
    backendP,
    check,
    el(
      "p",
      "",
      `Made by '${data.generator}' on ${data.created.slice(0, 10)} from ${data.models.map((m) => `${m.facts.experiment}/${m.facts.name}`).join(", ")}. Nothing leaves this page: it needs no network.`,
    ),
  );

  // The address may name the first puzzle: ?task=plain|warp&seed=S&n=N (N from 1).
  const asked: string[] = [];
  const task = params.get("task");
  if (task !== null) {
    if (task === "plain" || task === "warp") state.draw.task = task;
    else asked.push(`task '${task}' (allowed: plain, warp)`);
  }
  for (const [key, min] of [
    ["seed", 0],
    ["n", 1],
  ] as const) {
    const text = params.get(key);
    if (text === null) continue;
    const v = Number(text);
    if (!/^\d+$/.test(text) || v < min || v > 2 ** 31)
      asked.push(`${key} '${text}' (allowed: a whole number from ${min})`);
    else if (key === "seed") state.draw.seed = v;
    else state.draw.index = v - 1;
  }
  newPuzzle(state.draw);
  if (asked.length)
    say(`The address asks for ${asked.join(" and ")}; showing the puzzle above instead.`, true);
  setStatus("");
  // performance.now() counts from the navigation's start.
  api.loadMs = performance.now();
  api.ready = true;
}

function toB64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

// Present from the moment the script is parsed (the page's guard checks for it); filled in by main().
window.amidaExplorer = { ready: false, error: null } as ExplorerApi;

// The weights and the wasm binary follow this script in the document: start once it is parsed.
document.addEventListener("DOMContentLoaded", () => {
  main().catch((e) => {
    const msg = (e as Error).message ?? String(e);
    window.amidaExplorer.error = msg;
    window.amidaExplorer.ready = false;
    setStatus(`This page cannot run: ${msg}`, true);
  });
});
