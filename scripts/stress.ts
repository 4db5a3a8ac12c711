/**
 * `make stress [N=50]`: kill -9 `generate`, `train`, and the parents of `experiment --parallel
 * true` and `sweep` at random points N times, and start a second writer of a running experiment;
 * check that nothing is left wrong (a data set is the old one or the new one, whole, or absent; a run's
 * checkpoints verify and agree with each other; after the next plain run the result equals an
 * uninterrupted one bit for bit) and nothing is left over. Kills land either at a named point
 * (AMIDA_KILL_AT, see src/util/killpoint.ts) or after a random delay. Not part of `make test`.
 *
 *   node --import tsx scripts/stress.ts [N] [--seed S]
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { canonicalJson, readManifest, verifyDataset } from "../src/data/format";
import { verifyCheckpoint } from "../src/models/io";

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 50);
const seedAt = args.indexOf("--seed");
let seed = seedAt >= 0 ? Number(args[seedAt + 1]) : Date.now() % 100000;
console.log(`stress: ${N} kills, seed ${seed}`);
/** mulberry32: the same seed gives the same sequence of kills. */
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

const bin = path.join(__dirname, "..", "bin", "amida.js");
const base = fs.mkdtempSync(path.join(os.tmpdir(), "amida-stress-"));
const amida = (a: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...a], { encoding: "utf8", env: { ...process.env, ...env } });
/** Runs amida and SIGKILLs it after `ms` (a kill at an arbitrary moment). */
const killAfter = (a: string[], ms: number) =>
  new Promise<string | null>((resolve) => {
    const p = spawn(process.execPath, [bin, ...a], { stdio: "ignore" });
    const t = setTimeout(() => p.kill("SIGKILL"), ms);
    p.on("exit", (_c, sig) => {
      clearTimeout(t);
      resolve(sig);
    });
  });

/** Runs amida, SIGKILLs it after `ms`, and returns the pids of its children at that moment. */
const killParentAfter = (a: string[], ms: number) =>
  new Promise<{ signal: string | null; children: number[] }>((resolve) => {
    const p = spawn(process.execPath, [bin, ...a], { stdio: "ignore" });
    let children: number[] = [];
    const t = setTimeout(() => {
      children = childrenOf(p.pid!);
      p.kill("SIGKILL");
    }, ms);
    p.on("exit", (_c, sig) => {
      clearTimeout(t);
      resolve({ signal: sig, children });
    });
  });
