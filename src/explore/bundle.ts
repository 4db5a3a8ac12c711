/**
 * The explorer page's script, bundled at `amida explore` time from `src/` with esbuild's JS API:
 * the same puzzle generator, renderer, baselines and Grad-CAM as the Node side (one code path),
 * tfjs's browser build (WebGL, wasm, cpu backends) and the project's custom layers.
 *
 * Two swaps make Node modules run in the page:
 *  - `canvas` (node-canvas) becomes `browser-canvas.ts`: HTML canvases with a CPU-backed 2D context.
 *  - Node's built-in modules (fs, path, crypto, ...), imported by files whose browser-safe
 *    functions the page uses (e.g. `rungBlindView` beside the file readers in data/baselines.ts),
 *    become a stub whose every function throws "not available in the page": never called, and
 *    loud if it ever is.
 * Files that must never reach the page (backend selection, the trainer, the runner) are refused.
 */
import * as path from "path";
import * as esbuild from "esbuild";

/** The project's root (src/explore/ is two levels below it). */
export const ROOT = path.resolve(__dirname, "..", "..");
const SRC = path.join(ROOT, "src") + path.sep;
const ENTRY = path.join(SRC, "explore", "page.ts");
const BROWSER_CANVAS = path.join(ROOT, "src", "explore", "browser-canvas.ts");

const NODE_BUILTINS =
  /^(node:)?(fs|path|os|crypto|zlib|util|child_process|worker_threads|url|events|stream|buffer|perf_hooks|module|assert|readline|tty|net)$/;

/** Node-only files of src/ that the page must not contain (they would need the real fs, or a native backend). */
const FORBIDDEN = [
  "src/backend/select.ts",
  "src/experiment/",
  "src/train/",
  "src/notebook/",
  "src/cli/",
];

const stubSource = (name: string) => `
const fail = (key) => () => { throw new Error("node:${name}." + String(key) + " is not available in the page"); };
module.exports = new Proxy({}, { get: (_, key) => (key === "__esModule" ? false : fail(key)) });
`;

export interface PageBundle {
  /** The minified script (an IIFE). */
  js: string;
  /** Files of the project (relative to its root) and of node_modules that went in. */
  inputs: string[];
}

/** Bundles src/explore/page.ts for the browser; throws naming any Node-only file that got in. */
export async function bundlePage(): Promise<PageBundle> {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    bundle: true,
    platform: "browser",
    format: "iife",
    target: "es2020",
    minify: true,
    write: false,
    metafile: true,
    logLevel: "silent",
    legalComments: "none",
    define: { "process.env.NODE_ENV": '"production"' },
    plugins: [
      {
        name: "amida-browser",
        setup(build) {
          build.onResolve({ filter: /^canvas$/ }, () => ({ path: BROWSER_CANVAS }));
          // Only the project's own imports: packages keep their own "browser" mappings.
          build.onResolve({ filter: NODE_BUILTINS }, (args) =>
            args.importer.startsWith(SRC)
              ? { path: args.path.replace(/^node:/, ""), namespace: "node-stub" }
              : undefined,
          );
          build.onLoad({ filter: /.*/, namespace: "node-stub" }, (args) => ({
            contents: stubSource(args.path),
            loader: "js",
          }));
        },
      },
    ],
  });
  const inputs = Object.keys(result.metafile.inputs);
  const bad = inputs.filter((f) => FORBIDDEN.some((p) => f.startsWith(p)));
  if (bad.length)
    throw new Error(
      `the explorer page would contain Node-only files: ${bad.join(", ")} (imported from src/explore/page.ts); keep them out of the page's imports`,
    );
  return { js: result.outputFiles[0].text, inputs };
}
