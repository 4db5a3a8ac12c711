/**
 * Puzzles per second (structure + rendering + labels) at 64x64, for plain and 1-hop warp and
 * both samplings, on one core. Target: >= 2,000 puzzles/s (the seed's 70,000 puzzles in under a minute).
 *
 *   npx amida bench generate [--count 5000]
 */
import { renderSample } from "../src/data/sample";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { DatasetSpec, SAMPLINGS } from "../src/data/spec";
import { checkBenchFlags, runBenchIfMain } from "../src/cli/args";

export async function main(argv: string[]): Promise<number> {
  if (!checkBenchFlags(argv, { count: "int" }, "usage: amida bench generate [--count 5000]"))
    return 0;
  const i = argv.indexOf("--count");
  const count = i >= 0 ? Number(argv[i + 1]) : 5000;
  const out: Record<string, number> = {};
  for (const sampling of SAMPLINGS)
    for (const [task, hops] of [
      ["plain", 0],
      ["warp", 1],
    ] as const) {
      const spec: DatasetSpec = {
        task,
        hops,
        difficulty: presetDifficulty("blog"),
        nuisance: NO_NUISANCE,
        seed: 0,
        sampling,
      };
      for (let k = 0; k < 200; k++) renderSample(spec, "train", k);
      const t0 = performance.now();
      for (let k = 0; k < count; k++) renderSample(spec, "train", k);
      const key = `${sampling}_${task}_puzzles_per_s`;
      out[key] = Math.round(count / ((performance.now() - t0) / 1000));
      console.log(
        `${sampling.padEnd(8)} ${task.padEnd(6)} ${out[key]} puzzles/s (64x64, one core, ${count} puzzles)`,
      );
    }
  console.log(JSON.stringify(out));
  return 0;
}

runBenchIfMain(module, main);
