/**
 * The explorer page's figures, measured by driving it in headless Chromium (offline, as the
 * tests do): the page's size, its load time (navigation to the first answers shown) and the
 * latency of one prediction + Grad-CAM per model, median over N, for each backend asked for;
 * plus the page's own agreement check against Node's numbers.
 *
 *   node --import tsx bench/explore.ts RUN [RUN ...] [--backends wasm,webgl,cpu] [--n 20] [--loads 3]
 *     [--check 32] [--out FILE.html] [--screenshot FILE.png] [--puzzle N]
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import type { Page } from "playwright-core";
import { parse, rangeOpt } from "../src/cli/args";
import { imagesToTensor } from "../src/data/batches";
import { gradCam } from "../src/explain/gradcam";
import { writeExplorer } from "../src/explore/build";
import type { ExplorerApi } from "../src/explore/page";
import { drawnPuzzle, puzzlePixels, Draw } from "../src/explore/puzzles";
import { readRunForExplorer } from "../src/explore/run";
import { loadModel } from "../src/models/io";
import { launchChromium, offlineContext } from "../test/chromium";

/**
 * The page's pixels, probabilities and Grad-CAM maps for the first `count` test puzzles, against
 * Node's: the renderer's pixels, tfjs-node's probabilities and gradCam (notebook 04's function)
 * on the page's pixels (same input) and on Node's (end to end).
 */
async function agreement(page: Page, runDirs: string[], count: number) {
  const runs = runDirs.map(readRunForExplorer);
  const base = runs[0].spec;
  const size = base.difficulty.size;
  const items = Array.from({ length: count }, (_, index) => {
    const draw: Draw = { task: base.task, hops: base.hops, seed: base.seed, index };
    return { puzzle: drawnPuzzle(base, draw), draw };
  });
  const got = await page.evaluate((xs) => window.amidaExplorer.evaluate(xs), items);
  const pagePx = got.map((g) => new Uint8Array(Buffer.from(g.rgb, "base64")));
  const nodePx = items.map((it) => puzzlePixels(it.puzzle, base, it.draw));
  let bytes = 0;
  let pixelMax = 0;
  pagePx.forEach((px, i) =>
    px.forEach((v, k) => {
      const d = Math.abs(v - nodePx[i][k]);
      if (d) bytes++;
      pixelMax = Math.max(pixelMax, d);
    }),
  );
  const max = { prob: 0, heat: 0, probEnd: 0, heatEnd: 0 };
  for (const [m, r] of runs.entries()) {
    const model = await loadModel(r.checkpoint);
    for (const [key, pictures] of [
      ["", pagePx],
      ["End", nodePx],
    ] as const) {
      const x = imagesToTensor(pictures, size, size);
      const cam = gradCam(model, x);
      const probs = tf.tidy(
        () => tf.softmax(model.predict(x) as tf.Tensor).arraySync() as number[][],
      );
      x.dispose();
      got.forEach((g, i) => {
        const a = g.answers[m];
        a.probabilities.forEach((v, c) => {
          const k = `prob${key}` as "prob" | "probEnd";
          max[k] = Math.max(max[k], Math.abs(v - probs[i][c]));
        });
        a.heat.forEach((v, j) => {
          const k = `heat${key}` as "heat" | "heatEnd";
          max[k] = Math.max(max[k], Math.abs(v - cam.maps[i][j]));
        });
      });
    }
    model.dispose();
  }
  return {
    puzzles: count,
    pixel_bytes_differing: bytes,
    pixel_bytes: count * size * size * 3,
    pixel_max_diff: pixelMax,
    prob_max_diff_same_pixels: max.prob,
    heat_max_diff_same_pixels: max.heat,
    prob_max_diff_end_to_end: max.probEnd,
    heat_max_diff_end_to_end: max.heatEnd,
  };
}

const USAGE =
  "usage: node --import tsx bench/explore.ts RUN [RUN ...] [--backends wasm,webgl,cpu] [--n 20] [--loads 3] [--check 32] [--out FILE.html] [--screenshot FILE.png] [--puzzle N]";
