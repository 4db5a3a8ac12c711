/**
 * The explorer page (`amida explore`), driven in headless Chromium with every request off the
 * machine refused: it loads from file:// with no console error, answers, updates after a click,
 * and its pixels, probabilities and Grad-CAM maps agree with Node's (tfjs-node, the renderer,
 * notebook 04's explainSplit) on the same runs. Two tiny runs are trained here first.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import type { Browser, ConsoleMessage, Page } from "playwright-core";
import { initBackend } from "../src/backend/select";
import { generateDataset } from "../src/data/generate";
import { SplitReader } from "../src/data/format";
import { samplePuzzle } from "../src/data/sample";
import { rungBlindPredictions } from "../src/data/baselines";
import { DatasetSpec, splitFile } from "../src/data/spec";
import { imagesToTensor } from "../src/data/batches";
import { DEFAULT_TRAIN } from "../src/train/config";
import { loadRunModel, runTraining } from "../src/experiment/run";
import { RunConfig } from "../src/experiment/rundir";
import { explainSplit } from "../src/explain/analysis";
import { gradCam } from "../src/explain/gradcam";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { Puzzle } from "../src/puzzle/puzzle";
import { warpLabel } from "../src/puzzle/trace";
import { writeExplorer } from "../src/explore/build";
import { toggleRung, moveStart, slotAt, slotPoint } from "../src/explore/edit";
import { modelTitle, measuredWords, trainedWords } from "../src/explore/words";
import { puzzlePixels } from "../src/explore/puzzles";
import type { ExplorerApi, ModelAnswer } from "../src/explore/page";
import { launchChromium, offlineContext } from "./chromium";

let root = "";
let runs = "";
let data64 = "";
let spec64: DatasetSpec;
let pagePath = "";
let browser: Browser;
const RUNS = ["cnn", "vit"];
const TEST_COUNT = 16;

const spec = (size: number, seed: number): DatasetSpec => ({
  task: "plain",
  hops: 0,
  difficulty: { ...presetDifficulty("easy"), size },
  nuisance: NO_NUISANCE,
  seed,
  sampling: "debiased",
});

const runCfg = (name: string, model: string, data: string): RunConfig => ({
  name,
  model,
  data,
  init: null,
  freeze: "none",
  train: { ...DEFAULT_TRAIN, epochs: 1, batchSize: 16, warmupEpochs: 0 },
  modelSeed: 1,
});

before(async () => {
  await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "amida-explore-"));
  runs = path.join(root, "runs", "exp");
  data64 = path.join(root, "d64");
  spec64 = spec(64, 5);
  generateDataset(spec64, { train: 32, val: 8, test: TEST_COUNT }, data64, { quiet: true });
  generateDataset(spec(32, 5), { train: 32, val: 8, test: 8 }, path.join(root, "d32"), {
    quiet: true,
  });
  await runTraining(runCfg("cnn", "mobilenetv2_035", data64), { runsDir: runs, quiet: true });
  await runTraining(runCfg("vit", "mobilevit_xxs", data64), { runsDir: runs, quiet: true });
  await runTraining(runCfg("cnn32", "mobilenetv2_035", path.join(root, "d32")), {
    runsDir: runs,
    quiet: true,
  });
  // The page every browser test opens, written by the command itself.
  pagePath = path.join(root, "out", "explorer.html");
  const cli = spawnSync(
    process.execPath,
    [
      path.join(__dirname, "..", "bin", "amida.js"),
      "explore",
      ...RUNS.map((r) => path.join(runs, r)),
      "--out",
      pagePath,
      "--quiet",
    ],
    { encoding: "utf8" },
  );
  assert.equal(cli.status, 0, cli.stderr);
  const summary = JSON.parse(cli.stdout.trim().split("\n").at(-1)!);
  assert.equal(summary.out, pagePath);
  assert.equal(summary.bytes, fs.statSync(pagePath).size);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** Opens a page offline; collects console errors, page errors and refused requests. */
async function open(
  file: string,
  query = "",
): Promise<{ page: Page; problems: string[]; blocked: string[] }> {
  const { context, blocked } = await offlineContext(browser);
  // Networking off as well: a request the route filter let through would fail, not load.
  await context.setOffline(true);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m: ConsoleMessage) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`file://${file}${query}`);
  await page.waitForFunction(
    () => {
      const a = window.amidaExplorer;
      return a && (a.ready || a.error)
        ? true
        : document.getElementById("status")?.className === "error";
    },
    null,
    { timeout: 90_000 },
  );
  return { page, problems, blocked };
}

