/**
 * A notebook's config cell as one call, for every mode (experiment, sweep, contest, noise, data):
 * the cell lists knobs of the mode's table (null = the budget's value); `AMIDA_NB_<KNOB>`
 * environment variables override the cell (headless runs, CI, a Lab server started for a class);
 * the printed table marks every value that did not come from the budget.
 *
 * One vocabulary for every notebook: `AMIDA_NB_BUDGET` picks the budget of whatever notebook runs,
 * `AMIDA_NB_RUNS` / `AMIDA_NB_DATA` / `AMIDA_NB_OUT` / `AMIDA_NB_REPORTS` say where things go, and
 * `AMIDA_NB_SEEDS` means the training seeds wherever there are any. A variable that is a knob of
 * another notebook's mode is left to that notebook; one that is no knob of any mode is an error
 * with "did you mean".
 */
import * as fs from "fs";
import * as path from "path";
import {
  budgetOf,
  defaultBudget,
  checkShape,
  describeConfig,
  ENV_PREFIX,
  envOf,
  Mode,
  resolveConfig,
  Setting,
  Source,
  suggestion,
} from "../util/knobs";
import { readJsonFile } from "../util/json";
import { EXPERIMENT } from "../experiment/config";
import { CONTEST, SWEEP } from "../experiment/grid";
import { NOISE } from "../noise/evaluate";
import { DATA } from "../data/config";
import { GRADCAM } from "./gradcam";

type CellValue = number | string | boolean | number[] | string[] | null | undefined;

/** Keys of a cell that are not knobs: the budget and where things go. */
const PLACES = ["budget", "runs", "data", "out", "reports"] as const;
type Place = (typeof PLACES)[number];

/** The cell: a budget, places, and any knob of the mode (null leaves the budget's value). */
export type NotebookCell = { [K in Place]?: string } & Record<string, CellValue>;

/** Every mode a notebook can configure, so a variable of one is not an error in another. */
const ALL_MODES: Array<Mode<never>> = [EXPERIMENT, SWEEP, CONTEST, NOISE, DATA, GRADCAM] as never;

export interface NotebookConfig<C> {
  cfg: C;
  sources: Record<string, Source>;
  budget: string;
  /** Where runs and data sets go (the cell's or AMIDA_NB_RUNS / AMIDA_NB_DATA). */
  paths: { runsDir: string; dataDir: string };
  /** runs/<name> for modes with a name. */
  runsDir: string;
  /** The cell's or AMIDA_NB_OUT / AMIDA_NB_REPORTS values, where given. */
  out?: string;
  reports?: string;
}

/** Reads `AMIDA_NB_*`: places, this mode's settings; refuses names no mode knows. */
function fromEnv<C>(
  mode: Mode<C>,
  env: NodeJS.ProcessEnv,
): { places: Partial<Record<Place, string>>; settings: Setting[] } {
  const places: Partial<Record<Place, string>> = {};
  const settings: Setting[] = [];
  const mine = new Map(mode.knobs.map((k) => [`${ENV_PREFIX}_${envOf(k.key)}`, k.key]));
  const known = new Set([
    ...PLACES.map((p) => `${ENV_PREFIX}_${envOf(p)}`),
    ...ALL_MODES.flatMap((m) => m.knobs.map((k) => `${ENV_PREFIX}_${envOf(k.key)}`)),
  ]);
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(`${ENV_PREFIX}_`) || text === undefined) continue;
    const place = PLACES.find((p) => `${ENV_PREFIX}_${envOf(p)}` === name);
    if (place) places[place] = text;
    else if (mine.has(name)) settings.push({ key: mine.get(name)!, value: text, source: "env" });
    else if (!known.has(name))
      throw new Error(
        `unknown setting ${name}='${text}'${suggestion(name, [...known])}; this notebook (${mode.name}) takes: ${[...PLACES.map((p) => `${ENV_PREFIX}_${envOf(p)}`), ...mine.keys()].join(", ")}`,
      );
  }
  return { places, settings };
}

/**
 * Resolves a config cell into a validated config of `mode`. With `inherit`, the config an earlier
 * notebook saved beside its runs (runs/<name>/<mode.file>) is the base when its budget is the one
 * asked for, so knobs edited in 02 carry over to 03, 04 and 00. Errors name the setting as the
 * cell or the variable spells it, with "did you mean" and the allowed values.
 */
export function configFromNotebook<C extends { name?: string; budget?: string }>(
  mode: Mode<C>,
  cell: NotebookCell,
  opts: { inherit?: boolean; env?: NodeJS.ProcessEnv; print?: (s: string) => void } = {},
): NotebookConfig<C> {
  const print = opts.print ?? ((s: string) => console.log(s));
  const { places, settings: envSettings } = fromEnv(mode, opts.env ?? process.env);
  const at = (p: Place) => places[p] ?? (cell[p] as string | undefined);
  const budget = at("budget") ?? defaultBudget(mode);
  const cellSettings: Setting[] = Object.entries(cell)
    .filter(([k, v]) => !(PLACES as readonly string[]).includes(k) && v !== null && v !== undefined)
    .map(([key, value]) => ({ key, value: value as never, source: "cell" as const }));
  let base = budgetOf(mode, budget);
  const runsRoot = at("runs") ?? "runs";
  const name = [...envSettings, ...cellSettings].find((s) => s.key === "name")?.value as
    string | undefined;
  let from = "";
  if (opts.inherit && mode.file) {
    const saved = path.join(runsRoot, name ?? base.name ?? "", mode.file);
    if (fs.existsSync(saved)) {
      try {
        const old = readJsonFile(saved, "saved config", (v, where) => {
          checkShape(v, base, where);
          return v as C;
        });
        if (old.budget === budget) {
          base = old;
          from = saved;
        }
      } catch (e) {
        print(`not starting from ${saved}: ${(e as Error).message}`);
      }
    }
  }
  const { config, sources } = resolveConfig(mode, base, [...cellSettings, ...envSettings]);
  if (from) {
    print(`starting from the config saved with the runs: ${from}`);
    for (const k of Object.keys(sources)) if (sources[k] === "budget") sources[k] = "saved";
  }
  if (places.budget) print(`budget '${budget}' from the environment (${ENV_PREFIX}_BUDGET)`);
  print(
    describeConfig(
      `${mode.name}${config.name ? ` '${config.name}'` : ""} (budget '${budget}')`,
      mode.knobs,
      config,
      sources,
    ),
  );
  const paths = { runsDir: runsRoot, dataDir: at("data") ?? "data" };
  return {
    cfg: config,
    sources,
    budget,
    paths,
    runsDir: path.join(runsRoot, config.name ?? ""),
    out: at("out"),
    reports: at("reports"),
  };
}
