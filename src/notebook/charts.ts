import * as fs from "fs";
import * as path from "path";
import { showBundle } from "./display";
import { writeFileAtomic } from "../util/atomic";

import { VegaLiteSpec, vegaLiteToSVG } from "../report/charts";

/**
 * Shows a vega-lite chart (interactive in JupyterLab, SVG in HTML exports) and, given a path,
 * saves the SVG beside the run's other figures.
 */
export async function showVegaLite(spec: VegaLiteSpec, savePath?: string): Promise<void> {
  const svg = await vegaLiteToSVG(spec);
  if (savePath) {
    fs.mkdirSync(path.dirname(savePath), { recursive: true });
    writeFileAtomic(savePath, svg);
  }
  showBundle({
    "application/vnd.vegalite.v5+json": spec,
    "image/svg+xml": svg,
    "text/plain": `<vega-lite chart${savePath ? `: ${savePath}` : ""}>`,
  });
}

export function classHistogramSpec(
  rows: Array<{ split: string; label: number; count: number }>,
  title: string,
): VegaLiteSpec {
  return {
    title,
    data: { values: rows },
    mark: "bar",
    encoding: {
      x: { field: "label", type: "ordinal", title: "class (bottom circle, left to right)" },
      xOffset: { field: "split" },
      y: { field: "count", type: "quantitative" },
      color: { field: "split", type: "nominal" },
    },
    width: 320,
    height: 180,
  };
}

export interface CurveRun {
  run: string;
  history: Array<{ epoch: number; train_acc: number; val_acc: number | null }>;
}

export function curvesSpec(runs: CurveRun[], title: string): VegaLiteSpec {
  const values = runs.flatMap((r) =>
    r.history.flatMap((h) => [
      { run: r.run, epoch: h.epoch, split: "train", accuracy: h.train_acc },
      ...(h.val_acc === null
        ? []
        : [{ run: r.run, epoch: h.epoch, split: "val", accuracy: h.val_acc }]),
    ]),
  );
  return {
    title,
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "epoch", type: "quantitative", axis: { tickMinStep: 1 } },
      y: {
        field: "accuracy",
        type: "quantitative",
        scale: { domain: [0, 1] },
        axis: { format: "%" },
      },
      color: { field: "run", type: "nominal" },
      // Stroke symbols in the legend: with point marks vega-lite draws every legend entry as the
      // same dot, and the train / val dash is what tells the lines apart.
      strokeDash: {
        field: "split",
        type: "nominal",
        scale: {
          domain: ["train", "val"],
          range: [
            [4, 3],
            [1, 0],
          ],
        },
        legend: {
          symbolType: "stroke",
          symbolStrokeWidth: 2,
          symbolSize: 300,
          encode: { symbols: { update: { stroke: { value: "black" } } } },
        },
      },
    },
    width: 420,
    height: 220,
  };
}

/** vega-lite's default categorical colours, so the plotly and SVG forms of a chart match. */
const TABLEAU10 = [
  "#4c78a8",
  "#f58518",
  "#e45756",
  "#72b7b2",
  "#54a24b",
  "#eeca3b",
  "#b279a2",
  "#ff9da6",
  "#9d755d",
  "#bab0ac",
];

function plotlyCurves(runs: CurveRun[], title: string): object {
  // One colour per run, dashed train and solid val lines, as in curvesSpec.
  const data = runs.flatMap((r, i) => {
    const color = TABLEAU10[i % TABLEAU10.length];
    const x = r.history.map((h) => h.epoch);
    return [
      {
        x,
        y: r.history.map((h) => h.train_acc),
        name: `${r.run} train`,
        legendgroup: r.run,
        mode: "lines+markers",
        line: { dash: "dash", color },
        marker: { color },
      },
      {
        x,
        y: r.history.map((h) => h.val_acc),
        name: `${r.run} val`,
        legendgroup: r.run,
        mode: "lines+markers",
        line: { color },
        marker: { color },
      },
    ];
  });
  return {
    data,
    layout: {
      title: { text: title },
      xaxis: { title: { text: "epoch" }, dtick: 1 },
      yaxis: { title: { text: "accuracy" }, range: [0, 1], tickformat: ".0%" },
      width: 720,
      height: 380,
    },
  };
}

/**
 * Training curves: interactive plotly in JupyterLab, the same curves as SVG (vega-lite) in
 * exported HTML and on GitHub; the SVG is saved at `savePath` when given.
 */
export async function showCurves(
  runs: CurveRun[],
  title: string,
  savePath?: string,
): Promise<void> {
  const svg = await vegaLiteToSVG(curvesSpec(runs, title));
  if (savePath) writeFileAtomic(savePath, svg);
  showBundle({
    "application/vnd.plotly.v1+json": plotlyCurves(runs, title),
    "image/svg+xml": svg,
    "text/plain": `<training curves: ${runs.map((r) => r.run).join(", ")}>`,
  });
}

