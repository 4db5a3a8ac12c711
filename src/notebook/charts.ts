import * as fs from "fs";
import * as path from "path";
import { showBundle } from "./display";
import { writeFileAtomic } from "../util/atomic";

const importEsm: (s: string) => Promise<any> = require("../util/import-esm.cjs");

export type VegaLiteSpec = Record<string, unknown>;

/** vega-lite -> static SVG in Node (vega's headless view, no browser). */
export async function vegaLiteToSVG(spec: VegaLiteSpec): Promise<string> {
  const [vega, vl] = await Promise.all([importEsm("vega"), importEsm("vega-lite")]);
  const view = new vega.View(vega.parse(vl.compile(spec as never).spec), { renderer: "none" });
  const svg: string = await view.toSVG();
  view.finalize();
  return svg;
}

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
  showBundle({ "application/vnd.vegalite.v5+json": spec, "image/svg+xml": svg, "text/plain": `<vega-lite chart${savePath ? `: ${savePath}` : ""}>` });
}

export function classHistogramSpec(rows: Array<{ split: string; label: number; count: number }>, title: string): VegaLiteSpec {
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
