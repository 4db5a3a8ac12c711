/**
 * A student's session in JupyterLab, in Debian's chromium (headless, offline: every request that
 * leaves the machine is refused and listed): Lab started at AMIDA_NB_BUDGET=tiny, notebook 02 run
 * top to bottom, then
 *   - the kernel shows Busy while the training cell runs and Idle once every cell has run;
 *   - the curves are an interactive plotly chart (hovering a point shows its tooltip), and still
 *     are after the notebook is saved, closed and opened again;
 *   - a bad value typed into the config cell gives a readable error: the message, no stack frames.
 * AMIDA_UI_SHOTS=DIR keeps screenshots of each step there.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import type { Page } from "playwright-core";
import { launchChromium, offlineContext } from "./chromium";
import { command, hoverPlotly, kernelIdle, startLab } from "./lab-server";

const NB = "02_train_plain.ipynb";
const shots = process.env.AMIDA_UI_SHOTS;

async function shot(page: Page, name: string): Promise<void> {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
}

/** What the page shows: the status bar's kernel state, and each code cell's prompt and source start. */
function state(page: Page) {
  return page.evaluate(() => {
    const status = Array.from(document.querySelectorAll(".jp-StatusBar-TextItem"))
      .map((e) => e.textContent ?? "")
      .find((t) => /\| (Idle|Busy|Starting|Connecting|Unknown|Restarting)/.test(t));
    const cells = Array.from(document.querySelectorAll(".jp-Notebook .jp-CodeCell")).map((c) => ({
      prompt: c.querySelector(".jp-InputArea-prompt")?.textContent?.trim() ?? "",
      source: c.querySelector(".jp-InputArea-editor")?.textContent ?? "",
      outputs: c.querySelectorAll(".jp-OutputArea-output").length,
    }));
    return { status: status ?? "", cells };
  });
}

test("JupyterLab at AMIDA_NB_BUDGET=tiny: notebook 02 runs with Busy/Idle, an interactive plotly chart (also reopened) and a readable config error", async () => {
  const t0 = Date.now();
  const lab = await startLab([NB], { AMIDA_NB_BUDGET: "tiny" });
  const browser = await launchChromium();
  try {
    const { context, blocked } = await offlineContext(browser);
    const page = await context.newPage();
    await page.goto(lab.url(NB));
    await page.locator(".jp-Notebook .jp-CodeCell").first().waitFor({ timeout: 60_000 });
    await kernelIdle(page);

    // Run every cell, watching the kernel state while the training cell runs.
    await command(page, "notebook:run-all-cells");
    const seen = new Set<string>();
    let done = false;
    for (const start = Date.now(); Date.now() - start < 240_000;) {
      const s = await state(page);
      // The training cell is running (not queued) once it has printed something and has no
      // number yet; from then on until it ends the status bar must say Busy.
      const train = s.cells.find((c) => c.source.includes("runStages("))!;
      if (train.prompt === "[*]:" && train.outputs > 0)
        seen.add(`train running, status ${s.status.split("| ")[1]}`);
      if (s.cells.every((c) => /^\[\d+\]:$/.test(c.prompt)) && / \| Idle$/.test(s.status)) {
        done = true;
        break;
      }
      await page.waitForTimeout(200);
    }
    await shot(page, "01-ran-all");
    assert.ok(done, `not every cell ran within 4 min: ${JSON.stringify(await state(page))}`);
    assert.ok(seen.has("train running, status Busy"), [...seen].join("; "));
    assert.ok(!seen.has("train running, status Idle"), [...seen].join("; "));
    const errors = await page
      .locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
      .allTextContents();
    assert.deepEqual(
      errors.filter((e) => /Error/.test(e)),
      [],
      "a cell wrote an error",
    );
    assert.ok(
      fs.existsSync(path.join(lab.runs, "tiny", "experiment.json")),
      "the tiny budget's runs",
    );

    // The curves: plotly, live, with a tooltip naming the model.
    const tip = await hoverPlotly(page);
    assert.match(tip, /stage 1: plain/);
    await shot(page, "02-plotly-hover");

    // Saved, closed, opened again: the chart comes back live when the mouse enters it.
    await page.evaluate(() => (window as any).jupyterapp.commands.execute("docmanager:save"));
    await page.evaluate(() => (window as any).jupyterapp.commands.execute("application:close-all"));
    await page.locator(".jp-Notebook").waitFor({ state: "detached", timeout: 30_000 });
    await command(page, "docmanager:open", { path: NB });
    await page.locator(".jp-RenderedPlotly").first().waitFor({ timeout: 60_000 });
    assert.match(await hoverPlotly(page), /stage 1: plain/);
    await shot(page, "03-reopened-hover");
    await kernelIdle(page);

    // A bad value typed into the config cell: the message, no stack.
    const index = await page.evaluate(() => {
      const nb = (window as any).jupyterapp.shell.currentWidget.content;
      const i = nb.widgets.findIndex((c: any) =>
        c.model.sharedModel.getSource().includes("experimentFromNotebook({"),
      );
      const cell = nb.widgets[i].model.sharedModel;
      cell.setSource(cell.getSource().replace(/stage1Lr: null,/, "stage1Lr: -1,   "));
      nb.activeCellIndex = i;
      return i;
    });
    assert.ok(index > 0);
    await command(page, "notebook:run-cell");
    const cell = page.locator(".jp-Notebook .jp-Cell").nth(index);
    const err = cell.locator(
      ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
    );
    await err.first().waitFor({ timeout: 60_000 });
    const text = (await err.allTextContents()).join("\n");
    await err.first().scrollIntoViewIfNeeded();
    await shot(page, "04-config-error");
    assert.match(text, /stage1\.?lr/i);
    assert.match(text, /-1\b/);
    assert.doesNotMatch(text, /^\s+at /m, "stack frames");
    assert.doesNotMatch(text, /src\/\S+\.js/, "paths into tslab's compiled src/*.js");
    assert.ok(text.trim().split("\n").length <= 6, text);

    assert.deepEqual(blocked, [], "requests that left the machine");
    console.log(`lab test: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    await browser.close();
    await lab.stop();
  }
});
