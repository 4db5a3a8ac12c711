import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  CurveRun,
  curvesSpec,
  plotlyCurves,
  seedResultsSpec,
  writeCurvesHTML,
} from "../src/notebook/charts";
import { heatmapSpec, vegaLiteToSVG } from "../src/report/charts";
import { FIGURE_WIDTH } from "../src/notebook/figures";
import { formatShare } from "../src/report/table";

const svgWidth = (svg: string) => Number(/<svg[^>]* width="([\d.]+)"/.exec(svg)![1]);

/** 7 protocol cells x 3 seeds, as `standard` makes in notebook 03, with long arm names. */
function manyRuns(): CurveRun[] {
  const groups = [
    "mobilenetv2_100 · fine-tune: first5",
    "mobilenetv2_100 · fine-tune: all-but-head",
    "mobilenetv2_100 · fine-tune: early:30",
    "mobilevit_xxs · fine-tune: stem+early-transformer",
    "mobilevit_xxs · fine-tune: all-but-head",
    "mobilenetv2_100 · warp from scratch",
    "mobilevit_xxs · warp from scratch",
  ];
  return groups.flatMap((group, g) =>
    [0, 1, 2].map((seed) => ({
      run: `${group.startsWith("mobilenet") ? "cnn" : "vit"}-finetune-arm${g}-s${seed}`,
      group,
      seed,
      history: [1, 2, 3].map((k) => ({
        images: 1000 * 10 ** (k / 4),
        train_acc: 0.3 + 0.1 * k,
        val_acc: k === 3 && seed === 2 ? null : 0.33,
      })),
      chance: 1 / 3,
      rungBlind: 0.34,
    })),
  );
}

test("curves: one legend entry per model and cell (not per run and split), full run names on hover, no fixed width", () => {
  const runs = manyRuns();
  const fig = plotlyCurves(runs, "stage 2") as { data: any[]; layout: any };
  const entries = fig.data.filter((t) => t.showlegend !== false);
  assert.equal(entries.length, 7); // was 42 (21 runs x train/val)
  assert.deepEqual(
    entries.map((t) => t.name),
    [...new Set(runs.map((r) => r.group))].sort(),
  );
  assert.equal(fig.layout.hoverlabel.namelength, -1);
  assert.equal(fig.layout.width, undefined);
  for (const r of runs)
    assert.ok(
      fig.data.some((t) => t.hovertemplate.startsWith(`${r.run} (val)`)),
      r.run,
    );
  // The mean over seeds skips a missing value instead of counting it as 0.
  const mean = fig.data.find(
    (t) => t.name === runs[0].group && t.line.dash === "solid" && t.line.width === 2.5,
  );
  assert.deepEqual(mean.y, [0.33, 0.33, 0.33]);
  // Accuracy against images on a log axis, with chance and the rung-blind rule as reference lines.
  assert.equal(fig.layout.xaxis.type, "log");
  assert.deepEqual(
    fig.layout.shapes.map((l: { y0: number }) => l.y0.toFixed(4)),
    ["0.3333", "0.3400"],
  );
  const spec = curvesSpec(runs, "stage 2") as { layer: Array<{ encoding: any; data?: any }> };
  assert.equal(spec.layer[spec.layer.length - 1].encoding.x.scale.type, "log");
  assert.deepEqual(
    spec.layer[0].data.values.map((v: { name: string }) => v.name),
    ["chance", "rung-blind rule"],
  );
  // A group of one run is drawn as that run, with its own legend entry.
  const single = plotlyCurves([{ ...runs[0], group: undefined }], "x") as { data: any[] };
  assert.deepEqual(
    single.data.map((t) => [t.name, t.showlegend]),
    [
      [runs[0].run, false],
      [runs[0].run, true],
    ],
  );
});

test("every chart fits the notebook's output width", async () => {
  assert.ok(svgWidth(await vegaLiteToSVG(curvesSpec(manyRuns(), "stage 2"))) <= FIGURE_WIDTH);
  const cells = [
    "stage 1: plain",
    "fine-tune: first5",
    "fine-tune: all-but-head",
    "fine-tune: stem+early-transformer",
    "fine-tune: early:30",
    "warp from scratch",
  ];
  for (const n of [2, 5, 6]) {
    const rows = cells.slice(0, n).flatMap((cell, order) =>
      ["mobilenetv2_100", "mobilevit_xxs"].map((model) => ({
        model,
        cell,
        order,
        test_acc_per_seed: [0.33, 0.34, 0.35],
        rung_blind_bayes: 0.36,
        chance: 1 / 3,
      })),
    );
    const w = svgWidth(await vegaLiteToSVG(seedResultsSpec(rows, "results")));
    assert.ok(w <= FIGURE_WIDTH, `${n} panels: ${w} px`);
  }
  const heat = [
    "mobilenetv2_035",
    "mobilevit_xxs",
    "vit_seed001",
    "nest_tiny",
    "mmlit_xxs",
  ].flatMap((model) =>
    ["easy", "small"].map((difficulty) => ({
      difficulty,
      train: 48,
      model,
      task: "plain",
      acc: 0.4,
    })),
  );
  const w = svgWidth(await vegaLiteToSVG(heatmapSpec(heat, "sweep")));
  assert.ok(w <= FIGURE_WIDTH, `heatmap of 5 models: ${w} px`);
});

test("a shared curves page references one plotly bundle beside it (under 3 MB) and nothing off the machine", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-curves-"));
  const runs = manyRuns();
  writeCurvesHTML(path.join(dir, "a.html"), runs, "stage <2>");
  writeCurvesHTML(path.join(dir, "b.html"), runs.slice(0, 3), "stage 1");
  const files = fs.readdirSync(dir).sort();
  assert.equal(files.length, 3);
  const bundle = files.find((f) => /^plotly-[\d.]+\.js$/.test(f))!;
  assert.ok(bundle, files.join(", "));
  for (const f of files) {
    const size = fs.statSync(path.join(dir, f)).size;
    assert.ok(size < 3 * 1024 * 1024, `${f}: ${size} bytes`);
  }
  for (const page of ["a.html", "b.html"]) {
    const html = fs.readFileSync(path.join(dir, page), "utf8");
    assert.ok(html.length < 100_000);
    assert.match(html, new RegExp(`<script src="${bundle.replace(/\./g, "\\.")}"></script>`));
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//);
    assert.match(html, /<title>stage &lt;2>|<title>stage 1/);
  }
});

test("one way to print a frozen share", () => {
  assert.equal(formatShare(0), "0 %");
  assert.equal(formatShare(768 / 399971), "0.2 %");
  assert.equal(formatShare(0.0001), "<0.1 %");
  assert.equal(formatShare(171568 / 951987), "18.0 %");
  assert.equal(formatShare(396128 / 399971), "99.0 %");
});