/**
 * Runs `f(window.amidaExplorer, arg)` in the page. Sent as source text: tsx compiles this file
 * with esbuild, whose name-keeping helper (__name) the page defines as the identity.
 */
function call<A, T>(page: Page, f: (a: ExplorerApi, arg: A) => T, arg: A): Promise<T> {
  return page.evaluate(
    ([src, x]) =>
      new Function("a", "x", `const __name = (f) => f; return (${src})(a, x)`)(
        window.amidaExplorer,
        x,
      ),
    [f.toString(), arg] as const,
  ) as Promise<T>;
}

const api = <T>(page: Page, f: (a: ExplorerApi) => T) => call(page, f, null);

const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

/** Node's probabilities (tfjs-node) and Grad-CAM maps for the given pictures. */
function nodeAnswers(model: tf.LayersModel, pictures: Uint8Array[], size: number) {
  const x = imagesToTensor(pictures, size, size);
  const probs = tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor).arraySync() as number[][]);
  const cam = gradCam(model, x);
  x.dispose();
  return { probs, maps: cam.maps, predicted: cam.predicted };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test("plain words: model titles and the verdict against the rung-blind rule", () => {
  assert.deepEqual(modelTitle("mobilenetv2_100"), {
    title: "MobileNetV2-1.0",
    kind: "a convolutional network (CNN)",
  });
  assert.equal(modelTitle("mobilenetv2_035").title, "MobileNetV2-0.35");
  assert.equal(modelTitle("mobilevit_xxs").title, "MobileViT-XXS");
  const facts = {
    name: "r",
    experiment: "e",
    model: "mobilevit_xxs",
    stage: "stage1",
    frozen: "none",
    task: "plain",
    hops: 0,
    trainCount: 1500,
    epochs: 3,
    imagesSeen: 4500,
    stream: false,
    testAcc: 0.5,
    ci95: [0.46, 0.54] as [number, number],
    testCount: 500,
    rungBlind: 0.36,
    chance: 1 / 3,
    heldoutStyleAcc: null,
    params: 1e6,
  };
  const good = measuredWords(facts);
  assert.ok(good.learned);
  assert.match(good.line, /50\.0 % right.*never looks at the rungs: 36\.0 %.*Guessing: 33\.3 %/);
  const bad = measuredWords({ ...facts, testAcc: 0.37, ci95: [0.33, 0.41] });
  assert.ok(!bad.learned);
  assert.match(bad.verdict, /not by more than chance variation/);
  // How it was trained: stored puzzles for epochs, or fresh ones for a number of images.
  const large = {
    difficulty: { lanes: 4, rows: 8, rungsMin: 3, rungsMax: 10, size: 64 },
    sampling: "debiased",
  } as DatasetSpec;
  assert.match(
    trainedWords(facts, large),
    /^Trained on 1,500 plain puzzles .* for 3 epochs, from scratch/,
  );
  assert.match(
    trainedWords({ ...facts, stream: true, imagesSeen: 40064 }, large),
    /^Trained on 40,064 fresh plain puzzles of 4 lanes.*a new puzzle for every training image/,
  );
});

test("editing: a rung is added and removed, a clash is refused, START swaps with a top circle", () => {
  const p: Puzzle = {
    lanes: 3,
    rows: 4,
    rungs: [{ row: 1, left: 0 }],
    top: [0, 1, 2],
    bottom: [2, 0, 1],
    start: 1,
  };
  const add = toggleRung(p, { row: 0, left: 1 });
  assert.deepEqual(add.puzzle?.rungs, [
    { row: 0, left: 1 },
    { row: 1, left: 0 },
  ]);
  assert.deepEqual(toggleRung(add.puzzle!, { row: 0, left: 1 }).puzzle?.rungs, p.rungs);
  const clash = toggleRung(p, { row: 1, left: 1 });
  assert.equal(clash.puzzle, null);
  assert.match(clash.message, /share a lane/);
  assert.throws(() => toggleRung(p, { row: 4, left: 0 }), /row must be an integer in 0\.\.3/);
  const moved = moveStart(p, 2).puzzle!;
  assert.equal(moved.start, 2);
  assert.deepEqual(moved.top, [0, 2, 1]);
  // START's own colour stays the one missing from the drawn top row.
  assert.equal(moved.top[moved.start], p.top[p.start]);
  // A click at a slot's centre finds that slot.
  for (const slot of [
    { row: 0, left: 0 },
    { row: 3, left: 1 },
  ]) {
    const pt = slotPoint(p, 64, slot);
    assert.deepEqual(slotAt(p, 64, pt.x, pt.y), slot);
  }
  assert.equal(slotAt(p, 64, 1, 1), null);
});

