import { test } from "node:test";
import assert from "node:assert/strict";
import { fakeFinished } from "./fake-run";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createCanvas, loadImage } from "canvas";
import { canvasGrid, compactPNG, drawTile, FIGURE_WIDTH, imageGrid } from "../src/notebook/figures";
import {
  camFigure,
  camSummaryMarkdown,
  CamPanel,
  isZeroMap,
  NOISE_CAVEAT,
  runReading,
  RunReading,
  ZERO_MAP,
} from "../src/notebook/gradcam";
import { ExplainedSample, HeatRow, heatTable } from "../src/explain/analysis";

const { formatCellError, cellLine } = require("../jupyter/cell-error.js");

test("grids fit the notebook's output width whatever the tile count and scale", () => {
  const tiles = Array.from({ length: 16 }, () => new Uint8Array(64 * 64 * 3).fill(200));
  const wide = imageGrid(tiles, 64, Array(16).fill("label 1  g1 2"), { cols: 8, scale: 3 });
  assert.ok(wide.width <= FIGURE_WIDTH, `${wide.width} px`);
  // 8 tiles of 192 px would be 1,590 px: they are shrunk, not cut (2 rows of 8).
  assert.ok(wide.width > FIGURE_WIDTH - 40);
  assert.ok(wide.height > 2 * 90 && wide.height < 2 * 192);
  // Small tiles keep their size.
  const small = canvasGrid([createCanvas(50, 50), createCanvas(50, 50)], ["a", "b"]);
  assert.equal(small.width, 2 * 56 + 6);
});

function sample(heat: number, label: number, predicted: number): ExplainedSample {
  return {
    index: 0,
    label,
    predicted,
    explained: predicted,
    plain: 0,
    rgb: new Uint8Array(64 * 64 * 3).fill(230),
    heat: new Float32Array(64 * 64).fill(heat),
    route: 1,
    otherRoute: 1,
    routeRatio: 1,
    circleRatio: 1,
    start: 1,
    g1Circle: 1,
    hopTarget: null,
  } as ExplainedSample;
}

const chance: RunReading = {
  test_acc: 1 / 3,
  ci95: [0.18, 0.533],
  baseline: 1 / 3,
  baselineName: "rung-blind",
  verdict: "not learned",
};

test("the Grad-CAM figure fits the output width and veils all-zero maps", async () => {
  const panel = (samples: ExplainedSample[]): CamPanel => ({
    name: "r",
    label: "r",
    what: "mobilenetv2_035, stage 1: plain, seed 0",
    reading: chance,
    method: "gradcam at x (8x8 map)",
    samples,
    size: 64,
    perGrid: 8,
  });
  const some = [sample(0.8, 1, 1), sample(0, 2, 0), sample(0.5, 0, 1)];
  const fig = camFigure(panel(some));
  assert.ok(fig.width <= FIGURE_WIDTH);
  assert.ok(isZeroMap(some[1].heat) && !isZeroMap(some[0].heat));
  // Compaction keeps the size and shrinks the file.
  const png = compactPNG(fig);
  const back = await loadImage(png);
  assert.deepEqual([back.width, back.height], [fig.width, fig.height]);
  assert.ok(png.length < fig.toBuffer("image/png").length);
  // A veiled tile is lighter than the same tile bare (a dark tile: mean brightness in its middle).
  const dark = createCanvas(64, 64);
  const dctx = dark.getContext("2d");
  dctx.fillStyle = "#202020";
  dctx.fillRect(0, 0, 64, 64);
  const brightness = (mark?: string) => {
    const c = createCanvas(100, 100);
    const ctx = c.getContext("2d");
    drawTile(ctx, dark, 0, 0, 100, mark);
    const d = ctx.getImageData(5, 5, 20, 20).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += d[i];
    return sum / (d.length / 4);
  };
  assert.ok(
    brightness() < 40 && brightness(ZERO_MAP) > 150,
    `${brightness()} ${brightness(ZERO_MAP)}`,
  );
});