/** Standalone interactive page (plotly.js-dist inlined) to share curves outside Jupyter. */
export function writeCurvesHTML(file: string, runs: CurveRun[], title: string): void {
  const plotly = fs.readFileSync(require.resolve("plotly.js-dist"), "utf8");
  const fig = JSON.stringify(plotlyCurves(runs, title));
  writeFileAtomic(
    file,
    `<!doctype html><meta charset="utf-8"><title>${title}</title><script>${plotly}</script><div id="c"></div><script>const f=${fig};Plotly.newPlot("c",f.data,f.layout);</script>\n`,
  );
}

export interface ResultBar {
  model: string;
  stage: string;
  test_acc: number;
  ci95: [number, number];
  chance: number;
}

/** Test accuracy per stage and model with 95 % intervals, and the chance level as a rule. */
export function resultsBarSpec(rows: ResultBar[], title: string): VegaLiteSpec {
  const values = rows.map((r) => ({
    model: r.model,
    stage: r.stage,
    acc: r.test_acc,
    lo: r.ci95[0],
    hi: r.ci95[1],
    chance: r.chance,
  }));
  // One axis title on every layer, or vega-lite joins them ("test accuracy, lo").
  const y = {
    type: "quantitative",
    scale: { domain: [0, 1] },
    axis: { format: "%" },
    title: "test accuracy",
  };
  return {
    title,
    data: { values },
    facet: {
      column: { field: "stage", type: "nominal", title: null, header: { labelFontSize: 11 } },
    },
    spec: {
      width: 170,
      height: 220,
      layer: [
        {
          mark: "bar",
          encoding: {
            x: { field: "model", type: "nominal", axis: { labelAngle: -30 }, title: null },
            y: { field: "acc", ...y },
            color: { field: "model", type: "nominal" },
          },
        },
        {
          mark: { type: "errorbar" },
          encoding: {
            x: { field: "model", type: "nominal" },
            y: { field: "lo", ...y },
            y2: { field: "hi" },
          },
        },
        {
          mark: { type: "rule", strokeDash: [4, 3], color: "black" },
          encoding: { y: { aggregate: "mean", field: "chance", ...y } },
        },
      ],
    },
  };
}

/** Confusion matrices (true x predicted counts on the test split), one panel per run. */
export function confusionSpec(
  runs: Array<{ run: string; confusion: number[][] }>,
  title: string,
): VegaLiteSpec {
  const values = runs.flatMap((r) =>
    r.confusion.flatMap((row, t) =>
      row.map((count, p) => ({ run: r.run, true: t, predicted: p, count })),
    ),
  );
  return {
    title,
    data: { values },
    facet: { field: "run", type: "nominal", title: null },
    columns: 3,
    spec: {
      width: 110,
      height: 110,
      layer: [
        {
          mark: "rect",
          encoding: {
            x: { field: "predicted", type: "ordinal" },
            y: { field: "true", type: "ordinal" },
            color: { field: "count", type: "quantitative", scale: { scheme: "blues" } },
          },
        },
        {
          mark: { type: "text", fontSize: 9 },
          encoding: {
            x: { field: "predicted", type: "ordinal" },
            y: { field: "true", type: "ordinal" },
            text: { field: "count", type: "quantitative" },
          },
        },
      ],
    },
  };
}

/** One bar per protocol cell: the mean over seeds, each seed a dot, the rung-blind baseline dashed, chance dotted. */
export function seedResultsSpec(
  rows: Array<{
    model: string;
    cell: string;
    /** Panels appear in ascending order (e.g. the stage's index). */
    order: number;
    test_acc_per_seed: number[];
    rung_blind_bayes: number | null;
    chance: number;
  }>,
  title: string,
): VegaLiteSpec {
  const values = rows.flatMap((r) =>
    r.test_acc_per_seed.map((acc, i) => ({
      model: r.model,
      cell: r.cell,
      order: r.order,
      seed: i,
      acc,
      baseline: r.rung_blind_bayes ?? r.chance,
      chance: r.chance,
    })),
  );
  const y = {
    type: "quantitative",
    scale: { domain: [0, 1] },
    axis: { format: "%" },
    title: "test accuracy (unseen ladders)",
  };
  const x = { field: "model", type: "nominal", axis: { labelAngle: -30 }, title: null };
  return {
    title,
    data: { values },
    facet: {
      column: {
        field: "cell",
        type: "nominal",
        title: null,
        sort: { field: "order", op: "min" },
        header: { labelFontSize: 10, labelLimit: 150 },
      },
    },
    spec: {
      width: 150,
      height: 220,
      layer: [
        {
          mark: "bar",
          encoding: {
            x,
            y: { aggregate: "mean", field: "acc", ...y },
            color: { field: "model", type: "nominal" },
          },
        },
        {
          mark: { type: "point", filled: true, color: "black", size: 25 },
          encoding: { x, y: { field: "acc", ...y } },
        },
        {
          mark: { type: "rule", strokeDash: [5, 3], color: "crimson" },
          encoding: { y: { aggregate: "mean", field: "baseline", ...y } },
        },
        {
          mark: { type: "rule", strokeDash: [1, 2], color: "black" },
          encoding: { y: { aggregate: "mean", field: "chance", ...y } },
        },
      ],
    },
  };
}
