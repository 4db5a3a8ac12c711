/**
 * The page's `canvas` module: bundle.ts swaps it in for node-canvas, so src/puzzle and
 * src/explain draw on HTML canvases in the page with the code they run in Node. The 2D context is
 * created CPU-backed (willReadFrequently), like node-canvas's: the renderer reads every image back
 * (getImageData), and a GPU canvas would make that slow and its antialiasing device-dependent.
 */
export function createCanvas(width: number, height: number): HTMLCanvasElement {
  const c = document.createElement("canvas");
  c.width = width;
  c.height = height;
  c.getContext("2d", { willReadFrequently: true });
  return c;
}

export type Canvas = HTMLCanvasElement;
export type CanvasRenderingContext2D = globalThis.CanvasRenderingContext2D;
