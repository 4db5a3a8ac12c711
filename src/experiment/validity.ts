/**
 * What a test accuracy must be read against: the best rung-blind rule on the same test split,
 * the accuracy on the puzzles that rule gets wrong, and the accuracy on the same test puzzles
 * drawn by a renderer no model trained on.
 */
import * as fs from "fs";
import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { rungBlindPredictions } from "../data/baselines";
import { heldoutTestFile } from "../data/heldout";
import { evaluate, Evaluation } from "../train/evaluate";

export interface ValidityMetrics {
  /** The best rung-blind rule's accuracy on this test split. */
  rung_blind_bayes: number;
  /** The model's accuracy on the test puzzles the rung-blind rule gets wrong (NaN if there are none). */
  test_acc_where_rung_blind_wrong: number;
  /** The model's accuracy on the test puzzles drawn in the held-out style (absent when the data set has no such file). */
  test_acc_heldout_style?: number;
}

/** `test` is the model's evaluation on `dataDir`'s test split, in file order. */
export function validityMetrics(
  model: tf.LayersModel,
  dataDir: string,
  test: Evaluation,
  labels: Uint8Array,
): ValidityMetrics {
  const rule = rungBlindPredictions(dataDir, "test");
  let wrong = 0;
  let right = 0;
  for (let i = 0; i < test.count; i++) {
    if (rule[i] === labels[i]) continue;
    wrong++;
    if (test.predictions[i] === labels[i]) right++;
  }
  const out: ValidityMetrics = {
    // The rule's accuracy on the same split, from the predictions above (no second regeneration).
    rung_blind_bayes: test.count ? (test.count - wrong) / test.count : NaN,
    test_acc_where_rung_blind_wrong: wrong ? right / wrong : NaN,
  };
  const heldout = heldoutTestFile(dataDir);
  if (fs.existsSync(heldout)) {
    const reader = new SplitReader(heldout);
    try {
      out.test_acc_heldout_style = evaluate(model, reader, 64).accuracy;
    } finally {
      reader.close();
    }
  }
  return out;
}
