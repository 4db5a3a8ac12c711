/** Issue 12: CLI refusals (items 3, 4, 10, 11) and children that die with their parent (item 9). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { generateDataset } from "../src/data/generate";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { forkChild } from "../src/util/children";

const root = path.join(__dirname, "..");
const bin = path.join(root, "bin", "amida.js");
const amida = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "amida-robust-cli-"));

test("3: show --out naming an existing directory is refused and the directory kept", () => {
  const base = tmp();
  const d = path.join(base, "d");
  generateDataset(
    {
      task: "plain",
      hops: 0,
      difficulty: presetDifficulty("easy"),
      nuisance: NO_NUISANCE,
      seed: 0,
      sampling: "debiased",
    },
    { train: 8, val: 0, test: 8 },
    d,
    { quiet: true },
  );
  const out = path.join(base, "x.png");
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, "keep"), "mine");
  const r = amida("show", d, "--out", out);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--out '.*x\.png' is an existing directory; name a \.png file path/);
  assert.equal(fs.readFileSync(path.join(out, "keep"), "utf8"), "mine");
});

test("4, 10, 11: names, zeros, extra words, bad configs and bench flags are refused before any work", () => {
  const base = tmp();
  fs.writeFileSync(path.join(base, "empty.json"), "{}");
  const cases: Array<[string[], RegExp]> = [
    [
      ["experiment", "--name", "..", "--runs", base],
      /experiment name must use letters.*got '\.\.'/,
    ],
    [["sweep", "--name", ".", "--runs", base], /grid name must use letters.*got '\.'/],
    [
      ["experiment", "--stage1-epochs", "0", "--runs", base],
      /--stage1-epochs must be an integer in 1\.\.10000, got '0'/,
    ],
    [
      ["experiment", "--plain-train", "0", "--runs", base],
      /--plain-train must be an integer in 1\.\.10000000, got '0'/,
    ],
    [
      ["experiment", "--config", path.join(base, "empty.json"), "--runs", base],
      /--config '.*empty\.json' is not as expected: .*empty\.json lacks the field 'name'/,
    ],
    [["sweep", "--seeds", "0,1.5", "--runs", base], /--seeds must be a list of integers/],
    [
      ["sweep", "--batch-size", "1.5", "--runs", base],
      /--batch-size must be an integer in 1\.\.4096, got '1\.5'/,
    ],
    [["sweep", "--lr=-1", "--runs", base], /--lr must be a number in 1e-7\.\.10, got '-1'/],
    [
      ["sweep", "--test", "0", "--runs", base],
      /--test must be an integer in 1\.\.10000000, got '0'/,
    ],
    [
      [
        "train",
        "--model",
        "mobilenetv2_035",
        "--data",
        base,
        "--name",
        "x",
        "--model-seed=-2",
        "--runs",
        base,
      ],
      /--model-seed must be an integer in 0\.\.2147483648, got '-2'/,
    ],
    [["generate", "--out", path.join(base, "g"), "extra"], /unexpected argument 'extra'/],
    [["train", "--resume"], /Unknown option '--resume'/],
    [["bench", "generate", "--count", "abc"], /--count must be an integer, got 'abc'/],
    [["bench", "train", "--batch", "0"], /--batch must be an integer in 1\.\./],
    [["bench", "parallel", "now"], /unexpected argument 'now'/],
  ];
  for (const [args, re] of cases) {
    const r = amida(...args);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stdout}`);
    assert.match(r.stderr, re, args.join(" "));
  }
  const help = amida("bench", "train", "--help");
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: amida bench train/);
  assert.deepEqual(fs.readdirSync(base), ["empty.json"]);
});

/** A parent that forks a child through src/util/children.ts; both print their pids. */
function family(childCode: string, parentCode: string) {
  const dir = tmp();
  const reg = `require(${JSON.stringify(require.resolve("tsx/cjs/api"))}).register(); const c = require(${JSON.stringify(path.join(root, "src", "util", "children.ts"))});`;
  fs.writeFileSync(path.join(dir, "child.js"), `${reg} c.dieWithParent(); ${childCode}`);
  fs.writeFileSync(
    path.join(dir, "parent.js"),
    `${reg} const child = ${JSON.stringify(path.join(dir, "child.js"))}; ${parentCode}`,
  );
  const p = spawn(process.execPath, [path.join(dir, "parent.js")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  p.stderr.on("data", (d) => (err += d));
  const marker = (re: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = out.match(re);
        if (m) resolve(m);
      };
      p.stdout.on("data", (d) => {
        out += d;
        check();
      });
      p.on("exit", () =>
        out.match(re) ? check() : reject(new Error(`parent exited before ${re}: ${out} ${err}`)),
      );
    });
  const exit = new Promise<{
    code: number | null;
    signal: string | null;
    out: string;
    err: string;
  }>((resolve) => p.on("exit", (code, signal) => resolve({ code, signal, out, err })));
  return { p, marker, exit };
}

