import * as fs from "fs";
import * as path from "path";
import { showBundle } from "./display";
import { writePlotlyBundle } from "./plotly-bundle";
import { FIGURE_WIDTH } from "./figures";
import { writeFileAtomic } from "../util/atomic";
import { RunResult } from "../experiment/protocol";
import { cellOf } from "../experiment/results";
import { loadHistory } from "../experiment/rundir";

import { accuracyAxis, VegaLiteSpec, vegaLiteToSVG } from "../report/charts";
import { verdictBaseline } from "../util/stats";

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
  /** Legend entry the run belongs to (model and protocol cell; seeds of one cell share it); default: the run. */
  group?: string;
  /** Training seed, shown on hover. */
  seed?: number;
  /** Evaluations: training images seen, training accuracy since the previous one, validation accuracy. */
  history: Array<{ images: number; train_acc: number; val_acc: number | null }>;
  /** What every accuracy is read against: chance and the rung-blind rule on the run's test split. */
  chance?: number;
  rungBlind?: number | null;
}

/** The curves of finished protocol runs, grouped by model and protocol cell (seeds together). */
export function curveRuns(results: RunResult[], runsDir: string): CurveRun[] {
  return results.map((r) => ({
    run: r.run.config.name,
    group: `${r.metrics.model} · ${cellOf({ stage: r.run.stage, frozen: r.run.arm }).cell}`,
    seed: r.run.seed,
    history: loadHistory(runsDir, r.run.config.name),
    chance: r.metrics.chance,
    rungBlind: r.metrics.rung_blind_bayes ?? null,
  }));
}

/** The chance and rung-blind levels the runs share (the mean where they differ), for the reference lines. */
function baselines(runs: CurveRun[]): Array<{ name: string; level: number }> {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const chance = runs.map((r) => r.chance).filter((v): v is number => typeof v === "number");
  const blind = runs.map((r) => r.rungBlind).filter((v): v is number => typeof v === "number");
  return [
    ...(chance.length ? [{ name: "chance", level: mean(chance) }] : []),
    ...(blind.length ? [{ name: "rung-blind rule", level: mean(blind) }] : []),
  ];
}

const groupOf = (r: CurveRun) => r.group ?? r.run;

/** One point per run, epoch and split, and the mean over the seeds of each group. */
function curvePoints(runs: CurveRun[]) {
  const points = runs.flatMap((r) =>
    r.history.flatMap((h) => [
      {
        run: r.run,
        group: groupOf(r),
        seed: r.seed ?? null,
        images: h.images,
        split: "train",
        accuracy: h.train_acc,
      },
      ...(h.val_acc === null
        ? []
        : [
            {
              run: r.run,
              group: groupOf(r),
              seed: r.seed ?? null,
              images: h.images,
              split: "val",
              accuracy: h.val_acc,
            },
          ]),
    ]),
  );
  return points;
}

/** How many runs share each group: a group of one is drawn as its run, a larger one with its mean. */
const seedsPerGroup = (runs: CurveRun[]) => {
  const n = new Map<string, number>();
  for (const r of runs) n.set(groupOf(r), (n.get(groupOf(r)) ?? 0) + 1);
  return n;
};

/**
 * Training curves as vega-lite: accuracy against training images seen (log axis), colour = model
 * and protocol cell, dash = split (train dashed, val solid), each seed a thin line and the mean over
 * seeds a thick one, grey rules at chance and at the rung-blind rule; legends under the plot, so
 * the chart is FIGURE_WIDTH wide whatever the run names; tooltips name the run.
 */
