import { Difficulty, validateDifficulty } from "../puzzle/difficulty";
import { Nuisance, NO_NUISANCE, validateNuisance } from "../puzzle/nuisance";

export const TASKS = ["plain", "warp"] as const;
export type Task = (typeof TASKS)[number];
export const SPLITS = ["train", "val", "test"] as const;
export type Split = (typeof SPLITS)[number];

/** Everything that decides a data set's pixels and labels; recorded in every file header. */
export interface DatasetSpec {
  task: Task;
  /** Warp hops: 0 for plain, >= 1 for warp. */
  hops: number;
  difficulty: Difficulty;
  nuisance: Nuisance;
  seed: number;
}

export function validateSpec(s: DatasetSpec): DatasetSpec {
  if (!TASKS.includes(s.task)) throw new Error(`unknown task '${s.task}'; allowed: ${TASKS.join(", ")}`);
  if (!Number.isInteger(s.hops) || s.hops < 0 || s.hops > 16) throw new Error(`hops must be an integer in 0..16, got ${s.hops}`);
  if (s.task === "plain" && s.hops !== 0) throw new Error(`task 'plain' means hops = 0, got hops = ${s.hops}; use --task warp for hops >= 1`);
  if (s.task === "warp" && s.hops === 0) throw new Error("task 'warp' needs hops >= 1 (hops = 0 is the plain task)");
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 2 ** 31) throw new Error(`seed must be an integer in 0..2^31, got ${s.seed}`);
  validateDifficulty(s.difficulty);
  validateNuisance(s.nuisance ?? NO_NUISANCE);
  return s;
}

export function isSplit(x: string): x is Split {
  return (SPLITS as readonly string[]).includes(x);
}