test("the page loads offline, and its pixels, probabilities and Grad-CAM agree with Node", async () => {
  const { page, problems, blocked } = await open(pagePath);
  try {
    const state = await api(page, (a) => ({
      ready: a.ready,
      error: a.error,
      backend: a.backend,
      selfCheck: a.selfCheck,
      modelErrors: a.modelErrors,
    }));
    assert.equal(state.error, null);
    assert.ok(state.ready);
    assert.deepEqual(state.modelErrors, []);
    assert.equal(state.backend, "wasm");
    assert.ok(
      state.selfCheck && state.selfCheck.probMaxDiff < 1e-4,
      JSON.stringify(state.selfCheck),
    );

    // Notebook 04's computation on the data set's stored test pictures, for every test puzzle.
    const reader = new SplitReader(splitFile(data64, "test"));
    const models = await Promise.all(RUNS.map((r) => loadRunModel(runs, r)));
    try {
      const items = Array.from({ length: TEST_COUNT }, (_, index) => ({
        puzzle: samplePuzzle(spec64, "test", index).puzzle,
        draw: { task: "plain", hops: 0, seed: spec64.seed, index },
      }));
      const got = await call(page, (a, xs) => a.evaluate(xs as never), items);
      const pagePixels = got.map((g) => fromB64(g.rgb));
      const stored = items.map((_, i) => reader.image(i));
      // The page's pictures: the stored ones, except the circles' antialiased rims where they
      // lie over a lane line's end (canvas compositing rounds differently): at most 1 level.
      let differing = 0;
      pagePixels.forEach((px, i) => {
        assert.ok(maxAbs(px, stored[i]) <= 1, `puzzle ${i}: pixels differ by more than 1`);
        assert.deepEqual(puzzlePixels(items[i].puzzle, spec64, items[i].draw as never), stored[i]);
        differing += px.filter((v, k) => v !== stored[i][k]).length;
      });
      const total = TEST_COUNT * 64 * 64 * 3;
      assert.ok(differing / total < 0.002, `${differing} of ${total} bytes differ`);
      const blind = rungBlindPredictions(data64, "test");
      for (const [m, model] of models.entries()) {
        const onPage = got.map((g) => g.answers[m] as ModelAnswer);
        // Same input: tfjs-node's probabilities and Grad-CAM on the page's own pictures.
        const node = nodeAnswers(model, pagePixels, 64);
        // Notebook 04 (explainSplit) on the stored pictures.
        const nb = explainSplit(model, reader, "test", { n: TEST_COUNT });
        onPage.forEach((a, i) => {
          assert.ok(maxAbs(a.probabilities, node.probs[i]) < 1e-4, `${RUNS[m]} #${i} probs`);
          assert.equal(a.predicted, node.predicted[i]);
          assert.ok(maxAbs(a.heat, node.maps[i]) < 1e-3, `${RUNS[m]} #${i} Grad-CAM`);
          assert.ok(maxAbs(a.heat, nb.samples[i].heat) < 1e-3, `${RUNS[m]} #${i} vs notebook 04`);
          assert.equal(a.layer, nb.layer);
          assert.equal(a.truth, reader.records.labels[i]);
          assert.equal(a.rungBlind, blind[i]);
        });
      }
    } finally {
      reader.close();
      models.forEach((m) => m.dispose());
    }
    assert.deepEqual(problems, []);
    assert.deepEqual(blocked, []);
  } finally {
    await page.context().close();
  }
});

