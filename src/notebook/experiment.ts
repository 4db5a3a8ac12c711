/**
 * The experiment notebooks' config cell (02, 03, 04, 00) as one call: `configFromNotebook` for
 * the experiment's mode, with the runs and data folders it uses.
 */
import { EXPERIMENT, ExperimentConfig } from "../experiment/config";
import { Paths } from "../experiment/protocol";
import { Source } from "../util/knobs";
import { configFromNotebook, NotebookCell } from "./config";

export interface NotebookExperiment {
  cfg: ExperimentConfig;
  paths: Paths;
  /** runs/<name>: where this experiment's runs are. */
  runsDir: string;
  /** Where reports go: the cell's `reports`, AMIDA_NB_REPORTS, or reports/. */
  reports: string;
  sources: Record<string, Source>;
}

/**
 * Resolves the cell into a validated experiment config. With `inherit`, the config 02 saved with
 * its runs (runs/<name>/experiment.json) is the base when its budget is the one asked for.
 */
export function experimentFromNotebook(
  cell: NotebookCell,
  opts: { inherit?: boolean; env?: NodeJS.ProcessEnv; print?: (s: string) => void } = {},
): NotebookExperiment {
  const r = configFromNotebook(EXPERIMENT, cell, opts);
  return {
    cfg: r.cfg,
    paths: r.paths,
    runsDir: r.runsDir,
    reports: r.reports ?? "reports",
    sources: r.sources,
  };
}
