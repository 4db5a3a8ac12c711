import { Canvas } from "canvas";
import { rgbToCanvas } from "../puzzle/annotate";

/** Perceptually ordered blue -> red colour map (turbo-like anchors), for 0..1. */
function heatColour(v: number): [number, number, number] {
  const stops: Array<[number, number, number, number]> = [
    [0, 48, 18, 59],
    [0.25, 40, 140, 250],
    [0.5, 60, 220, 120],
    [0.75, 250, 190, 40],
    [1, 200, 20, 10],
  ];
  const t = Math.min(1, Math.max(0, v));
  let i = 0;
  while (i < stops.length - 2 && t > stops[i + 1][0]) i++;
  const [t0, r0, g0, b0] = stops[i];
  const [t1, r1, g1, b1] = stops[i + 1];
  const f = (t - t0) / (t1 - t0);
  return [r0 + f * (r1 - r0), g0 + f * (g1 - g0), b0 + f * (b1 - b0)];
}

/** The puzzle enlarged, with the heatmap blended over it (alpha grows with the heat). */
export function overlay(
  rgb: Uint8Array,
  heat: Float32Array,
  size: number,
  scale = 4,
  strength = 0.6,
): Canvas {
  const canvas = rgbToCanvas(rgb, size, scale);
  const ctx = canvas.getContext("2d");
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const W = canvas.width;
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < W; x++) {
      const v = heat[Math.floor(y / scale) * size + Math.floor(x / scale)];
      const [r, g, b] = heatColour(v);
      const a = strength * (0.25 + 0.75 * v);
      const o = (y * W + x) * 4;
      img.data[o] = img.data[o] * (1 - a) + r * a;
      img.data[o + 1] = img.data[o + 1] * (1 - a) + g * a;
      img.data[o + 2] = img.data[o + 2] * (1 - a) + b * a;
    }
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}
