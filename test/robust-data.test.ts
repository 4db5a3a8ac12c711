/** Issue 12: a data set is one unit (manifest, shared spec, whole-directory swap, one writer). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { HEADER_BYTES, SplitReader, verifyDataset } from "../src/data/format";
import { DatasetSpec } from "../src/data/spec";
import { datasetMismatch, ensureDataset, generateDataset } from "../src/data/generate";
import { splitFile } from "../src/data/spec";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { acquireLock } from "../src/util/lock";

const bin = path.join(__dirname, "..", "bin", "amida.js");
const amida = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "amida-robust-data-"));
const plain: DatasetSpec = {
  task: "plain",
  hops: 0,
  difficulty: presetDifficulty("easy"),
  nuisance: NO_NUISANCE,
  seed: 0,
  sampling: "debiased",
};
const warp: DatasetSpec = { ...plain, task: "warp", hops: 1 };
const counts = { train: 16, val: 16, test: 16 };
/** Everything beside a data set directory that is not the data set itself (leftovers). */
const besides = (d: string) =>
  fs.readdirSync(path.dirname(d)).filter((f) => f !== path.basename(d));

test("1: regenerating with --val 0 leaves no old val split to validate on", () => {
  const d = path.join(tmp(), "d");
  generateDataset(plain, counts, d, { quiet: true });
  generateDataset(warp, { ...counts, val: 0 }, d, { quiet: true });
  assert.deepEqual(fs.readdirSync(d).sort(), [
    "dataset.json",
    "test-heldout.amida",
    "test.amida",
    "train.amida",
  ]);
  assert.equal(new SplitReader(splitFile(d, "train")).header.spec.task, "warp");
  // An old split put back beside the new ones is refused by every reader.
  const other = path.join(tmp(), "o");
  generateDataset(plain, counts, other, { quiet: true });
  fs.copyFileSync(splitFile(other, "val"), splitFile(d, "val"));
  assert.throws(
    () => new SplitReader(splitFile(d, "train")),
    /holds val\.amida, which its manifest .* does not list/,
  );
  assert.throws(() => verifyDataset(d), /does not list/);
});

test("1: training on the test set (cp test.amida train.amida) is refused", () => {
  const d = path.join(tmp(), "d");
  generateDataset(plain, counts, d, { quiet: true });
  fs.copyFileSync(splitFile(d, "test"), splitFile(d, "train"));
  assert.throws(
    () => new SplitReader(splitFile(d, "train")),
    /holds split 'test' x 16, its manifest says 'train' x 16; regenerate/,
  );
  assert.match(datasetMismatch(plain, counts, d)!, /holds split 'test'/);
  // Any byte of the header region counts, even the zero padding after the JSON.
  generateDataset(plain, counts, d, { quiet: true });
  const bytes = fs.readFileSync(splitFile(d, "train"));
  bytes[HEADER_BYTES - 1] ^= 1;
  fs.writeFileSync(splitFile(d, "train"), bytes);
  assert.throws(
    () => new SplitReader(splitFile(d, "train")),
    /does not match its data set's manifest .*SHA-256 over header and payload differs.*regenerate/,
  );
});

test("1: an edited header (task plain -> warp) is refused though the payload is untouched", () => {
  const d = path.join(tmp(), "d");
  generateDataset(plain, counts, d, { quiet: true });
  const f = splitFile(d, "train");
  const bytes = fs.readFileSync(f);
  const json = bytes
    .toString("utf8", 12, 12 + bytes.readUInt32LE(8))
    .replace('"task":"plain","hops":0', '"task":"warp","hops":1');
  const head = Buffer.alloc(HEADER_BYTES);
  bytes.copy(head, 0, 0, 8);
  head.writeUInt32LE(Buffer.byteLength(json), 8);
  head.write(json, 12, "utf8");
  fs.writeFileSync(f, Buffer.concat([head, bytes.subarray(HEADER_BYTES)]));
  assert.throws(
    () => new SplitReader(f),
    /has spec .*"task":"warp".* but its data set's manifest says .*"task":"plain"/,
  );
  // ensureDataset notices and regenerates instead of trusting dataset.json.
  const lines: string[] = [];
  ensureDataset(plain, counts, d, (l) => lines.push(l));
  assert.match(lines.join("\n"), /regenerating/);
  assert.equal(new SplitReader(f).header.spec.task, "plain");
});