test("a click adds a rung; the picture, answers and heat maps update; tensors stay flat", async () => {
  const { page, problems, blocked } = await open(pagePath);
  const models = await Promise.all(RUNS.map((r) => loadRunModel(runs, r)));
  try {
    const before = await api(page, (a) => ({
      puzzle: a.puzzle(),
      draw: a.draw(),
      renders: a.renders,
      tensors: a.numTensors(),
      heats: Array.from(
        document.querySelectorAll("article.model figure:nth-child(2) canvas"),
        (c) => (c as HTMLCanvasElement).toDataURL(),
      ),
    }));
    const p = before.puzzle;
    // A click on a rung removes it; a second click there adds it back.
    const slot = p.rungs[0];
    const at = await call(page, (a, s) => a.slotPoint(s.row, s.left), slot);
    await page.mouse.click(at.x, at.y);
    await page.waitForFunction((n) => window.amidaExplorer.renders > n, before.renders);
    const removed = await api(page, (a) => ({
      puzzle: a.puzzle(),
      renders: a.renders,
      message: document.getElementById("edit-msg")!.textContent,
      heats: Array.from(
        document.querySelectorAll("article.model figure:nth-child(2) canvas"),
        (c) => (c as HTMLCanvasElement).toDataURL(),
      ),
      info: document.getElementById("puzzle-info")!.textContent,
    }));
    assert.deepEqual(removed.puzzle.rungs, p.rungs.slice(1));
    assert.match(removed.info ?? "", new RegExp(`, edited: ${p.rungs.length - 1} rungs?\\.`));
    assert.match(removed.message ?? "", /removed the rung/);
    await page.mouse.click(at.x, at.y);
    await page.waitForFunction((n) => window.amidaExplorer.renders > n, removed.renders);
    const after1 = await api(page, (a) => ({
      puzzle: a.puzzle(),
      current: a.current(),
      message: document.getElementById("edit-msg")!.textContent,
      heats: Array.from(
        document.querySelectorAll("article.model figure:nth-child(2) canvas"),
        (c) => (c as HTMLCanvasElement).toDataURL(),
      ),
      info: document.getElementById("puzzle-info")!.textContent,
    }));
    assert.deepEqual(after1.puzzle.rungs, toggleRung(removed.puzzle, slot).puzzle!.rungs);
    assert.deepEqual(after1.puzzle.rungs, p.rungs);
    assert.match(after1.message ?? "", /added a rung/);
    assert.match(after1.info ?? "", new RegExp(`data set: ${p.rungs.length} rungs\\.`));
    // The answers are those of the picture shown (recomputed after each click).
    const rgb = fromB64(after1.current.rgb);
    assert.ok(maxAbs(rgb, puzzlePixels(after1.puzzle, spec64, before.draw)) <= 1);
    for (const [m, model] of models.entries()) {
      const node = nodeAnswers(model, [rgb], 64);
      const a = after1.current.answers[m];
      assert.ok(maxAbs(a.probabilities, node.probs[0]) < 1e-4);
      assert.ok(maxAbs(a.heat, node.maps[0]) < 1e-3);
      assert.equal(a.truth, warpLabel(after1.puzzle, 0));
    }
    // With the rung removed, a heat map on the page was redrawn differently; with it back, the
    // maps are the first ones again.
    assert.ok(
      removed.heats.some((h, i) => h !== before.heats[i]),
      "a heat map on the page changed with the picture",
    );
    assert.deepEqual(after1.heats, before.heats);

    // A click where a rung would share a lane is refused, and nothing changes.
    const clash = { row: slot.row, left: slot.left === 0 ? 1 : slot.left - 1 };
    const renders = await api(page, (a) => a.renders);
    const at2 = await call(page, (a, s) => a.slotPoint(s.row, s.left), clash);
    await page.mouse.click(at2.x, at2.y);
    const refused = await api(page, (a) => ({
      rungs: a.puzzle().rungs.length,
      renders: a.renders,
      message: document.getElementById("edit-msg")!.textContent,
    }));
    assert.equal(refused.rungs, p.rungs.length);
    assert.equal(refused.renders, renders);
    assert.match(refused.message ?? "", /share a lane/);

    // Dragging START onto another top circle moves it.
    const other = (p.start + 1) % p.lanes;
    const from = await call(page, (a, l) => a.topPoint(l), p.start);
    const to = await call(page, (a, l) => a.topPoint(l), other);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 4 });
    await page.mouse.up();
    const dragged = await api(page, (a) => a.puzzle());
    assert.equal(dragged.start, other);
    assert.equal(dragged.top[other], p.top[p.start]);

    // Ten new puzzles: tf.memory().numTensors does not grow.
    const tensors0 = await api(page, (a) => a.numTensors());
    for (let i = 0; i < 10; i++) await page.click("#new");
    const later = await api(page, (a) => ({ tensors: a.numTensors(), draw: a.draw() }));
    assert.equal(later.draw.index, before.draw.index + 10);
    assert.equal(later.tensors, tensors0);
    assert.equal(tensors0, before.tensors);
    assert.deepEqual(problems, []);
    assert.deepEqual(blocked, []);
  } finally {
    models.forEach((m) => m.dispose());
    await page.context().close();
  }
});

