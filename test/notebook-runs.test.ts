import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { budgetConfig } from "../src/experiment/config";
import { fakeFinished } from "./fake-run";
import {
  experimentResults,
  experimentRuns,
  notTrainedMessage,
  savedExperiments,
} from "../src/notebook/runs";

test("notebook 00 on a checkout without runs says what to run first and which finished experiments exist", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "amida-00-"));
  const paths = { runsDir: path.join(root, "runs"), dataDir: path.join(root, "data") };
  const quick = budgetConfig("quick");
  // Nothing at all: both notebooks to run, no other experiment mentioned.
  assert.throws(
    () => experimentResults(quick, paths),
    (e: Error) =>
      /^No results yet for experiment 'quick' \(budget 'quick'\): 0 of \d+ runs are finished/.test(
        e.message,
      ) &&
      /Run notebooks\/02_train_plain\.ipynb, then notebooks\/03_warp_finetune\.ipynb first with budget 'quick'/.test(
        e.message,
      ) &&
      !/Under /.test(e.message),
  );
  // A finished 'tiny' experiment and a half-trained 'quick' one (stage 1 done).
  const tiny = budgetConfig("tiny");
  const tinyDir = path.join(paths.runsDir, "tiny");
  fs.mkdirSync(tinyDir, { recursive: true });
  fs.writeFileSync(path.join(tinyDir, "experiment.json"), JSON.stringify(tiny));
  for (const r of experimentRuns(tiny, paths)) fakeFinished(tinyDir, r.name);
  const quickDir = path.join(paths.runsDir, "quick");
  fs.mkdirSync(quickDir, { recursive: true });
  fs.writeFileSync(path.join(quickDir, "experiment.json"), JSON.stringify(quick));
  const quickRuns = experimentRuns(quick, paths);
  for (const r of quickRuns.filter((r) => r.stage === "stage1")) fakeFinished(quickDir, r.name);
  const n = experimentRuns(tiny, paths).length;
  assert.deepEqual(savedExperiments(paths), [
    { name: "quick", budget: "quick", finished: 6, runs: quickRuns.length },
    { name: "tiny", budget: "tiny", finished: n, runs: n },
  ]);
  const unfinished = quickRuns.filter((r) => r.stage !== "stage1").map((r) => r.name);
  const msg = notTrainedMessage(quick, paths, unfinished);
  assert.match(msg, /: 6 of 18 runs are finished/);
  // Stage 1 is done: only 03 is left.
  assert.match(msg, /Run notebooks\/03_warp_finetune\.ipynb first/);
  assert.doesNotMatch(msg, /02_train_plain/);
  assert.match(
    msg,
    new RegExp(
      `'tiny' \\(budget 'tiny', ${n} of ${n} runs finished\\)\\. To show 'tiny' instead: budget: "tiny" in the config cell, or start JupyterLab with AMIDA_NB_BUDGET=tiny\\.`,
    ),
  );
});
