import { parse } from "./args";
import { MAX_RUNS, writeExplorer } from "../explore/build";

export const EXPLORE_USAGE = `usage: amida explore RUN [RUN ...] [--out reports/explorer.html] [--quiet]
Writes one self-contained HTML page (no network needed: open it from disk, mail it, put it on a stick)
in which the models of 1 to ${MAX_RUNS} finished runs answer puzzles you draw or edit, side by side:
class probabilities, the answer beside the true one with its route, the rung-blind rule's answer,
and the Grad-CAM map, computed in the browser with the project's own code.
  RUN    a finished run's directory, e.g. runs/quick/cnn-stage1-s0 runs/quick/vit-stage1-s0
         (all of one difficulty and image size: the page shows one puzzle to every model)
  --out  the page (default reports/explorer.html); an existing file is replaced only if
         'amida explore' wrote it`;

export async function exploreCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(
    argv,
    {
      out: { type: "string" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    } as const,
    EXPLORE_USAGE,
    MAX_RUNS,
  );
  if (v.help) {
    console.log(EXPLORE_USAGE);
    return 0;
  }
  if (positionals.length === 0)
    throw new Error(`give at least one run directory\n${EXPLORE_USAGE}`);
  const s = await writeExplorer(positionals, v.out ?? "reports/explorer.html", {
    log: v.quiet ? undefined : (l) => console.error(l),
  });
  console.log(
    JSON.stringify({
      out: s.out,
      bytes: s.bytes,
      weight_bytes: s.weightBytes,
      script_bytes: s.scriptBytes,
      runs: s.runs,
      seconds: Number(s.seconds.toFixed(1)),
    }),
  );
  return 0;
}
