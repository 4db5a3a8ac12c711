import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { DatasetSpec } from "../src/data/spec";
import { renderSample, samplePuzzle, splitOfHash } from "../src/data/sample";
import { generateDataset } from "../src/data/generate";
import { splitFile } from "../src/data/spec";
import { SplitReader, HEADER_BYTES } from "../src/data/format";
import { PALETTE } from "../src/puzzle/render";
import { layout } from "../src/puzzle/layout";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { plainLabel, warpLabel } from "../src/puzzle/trace";

const spec = (over: Partial<DatasetSpec> = {}): DatasetSpec => ({
  task: "warp",
  hops: 1,
  difficulty: presetDifficulty("blog"),
  nuisance: NO_NUISANCE,
  seed: 3,
  sampling: "debiased",
  ...over,
});
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "amida-test-"));

test("(seed, index) alone decides a sample: sample 50 alone equals sample 50 of a run", () => {
  const s = spec();
  const run = Array.from({ length: 60 }, (_, i) => renderSample(s, "train", i));
  const alone = renderSample(s, "train", 50);
  assert.deepEqual(alone.puzzle, run[50].puzzle);
  assert.deepEqual(Buffer.from(alone.rgb), Buffer.from(run[50].rgb));
  assert.notDeepEqual(renderSample(spec({ seed: 4 }), "train", 50).puzzle, alone.puzzle);
});

test("labels are balanced and equal to the k-hop trace", () => {
  const s = spec({ hops: 2 });
  const hist = [0, 0, 0, 0, 0];
  for (let i = 0; i < 100; i++) {
    const x = samplePuzzle(s, "val", i);
    assert.equal(x.label, warpLabel(x.puzzle, 2));
    assert.equal(x.plain, plainLabel(x.puzzle));
    hist[x.label]++;
  }
  assert.deepEqual(hist, [20, 20, 20, 20, 20]);
});

test("the warp label is independent of g1: P(label = g1) is near 1/N", () => {
  const s = spec();
  let same = 0;
  const n = 2000;
  for (let i = 0; i < n; i++) {
    const x = samplePuzzle(s, "train", i);
    if (x.label === x.plain) same++;
  }
  // 1/5 +- 4 standard errors (sd = sqrt(0.16/2000) ~ 0.009).
  assert.ok(Math.abs(same / n - 0.2) < 0.036, `fraction ${same / n}`);
});

test("splits never share a structure hash (they are split by ladder: test/sampling.test.ts)", () => {
  const s = spec({ difficulty: presetDifficulty("easy"), task: "plain", hops: 0 });
  const seen = new Map<string, string>();
  for (const split of ["train", "val", "test"] as const) {
    for (let i = 0; i < 300; i++) {
      const x = samplePuzzle(s, split, i);
      assert.equal(splitOfHash(x.ladder), split);
      const prev = seen.get(x.hash);
      assert.ok(prev === undefined || prev === split, `hash ${x.hash} in ${prev} and ${split}`);
      seen.set(x.hash, split);
    }
  }
});

test("circle centres carry the palette colours; START is white", () => {
  const s = spec();
  for (let i = 0; i < 20; i++) {
    const x = renderSample(s, "test", i);
    const size = s.difficulty.size;
    const L = layout(x.puzzle, size);
    const px = (xf: number, yf: number) => {
      const o = (Math.floor(yf) * size + Math.floor(xf)) * 3;
      return [x.rgb[o], x.rgb[o + 1], x.rgb[o + 2]];
    };
    for (let lane = 0; lane < 5; lane++) {
      assert.deepEqual(px(L.laneX(lane), L.bottomY), [...PALETTE[x.puzzle.bottom[lane]]]);
      const top = lane === x.puzzle.start ? [255, 255, 255] : [...PALETTE[x.puzzle.top[lane]]];
      assert.deepEqual(px(L.laneX(lane), L.topY), top);
    }
  }
});

