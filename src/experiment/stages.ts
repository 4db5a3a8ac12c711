/**
 * The three kinds of run, one vocabulary for run names, metrics, result rows and notebooks:
 *   stage1    plain puzzles from scratch (the protocol's stage 1);
 *   finetune  from a checkpoint (stage 2: warp with a freeze group; or any task after pre-training);
 *   scratch   a non-plain task from scratch (the fine-tune's control).
 */
export const STAGES = ["stage1", "finetune", "scratch"] as const;
export type Stage = (typeof STAGES)[number];

export const STAGE_LABELS: Record<Stage, string> = {
  stage1: "stage 1: plain",
  finetune: "warp fine-tune",
  scratch: "warp from scratch",
};

/** The stage of a run: from its starting checkpoint (null = from scratch) and its data set's task. */
export function stageOf(init: string | null, task: string): Stage {
  if (init) return "finetune";
  return task === "plain" ? "stage1" : "scratch";
}