export function curvesSpec(runs: CurveRun[], title: string): VegaLiteSpec {
  const values = curvePoints(runs);
  const several = [...seedsPerGroup(runs).values()].some((n) => n > 1);
  const x = {
    field: "images",
    type: "quantitative",
    scale: { type: "log" },
    title: "training images seen (log scale)",
    axis: { format: "~s" },
  };
  const y = accuracyAxis("accuracy", "accuracy", true);
  const color = {
    field: "group",
    type: "nominal",
    title: "model · stage",
    legend: {
      orient: "bottom",
      direction: "vertical",
      columns: 2,
      labelLimit: 400,
      symbolType: "stroke",
      symbolStrokeWidth: 3,
    },
  };
  const strokeDash = {
    field: "split",
    type: "nominal",
    scale: {
      domain: ["train", "val"],
      range: [
        [4, 3],
        [1, 0],
      ],
    },
    // Stroke symbols: with point marks vega-lite draws every entry as the same dot.
    legend: {
      orient: "bottom",
      symbolType: "stroke",
      symbolStrokeWidth: 2,
      symbolSize: 300,
      encode: { symbols: { update: { stroke: { value: "black" } } } },
    },
  };
  const seedLayer = {
    mark: {
      type: "line",
      point: !several,
      strokeWidth: several ? 1 : 2,
      opacity: several ? 0.55 : 1,
    },
    encoding: {
      x,
      y,
      color,
      strokeDash,
      detail: { field: "run" },
      tooltip: [
        { field: "run" },
        { field: "split" },
        { field: "images", format: "," },
        { field: "accuracy", format: ".1%" },
      ],
    },
  };
  const meanLayer = {
    mark: { type: "line", point: true, strokeWidth: 2.5 },
    encoding: {
      x,
      y: { ...y, aggregate: "mean", title: "accuracy" },
      color,
      strokeDash,
      tooltip: [
        { field: "group", title: "mean over seeds of" },
        { field: "split" },
        { field: "images", format: "," },
        { field: "accuracy", aggregate: "mean", format: ".1%", title: "accuracy" },
      ],
    },
  };
  const refs = baselines(runs);
  const refLayer = {
    data: { values: refs },
    mark: { type: "rule", color: "#888", strokeDash: [2, 3] },
    encoding: {
      y: { field: "level", type: "quantitative" },
      tooltip: [{ field: "name" }, { field: "level", format: ".1%" }],
    },
  };
  const refText = {
    data: { values: refs },
    mark: { type: "text", align: "right", dx: -2, dy: -6, color: "#666", fontSize: 10, x: "width" },
    encoding: { y: { field: "level", type: "quantitative" }, text: { field: "name" } },
  };
  return {
    title,
    data: { values },
    layer: [
      ...(refs.length ? [refLayer, refText] : []),
      ...(several ? [seedLayer, meanLayer] : [seedLayer]),
    ],
    width: FIGURE_WIDTH - 80,
    height: 240,
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

/**
 * The same curves for plotly: one colour per group (sorted, as vega-lite assigns them), each
 * seed a thin line and the mean over seeds a thick one with the legend entry (clicking it hides
 * the group's seeds too); hover names the run in full; no fixed width, so it fills the output area.
 */
export function plotlyCurves(runs: CurveRun[], title: string): { data: object[]; layout: object } {
  const groups = [...new Set(runs.map(groupOf))].sort();
  const perGroup = seedsPerGroup(runs);
  const colour = (g: string) => TABLEAU10[groups.indexOf(g) % TABLEAU10.length];
  const splits = [
    { split: "train", dash: "dash", acc: (h: CurveRun["history"][number]) => h.train_acc },
    { split: "val", dash: "solid", acc: (h: CurveRun["history"][number]) => h.val_acc },
  ];
  const data: object[] = [];
  for (const g of groups) {
    const members = runs.filter((r) => groupOf(r) === g);
    const several = perGroup.get(g)! > 1;
    for (const { split, dash, acc } of splits) {
      // One legend entry per group, on its val line (its mean when there are seeds): clicking it
      // hides or shows the group's train and val lines, seeds included.
      const entry = split === "val";
      for (const r of members)
        data.push({
          x: r.history.map((h) => h.images),
          y: r.history.map(acc),
          name: several ? `${r.run} ${split}` : g,
          legendgroup: g,
          showlegend: !several && entry,
          mode: several ? "lines" : "lines+markers",
          line: { dash, color: colour(g), width: several ? 1 : 2 },
          opacity: several ? 0.55 : 1,
          marker: { color: colour(g) },
          hovertemplate: `${r.run} (${split})<br>%{x:,} images: %{y:.1%}<extra></extra>`,
        });
      if (!several) continue;
      const counts = [...new Set(members.flatMap((r) => r.history.map((h) => h.images)))].sort(
        (a, b) => a - b,
      );
      const mean = counts.map((e) => {
        const v = members
          .map((r) => r.history.find((h) => h.images === e))
          .map((h) => (h ? acc(h) : null))
          .filter((a): a is number => a !== null);
        return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
      });
      data.push({
        x: counts,
        y: mean,
        name: g,
        legendgroup: g,
        showlegend: entry,
        mode: "lines+markers",
        line: { dash, color: colour(g), width: 2.5 },
        marker: { color: colour(g) },
        hovertemplate: `${g} (${split}), mean of ${members.length} seeds<br>%{x:,} images: %{y:.1%}<extra></extra>`,
      });
    }
  }
  const refs = baselines(runs);
  const key = `dashed: training, solid: validation${[...perGroup.values()].some((n) => n > 1) ? "; thin: each seed, thick: their mean" : ""}${refs.length ? "; grey: chance and the rung-blind rule" : ""}`;
  return {
    data,
    layout: {
      title: { text: `${title}<br><sub>${key}</sub>` },
      xaxis: { title: { text: "training images seen" }, type: "log" },
      shapes: refs.map((r) => ({
        type: "line",
        xref: "paper",
        x0: 0,
        x1: 1,
        y0: r.level,
        y1: r.level,
        line: { color: "#888", dash: "dot", width: 1 },
      })),
      annotations: refs.map((r) => ({
        xref: "paper",
        x: 1,
        y: r.level,
        xanchor: "right",
        yanchor: "bottom",
        text: r.name,
        showarrow: false,
        font: { size: 10, color: "#666" },
      })),
      yaxis: { title: { text: "accuracy" }, range: [0, 1], tickformat: ".0%" },
      height: 420 + 22 * Math.ceil(groups.length / 2),
      legend: { orientation: "h", y: -0.2, yanchor: "top" },
      hoverlabel: { namelength: -1 },
      margin: { t: 50, r: 20 },
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

/**
 * Notebooks 02 and 03's curves cell in one call: the runs' curves shown (showCurves), saved as
 * runsDir/<file>.svg and as a page to share, runsDir/<file>.html (writeCurvesHTML).
 */
export async function showStageCurves(
  results: RunResult[],
  runsDir: string,
  title: string,
  file: string,
): Promise<void> {
  const curves = curveRuns(results, runsDir);
  await showCurves(curves, title, path.join(runsDir, `${file}.svg`));
  writeCurvesHTML(path.join(runsDir, `${file}.html`), curves, title);
}

/**
 * A standalone interactive page of training curves (to share outside Jupyter): opens from disk
 * offline, with the plotly bundle beside it (writePlotlyBundle) shared by every page in the folder.
 */
export function writeCurvesHTML(file: string, runs: CurveRun[], title: string): void {
  const bundle = writePlotlyBundle(path.dirname(file));
  const fig = JSON.stringify(plotlyCurves(runs, title)).replace(/</g, "\\u003c");
  const esc = title.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  writeFileAtomic(
    file,
    `<!doctype html><meta charset="utf-8"><title>${esc}</title><script src="${bundle}"></script><div id="c" style="max-width:1100px"></div><script>const f=${fig};window.plotlyReady.then((P)=>P.newPlot("c",f.data,f.layout,{responsive:true}));</script>\n`,
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
  const y = accuracyAxis("test accuracy", undefined, true);
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
      baseline: verdictBaseline(r.rung_blind_bayes, r.chance),
      chance: r.chance,
    })),
  );
  const y = accuracyAxis("test accuracy (unseen ladders)", undefined, true);
  const x = {
    field: "model",
    type: "nominal",
    axis: { labelAngle: 0, labelLimit: 0, labelFontSize: 10, labelExpr: "split(datum.label, '_')" },
    title: null,
  };
  // Panels side by side within FIGURE_WIDTH (the y axis takes ~70 px, each panel ~22 px of spacing and overhang).
  const cells = new Set(rows.map((r) => r.cell)).size;
  const w = Math.max(50, Math.min(170, Math.floor((FIGURE_WIDTH - 70) / Math.max(1, cells)) - 22));
  return {
    title,
    data: { values },
    facet: {
      column: {
        field: "cell",
        type: "nominal",
        title: null,
        sort: { field: "order", op: "min" },
        header: { labelFontSize: 10, labelLimit: w, labelExpr: "split(datum.label, ': ')" },
      },
    },
    // Each panel shows only its own models (a fine-tune arm belongs to one model).
    resolve: { scale: { x: "independent" } },
    spacing: 12,
    spec: {
      width: w,
      height: 220,
      layer: [
        {
          mark: "bar",
          encoding: {
            x,
            y: { aggregate: "mean", field: "acc", ...y },
            // The x axis names the model: no legend (it would cost width).
            color: { field: "model", type: "nominal", legend: null },
            tooltip: [
              { field: "model" },
              { field: "cell", title: "stage" },
              { aggregate: "mean", field: "acc", format: ".1%", title: "mean over seeds" },
              { aggregate: "count", title: "seeds" },
            ],
          },
        },
        {
          mark: { type: "point", filled: true, color: "black", size: 25 },
          encoding: {
            x,
            y: { field: "acc", ...y },
            tooltip: [
              { field: "model" },
              { field: "seed" },
              { field: "acc", format: ".1%", title: "test accuracy" },
            ],
          },
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
