/**
 * The experiment notebooks' config cell as one call. The cell lists knobs (null = the budget's
 * value); `AMIDA_NB_<KNOB>` environment variables override the cell (headless runs, CI), and
 * the printed table marks every value that did not come from the budget.
 */
import * as fs from "fs";
import * as path from "path";
import {
  applySettings,
  budgetConfig,
  describeConfig,
  envOf,
  ExperimentConfig,
  KNOBS,
  Setting,
  Source,
} from "../experiment/config";
import { Paths } from "../experiment/protocol";

type CellValue = number | string | boolean | number[] | string[] | null;

/** The cell: a budget, where runs and data go, and any knob of `KNOBS` (null leaves the budget's value). */
export interface NotebookCell {
  budget: string;
  runs?: string;
  data?: string;
  [knob: string]: CellValue | undefined;
}

export interface NotebookExperiment {
  cfg: ExperimentConfig;
  paths: Paths;
  /** runs/<name>: where this experiment's runs are. */
  runsDir: string;
  sources: Record<string, Source>;
}

const PREFIX = "AMIDA_NB";

/**
 * Resolves the cell into a validated config. With `inherit`, a config saved by an earlier
 * notebook for the same experiment name and budget (runs/<name>/experiment.json) is the base, so
 * knobs edited in 02 carry over to 03, 04 and 00.
 */
export function experimentFromNotebook(
  cell: NotebookCell,
  opts: { inherit?: boolean; env?: NodeJS.ProcessEnv; print?: (s: string) => void } = {},
): NotebookExperiment {
  const env = opts.env ?? process.env;
  const special = new Map([
    [`${PREFIX}_BUDGET`, "budget"],
    [`${PREFIX}_RUNS`, "runs"],
    [`${PREFIX}_DATA`, "data"],
  ]);
  const byEnv = new Map(KNOBS.map((k) => [`${PREFIX}_${envOf(k.key)}`, k.key]));
  const envSettings: Setting[] = [];
  const top: Record<string, string> = {
    budget: cell.budget,
    runs: cell.runs ?? "runs",
    data: cell.data ?? "data",
  };
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(PREFIX + "_") || text === undefined) continue;
    if (special.has(name)) top[special.get(name)!] = text;
    else if (byEnv.has(name))
      envSettings.push({ key: byEnv.get(name)!, value: text, source: "env", origin: name });
    else
      throw new Error(
        `unknown parameter ${name}='${text}'; allowed: ${[...special.keys(), ...byEnv.keys()].join(", ")}`,
      );
  }
  const cellSettings: Setting[] = [];
  for (const [key, value] of Object.entries(cell)) {
    if (
      key === "budget" ||
      key === "runs" ||
      key === "data" ||
      value === null ||
      value === undefined
    )
      continue;
    cellSettings.push({ key, value, source: "cell", origin: `the config cell's '${key}'` });
  }
  let base = budgetConfig(top.budget);
  let baseSource: Source = "budget";
  const name = [...envSettings, ...cellSettings].find((s) => s.key === "name")?.value as
    string | undefined;
  const saved = path.join(top.runs, name ?? base.name, "experiment.json");
  if (opts.inherit && fs.existsSync(saved)) {
    const old: ExperimentConfig = JSON.parse(fs.readFileSync(saved, "utf8"));
    if (old.budget === base.budget) {
      base = old;
      baseSource = "saved";
    }
  }
  const { config, sources } = applySettings(base, [...cellSettings, ...envSettings]);
  const print = opts.print ?? ((s: string) => console.log(s));
  if (baseSource === "saved") print(`starting from the config saved with the runs: ${saved}`);
  for (const [k, s] of Object.entries(sources))
    if (s === "env")
      print(
        `overridden by the environment: ${k} = ${JSON.stringify(KNOBS.find((x) => x.key === k)!.get(config))} (AMIDA_NB_${envOf(k)})`,
      );
  print(describeConfig(config, sources));
  const paths = { runsDir: top.runs, dataDir: top.data };
  return { cfg: config, paths, runsDir: path.join(top.runs, config.name), sources };
}
