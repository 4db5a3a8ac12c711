import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { addNoise, inBand, noiseField, validateNoise } from "../src/noise/filtered";
import { noiseCurves } from "../src/noise/evaluate";
import { rngFor } from "../src/util/rng";
import { initBackend } from "../src/backend/select";
import { generateDataset } from "../src/data/generate";
import { splitFile } from "../src/data/spec";
import { presetDifficulty } from "../src/puzzle/difficulty";
import { NO_NUISANCE } from "../src/puzzle/nuisance";
import { SplitReader } from "../src/data/format";
import { buildModel } from "../src/models/registry";

before(async () => {
  await initBackend(process.env.AMIDA_BACKEND ?? "auto", { quiet: true });
});

/** Energy of an S x S field per frequency, by a plain O(S^4) DFT (independent of the FFT). */
function spectrum(f: Float64Array, s: number): (fy: number, fx: number) => number {
  return (fy, fx) => {
    let re = 0;
    let im = 0;
    for (let y = 0; y < s; y++)
      for (let x = 0; x < s; x++) {
        const a = (-2 * Math.PI * (fy * y + fx * x)) / s;
        re += f[y * s + x] * Math.cos(a);
        im += f[y * s + x] * Math.sin(a);
      }
    return re * re + im * im;
  };
}

test("filtered noise has RMS 1 and all its energy inside its band (checked by a plain DFT)", () => {
  const s = 16;
  for (const band of ["low", "high", "white"] as const) {
    const f = noiseField(s, band, rngFor(1, band));
    const rms = Math.sqrt(f.reduce((a, v) => a + v * v, 0) / (s * s));
    assert.ok(Math.abs(rms - 1) < 1e-9, `${band}: rms ${rms}`);
    const e = spectrum(f, s);
    let inside = 0;
    let outside = 0;
    for (let fy = -s / 2; fy < s / 2; fy++)
      for (let fx = -s / 2; fx < s / 2; fx++)
        if (inBand(band, fy, fx, s)) inside += e(fy, fx);
        else outside += e(fy, fx);
    assert.ok(
      outside / (inside + outside) < 1e-12,
      `${band}: ${outside / (inside + outside)} of the energy outside the band`,
    );
    assert.ok(inside > 0);
  }
  // Low-frequency noise is smooth, high-frequency noise is not: neighbour correlation.
  const corr = (band: "low" | "high") => {
    const f = noiseField(32, band, rngFor(2));
    let c = 0;
    for (let k = 0; k < 32 * 32 - 1; k++) if ((k + 1) % 32) c += f[k] * f[k + 1];
    return c / (32 * 31);
  };
  assert.ok(corr("low") > 0.8 && corr("high") < -0.1, `${corr("low")}, ${corr("high")}`);
});

test("noise is deterministic per (seed, band, image), clipped to 0..1, and strength 0 is the clean image", () => {
  const rgb = Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 37) % 256);
  const a = addNoise(rgb, 16, 3, { band: "high", strength: 0.2, seed: 1 });
  assert.deepEqual(addNoise(rgb, 16, 3, { band: "high", strength: 0.2, seed: 1 }), a);
  assert.notDeepEqual(addNoise(rgb, 16, 4, { band: "high", strength: 0.2, seed: 1 }), a);
  assert.notDeepEqual(addNoise(rgb, 16, 3, { band: "high", strength: 0.2, seed: 2 }), a);
  assert.ok(a.every((v) => v >= 0 && v <= 1));
  assert.deepEqual(
    addNoise(rgb, 16, 3, { band: "low", strength: 0, seed: 1 }),
    Float32Array.from(rgb, (v) => v / 255),
  );
  assert.throws(
    () => validateNoise({ band: "mid" as never, strength: 0.1, seed: 0 }),
    /unknown noise band 'mid'; allowed: low, high, white/,
  );
  assert.throws(
    () => validateNoise({ band: "low", strength: 2, seed: 0 }),
    /strength must be a number in 0\.\.1/,
  );
  assert.throws(() => noiseField(24, "low", rngFor(0)), /power of 2, got 24/);
});

test("noise curves evaluate a model on noisy test images; strength 0 matches the clean accuracy", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "amida-noise-"));
  generateDataset(
    {
      task: "plain",
      hops: 0,
      difficulty: presetDifficulty("easy"),
      nuisance: NO_NUISANCE,
      seed: 2,
      sampling: "debiased",
    },
    { train: 1, val: 0, test: 12 },
    dir,
    { quiet: true },
  );
  const reader = new SplitReader(splitFile(dir, "test"));
  const m = buildModel({ name: "vit_seed001", inputSize: 32, classes: 3, seed: 0 });
  const rows = noiseCurves(m, reader, ["low", "high"], [0, 0.3], 0);
  assert.deepEqual(
    rows.map((r) => [r.band, r.strength, r.count]),
    [
      ["low", 0, 12],
      ["low", 0.3, 12],
      ["high", 0, 12],
      ["high", 0.3, 12],
    ],
  );
  assert.equal(rows[0].acc, rows[2].acc);
  m.dispose();
  reader.close();
});