test("the summary puts the verdict and the noise caveat beside the ratios of a run at chance", () => {
  const samples = [sample(0.5, 1, 1), sample(0.5, 2, 1)];
  const row: HeatRow = heatTable("cnn-stage1-s0", samples)[0];
  const learned: RunReading = { ...chance, test_acc: 0.9, ci95: [0.8, 0.95], verdict: "learned" };
  const md = camSummaryMarkdown([
    { label: "cnn-stage1-s0", reading: chance, row },
    { label: "vit-stage1-s0", reading: learned, row },
    { label: "vit-scratch-s0", reading: null, row: undefined },
  ]);
  const lines = md.split("\n");
  assert.match(
    lines[2],
    /^\| cnn-stage1-s0 \| 33\.3 \(18\.0-53\.3\) \| 33\.3 rung-blind \| not learned \|.*\*\*noise\*\*/,
  );
  assert.match(lines[3], /\| learned \|.*where the model looks \|$/);
  assert.match(lines[4], /unfinished \|.*no verdict/);
  assert.match(NOISE_CAVEAT, /noise/);
});

test("runReading takes the verdict from metrics.json: the Wilson lower bound against the rung-blind baseline", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-fig-"));
  const write = (name: string, m: object) => fakeFinished(dir, name, m);
  write("a", {
    test_acc: 0.9,
    ci95: [0.85, 0.93],
    test_count: 500,
    chance: 1 / 3,
    rung_blind_bayes: 0.36,
  });
  write("b", {
    test_acc: 0.4,
    ci95: [0.357, 0.444],
    test_count: 500,
    chance: 1 / 3,
    rung_blind_bayes: 0.36,
  });
  write("c", {
    test_acc: 0.4,
    ci95: [0.3576, 0.4443],
    test_count: 500,
    chance: 1 / 3,
    rung_blind_bayes: null,
  });
  assert.equal(runReading(dir, "a")!.verdict, "learned");
  assert.equal(runReading(dir, "b")!.verdict, "not learned"); // 40 % but its lower bound < 36 %
  const c = runReading(dir, "c")!;
  assert.equal(c.baselineName, "chance");
  assert.equal(c.verdict, "learned"); // lower bound 35.8 % > chance 33.3 %
  assert.ok(Math.abs(c.ci95[0] - 0.3576) < 0.001);
  assert.equal(runReading(dir, "missing"), null);
});

test("a cell's error: its message and the cell's line, no stack frames (jupyter/cell-error.js)", () => {
  const src =
    'const a = 1;\n\n// set up\nconst { cfg } = experimentFromNotebook({\n  budget: "tiny",\n});';
  const output = [
    'Object.defineProperty(exports, "__esModule", { value: true });',
    "exports.cfg = exports.a = void 0;",
    "const a = 1;",
    "exports.a = a;",
    "// set up",
    "const { cfg } = exports.experimentFromNotebook({",
    '    budget: "tiny",',
    "});",
  ].join("\n");
  const err = new Error("stage1.lr must be a number in 1e-7..10, got -1");
  err.stack = [
    `Error: ${err.message}`,
    "    at num (/repo/src/train/config.js:26:19)",
    "    at Proxy.experimentFromNotebook (/repo/src/notebook/experiment.js:85:60)",
    "    at evalmachine.<anonymous>:6:25",
    "    at evalmachine.<anonymous>:11:3",
  ].join("\n");
  assert.deepEqual(cellLine(err.stack, src, output), {
    line: 4,
    text: "const { cfg } = experimentFromNotebook({",
  });
  const shown: string = formatCellError(err, { src, output }, {});
  assert.equal(
    shown,
    "Error: stage1.lr must be a number in 1e-7..10, got -1\n  (cell line 4: const { cfg } = experimentFromNotebook({)",
  );
  assert.doesNotMatch(shown, /src\/|\bat /);
  // A cause is named; with AMIDA_STACK=1 the whole stack is back.
  const caused = new Error("no runs", { cause: new RangeError("bad seed") });
  assert.match(
    formatCellError(caused, null, {}),
    /^Error: no runs\n {2}caused by RangeError: bad seed$/,
  );
  assert.match(
    formatCellError(err, { src, output }, { AMIDA_STACK: "1" }),
    /src\/train\/config\.js/,
  );
  // No frame in the cell (an error from a callback): the message alone.
  const late = new Error("late");
  late.stack = "Error: late\n    at Timeout._onTimeout (/repo/src/x.js:1:1)";
  assert.equal(formatCellError(late, { src, output }, {}), "Error: late");
});
