import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const amida = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(__dirname, "..", "bin", "amida.js"), ...args], {
    encoding: "utf8",
  });

test("generate prints a one-line JSON summary; show writes a PNG", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-cli-"));
  const g = amida(
    "generate",
    "--task",
    "warp",
    "--hops",
    "1",
    "--lanes",
    "4",
    "--rows",
    "6",
    "--rungs",
    "3..7",
    "--size",
    "32",
    "--count",
    "40",
    "--seed",
    "3",
    "--out",
    dir,
    "--quiet",
  );
  assert.equal(g.status, 0, g.stderr);
  const s = JSON.parse(g.stdout.trim().split("\n").at(-1)!);
  assert.equal(s.count, 48);
  assert.equal(s.class_histogram.length, 4);
  for (const k of ["fraction_label_eq_plain", "seconds", "puzzles_per_s"]) assert.ok(k in s, k);
  const png = path.join(dir, "p.png");
  const sh = amida("show", dir, "--index", "2", "--out", png);
  assert.equal(sh.status, 0, sh.stderr);
  assert.deepEqual([...fs.readFileSync(png).subarray(1, 4)], [...Buffer.from("PNG")]);
});

test("bad input: clear errors naming the value and what is allowed, nothing written", () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "amida-cli-")), "never");
  const cases: Array<[string[], RegExp]> = [
    [["generate", "--lanes", "2", "--out", out], /lanes must be an integer in 3\.\.8, got 2/],
    [["generate", "--lanes", "9", "--out", out], /lanes must be an integer in 3\.\.8, got 9/],
    [["generate", "--size", "12", "--out", out], /size must be an integer in \d+\.\.1024/],
    [["generate", "--count", "0", "--out", out], /train count must be an integer in 1\.\./],
    [["generate", "--task", "jump", "--out", out], /--task must be one of plain, warp, got 'jump'/],
    [["generate", "--frobnicate", "--out", out], /Unknown option '--frobnicate'/],
    [["show", out, "--out", "x.png"], /no test split/],
    [
      ["train", "--model", "resnet50", "--data", out, "--name", "x"],
      /--model must be one of mobilenetv2_035, .*, got 'resnet50'/,
    ],
    [["bogus"], /unknown command 'bogus'/],
  ];
  for (const [args, re] of cases) {
    const r = amida(...args);
    assert.notEqual(r.status, 0, args.join(" "));
    assert.match(r.stderr, re, args.join(" "));
  }
  assert.equal(fs.existsSync(out), false);
});
