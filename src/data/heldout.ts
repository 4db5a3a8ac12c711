/**
 * The held-out rendering style's test file: the test split's puzzles, in the same order with the
 * same labels, drawn in `HELDOUT_STYLE` (puzzle/layout.ts), which no training set uses. A model
 * that learned to trace scores about the same on both files; one that learned the standard
 * renderer's pixel templates does not.
 */
import * as path from "path";
import { DatasetSpec, HELDOUT_TEST_NAME, heldoutSpec } from "./spec";
import { renderSample } from "./sample";
import { DatasetHeader, writeSplit } from "./format";

/** Where `generate` writes the held-out-style test file of the data set at `dir`. */
export function heldoutTestFile(dir: string): string {
  return path.join(dir, HELDOUT_TEST_NAME);
}

export function writeHeldoutTest(spec: DatasetSpec, count: number, dir: string): DatasetHeader {
  const held = heldoutSpec(spec);
  return writeSplit(heldoutTestFile(dir), held, "test", count, (i) => renderSample(held, "test", i));
}
