/**
 * Chart specs (vega-lite): pure functions from rows to a spec, used by notebooks, the CLI and
 * reports alike; rendering to SVG or the screen is elsewhere (notebook/charts.ts).
 */
import { verdictBaseline } from "../util/stats";
export type VegaLiteSpec = Record<string, unknown>;

/** The y encoding of every accuracy chart: 0..1 (as percentages with `percent`), a field where given. */
export const accuracyAxis = (title: string, field?: string, percent = false) => ({
  ...(field ? { field } : {}),
  type: "quantitative",
  scale: { domain: [0, 1] },
  ...(percent ? { axis: { format: "%" } } : {}),
  title,
});

/** Lines with points, one colour per model, one panel per facet. */
const modelLines = (
  values: object[],
  title: string,
  facet: object,
  size: { width: number; height: number },
  encoding: object,
): VegaLiteSpec => ({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title,
  data: { values },
  facet,
  spec: {
    ...size,
    mark: { type: "line", point: true },
    encoding: { color: { field: "model", type: "nominal" }, ...encoding },
  },
});

const importEsm: (s: string) => Promise<any> = require("../util/import-esm.cjs");

/**
 * The widest figure or chart a notebook shows, in pixels. JupyterLab's output area is ~850 px wide
 * in a 1280 px window with the file browser open (848 measured); a wider image is shrunk to fit,
 * and its captions with it (11 px text in a 1,600 px grid ends up ~6 px tall), and a wider chart is
 * cut. Figures and charts are drawn at most this wide, at their natural size.
 */
export const FIGURE_WIDTH = 820;

/** vega-lite -> static SVG in Node (vega's headless view, no browser). */
export async function vegaLiteToSVG(spec: VegaLiteSpec): Promise<string> {
  const [vega, vl] = await Promise.all([importEsm("vega"), importEsm("vega-lite")]);
  const view = new vega.View(vega.parse(vl.compile(spec as never).spec), { renderer: "none" });
  const svg: string = await view.toSVG();
  view.finalize();
  return svg;
}

/** The difficulty "phase diagram": accuracy per (difficulty, data size) cell, per model and task. */
export function heatmapSpec(
  rows: Array<{ difficulty: string; train: number; model: string; task: string; acc: number }>,
  title: string,
): VegaLiteSpec {
  // Panels side by side within FIGURE_WIDTH: the y axis and the colour legend take ~130 px, each panel ~24 px of spacing.
  const models = new Set(rows.map((r) => r.model)).size;
  const w = Math.max(
    50,
    Math.min(160, Math.floor((FIGURE_WIDTH - 130) / Math.max(1, models)) - 24),
  );

  return {
    title,
    data: { values: rows },
    facet: { row: { field: "task", type: "nominal" }, column: { field: "model", type: "nominal" } },
    spec: {
      width: w,
      height: 120,
      layer: [
        {
          mark: "rect",
          encoding: {
            x: { field: "difficulty", type: "nominal", sort: null },
            y: { field: "train", type: "ordinal", title: "train puzzles" },
            color: {
              field: "acc",
              type: "quantitative",
              scale: { domain: [0, 1], scheme: "viridis" },
              title: "acc",
            },
            tooltip: [
              { field: "model" },
              { field: "task" },
              { field: "difficulty" },
              { field: "train", title: "train puzzles" },
              { field: "acc", format: ".1%", title: "mean test accuracy" },
            ],
          },
        },
        {
          mark: { type: "text", fontSize: 10 },
          encoding: {
            x: { field: "difficulty", type: "nominal", sort: null },
            y: { field: "train", type: "ordinal" },
            text: { field: "acc", type: "quantitative", format: ".0%" },
            color: { value: "white" },
          },
        },
      ],
    },
  };
}

/** Mean accuracy vs parameters, one point per model, one panel per task, baseline as a rule. */
export function accuracyVsParamsSpec(
  rows: Array<{
    model: string;
    task: string;
    params: number;
    acc_mean: number;
    acc_sd: number;
    rung_blind_bayes: number | null;
    chance: number;
  }>,
  title: string,
): VegaLiteSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: {
      values: rows.map((r) => ({
        ...r,
        acc: r.acc_mean,
        lo: r.acc_mean - r.acc_sd,
        hi: r.acc_mean + r.acc_sd,
        baseline: verdictBaseline(r.rung_blind_bayes, r.chance),
      })),
    },
    facet: { column: { field: "task", type: "nominal" } },
    spec: {
      width: 260,
      height: 220,
      layer: [
        {
          mark: "rule",
          encoding: {
            x: { field: "params", type: "quantitative" },
            y: { field: "lo", type: "quantitative" },
            y2: { field: "hi" },
            color: { field: "model", type: "nominal" },
          },
        },
        {
          mark: { type: "point", filled: true, size: 70 },
          encoding: {
            x: {
              field: "params",
              type: "quantitative",
              scale: { type: "log" },
              title: "parameters",
            },
            y: accuracyAxis("test accuracy (mean ± SD over seeds)", "acc"),
            color: { field: "model", type: "nominal" },
            tooltip: [{ field: "model" }, { field: "acc", format: ".3f" }, { field: "params" }],
          },
        },
        {
          mark: { type: "rule", strokeDash: [4, 3], color: "gray" },
          encoding: { y: { aggregate: "mean", field: "baseline", type: "quantitative" } },
        },
      ],
    },
  };
}

/** Validation accuracy vs images seen: one line per model, one panel per task. */
export function learningCurveSpec(
  points: Array<{ model: string; task: string; images_seen: number; val_acc: number }>,
  title: string,
): VegaLiteSpec {
  return modelLines(
    points,
    title,
    { column: { field: "task", type: "nominal" } },
    { width: 260, height: 200 },
    {
      x: {
        field: "images_seen",
        type: "quantitative",
        scale: { type: "log" },
        title: "training images seen (log scale)",
      },
      y: accuracyAxis("validation accuracy (mean over seeds)", "val_acc"),
    },
  );
}

/** Accuracy vs noise strength: one line per model, one panel per band (columns) and task (rows). */
export function noiseCurvesSpec(
  rows: Array<{
    model: string;
    task: string;
    band: string;
    strength: number;
    acc_mean: number;
    acc_sd: number;
  }>,
  title: string,
): VegaLiteSpec {
  return modelLines(
    rows,
    title,
    {
      column: { field: "band", type: "nominal", title: "noise band" },
      row: { field: "task", type: "nominal" },
    },
    { width: 220, height: 180 },
    {
      x: { field: "strength", type: "quantitative", title: "noise RMS (0..1 pixel units)" },
      y: accuracyAxis("test accuracy (mean over seeds)", "acc_mean"),
      tooltip: [
        { field: "model" },
        { field: "strength" },
        { field: "acc_mean", format: ".3f" },
        { field: "acc_sd", format: ".3f" },
      ],
    },
  );
}
