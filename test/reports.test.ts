/**
 * HTML reports that people pass around: a notebook with a plotly chart, executed and exported by
 * scripts/execute_notebooks.py, opens from disk in an offline browser with no console error and
 * no request off the machine, its chart interactive, every file under 3 MB; and the report check
 * itself catches what the stock template referenced (CDN scripts, a dynamic import, a font URL).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import { launchChromium, offlineContext } from "./chromium";

const ROOT = path.resolve(__dirname, "..");
const PY = path.join(ROOT, ".venv", "bin", "python");

/** network_refs() of scripts/execute_notebooks.py on `html`. */
function networkRefs(html: string): string[] {
  const code =
    "import sys, json; sys.path.insert(0, 'scripts'); import execute_notebooks as e; print(json.dumps(e.network_refs(sys.stdin.read())))";
  return JSON.parse(execFileSync(PY, ["-c", code], { cwd: ROOT, input: html, encoding: "utf8" }));
}

test("the report check finds every network reference the stock template made, and nothing else", () => {
  const html = [
    '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>',
    '<script>const mermaid = (await import("https://cdnjs.cloudflare.com/ajax/libs/mermaid/11.10.0/mermaid.esm.min.mjs")).default;</script>',
    "<link rel=stylesheet href=//fonts.example.org/a.css>",
    '<style>@font-face { src: url("http://fonts.example.org/f.woff") }</style>',
    // Not fetched, or not off the machine:
    '<svg xmlns="http://www.w3.org/2000/svg"></svg><img src="data:image/png;base64,AAAA">',
    '<script src="plotly-3.7.0.js"></script><p>see https://example.org in the text</p>',
  ].join("\n");
  assert.deepEqual(networkRefs(html), [
    "//fonts.example.org/a.css",
    "http://fonts.example.org/f.woff",
    "https://cdnjs.cloudflare.com/ajax/libs/mermaid/11.10.0/mermaid.esm.min.mjs",
    "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js",
  ]);
});

test("a rendered report opens offline: no console error, no request off the machine, plotly live, files under 3 MB", async () => {
  // Inside the repository: the kernel finds the project by walking up to package.json.
  const dir = path.join(ROOT, ".ci-out", `report-test-${process.pid}`);
  const out = path.join(dir, "out");
  fs.mkdirSync(dir, { recursive: true });
  const cell = (cell_type: string, source: string) => ({
    cell_type,
    metadata: {},
    source,
    ...(cell_type === "code" ? { outputs: [], execution_count: null } : {}),
  });
  const curves = JSON.stringify(
    [0, 1].map((seed) => ({
      run: `cnn-stage1-s${seed}`,
      group: "mobilenetv2_035 · stage 1: plain",
      seed,
      history: [1, 2, 3].map((k) => ({
        images: 1000 * 2 ** k,
        train_acc: 0.3 + 0.1 * k,
        val_acc: 0.34,
      })),
    })),
  );
  const nb = {
    cells: [
      cell("markdown", "# A report\n\nMath stays as written without MathJax: $p = 1/N$."),
      cell(
        "code",
        `import { showCurves } from "./src/notebook/charts";\nimport { showMarkdown } from "./src/notebook/display";\nshowMarkdown("| a | b |\\n|---|---|\\n| 1 | 2 |");\nawait showCurves(${curves}, "stage 1: plain puzzles");`,
      ),
    ],
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5,
  };
  fs.writeFileSync(path.join(dir, "report.ipynb"), JSON.stringify(nb));
  const browser = await launchChromium();
  try {
    execFileSync(
      PY,
      ["scripts/execute_notebooks.py", "--out", out, path.join(dir, "report.ipynb")],
      { cwd: ROOT, stdio: "pipe" },
    );
    const files = fs.readdirSync(out).sort();
    assert.equal(files.length, 3, files.join(", "));
    assert.match(files[0], /^plotly-[\d.]+\.js$/);
    assert.deepEqual(files.slice(1), ["report.html", "report.ipynb"]);
    for (const f of files) {
      const size = fs.statSync(path.join(out, f)).size;
      assert.ok(size < 3 * 1024 * 1024, `${f}: ${(size / 1e6).toFixed(1)} MB`);
    }
    const html = fs.readFileSync(path.join(out, "report.html"), "utf8");
    assert.deepEqual(networkRefs(html), []);
    // The only script the page loads is the bundle beside it (no require.js, MathJax, mermaid).
    assert.deepEqual(
      [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]),
      [files[0]],
    );
    assert.doesNotMatch(html, /import\(/);

    const { context, blocked } = await offlineContext(browser);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`file://${path.join(out, "report.html")}`);
    // The SVG is replaced by the live chart once the bundle has unpacked itself.
    const point = page.locator(".js-plotly-plot .scatterlayer .trace .points path").last();
    await point.waitFor({ state: "visible", timeout: 30_000 });
    await point.scrollIntoViewIfNeeded();
    const p = (await point.boundingBox())!;
    await page.mouse.move(p.x + p.width / 2, p.y + p.height / 2, { steps: 3 });
    const tip = page.locator(".hoverlayer .hovertext").first();
    await tip.waitFor({ state: "visible", timeout: 10_000 });
    assert.match((await tip.textContent()) ?? "", /mobilenetv2_035 · stage 1: plain/);
    assert.match(await page.locator("body").innerText(), /\$p = 1\/N\$/);
    assert.deepEqual(errors, [], "console errors");
    assert.deepEqual(blocked, [], "requests off the machine");
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
