/**
 * Band-limited noise for the robustness study of seed 002 (CNNs are said to lean on high spatial
 * frequencies and suffer under high-frequency noise, ViTs on low ones): Gaussian white noise,
 * filtered in the Fourier domain to a radial band, rescaled to a given RMS, added to the image.
 *
 * The filter (image side S, radial frequency r = sqrt(fx^2 + fy^2) in cycles per image, fx, fy in
 * -S/2..S/2-1): `low` keeps 0 < r <= S/8, `high` keeps r > S/4, `white` keeps everything but the
 * mean (DC). Each colour channel gets its own noise field. After filtering the field is scaled to
 * RMS 1 and multiplied by `strength` (in units of the 0..1 pixel range); the noisy image is
 * clipped to 0..1. The noise of image i is fixed by (seed, band, i): same seed, same pixels.
 */
import { rngFor, Rng } from "../util/rng";

export const NOISE_BANDS = ["low", "high", "white"] as const;
export type NoiseBand = (typeof NOISE_BANDS)[number];

/** In-place radix-2 FFT of (re, im); `inverse` without the 1/n scaling. n must be a power of 2. */
function fft(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = ((inverse ? 2 : -2) * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(ang * k);
        const wi = Math.sin(ang * k);
        const a = i + k;
        const b = a + len / 2;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

/** 2-D FFT of an S x S field stored row-major, by rows then columns. */
function fft2(re: Float64Array, im: Float64Array, s: number, inverse: boolean): void {
  const r = new Float64Array(s);
  const i = new Float64Array(s);
  for (const byRows of [true, false]) {
    for (let a = 0; a < s; a++) {
      for (let b = 0; b < s; b++) {
        const idx = byRows ? a * s + b : b * s + a;
        r[b] = re[idx];
        i[b] = im[idx];
      }
      fft(r, i, inverse);
      for (let b = 0; b < s; b++) {
        const idx = byRows ? a * s + b : b * s + a;
        re[idx] = r[b];
        im[idx] = i[b];
      }
    }
  }
}

/** Whether frequency (fy, fx) (cycles per image) is in `band` for side s. */
export function inBand(band: NoiseBand, fy: number, fx: number, s: number): boolean {
  const r = Math.hypot(fy, fx);
  if (r === 0) return false;
  if (band === "low") return r <= s / 8;
  if (band === "high") return r > s / 4;
  return true;
}

function gaussian(rng: Rng): number {
  // Box-Muller; 1 - u keeps the logarithm finite.
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** One S x S noise field in `band`, RMS 1. */
export function noiseField(s: number, band: NoiseBand, rng: Rng): Float64Array {
  if (!Number.isInteger(Math.log2(s)))
    throw new Error(`band-limited noise needs an image side that is a power of 2, got ${s}`);
  const re = new Float64Array(s * s);
  const im = new Float64Array(s * s);
  for (let k = 0; k < s * s; k++) re[k] = gaussian(rng);
  fft2(re, im, s, false);
  for (let y = 0; y < s; y++) {
    const fy = y < s / 2 ? y : y - s;
    for (let x = 0; x < s; x++) {
      const fx = x < s / 2 ? x : x - s;
      if (!inBand(band, fy, fx, s)) re[y * s + x] = im[y * s + x] = 0;
    }
  }
  fft2(re, im, s, true);
  let ss = 0;
  for (let k = 0; k < s * s; k++) ss += re[k] * re[k];
  const scale = 1 / Math.sqrt(ss / (s * s));
  for (let k = 0; k < s * s; k++) re[k] *= scale;
  return re;
}

export interface NoiseSpec {
  band: NoiseBand;
  /** RMS of the added noise, in units of the 0..1 pixel range (0: the clean image). */
  strength: number;
  seed: number;
}

export function validateNoise(n: NoiseSpec): NoiseSpec {
  if (!(NOISE_BANDS as readonly string[]).includes(n.band))
    throw new Error(`unknown noise band '${n.band}'; allowed: ${NOISE_BANDS.join(", ")}`);
  if (!(n.strength >= 0 && n.strength <= 1))
    throw new Error(
      `noise strength must be a number in 0..1 (RMS in pixel units), got ${n.strength}`,
    );
  if (!Number.isInteger(n.seed) || n.seed < 0)
    throw new Error(`noise seed must be an integer >= 0, got ${n.seed}`);
  return n;
}

/**
 * Image `index` ([S, S, 3] RGB bytes) with band-limited noise added, as 0..1 floats [S*S*3]
 * (row-major, channels last: the models' input layout).
 */
export function addNoise(rgb: Uint8Array, side: number, index: number, n: NoiseSpec): Float32Array {
  validateNoise(n);
  const out = new Float32Array(side * side * 3);
  for (let k = 0; k < out.length; k++) out[k] = rgb[k] / 255;
  if (n.strength === 0) return out;
  const rng = rngFor(n.seed, "noise", n.band, index);
  for (let c = 0; c < 3; c++) {
    const f = noiseField(side, n.band, rng);
    for (let k = 0; k < side * side; k++)
      out[k * 3 + c] = Math.min(1, Math.max(0, out[k * 3 + c] + n.strength * f[k]));
  }
  return out;
}
