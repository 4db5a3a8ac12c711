/**
 * Notebook 01's settings (what data set it makes and shows) as a mode of the one knob table, so
 * its cell, `AMIDA_NB_*` variables and `AMIDA_NB_BUDGET` work as in every other notebook.
 */
import { Difficulty, difficultyKnobs, presetDifficulty, validateDifficulty } from "../puzzle/difficulty";
import { everyBudget, fieldKnob, Mode } from "../util/knobs";
import { Sampling, SAMPLINGS, Task, TASKS } from "./spec";

export interface DataConfig {
  budget: string;
  difficulty: Difficulty;
  task: Task;
  /** Warp hops (0 for plain). */
  hops: number;
  /** Training puzzles; validation and test get a tenth each. */
  count: number;
  dataSeed: number;
  /** Which of the two data sets (blog and debiased sampling) the pictures show. */
  sampling: Sampling;
}

export const DATA_BUDGETS: Record<string, () => DataConfig> = {
  quick: () => ({
    budget: "quick",
    difficulty: presetDifficulty("small"),
    task: "warp",
    hops: 1,
    count: 700,
    dataSeed: 0,
    sampling: "debiased",
  }),
  tiny: () => ({ ...DATA_BUDGETS.quick(), budget: "tiny", count: 60 }),
};

const K = fieldKnob<DataConfig>;

export const DATA: Mode<DataConfig> = {
  name: "data overview",
  knobs: [
    ...difficultyKnobs<DataConfig>(["difficulty"], { presetSize: true }),
    K("task", "string", ["task"], TASKS.join(" | "), { choices: () => TASKS }),
    K("hops", "int", ["hops"], "warp hops (0 for plain)", { min: 0, max: 16 }),
    K("count", "int", ["count"], "training puzzles (small holds ~716 distinct training ladders); val and test get a tenth each", {
      min: 1,
      max: 10_000_000,
    }),
    K("dataSeed", "int", ["dataSeed"], "seeds the data sets", { min: 0, max: 2 ** 31 }),
    K("sampling", "string", ["sampling"], `which data set the pictures show: ${SAMPLINGS.join(" | ")}`, {
      choices: () => SAMPLINGS,
    }),
  ],
  budgets: everyBudget(DATA_BUDGETS),
  validate: (c) => {
    validateDifficulty(c.difficulty);
    if (c.task === "plain" && c.hops !== 0) throw new Error(`task 'plain' means hops = 0, got hops = ${c.hops}`);
    if (c.task === "warp" && c.hops === 0) throw new Error("task 'warp' needs hops >= 1");
    return c;
  },
  file: null,
};