test("bad input: unfinished runs, runs of two image sizes and a foreign --out are refused by name", async () => {
  const out = path.join(root, "bad.html");
  await assert.rejects(writeExplorer([root], out), /is not a run directory \(no config.json\)/);
  const unfinished = path.join(root, "runs", "exp2", "cnn");
  fs.mkdirSync(path.dirname(unfinished), { recursive: true });
  fs.cpSync(path.join(runs, "cnn"), unfinished, { recursive: true });
  // As a run killed before it finished: no metrics, no commit record.
  fs.rmSync(path.join(unfinished, "metrics.json"));
  fs.rmSync(path.join(unfinished, "commit.json"));
  await assert.rejects(
    writeExplorer([unfinished], out),
    (e: Error) =>
      e.message.includes(unfinished) &&
      /is not finished \(unfinished: .*no commit\.json/.test(e.message),
  );
  await assert.rejects(
    writeExplorer([path.join(runs, "cnn"), path.join(runs, "cnn32")], out),
    (e: Error) =>
      /image sizes differ/.test(e.message) &&
      e.message.includes(`'${path.join(runs, "cnn")}' takes 64x64 px`) &&
      e.message.includes(`'${path.join(runs, "cnn32")}' takes 32x32 px`),
  );
  const mine = path.join(root, "notes.html");
  fs.writeFileSync(mine, "<html>my notes</html>");
  await assert.rejects(writeExplorer([path.join(runs, "cnn")], mine), /refusing to replace/);
  assert.equal(fs.readFileSync(mine, "utf8"), "<html>my notes</html>");
  assert.ok(!fs.existsSync(out));
  // A page this command wrote is replaced (atomically).
  const again = path.join(root, "again.html");
  fs.copyFileSync(pagePath, again);
  const s = await writeExplorer([path.join(runs, "vit")], again);
  assert.equal(s.bytes, fs.statSync(again).size);
  assert.ok(s.bytes < fs.statSync(pagePath).size);
});

test("a damaged page says what is wrong instead of staying blank", async () => {
  const html = fs.readFileSync(pagePath, "utf8");
  // Puzzles of another size than the models take: every model explains why it cannot answer.
  const dataStart = html.indexOf('id="amida-explorer-data"');
  const dataEnd = html.indexOf("</script>", dataStart);
  const resized =
    html.slice(0, dataStart) +
    html.slice(dataStart, dataEnd).replace(/"size":64/g, '"size":32') +
    html.slice(dataEnd);
  const resizedPath = path.join(root, "out", "resized.html");
  fs.writeFileSync(resizedPath, resized);
  const a = await open(resizedPath);
  const status = await a.page.textContent("#status");
  assert.match(status ?? "", /none of the models can answer here/);
  assert.match(
    status ?? "",
    /run cnn's model takes 64x64 px images, but the puzzles on this page are 32x32 px/,
  );
  assert.match(status ?? "", /run vit's model/);
  await a.page.context().close();
  // A copy cut short in the second model's weights.
  const cut = path.join(root, "out", "cut.html");
  fs.writeFileSync(cut, html.slice(0, Math.floor(html.length * 0.8)));
  const b = await open(cut);
  const msgs = await api(b.page, (x) => ({ errors: x.modelErrors, error: x.error }));
  assert.ok(
    msgs.errors.some((m) => /run vit.* is cut short \(\d+ of \d+ base64 characters\)/.test(m)),
    JSON.stringify(msgs),
  );
  // The first model still answers.
  assert.equal(await api(b.page, (x) => x.current().answers.length), 1);
  await b.page.context().close();
  // A copy cut short before its script: the guard in the head says so.
  const early = path.join(root, "out", "early.html");
  fs.writeFileSync(early, html.slice(0, Math.floor(html.length * 0.01)));
  const c = await open(early);
  assert.match(
    (await c.page.textContent("#status")) ?? "",
    /This page is incomplete: its script is missing/,
  );
  await c.page.context().close();
});

test("the address picks the first puzzle (?task=&seed=&n=), and a bad value is explained", async () => {
  const a = await open(pagePath, "?task=warp&seed=9&n=3");
  const got = await api(a.page, (x) => ({ draw: x.draw(), puzzle: x.puzzle(), ready: x.ready }));
  assert.ok(got.ready);
  assert.deepEqual(got.draw, { task: "warp", hops: 1, seed: 9, index: 2 });
  const warpSpec: DatasetSpec = { ...spec64, task: "warp", hops: 1, seed: 9 };
  assert.deepEqual(got.puzzle, samplePuzzle(warpSpec, "test", 2).puzzle);
  await a.page.context().close();
  const b = await open(pagePath, "?n=zero");
  assert.equal(await api(b.page, (x) => x.draw().index), 0);
  assert.match(
    (await b.page.textContent("#edit-msg")) ?? "",
    /asks for n 'zero' \(allowed: a whole number from 1\)/,
  );
  assert.deepEqual(b.problems, []);
  await b.page.context().close();
});
