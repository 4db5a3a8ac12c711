import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { generateDataset } from "../src/data/generate";
import { SplitReader } from "../src/data/format";
import { HELDOUT_TEST_NAME, splitFile } from "../src/data/spec";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";

const base = fs.mkdtempSync(path.join(os.tmpdir(), "amida-export-"));
const D = path.join(base, "D");
const OUT = path.join(base, "npy");
const bin = path.join(__dirname, "..", "bin", "amida.js");

/** A .npy file read by the format's own rules (v1.0 header), independently of the writer. */
function readNpy(file: string): { descr: string; shape: number[]; data: Buffer } {
  const b = fs.readFileSync(file);
  assert.equal(b.toString("latin1", 0, 6), "\x93NUMPY");
  assert.deepEqual([b[6], b[7]], [1, 0]);
  const len = b.readUInt16LE(8);
  assert.equal((10 + len) % 64, 0, "header padded to a multiple of 64 bytes");
  const dict = b.toString("latin1", 10, 10 + len);
  const m = /^\{'descr': '([^']+)', 'fortran_order': False, 'shape': \(([\d, ]*)\), \}\s*\n$/.exec(
    dict,
  );
  assert.ok(m, `header ${JSON.stringify(dict)}`);
  const shape = m[2]
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)
    .map(Number);
  return { descr: m[1], shape, data: b.subarray(10 + len) };
}

before(() => {
  generateDataset(
    {
      task: "warp",
      hops: 1,
      difficulty: { ...presetDifficulty("easy"), size: 64 },
      nuisance: NO_NUISANCE,
      seed: 3,
      sampling: "debiased",
    },
    { train: 20, val: 7, test: 9 },
    D,
    { quiet: true },
  );
});

test("amida export writes each split as uint8 [N, H, W, 3] images and int64 labels, byte for byte the stored ones", () => {
  const r = spawnSync(process.execPath, [bin, "export", D, "--format", "npy", "--out", OUT], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  for (const [name, file] of [
    ["train", splitFile(D, "train")],
    ["val", splitFile(D, "val")],
    ["test", splitFile(D, "test")],
    ["heldout", path.join(D, HELDOUT_TEST_NAME)],
  ]) {
    const reader = new SplitReader(file);
    const x = readNpy(path.join(OUT, `${name}_x.npy`));
    const y = readNpy(path.join(OUT, `${name}_y.npy`));
    assert.equal(x.descr, "|u1");
    assert.deepEqual(x.shape, [reader.count, 64, 64, 3], name);
    assert.equal(y.descr, "<i8");
    assert.deepEqual(y.shape, [reader.count], name);
    for (let i = 0; i < reader.count; i++) {
      assert.ok(
        Buffer.from(reader.image(i)).equals(
          x.data.subarray(i * 64 * 64 * 3, (i + 1) * 64 * 64 * 3),
        ),
        `${name} image ${i}`,
      );
      assert.equal(
        Number(y.data.readBigInt64LE(8 * i)),
        reader.records.labels[i],
        `${name} label ${i}`,
      );
    }
    assert.equal(x.data.length, reader.count * 64 * 64 * 3);
    reader.close();
  }
  const meta = JSON.parse(fs.readFileSync(path.join(OUT, "meta.json"), "utf8"));
  assert.equal(meta.spec.task, "warp");
  assert.deepEqual(meta.files["test_x.npy"].shape, [9, 64, 64, 3]);
});

test("export refuses an output folder holding anything else, and a corrupt data set", () => {
  const other = path.join(base, "other");
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, "notes.txt"), "keep");
  let r = spawnSync(process.execPath, [bin, "export", D, "--out", other], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /holds notes\.txt, which an export does not write/);
  assert.equal(fs.readFileSync(path.join(other, "notes.txt"), "utf8"), "keep");
  r = spawnSync(process.execPath, [bin, "export", D, "--format", "csv", "--out", other], {
    encoding: "utf8",
  });
  assert.match(r.stderr, /--format must be one of npy, got 'csv'/);
  const bad = path.join(base, "bad");
  fs.cpSync(D, bad, { recursive: true });
  const f = splitFile(bad, "test");
  const b = fs.readFileSync(f);
  b[b.length - 100] ^= 1;
  fs.writeFileSync(f, b);
  r = spawnSync(process.execPath, [bin, "export", bad, "--out", path.join(base, "x")], {
    encoding: "utf8",
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /is corrupt/);
  assert.equal(
    fs.existsSync(path.join(base, "x")),
    false,
    "nothing written from a corrupt data set",
  );
});
