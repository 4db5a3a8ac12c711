import * as fs from "fs";
import * as path from "path";
import { gridMarkdown, heatmapRows, runGrid, SWEEP, CONTEST, GridConfig } from "../experiment/grid";
import { heatmapSpec, vegaLiteToSVG } from "../report/charts";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic";
import { RUN, runTraining } from "../experiment/run";
import { collectResults, runStages } from "../experiment/protocol";
import { STAGES } from "../experiment/stages";
import { describeExperiment, EXPERIMENT } from "../experiment/config";
import { resultRows, resultsJson, resultsMarkdown } from "../experiment/results";
import { initBackend } from "../backend/select";
import { ExtraFlag, modeCommand } from "./config";
import { defaultBudget, describeConfig, Mode, validateSaved } from "../util/knobs";
import { checkOutput, readJsonFile } from "../util/json";
import { parse } from "./args";

/** Where runs and data go, and the backend: flags of every command that trains. */
const PLACES: Record<string, ExtraFlag> = {
  runs: { type: "string", doc: "where runs go (default runs)" },
  data: { type: "string", doc: "where data sets go (default data)" },
  backend: { type: "string", doc: "auto | node-gpu | node | wasm | cpu" },
};

/** The output folders, checked before any work. */
function places(flags: Record<string, string | boolean | undefined>): {
  runsDir: string;
  dataDir: string;
} {
  const runsDir = checkOutput((flags.runs as string | undefined) ?? "runs", "dir", "--runs");
  const dataDir = checkOutput((flags.data as string | undefined) ?? "data", "dir", "--data");
  return { runsDir, dataDir };
}

const TRAIN_HEAD = `usage: amida train --model NAME --data DIR --name RUN [--runs runs] [--<knob> VALUE ...]
Trains one model on one data set into RUNS/RUN/ (config.json, provenance.json, metrics.json,
checkpoints/{last,best} with history.json, commit.json last). Re-running the same config reuses the
finished run, or resumes an interrupted one; --fresh retrains (the old run is kept until the new one
finishes). Options:`;
const TRAIN_EXTRA: Record<string, ExtraFlag> = {
  runs: PLACES.runs,
  backend: PLACES.backend,
  fresh: { type: "boolean", doc: "retrain even if a finished run of this config exists" },
};

export async function trainCommand(argv: string[]): Promise<number> {
  const r = modeCommand(RUN, TRAIN_HEAD, TRAIN_EXTRA, argv, { withBudget: false });
  if (!r) return 0;
  const runsDir = checkOutput((r.flags.runs as string | undefined) ?? "runs", "dir", "--runs");
  await initBackend();
  const m = await runTraining(r.config, { runsDir, fresh: !!r.flags.fresh });
  const { confusion: _c, ...row } = m;
  console.log(JSON.stringify(row));
  return 0;
}

const EXP_HEAD = `usage: amida experiment [--budget quick] [--config FILE.json] [--runs runs] [--data data] [--<knob> VALUE ...]
Runs the seed's protocol (plain -> warp fine-tune per freeze arm, + warp-from-scratch controls) for a CNN
and a MobileViT, once per training seed, prints the results table (each accuracy beside its rung-blind
baseline) and writes RUNS/NAME/results.json. --config starts from a saved experiment.json instead of a budget.
Options (knobs default to the budget's value):`;