test("nuisances change pixels but not labels, deterministically", () => {
  const noisy = spec({ nuisance: { jitter: 1, tint: 0.3, noise: 20 } });
  const a = renderSample(noisy, "train", 5);
  const b = renderSample(noisy, "train", 5);
  const clean = renderSample(spec(), "train", 5);
  assert.deepEqual(Buffer.from(a.rgb), Buffer.from(b.rgb));
  assert.notDeepEqual(Buffer.from(a.rgb), Buffer.from(clean.rgb));
  assert.equal(a.label, clean.label);
});

test("generate -> file -> read back round-trips images, labels and stats", () => {
  const dir = tmp();
  const s = spec();
  const sum = generateDataset(s, { train: 40, val: 10, test: 10 }, dir, { quiet: true });
  assert.deepEqual(sum.class_histogram, [12, 12, 12, 12, 12]);
  const r = new SplitReader(splitFile(dir, "train"));
  assert.equal(r.count, 40);
  assert.deepEqual(r.header.spec, s);
  for (const i of [0, 17, 39]) {
    const x = renderSample(s, "train", i);
    assert.deepEqual(Buffer.from(r.image(i)), Buffer.from(x.rgb));
    assert.equal(r.records.labels[i], x.label);
    assert.equal(r.records.plain[i], x.plain);
    assert.equal(r.records.hashes[i], x.hash);
  }
  assert.throws(() => r.image(40), /index 40 is out of range 0\.\.39/);
  r.close();
  assert.ok(fs.existsSync(path.join(dir, "dataset.json")));
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.includes(".tmp")),
    [],
  );
});

test("corrupt, truncated and foreign files are refused with a clear error", () => {
  const dir = tmp();
  generateDataset(spec(), { train: 10, val: 0, test: 0 }, dir, { quiet: true });
  const f = splitFile(dir, "train");
  const bytes = fs.readFileSync(f);
  const flipped = Buffer.from(bytes);
  flipped[HEADER_BYTES + 100] ^= 0xff;
  fs.writeFileSync(path.join(dir, "bad.amida"), flipped);
  assert.throws(
    () => new SplitReader(path.join(dir, "bad.amida")),
    /is corrupt: its payload checksum/,
  );
  fs.writeFileSync(path.join(dir, "short.amida"), bytes.subarray(0, bytes.length - 5));
  assert.throws(() => new SplitReader(path.join(dir, "short.amida")), /truncated/);
  fs.writeFileSync(path.join(dir, "foreign.amida"), "hello world, not a data set");
  assert.throws(
    () => new SplitReader(path.join(dir, "foreign.amida")),
    /does not start with the magic/,
  );
  assert.throws(
    () => new SplitReader(path.join(dir, "missing.amida")),
    /data file: no such file '.*missing\.amida'/,
  );
});

test("bad specs fail before any file is written", () => {
  const dir = path.join(tmp(), "out");
  assert.throws(
    () => generateDataset(spec({ task: "plain", hops: 1 }), { train: 5, val: 0, test: 0 }, dir),
    /task 'plain' means hops = 0/,
  );
  assert.throws(
    () => generateDataset(spec({ task: "bogus" as never }), { train: 5, val: 0, test: 0 }, dir),
    /unknown task 'bogus'/,
  );
  assert.throws(
    () => generateDataset(spec(), { train: 0, val: 0, test: 0 }, dir),
    /train count must be an integer in 1\.\./,
  );
  assert.throws(
    () =>
      generateDataset(
        spec({ nuisance: { jitter: 9, tint: 0, noise: 0 } }),
        { train: 5, val: 0, test: 0 },
        dir,
      ),
    /nuisance\.jitter must be a number in 0\.\.4/,
  );
  assert.equal(fs.existsSync(dir), false);
});

test("a failed regeneration leaves the previous file intact", () => {
  const dir = tmp();
  generateDataset(spec(), { train: 8, val: 0, test: 0 }, dir, { quiet: true });
  const before = fs.readFileSync(splitFile(dir, "train"));
  assert.throws(
    () =>
      generateDataset(spec(), { train: 8, val: 0, test: 0 }, dir, {
        quiet: true,
        onLine: () => {
          throw new Error("interrupted");
        },
      }),
    /interrupted/,
  );
  assert.deepEqual(fs.readFileSync(splitFile(dir, "train")), before);
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.includes(".tmp")),
    [],
  );
});