/** Running: it exists and is not a zombie (exited, waiting for init to reap it). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};
/** Waits (polling, bounded) until `pid` is gone; the kill itself was sent at a marker. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

const sleeper = `console.log("child " + process.pid); setInterval(() => {}, 1000);`;
const forkOne = `c.forkChild(child, [], (d) => process.stdout.write(d), (d) => process.stderr.write(d)); setInterval(() => {}, 1000);`;

test("9: SIGINT and SIGTERM to a parent are forwarded; its children stop with it", async () => {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const f = family(sleeper, forkOne);
    const pid = Number((await f.marker(/child (\d+)/))[1]);
    f.p.kill(sig);
    const e = await f.exit;
    assert.equal(e.code, sig === "SIGINT" ? 130 : 143, e.err);
    assert.ok(await gone(pid), `${sig}: child ${pid} still running`);
  }
});

test("9: in a host that handles SIGINT itself (a notebook kernel), the children stop and the host lives on", async () => {
  const f = family(
    sleeper,
    `process.on("SIGINT", () => setTimeout(() => { console.log("host still here"); process.exit(0); }, 200)); ${forkOne}`,
  );
  const pid = Number((await f.marker(/child (\d+)/))[1]);
  f.p.kill("SIGINT");
  const e = await f.exit;
  assert.equal(e.code, 0, e.err);
  assert.match(e.out, /host still here/);
  assert.ok(await gone(pid), `child ${pid} still running`);
});

test("9: a parent killed with SIGKILL takes its children with it (IPC channel closes)", async () => {
  const f = family(sleeper, forkOne);
  const pid = Number((await f.marker(/child (\d+)/))[1]);
  f.p.kill("SIGKILL");
  await f.exit;
  assert.ok(await gone(pid), `child ${pid} still running`);
});

test("issue 21: a child busy in a long synchronous step (a training step) dies within a second of its parent's SIGKILL", async () => {
  // The child never returns to its event loop: the IPC channel's close is never seen there.
  const busy = `console.log("child " + process.pid); const t = Date.now(); while (Date.now() - t < 20000) {}`;
  const f = family(busy, forkOne);
  const pid = Number((await f.marker(/child (\d+)/))[1]);
  await new Promise((r) => setTimeout(r, 300)); // well inside the busy loop
  const t0 = Date.now();
  f.p.kill("SIGKILL");
  await f.exit;
  assert.ok(await gone(pid), `child ${pid} still running`);
  assert.ok(Date.now() - t0 < 1500, `child took ${Date.now() - t0} ms to die`);
});

test("9: when one job fails the others are stopped, with a summary of every job", async () => {
  // Job "b" fails only once "a" has said it runs, so both are running when the failure comes.
  const f = family(
    `if (process.argv[2] === "a") { console.log("a " + process.pid); setInterval(() => {}, 1000); } else process.stdin; const wait = () => fs.existsSync(process.argv[3]) ? process.exit(3) : setTimeout(wait, 20); const fs = require("fs"); if (process.argv[2] === "b") wait();`,
    `const flag = require("path").join(require("os").tmpdir(), "amida-robust-flag-" + process.pid);
     const job = (n) => ({ name: "job " + n, start: () => c.forkChild(child, [n, flag], (d) => { process.stdout.write(d); if (/^a /.test(d)) require("fs").writeFileSync(flag, ""); }, () => {}) });
     c.runAll([job("a"), job("b"), job("c")], 2).then(() => console.log("no error"), (e) => { require("fs").rmSync(flag, { force: true }); console.log("summary: " + e.message); process.exit(1); });`,
  );
  const pid = Number((await f.marker(/a (\d+)/))[1]);
  const e = await f.exit;
  assert.equal(e.code, 1, e.err);
  assert.match(e.out, /summary: job a: stopped; job b: failed \(exit 3\); job c: not run/);
  assert.ok(await gone(pid));
});

test("a child's stderr reaches the parent whole, without TensorFlow's start-up chatter", async () => {
  const dir = tmp();
  const child = path.join(dir, "child.js");
  // TensorFlow's lines as its C++ logging prints them at load, around lines that must pass,
  // written in pieces that split lines, the last one without a newline.
  fs.writeFileSync(
    child,
    `const w = (s) => process.stderr.write(s);
     w("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\nI0000 00:00:1796242158.531773   29539 port.cc:153] oneDNN custom ");
     w("operations are on.\\nW0000 00:00:1.5  7 cpu.cc:1] a TensorFlow warning\\namida: a real err");
     w("or\\nlast line");`,
  );
  let got = "";
  const c = forkChild(
    child,
    [],
    () => {},
    (d) => (got += d),
  );
  await c.done;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(
    got,
    "W0000 00:00:1.5  7 cpu.cc:1] a TensorFlow warning\namida: a real error\nlast line",
  );
});