/** The child processes of `pid` (Linux /proc). */
const childrenOf = (pid: number): number[] => {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((t) =>
        fs.readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/),
      )
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
};
const isAlive = (pid: number) => {
  try {
    // A zombie (exited, not yet reaped) is not running.
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

const SPECS = { plain: ["--task", "plain"], warp: ["--task", "warp"] } as const;
const genArgs = (out: string, task: keyof typeof SPECS) => [
  "generate",
  "--difficulty",
  "easy",
  ...SPECS[task],
  "--count",
  "400",
  "--val",
  "100",
  "--test",
  "100",
  "--out",
  out,
  "--quiet",
];
const trainData = path.join(base, "train-data");
const runs = path.join(base, "runs");
const trainArgs = (name: string, fresh: boolean) => [
  "train",
  "--model",
  "mobilenetv2_035",
  "--data",
  trainData,
  "--name",
  name,
  "--runs",
  runs,
  "--epochs",
  "2",
  "--batch-size",
  "16",
  ...(fresh ? ["--fresh"] : []),
];
const read = (f: string) => JSON.parse(fs.readFileSync(f, "utf8"));
const outcome = (dir: string) => {
  const m = read(path.join(dir, "metrics.json"));
  const h = read(path.join(dir, "checkpoints", "history.json")) as Array<Record<string, number>>;
  return canonicalJson({
    acc: m.test_acc,
    loss: m.test_loss,
    best: m.best_epoch,
    confusion: m.confusion,
    history: h.map((e) => [e.epoch, e.train_loss, e.val_acc]),
  });
};
const must = (r: ReturnType<typeof amida>, what: string) => {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${r.stderr}`);
};

async function main(): Promise<number> {
  const t0 = Date.now();
  // References: each spec's file hashes, and an uninterrupted run's outcome.
  const ref: Record<string, string> = {};
  for (const task of Object.keys(SPECS) as Array<keyof typeof SPECS>) {
    const d = path.join(base, `ref-${task}`);
    must(amida(genArgs(d, task)), `reference generate ${task}`);
    ref[task] = canonicalJson(readManifest(d).files);
  }
  must(
    amida(genArgs(trainData, "plain").map((a) => (a === "400" ? "48" : a === "100" ? "16" : a))),
    "training data",
  );
  must(amida(trainArgs("ref", false)), "reference train");
  const refRun = outcome(path.join(runs, "ref"));
  // References of the multi-process commands: an uninterrupted experiment's and sweep's results.
  const expRuns = path.join(base, "xruns");
  const expData = path.join(base, "xdata");
  const exp = (seed = "0") => [
    "experiment",
    "--budget",
    "tiny",
    "--name",
    "x",
    "--parallel",
    "true",
    "--seeds",
    "0",
    "--data-seed",
    seed,
    "--runs",
    expRuns,
    "--data",
    expData,
  ];
  const sweep = () => [
    "sweep",
    "--budget",
    "tiny",
    "--name",
    "w",
    "--parallel",
    "true",
    "--seeds",
    "0",
    "--runs",
    expRuns,
    "--data",
    expData,
  ];
  const expOutcome = () =>
    canonicalJson(
      read(path.join(expRuns, "x", "results.json")).map((r: Record<string, unknown>) => [
        r.runs,
        r.test_acc_per_seed,
        r.curve,
      ]),
    );
  const sweepOutcome = () =>
    canonicalJson(
      read(path.join(expRuns, "w", "rows.json")).map((r: Record<string, unknown>) => [
        r.runs,
        r.acc_per_seed,
      ]),
    );
  must(amida(exp()), "reference experiment");
  must(amida(sweep()), "reference sweep");
  const refExp = expOutcome();
  const refSweep = sweepOutcome();

  const data = path.join(base, "data", "d");
  let landed = 0;
  const wrong: string[] = [];
  const leftovers: string[] = [];
  for (let i = 1; i <= N; i++) {
    const op = pick([
      "generate",
      "generate",
      "train",
      "train",
      "experiment",
      "sweep",
      "second writer",
    ]);
    let how: string;
    let sig: string | null;
    if (op === "generate") {
      const task = pick(["plain", "warp"] as const);
      const a = genArgs(data, task);
      if (rand() < 0.6) {
        how = pick([
          "generate-split-written#1",
          "generate-split-written#2",
          "generate-split-written#3",
          "generate-manifest-written",
          "generate-mid-swap",
          "atomic-before-rename#1",
          "atomic-before-rename#2",
          "atomic-before-rename#3",
          "atomic-before-rename#4",
        ]);
        sig = amida(a, { AMIDA_KILL_AT: how }).signal;
      } else {
        const ms = Math.floor(rand() * 1500);
        how = `after ${ms} ms`;
        sig = await killAfter(a, ms);
      }
      if (sig === "SIGKILL") landed++;
      // What a reader sees now: the old set or the new one, whole, or nothing.
      if (fs.existsSync(data)) {
        try {
          const files = canonicalJson(verifyDataset(data).files);
          if (files !== ref.plain && files !== ref.warp)
            wrong.push(`#${i} generate ${how}: a data set that is neither spec's`);
        } catch (e) {
          wrong.push(`#${i} generate ${how}: ${(e as Error).message}`);
        }
      }
      const again = amida(a);
      if (again.status !== 0)
        wrong.push(`#${i} generate ${how}: the next generate failed: ${again.stderr}`);
      else if (canonicalJson(verifyDataset(data).files) !== ref[task])
        wrong.push(`#${i} generate ${how}: the next generate made other files`);
      const extra = fs.readdirSync(path.dirname(data)).filter((f) => f !== "d");
      if (extra.length) leftovers.push(`#${i} generate ${how}: ${extra.join(", ")}`);
    } else if (op === "experiment" || op === "sweep") {
      // A parent that forks worker processes, killed at a random moment: its workers must die
      // with it (within a second), and the re-run must give the uninterrupted results.
      const a = op === "experiment" ? exp() : sweep();
      fs.rmSync(path.join(expRuns, op === "experiment" ? "x" : "w"), {
        recursive: true,
        force: true,
      });
      const ms = 1000 + Math.floor(rand() * 12000);
      how = `parent after ${ms} ms`;
      const { signal, children } = await killParentAfter(a, ms);
      sig = signal;
      if (sig === "SIGKILL") landed++;
      await new Promise((r) => setTimeout(r, 1000));
      const alive = children.filter(isAlive);
      if (alive.length)
        wrong.push(`#${i} ${op} ${how}: workers ${alive.join(", ")} outlived their parent by 1 s`);
      const again = amida(a);
      if (again.status !== 0) wrong.push(`#${i} ${op} ${how}: the re-run failed: ${again.stderr}`);
      else if (
        (op === "experiment" ? expOutcome() : sweepOutcome()) !==
        (op === "experiment" ? refExp : refSweep)
      )
        wrong.push(`#${i} ${op} ${how}: the results differ from an uninterrupted run's`);
      const extra = fs.readdirSync(expRuns).filter((f) => f.startsWith("."));
      if (extra.length) leftovers.push(`#${i} ${op} ${how}: ${extra.join(", ")}`);
    } else if (op === "second writer") {
      // The same experiment started again with another data seed while the first runs: it must be
      // refused before it writes anything, and the first must finish with its own results.
      fs.rmSync(path.join(expRuns, "x"), { recursive: true, force: true });
      const first = spawn(process.execPath, [bin, ...exp()], { stdio: "ignore" });
      const firstDone = new Promise<number | null>((r) => first.on("exit", (c) => r(c)));
      await new Promise((r) => setTimeout(r, 1500 + Math.floor(rand() * 3000)));
      const second = amida(exp("7"));
      how = `second writer at ${second.status === 1 ? "refused" : `exit ${second.status}`}`;
      sig = null;
      if (second.status === 0)
        wrong.push(`#${i} ${how}: the second experiment ran alongside the first`);
      else if (
        second.status === 1 &&
        !/is in use/.test(second.stderr) &&
        !/finished/.test(second.stderr)
      )
        wrong.push(`#${i} ${how}: refused for another reason: ${second.stderr}`);
      if ((await firstDone) !== 0) wrong.push(`#${i} ${how}: the first experiment failed`);
      else if (expOutcome() !== refExp)
        wrong.push(`#${i} ${how}: the first experiment's results changed`);
    } else {
      const a = trainArgs("r", true);
      if (rand() < 0.6) {
        how = pick([
          "checkpoint-before-commit#1",
          "checkpoint-before-commit#2",
          "checkpoint-after-commit#1",
          "checkpoint-after-commit#2",
          "atomic-before-rename#1",
          "atomic-before-rename#2",
          "atomic-before-rename#3",
        ]);
        sig = amida(a, { AMIDA_KILL_AT: how }).signal;
      } else {
        const ms = Math.floor(rand() * 6000);
        how = `after ${ms} ms`;
        sig = await killAfter(a, ms);
      }
      if (sig === "SIGKILL") landed++;
      const dir = path.join(runs, "r");
      const ckpt = path.join(dir, "checkpoints");
      try {
        if (fs.existsSync(path.join(ckpt, "last"))) {
          verifyCheckpoint(path.join(ckpt, "last"));
          if (fs.existsSync(path.join(ckpt, "best"))) verifyCheckpoint(path.join(ckpt, "best"));
          const state = read(path.join(ckpt, "last", "state.json"));
          const history = read(path.join(ckpt, "history.json"));
          if (
            history.length !== state.epoch + 1 ||
            canonicalJson(history) !== canonicalJson(state.history)
          )
            wrong.push(`#${i} train ${how}: history.json and last/ disagree`);
        }
      } catch (e) {
        wrong.push(`#${i} train ${how}: ${(e as Error).message}`);
      }
      const again = amida(trainArgs("r", false));
      if (again.status !== 0)
        wrong.push(`#${i} train ${how}: the resumed train failed: ${again.stderr}`);
      else if (outcome(dir) !== refRun)
        wrong.push(`#${i} train ${how}: the result differs from an uninterrupted run's`);
      // Allowed: the one generation the checkpoints link points to.
      const current = fs.existsSync(ckpt) ? path.basename(fs.realpathSync(ckpt)) : "";
      const extra = fs.readdirSync(dir).filter((f) => f.startsWith(".") && f !== current);
      if (extra.length) leftovers.push(`#${i} train ${how}: ${extra.join(", ")}`);
    }
    console.log(`#${i} ${op} killed ${how}: ${sig === "SIGKILL" ? "landed" : "finished first"}`);
  }
  const seconds = (Date.now() - t0) / 1000;
  for (const w of [...wrong, ...leftovers]) console.log(`  ${w}`);
  console.log(
    JSON.stringify({
      iterations: N,
      kills_landed: landed,
      wrong: wrong.length,
      leftovers: leftovers.length,
      seconds: Math.round(seconds),
    }),
  );
  fs.rmSync(base, { recursive: true, force: true });
  return wrong.length + leftovers.length === 0 ? 0 : 1;
}

void main().then((c) => process.exit(c));