test("1, 7, 8: a generate killed at any point leaves the old set whole or none, and no leftovers after the next", () => {
  const base = tmp();
  const d = path.join(base, "d");
  generateDataset(plain, counts, d, { quiet: true });
  const oldManifest = fs.readFileSync(path.join(d, "dataset.json"), "utf8");
  for (const point of [
    "generate-split-written#2",
    "atomic-before-rename#3",
    "generate-manifest-written",
    "generate-mid-swap",
  ]) {
    const r = amida(
      [
        "generate",
        "--difficulty",
        "easy",
        "--task",
        "warp",
        "--count",
        "16",
        "--val",
        "16",
        "--test",
        "16",
        "--out",
        d,
        "--quiet",
      ],
      { AMIDA_KILL_AT: point },
    );
    assert.equal(r.signal, "SIGKILL", point);
    if (point === "generate-mid-swap") assert.equal(fs.existsSync(d), false, point);
    else {
      assert.equal(fs.readFileSync(path.join(d, "dataset.json"), "utf8"), oldManifest, point);
      verifyDataset(d);
    }
    assert.notDeepEqual(
      besides(d).filter((f) => f.includes(".tmp-")),
      [],
      `${point}: the killed writer's temporary is there`,
    );
    // The next start (a reader via ensureDataset) regenerates what is missing and cleans up.
    ensureDataset(plain, counts, d);
    assert.equal(
      fs
        .readFileSync(path.join(d, "dataset.json"), "utf8")
        .replace(/"seconds": [\d.e-]+|"puzzles_per_s": [\d.e+-]+/g, ""),
      oldManifest.replace(/"seconds": [\d.e-]+|"puzzles_per_s": [\d.e+-]+/g, ""),
      point,
    );
    assert.deepEqual(besides(d), [], point);
  }
});

test("1: a second writer of one data set is refused while the first holds it; a dead holder's lock is taken over", () => {
  const d = path.join(tmp(), "d");
  const lock = path.join(path.dirname(d), ".d.lock");
  const release = acquireLock(lock, "a test holding the data set");
  assert.throws(
    () => generateDataset(plain, counts, d, { quiet: true }),
    /'.*' is in use: a test holding the data set by process \d+/,
  );
  release();
  const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], {
    encoding: "utf8",
  });
  fs.writeFileSync(
    lock,
    JSON.stringify({
      pid: Number(dead.stdout),
      host: os.hostname(),
      what: "a dead writer",
      since: "",
    }),
  );
  generateDataset(plain, counts, d, { quiet: true });
  verifyDataset(d);
  assert.equal(fs.existsSync(lock), false);
});

test("8: a missing or corrupt dataset.json makes ensureDataset regenerate, not fail", () => {
  const d = path.join(tmp(), "d");
  generateDataset(plain, counts, d, { quiet: true });
  fs.writeFileSync(path.join(d, "dataset.json"), "{ truncated");
  ensureDataset(plain, counts, d);
  verifyDataset(d);
  fs.rmSync(path.join(d, "dataset.json"));
  assert.throws(() => new SplitReader(splitFile(d, "train")), /has no manifest .*regenerate/);
  ensureDataset(plain, counts, d);
  verifyDataset(d);
});

test("10, 11: impossible sizes are refused up front with the numbers; a directory that is not a data set is never replaced", () => {
  const base = tmp();
  const r = amida([
    "generate",
    "--count",
    "10000000",
    "--size",
    "1024",
    "--out",
    path.join(base, "big"),
  ]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /needs 4\d{4}\.\d GB on disk but '.*' has [\d.]+ [GM]B free/);
  assert.deepEqual(fs.readdirSync(base), []);
  fs.writeFileSync(path.join(base, "notes.txt"), "mine");
  assert.throws(
    () => generateDataset(plain, counts, base, { quiet: true }),
    /exists and is not a data set \(it holds notes\.txt\)/,
  );
  assert.equal(fs.readFileSync(path.join(base, "notes.txt"), "utf8"), "mine");
});
