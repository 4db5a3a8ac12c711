/**
 * plotly.js for pages that open from disk without a network (shared curve pages, HTML reports):
 * one file per folder, shared by every page there. The library (plotly.js-dist, 11 MB) is minified
 * (esbuild: 4.9 MB), gzipped and base64-encoded (2.0 MB, so no file passed around exceeds 3 MB)
 * and unpacks itself in the page (DecompressionStream: Chrome 80+, Firefox 113+, Safari 16.4+);
 * a page awaits `window.plotlyReady`, which resolves to Plotly.
 *
 * usage (scripts/execute_notebooks.py): node --import tsx src/notebook/plotly-bundle.ts DIR
 * prints the file's name.
 */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { writeFileAtomic } from "../util/atomic";

const MARK = "minified by esbuild, gzipped and base64-encoded by warp-amidakuji";

/** Writes DIR/plotly-<version>.js unless it is there already; returns its name. */
export function writePlotlyBundle(dir: string): string {
  const version: string = require("plotly.js-dist/package.json").version;
  const name = `plotly-${version}.js`;
  const file = path.join(dir, name);
  if (fs.existsSync(file) && fs.readFileSync(file, "utf8").slice(0, 400).includes(MARK))
    return name;
  const esbuild: typeof import("esbuild") = require("esbuild");
  const code = esbuild.transformSync(fs.readFileSync(require.resolve("plotly.js-dist"), "utf8"), {
    minify: true,
    legalComments: "eof",
  }).code;
  const packed = zlib.gzipSync(code, { level: 9 }).toString("base64");
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(
    file,
    `/* plotly.js ${version} (MIT license, Copyright 2012-2026 Plotly, Inc.; the licenses of the libraries it bundles are at the end of the unpacked code), ${MARK}. */\n` +
      `window.plotlyReady = (async () => {\n` +
      `  const b = atob("${packed}");\n` +
      `  const bytes = new Uint8Array(b.length);\n` +
      `  for (let i = 0; i < b.length; i++) bytes[i] = b.charCodeAt(i);\n` +
      `  const gunzip = new DecompressionStream("gzip");\n` +
      `  const code = await new Response(new Blob([bytes]).stream().pipeThrough(gunzip)).text();\n` +
      `  (0, eval)(code);\n` +
      `  return window.Plotly;\n` +
      `})();\n`,
  );
  return name;
}

if (require.main === module) {
  if (!process.argv[2])
    throw new Error("usage: node --import tsx src/notebook/plotly-bundle.ts DIR");
  console.log(writePlotlyBundle(process.argv[2]));
}