const BACKENDS = ["wasm", "webgl", "cpu"];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function main(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(
    argv,
    {
      backends: { type: "string" },
      n: { type: "string" },
      loads: { type: "string" },
      check: { type: "string" },
      puzzle: { type: "string" },
      out: { type: "string" },
      screenshot: { type: "string" },
      help: { type: "boolean", short: "h" },
    } as const,
    USAGE,
    4,
  );
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new Error(`give at least one run directory\n${USAGE}`);
  const backends = (v.backends ?? "wasm,webgl").split(",");
  for (const b of backends)
    if (!BACKENDS.includes(b))
      throw new Error(`--backends: unknown backend '${b}'; allowed: ${BACKENDS.join(", ")}`);
  const n = rangeOpt("n", v.n, 1, 1000, 20);
  const loads = rangeOpt("loads", v.loads, 1, 20, 3);
  const check = rangeOpt("check", v.check, 1, 1000, 32);
  const puzzle = rangeOpt("puzzle", v.puzzle, 1, 1e6, 1);
  const out =
    v.out ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "amida-explore-")), "explorer.html");
  const built = await writeExplorer(positionals, out, { log: (l) => console.error(l) });
  console.log(
    `page: ${out}, ${(built.bytes / 1e6).toFixed(2)} MB (${(built.weightBytes / 1e6).toFixed(2)} MB of weights, script ${(built.scriptBytes / 1e6).toFixed(2)} MB), built in ${built.seconds.toFixed(1)} s`,
  );
  const browser = await launchChromium();
  const rows: object[] = [];
  try {
    for (const backend of backends) {
      const loadMs: number[] = [];
      let result: {
        perModel: number[][];
        update: number[];
        selfCheck: ExplorerApi["selfCheck"];
        runs: string[];
        tensors: [number, number];
        renderer: string;
        agreement: Awaited<ReturnType<typeof agreement>>;
      } | null = null;
      for (let k = 0; k < loads; k++) {
        const { context, blocked } = await offlineContext(browser);
        await context.setOffline(true);
        const page = await context.newPage();
        const errors: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        page.on("pageerror", (e) => errors.push(e.message));
        await page.goto(`file://${path.resolve(out)}?backend=${backend}&n=${puzzle}`);
        await page.waitForFunction(
          () => window.amidaExplorer && (window.amidaExplorer.ready || window.amidaExplorer.error),
          null,
          { timeout: 300_000 },
        );
        const state = await page.evaluate(() => ({
          error: window.amidaExplorer.error,
          backend: window.amidaExplorer.backend,
          loadMs: window.amidaExplorer.loadMs,
        }));
        if (state.error || state.backend !== backend) {
          console.log(`${backend}: did not run (${state.error ?? `started ${state.backend}`})`);
          await context.close();
          break;
        }
        loadMs.push(state.loadMs);
        // The screenshot shows the page as loaded (before the timing loop redraws it).
        if (k === 0 && v.screenshot && backend === backends[0])
          await page.screenshot({ path: v.screenshot, fullPage: true });
        if (k === loads - 1) {
          result = await page
            .evaluate((count) => {
              const a = window.amidaExplorer;
              const before = a.numTensors();
              const b = a.bench(count);
              const gl = document.createElement("canvas").getContext("webgl2");
              const info = gl?.getExtension("WEBGL_debug_renderer_info");
              return {
                ...b,
                selfCheck: a.selfCheck,
                runs: a.current().answers.map((x) => x.run),
                tensors: [before, a.numTensors()] as [number, number],
                renderer:
                  gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "none",
              };
            }, n)
            .then(async (r) => ({ ...r, agreement: await agreement(page, positionals, check) }));
        }
        if (errors.length || blocked.length)
          throw new Error(
            `${backend}: console errors ${JSON.stringify(errors)}, blocked ${JSON.stringify(blocked)}`,
          );
        await context.close();
      }
      if (!result) continue;
      const row = {
        backend,
        load_ms_median: Math.round(median(loadMs)),
        load_ms: loadMs.map(Math.round),
        per_model_ms_median: Object.fromEntries(
          result.runs.map((r, i) => [r, Number(median(result!.perModel[i]).toFixed(1))]),
        ),
        update_ms_median: Number(median(result.update).toFixed(1)),
        n,
        prob_max_diff_vs_node: result.selfCheck?.probMaxDiff,
        pixel_bytes_differing: result.selfCheck?.pixelBytesDiffering,
        pixel_max_diff: result.selfCheck?.pixelMaxDiff,
        tensors_before_after: result.tensors,
        agreement_with_node: result.agreement,
        webgl_renderer: result.renderer,
      };
      console.log(
        `${backend}: load ${row.load_ms_median} ms (median of ${loadMs.length}); prediction + Grad-CAM ${Object.entries(
          row.per_model_ms_median,
        )
          .map(([r, ms]) => `${r} ${ms} ms`)
          .join(
            ", ",
          )} (median of ${n}); whole update (picture + every model + drawing) ${row.update_ms_median} ms`,
      );
      const g = result.agreement;
      console.log(
        `${backend}: on ${g.puzzles} test puzzles, ${g.pixel_bytes_differing} of ${g.pixel_bytes} picture bytes differ from Node's renderer (by at most ${g.pixel_max_diff}); ` +
          `on the same pictures the probabilities are within ${g.prob_max_diff_same_pixels.toExponential(1)} of tfjs-node's and Grad-CAM within ${g.heat_max_diff_same_pixels.toExponential(1)} of gradCam's (notebook 04's); ` +
          `end to end (each side its own pictures) ${g.prob_max_diff_end_to_end.toExponential(1)} and ${g.heat_max_diff_end_to_end.toExponential(1)}`,
      );
      rows.push(row);
    }
  } finally {
    await browser.close();
  }
  console.log(
    JSON.stringify({ page: out, bytes: built.bytes, cores: os.cpus().length, results: rows }),
  );
  return 0;
}

if (require.main === module)
  void main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e) => {
      console.error((e as Error).message);
      process.exit(1);
    },
  );
