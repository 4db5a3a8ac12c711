import { test } from "node:test";
import assert from "node:assert/strict";
import { chiSquareSurvival, mean, sampleSd, wilsonInterval } from "../src/util/stats";
import { independenceCheck } from "../src/data/independence";

test("chi-square survival matches table values", () => {
  assert.ok(Math.abs(chiSquareSurvival(3.841, 1) - 0.05) < 1e-3);
  assert.ok(Math.abs(chiSquareSurvival(26.296, 16) - 0.05) < 1e-3);
  assert.ok(Math.abs(chiSquareSurvival(16, 16) - 0.453) < 1e-3);
});

test("wilson interval brackets the proportion and shrinks with n", () => {
  const [lo, hi] = wilsonInterval(50, 100);
  assert.ok(lo < 0.5 && hi > 0.5 && Math.abs(hi - lo - 0.192) < 0.01);
  const [lo2, hi2] = wilsonInterval(5000, 10000);
  assert.ok(hi2 - lo2 < 0.02);
  assert.deepEqual(wilsonInterval(0, 0), [0, 1]);
});

test("independence check flags dependence and accepts independence", () => {
  const n = 5000;
  const g1 = Array.from({ length: n }, (_, i) => i % 5);
  const same = independenceCheck(g1, g1, 5);
  assert.equal(same.fraction_equal, 1);
  assert.ok(same.p_value < 1e-6);
  const shifted = Array.from({ length: n }, (_, i) => Math.floor(i / 5) % 5);
  const ind = independenceCheck(g1, shifted, 5);
  assert.ok(Math.abs(ind.fraction_equal - 0.2) < 1e-9);
  assert.ok(ind.p_value > 0.5);
});

test("mean and sample SD over seeds: n - 1 in the denominator, 0 for one seed", () => {
  assert.ok(Math.abs(mean([0.2, 0.4, 0.6]) - 0.4) < 1e-12);
  assert.ok(Math.abs(sampleSd([1, 2, 3]) - 1) < 1e-12);
  assert.ok(Math.abs(sampleSd([2, 4]) - Math.SQRT2) < 1e-12);
  assert.equal(sampleSd([0.5]), 0);
});
