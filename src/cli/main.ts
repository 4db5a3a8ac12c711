import { spawnSync } from "child_process";
import * as path from "path";
import { pathToFileURL } from "url";
import { dieWithParent } from "../util/children";
import { baselinesCommand, exportCommand, generateCommand, showCommand } from "./data";
import { modelsCommand } from "./models";
import { pretrainCommand } from "./pretrain";
import { exploreCommand } from "./explore";
import {
  contestCommand,
  experimentCommand,
  resultsCommand,
  sweepCommand,
  trainCommand,
} from "./experiment";
import { serveRunnerJobs } from "../experiment/runner";
import { serveStream } from "../data/stream";

const BENCHES = ["train", "generate", "parallel", "stream"];

/**
 * Runs bench/<name>.ts as its own process: benchmarks are scripts beside the project, not part of
 * the CLI's code (they import src/, never the reverse).
 */
async function benchCommand(argv: string[]): Promise<number> {
  const [which, ...rest] = argv;
  if (!which || which === "--help" || which === "-h") {
    console.log(`usage: amida bench <${BENCHES.join("|")}> [options]   (see bench/<name>.ts)`);
    return which ? 0 : 2;
  }
  if (!BENCHES.includes(which))
    throw new Error(`unknown benchmark '${which}'; allowed: ${BENCHES.join(", ")}`);
  const script = path.join(__dirname, "..", "..", "bench", `${which}.ts`);
  const tsx = pathToFileURL(
    require.resolve("tsx/package.json").replace(/package\.json$/, "dist/loader.mjs"),
  ).href;
  const r = spawnSync(process.execPath, ["--import", tsx, script, ...rest], { stdio: "inherit" });
  return r.status ?? 1;
}

type Command = { run: (argv: string[]) => Promise<number>; help: string };

const COMMANDS: Record<string, Command> = {
  generate: {
    run: generateCommand,
    help: "make a data set of puzzles (train/val/test) under --out DIR",
  },
  baselines: {
    run: baselinesCommand,
    help: "accuracies of rung-blind rules (chance, plain, START, Bayes) on a data set's split",
  },
  show: { run: showCommand, help: "render one stored puzzle with its traced path(s) to a PNG" },
  export: {
    run: exportCommand,
    help: "a data set as NumPy arrays (uint8 images, int64 labels) for PyTorch and friends",
  },
  models: { run: modelsCommand, help: "parameter counts of every model variant" },
  pretrain: {
    run: pretrainCommand,
    help: "masked-image pre-training of a ViT-family encoder on unlabelled puzzles (then train --init)",
  },
  train: {
    run: trainCommand,
    help: "train one model on one data set (optionally from a checkpoint, with a freeze group)",
  },
  experiment: {
    run: experimentCommand,
    help: "the seed's protocol: plain -> frozen warp fine-tune + controls, both models",
  },
  results: {
    run: resultsCommand,
    help: "print an experiment's results table from its finished runs",
  },
  sweep: {
    run: sweepCommand,
    help: "train a grid of settings (model, difficulty, data size, task, epochs); CSV + heatmap",
  },
  contest: {
    run: contestCommand,
    help: "every architecture at one budget, 3 seeds, plus masked-image pre-training vs scratch",
  },
  explore: {
    run: exploreCommand,
    help: "a self-contained HTML page where trained runs' models solve puzzles you make, with Grad-CAM",
  },
  bench: {
    run: benchCommand,
    help: "benchmarks: train (images/s per backend), generate (puzzles/s)",
  },
};

const USAGE = `usage: amida <command> [options]   (amida <command> --help for its options)

${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.help}`)
  .join("\n")}`;

export async function main(argv: string[]): Promise<number> {
  dieWithParent();
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  if (name === "_worker") return serveRunnerJobs();
  if (name === "_generate") return serveStream();
  const cmd = COMMANDS[name];
  if (!cmd) throw new Error(`unknown command '${name}'\n${USAGE}`);
  return cmd.run(rest);
}
