/**
 * A data set as NumPy arrays, for other frameworks (the PyTorch reference, ../shared/reference/
 * torch_train.py, reads exactly this): per split `<split>_x.npy` (uint8 [N, H, W, 3], the stored
 * RGB bytes) and `<split>_y.npy` (int64 [N], the labels), the held-out style's test puzzles as
 * `heldout_x.npy` / `heldout_y.npy`, and `meta.json` (the spec, the counts, each file's SHA-256).
 * The arrays are the very bytes a run trains and is tested on: same images, same order.
 */
import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import { SplitReader, verifyDataset } from "./format";
import { HELDOUT_TEST_NAME, splitFile, SPLITS } from "./spec";
import { checkOutput } from "../util/json";
import { replaceAtomically, writeJsonAtomic } from "../util/atomic";

export const EXPORT_FORMATS = ["npy"] as const;

/** The .npy v1.0 header for a C-ordered array of `descr` ("|u1", "<i8") and `shape`. */
export function npyHeader(descr: string, shape: number[]): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  // magic (6) + version (2) + header length (2) + dict + padding + "\n", a multiple of 64 bytes.
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const head = Buffer.alloc(total, 0x20);
  head.write("\x93NUMPY", 0, "latin1");
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(total - 10, 8);
  head.write(dict, 10, "latin1");
  head[total - 1] = 0x0a;
  return head;
}

/** Writes one .npy file atomically from a header and the data chunks `fill` yields; returns its SHA-256. */
function writeNpy(file: string, header: Buffer, fill: (write: (b: Uint8Array) => void) => void): string {
  const sha = createHash("sha256");
  replaceAtomically(file, (tmp) => {
    const fd = fs.openSync(tmp, "w");
    try {
      const write = (b: Uint8Array) => {
        fs.writeSync(fd, b);
        sha.update(b);
      };
      write(header);
      fill(write);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  });
  return sha.digest("hex");
}

/**
 * Exports data set `dir` (verified against its manifest) into `out` (a new or empty directory, or
 * an earlier export); returns what meta.json records.
 */
export function exportNpy(dir: string, out: string): Record<string, unknown> {
  const manifest = verifyDataset(dir); // every file whole before anything is written
  checkOutput(out, "dir", "export --out");
  if (fs.existsSync(out)) {
    const foreign = fs
      .readdirSync(out)
      .filter((f) => !/^(train|val|test|heldout)_[xy]\.npy$/.test(f) && f !== "meta.json");
    if (foreign.length)
      throw new Error(
        `export --out '${out}' holds ${foreign.slice(0, 3).join(", ")}, which an export does not write; choose a new or empty directory`,
      );
  }
  fs.mkdirSync(out, { recursive: true });
  const files: Record<string, { shape: number[]; sha256: string }> = {};
  const parts = [
    ...SPLITS.map((s) => ({ name: s as string, file: splitFile(dir, s) })),
    { name: "heldout", file: path.join(dir, HELDOUT_TEST_NAME) },
  ].filter((p) => fs.existsSync(p.file));
  for (const p of parts) {
    const r = new SplitReader(p.file);
    try {
      const { height, width } = r.header.image;
      const xShape = [r.count, height, width, 3];
      files[`${p.name}_x.npy`] = {
        shape: xShape,
        sha256: writeNpy(path.join(out, `${p.name}_x.npy`), npyHeader("|u1", xShape), (write) => {
          for (let i = 0; i < r.count; i++) write(r.image(i));
        }),
      };
      const y = new BigInt64Array(r.count);
      r.records.labels.forEach((l, i) => (y[i] = BigInt(l)));
      files[`${p.name}_y.npy`] = {
        shape: [r.count],
        sha256: writeNpy(path.join(out, `${p.name}_y.npy`), npyHeader("<i8", [r.count]), (write) =>
          write(new Uint8Array(y.buffer)),
        ),
      };
    } finally {
      r.close();
    }
  }
  const meta = { source: path.resolve(dir), spec: manifest.spec, files };
  writeJsonAtomic(path.join(out, "meta.json"), meta);
  return meta;
}