export async function experimentCommand(argv: string[]): Promise<number> {
  const r = modeCommand(EXPERIMENT, EXP_HEAD, PLACES, argv);
  if (!r) return 0;
  const paths = places(r.flags);
  const backend = await initBackend();
  const cfg = r.config;
  console.log(describeExperiment(cfg, r.sources));
  const t0 = Date.now();
  const results = await runStages(cfg, STAGES, paths);
  const rows = resultRows(results);
  writeJsonAtomic(path.join(paths.runsDir, cfg.name, "results.json"), resultsJson(rows));
  console.log(resultsMarkdown(rows));
  console.log(`experiment '${cfg.name}' done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  console.log(
    JSON.stringify({ experiment: cfg.name, backend: backend.name, rows: resultsJson(rows) }),
  );
  return 0;
}

function gridHead(cmd: string, mode: Mode<GridConfig>): string {
  return `usage: amida ${cmd} [--budget ${defaultBudget(mode)}] [--config FILE.json] [--runs runs] [--data data] [--<knob> VALUE ...]
${
  cmd === "sweep"
    ? 'Trains every combination of models, difficulties, tasks, training-set sizes and epoch budgets once per\ntraining seed and writes RUNS/NAME/rows.csv, rows.json and heatmap.svg (the difficulty "phase diagram").'
    : "Trains every architecture on plain and warp puzzles at one shared budget, once per training seed, and the\nmasked-image pre-training comparison (maeModel); writes RUNS/NAME/rows.csv and rows.json."
}
List knobs take comma-separated values. Options (knobs default to the budget's value):`;
}

async function gridCommand(cmd: string, mode: Mode<GridConfig>, argv: string[]): Promise<number> {
  const r = modeCommand(mode, gridHead(cmd, mode), PLACES, argv);
  if (!r) return 0;
  const paths = places(r.flags);
  await initBackend(undefined, { quiet: true });
  const g = r.config;
  console.log(
    describeConfig(`${mode.name} '${g.name}' (budget '${g.budget}')`, mode.knobs, g, r.sources),
  );
  const rows = await runGrid(g, paths);
  if (cmd === "sweep") {
    const svg = await vegaLiteToSVG(
      heatmapSpec(heatmapRows(rows), `test accuracy (mean over seeds): ${g.name}`),
    );
    writeFileAtomic(path.join(paths.runsDir, g.name, "heatmap.svg"), svg);
  }
  console.log(gridMarkdown(rows));
  console.log(JSON.stringify(rows));
  return 0;
}

export const sweepCommand = (argv: string[]) => gridCommand("sweep", SWEEP, argv);
export const contestCommand = (argv: string[]) => gridCommand("contest", CONTEST, argv);

export async function resultsCommand(argv: string[]): Promise<number> {
  const usage =
    "usage: amida results [--name quick] [--runs runs] [--data data]\nPrints the results table of an experiment's finished runs (from RUNS/NAME/experiment.json); runs trained from another config or data set than the saved one are listed as stale, not shown.";
  const { values: v } = parse(
    argv,
    {
      name: { type: "string" },
      runs: { type: "string" },
      data: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    usage,
  );
  if (v.help) {
    console.log(usage);
    return 0;
  }
  const { runsDir, dataDir } = places(v);
  const name = v.name ?? "quick";
  const saved = path.join(runsDir, name, EXPERIMENT.file!);
  if (!fs.existsSync(saved))
    throw new Error(
      `no experiment '${name}' under ${runsDir}: ${saved} is missing (run 'amida experiment --name ${name}' first)`,
    );
  // Validation builds the models (attention spans): on the chosen backend, not tfjs's cpu fallback.
  await initBackend(undefined, { quiet: true });
  const cfg = readJsonFile(saved, "saved experiment config", (x, where) =>
    validateSaved(EXPERIMENT, x, where),
  );
  const { results, unfinished, why } = collectResults(cfg, { runsDir, dataDir });
  if (results.length === 0)
    throw new Error(
      `no finished runs of experiment '${cfg.name}' under ${runsDir}/${cfg.name}:\n  ${unfinished.map((u) => `${u}: ${why[u]}`).join("\n  ")}`,
    );
  console.log(resultsMarkdown(resultRows(results)));
  if (unfinished.length)
    console.log(
      `NOT SHOWN (not finished, or stale):\n  ${unfinished.map((u) => `${u}: ${why[u]}`).join("\n  ")}`,
    );
  return 0;
}
