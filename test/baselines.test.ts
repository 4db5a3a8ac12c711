import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync } from "child_process";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { DatasetSpec } from "../src/data/spec";
import { samplePuzzle } from "../src/data/sample";
import { generateDataset } from "../src/data/generate";
import {
  RungBlindRule,
  rungBlindBaselines,
  rungBlindPredictions,
  rungBlindView,
} from "../src/data/baselines";

const spec = (over: Partial<DatasetSpec> = {}): DatasetSpec => ({
  task: "warp",
  hops: 1,
  difficulty: presetDifficulty("easy"),
  nuisance: NO_NUISANCE,
  seed: 11,
  sampling: "blog",
  ...over,
});

/** Accuracy of the rule (estimated from `fit` draws) and of a deliberately wrong one on `n` fresh test puzzles. */
function bayesOn(s: DatasetSpec, fit: number, n: number) {
  const rule = new RungBlindRule(s, "test", fit);
  let right = 0;
  let wrong = 0;
  for (let i = 0; i < n; i++) {
    const x = samplePuzzle(s, "test", i);
    const guess = rule.predict(x.puzzle);
    if (guess === x.label) right++;
    // The next lane over from the Bayes answer: a rule that sees the same things but uses them wrongly.
    if ((guess + 1) % s.difficulty.lanes === x.label) wrong++;
  }
  return { bayes: right / n, wrong: wrong / n };
}

test("rung-blind Bayes on blog sampling matches the independent figures (TASK_SPEC); a wrong rule does worse", () => {
  // Independent figures: easy 40.2 % plain, 66.6 % warp; blog difficulty 40.1 % warp.
  const cases: Array<[Partial<DatasetSpec>, number, number]> = [
    [{ task: "plain", hops: 0 }, 0.402, 0.03],
    [{}, 0.666, 0.03],
    [{ difficulty: presetDifficulty("blog") }, 0.401, 0.025],
  ];
  for (const [over, want, tol] of cases) {
    const s = spec(over);
    const { bayes, wrong } = bayesOn(s, over.difficulty ? 40_000 : 15_000, 3000);
    assert.ok(
      Math.abs(bayes - want) < tol,
      `${JSON.stringify(over)}: rung_blind_bayes ${bayes}, independent figure ${want}`,
    );
    assert.ok(wrong < bayes - 0.05, `wrong rule ${wrong} vs Bayes ${bayes}`);
  }
});

test("rung-blind Bayes on debiased sampling sits at chance, plain and warp, at every preset", () => {
  for (const preset of ["easy", "medium", "blog"]) {
    for (const hops of [0, 1]) {
      const s = spec({
        sampling: "debiased",
        difficulty: presetDifficulty(preset),
        hops,
        task: hops ? "warp" : "plain",
      });
      const { bayes } = bayesOn(s, 20_000, 3000);
      const chance = 1 / s.difficulty.lanes;
      // 3,000 puzzles: one standard error is ~0.8 points.
      assert.ok(
        Math.abs(bayes - chance) < 0.025,
        `${preset} hops ${hops}: rung_blind_bayes ${bayes}, chance ${chance}`,
      );
    }
  }
});

test("the rung-blind view ignores colour names: renaming the palette keeps the view", () => {
  const x = samplePuzzle(spec(), "test", 3).puzzle;
  const rename = [2, 0, 1];
  const renamed = {
    ...x,
    top: x.top.map((c) => rename[c]),
    bottom: x.bottom.map((c) => rename[c]),
  };
  assert.equal(rungBlindView(renamed), rungBlindView(x));
  assert.notEqual(rungBlindView({ ...x, start: (x.start + 1) % 3 }), rungBlindView(x));
});

test("baselines and predictions of a stored split, through the API and `amida baselines`", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-baselines-"));
  generateDataset(spec(), { train: 30, val: 0, test: 600 }, dir, { quiet: true });
  const b = rungBlindBaselines(dir);
  assert.equal(b.split, "test");
  assert.equal(b.count, 600);
  assert.ok(Math.abs(b.chance - 1 / 3) < 1e-12);
  assert.ok(Math.abs(b.plain_rule - 1 / 3) < 0.06, `plain_rule ${b.plain_rule}`);
  assert.ok(b.rung_blind_bayes > 0.6, `rung_blind_bayes ${b.rung_blind_bayes}`);
  const pred = rungBlindPredictions(dir, "test");
  assert.equal(pred.length, 600);
  const out = execFileSync(process.execPath, ["bin/amida.js", "baselines", dir], {
    encoding: "utf8",
  });
  const last = JSON.parse(out.trim().split("\n").at(-1)!);
  assert.deepEqual(Object.keys(last), [
    "chance",
    "plain_rule",
    "start_rule",
    "rung_blind_bayes",
    "count",
    "split",
  ]);
  assert.equal(last.rung_blind_bayes, Number(b.rung_blind_bayes.toFixed(4)));
  assert.throws(() => rungBlindBaselines(dir, "val"), /no val split at/);
});
