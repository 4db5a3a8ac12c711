/**
 * The `.amida` file: one split of a data set.
 *
 *   bytes 0..7       magic "AMIDAKJ1"
 *   bytes 8..11      u32 LE length of the header JSON
 *   bytes 12..8191   header JSON (UTF-8), zero padded
 *   bytes 8192..     payload: images (count * size * size * 3 bytes, RGB, row-major),
 *                    labels (count bytes), plain goals (count bytes), structure hashes (count * 8 bytes)
 *
 * The header holds the spec, split, count, offsets and the SHA-256 of the payload, so a file
 * describes itself and corruption is caught on open.
 *
 * A data set is a directory of such files plus `dataset.json`, its manifest: the one spec all
 * files share and each file's SHA-256 over header and payload. It is written last, so a data
 * set without one is incomplete, and every reader checks its file against it before any work.
 */
import * as fs from "fs";
import { createHash } from "crypto";
import { replaceAtomically } from "../util/atomic";
import { DatasetSpec, fileSpec, Split } from "./spec";
import { DatasetStats, computeStats } from "./stats";
import * as path from "path";
import { checkExisting, readJsonFile, requireFields } from "../util/json";

export const MAGIC = "AMIDAKJ1";
export const HEADER_BYTES = 8192;
export const FORMAT = "warp-amidakuji/amida-1";

export interface DatasetHeader {
  format: string;
  spec: DatasetSpec;
  split: Split;
  count: number;
  image: { height: number; width: number; channels: 3 };
  offsets: { images: number; labels: number; plain: number; hashes: number; end: number };
  sha256: string;
  stats: DatasetStats;
}

export interface SplitRecords {
  labels: Uint8Array;
  plain: Uint8Array;
  hashes: string[];
}

function offsetsFor(count: number, size: number) {
  const images = HEADER_BYTES;
  const labels = images + count * size * size * 3;
  const plain = labels + count;
  const hashes = plain + count;
  return { images, labels, plain, hashes, end: hashes + count * 8 };
}

/**
 * Streams `count` images from `imageAt(i)` into `target` atomically; records are collected in
 * memory (10 bytes a sample) and written after the images.
 */
export function writeSplit(
  target: string,
  spec: DatasetSpec,
  split: Split,
  count: number,
  imageAt: (i: number) => { rgb: Uint8Array; label: number; plain: number; hash: string; ladder: string },
): DatasetHeader {
  const size = spec.difficulty.size;
  const offsets = offsetsFor(count, size);
  const rec: SplitRecords = { labels: new Uint8Array(count), plain: new Uint8Array(count), hashes: [] };
  // Ladder hashes are not stored (the split is a function of them), only counted in the stats.
  const ladders: string[] = [];
  let header!: DatasetHeader;
  replaceAtomically(target, (tmp) => {
    const fd = fs.openSync(tmp, "w");
    try {
      const sha = createHash("sha256");
      const put = (buf: Uint8Array, pos: number) => {
        fs.writeSync(fd, buf, 0, buf.length, pos);
        sha.update(buf);
      };
      const chunk = 256;
      for (let i0 = 0; i0 < count; i0 += chunk) {
        const n = Math.min(chunk, count - i0);
        const buf = new Uint8Array(n * size * size * 3);
        for (let k = 0; k < n; k++) {
          const s = imageAt(i0 + k);
          if (s.rgb.length !== size * size * 3) throw new Error(`image ${i0 + k} has ${s.rgb.length} bytes, expected ${size * size * 3}`);
          buf.set(s.rgb, k * size * size * 3);
          rec.labels[i0 + k] = s.label;
          rec.plain[i0 + k] = s.plain;
          rec.hashes.push(s.hash);
          ladders.push(s.ladder);
        }
        put(buf, offsets.images + i0 * size * size * 3);
      }
      put(rec.labels, offsets.labels);
      put(rec.plain, offsets.plain);
      put(Buffer.from(rec.hashes.join(""), "hex"), offsets.hashes);
      header = {
        format: FORMAT,
        spec,
        split,
        count,
        image: { height: size, width: size, channels: 3 },
        offsets,
        sha256: sha.digest("hex"),
        stats: computeStats(rec.labels, rec.plain, rec.hashes, ladders, spec.difficulty.lanes),
      };
      const json = Buffer.from(JSON.stringify(header), "utf8");
      if (json.length > HEADER_BYTES - 12) throw new Error(`header of ${json.length} bytes does not fit the ${HEADER_BYTES - 12} reserved`);
      const head = Buffer.alloc(HEADER_BYTES);
      head.write(MAGIC, 0, "latin1");
      head.writeUInt32LE(json.length, 8);
      json.copy(head, 12);
      fs.writeSync(fd, head, 0, head.length, 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  });
  return header;
}

/** An open split: header and records in memory, images read on demand. */
export class SplitReader {
  readonly header: DatasetHeader;
  readonly records: SplitRecords;
  private fd: number;
  readonly imageBytes: number;

  constructor(readonly file: string) {
    checkExisting(file, "file", "data file");
    let fd: number;
    try {
      fd = fs.openSync(file, "r");
    } catch (e) {
      throw new Error(`cannot read data file '${file}': ${(e as Error).message}`);
    }
    this.fd = fd;
    try {
      this.header = readHeader(fd, file);
      const { offsets, count, image } = this.header;
      this.imageBytes = image.height * image.width * image.channels;
      const tail = Buffer.alloc(offsets.end - offsets.labels);
      fs.readSync(fd, tail, 0, tail.length, offsets.labels);
      this.records = {
        labels: new Uint8Array(tail.subarray(0, count)),
        plain: new Uint8Array(tail.subarray(count, 2 * count)),
        hashes: Array.from({ length: count }, (_, i) => tail.subarray(2 * count + 8 * i, 2 * count + 8 * i + 8).toString("hex")),
      };
      // Own checks first (corruption, truncation), then agreement with the data set's manifest.
      const whole = this.verify();
      const entry = manifestEntry(file, this.header);
      {
        if (whole !== entry.sha256) throw new Error(`data file '${file}' does not match its data set's manifest ${path.join(path.dirname(file), MANIFEST)} (SHA-256 over header and payload differs: edited, copied over or mixed from another generation); regenerate the data set with 'npx amida generate --out ${path.dirname(file)}'`);
      }
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  get count(): number {
    return this.header.count;
  }

  /** Checks the payload against the header's checksum; returns the SHA-256 of the whole file. */
  private verify(): string {
    const sha = createHash("sha256");
    const whole = createHash("sha256");
    const buf = Buffer.alloc(1 << 22);
    for (let pos = 0; pos < this.header.offsets.end; ) {
      const n = fs.readSync(this.fd, buf, 0, Math.min(buf.length, this.header.offsets.end - pos), pos);
      if (n === 0) throw new Error(`data file '${this.file}' ended early at byte ${pos}`);
      // The payload hash starts at HEADER_BYTES; reads are aligned to it (1 << 22 is a multiple of 8192).
      if (pos >= HEADER_BYTES) sha.update(buf.subarray(0, n));
      else if (pos + n > HEADER_BYTES) sha.update(buf.subarray(HEADER_BYTES - pos, n));
      whole.update(buf.subarray(0, n));
      pos += n;
    }
    if (sha.digest("hex") !== this.header.sha256) {
      throw new Error(`data file '${this.file}' is corrupt: its payload checksum does not match the header; regenerate it with 'npx amida generate'`);
    }
    return whole.digest("hex");
  }

  /** Copies image i's RGB bytes into `out` at `offset` (or a new array). */
  image(i: number, out?: Uint8Array, offset = 0): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new Error(`index ${i} is out of range 0..${this.count - 1} of '${this.file}'`);
    const dst = out ?? new Uint8Array(this.imageBytes);
    fs.readSync(this.fd, dst, offset, this.imageBytes, this.header.offsets.images + i * this.imageBytes);
    return dst;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function readHeader(fd: number, file: string): DatasetHeader {
  const size = fs.fstatSync(fd).size;
  const head = Buffer.alloc(HEADER_BYTES);
  const n = fs.readSync(fd, head, 0, HEADER_BYTES, 0);
  const bad = (why: string) => new Error(`'${file}' is not a readable .amida data file: ${why}`);
  if (n < 12 || head.toString("latin1", 0, 8) !== MAGIC) throw bad(`it does not start with the magic '${MAGIC}'`);
  const len = head.readUInt32LE(8);
  if (len > HEADER_BYTES - 12) throw bad(`header length ${len} exceeds ${HEADER_BYTES - 12}`);
  let header: DatasetHeader;
  try {
    header = JSON.parse(head.toString("utf8", 12, 12 + len));
  } catch {
    throw bad("its header is not valid JSON");
  }
  if (header.format !== FORMAT) throw bad(`format '${header.format}' is not '${FORMAT}'`);
  const expect = offsetsFor(header.count, header.image?.height);
  if (JSON.stringify(expect) !== JSON.stringify(header.offsets)) throw bad("its offsets do not match its count and image size");
  if (size !== expect.end) throw bad(`it has ${size} bytes, its header promises ${expect.end} (truncated?)`);
  return header;
}

/** The manifest's name in a data set directory. */
export const MANIFEST = "dataset.json";
export const DATASET_FORMAT = "warp-amidakuji/dataset-1";

/** One data file as the manifest records it. */
export interface ManifestFile {
  /** SHA-256 of the whole file, header and payload. */
  sha256: string;
  /** File size in bytes. */
  bytes: number;
  /** The split its header names. */
  split: string;
  /** Puzzles in it. */
  count: number;
}

/** The fields of `dataset.json` that make it a manifest (it holds the generation summary too). */
export interface Manifest {
  /** DATASET_FORMAT. */
  format: string;
  /** The spec every file of the data set shares. */
  spec: DatasetSpec;
  /** Every `*.amida` file of the directory, by file name. */
  files: Record<string, ManifestFile>;
}

/** Spec equality as whole objects (keys sorted), so fields added later are compared too. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x));
}

export function sha256File(file: string): string {
  const sha = createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(1 << 22);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) sha.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return sha.digest("hex");
}

/** Manifest entries for every `*.amida` file in `dir` (all must share `spec`). */
export function manifestFiles(dir: string, spec: DatasetSpec): Record<string, ManifestFile> {
  const files: Record<string, ManifestFile> = {};
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith(".amida")).sort()) {
    const file = path.join(dir, name);
    const fd = fs.openSync(file, "r");
    let h: DatasetHeader;
    try {
      h = readHeader(fd, file);
    } finally {
      fs.closeSync(fd);
    }
    if (canonicalJson(h.spec) !== canonicalJson(fileSpec(name, spec))) throw new Error(`'${file}' has spec ${JSON.stringify(h.spec)}, the data set's is ${JSON.stringify(spec)}`);
    files[name] = { sha256: sha256File(file), bytes: fs.statSync(file).size, split: h.split, count: h.count };
  }
  return files;
}

/**
 * The manifest of data set `dir`, checked for shape and against the directory: every `*.amida`
 * file there is listed and every listed file is there (sizes agree). Contents are checked by
 * `verifyDataset` or by each SplitReader.
 */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST);
  const fix = `regenerate it with 'npx amida generate --out ${dir}'`;
  if (!fs.existsSync(dir)) throw new Error(`no data set at '${dir}'; make one with 'npx amida generate --out ${dir}'`);
  if (!fs.existsSync(file)) throw new Error(`data set '${dir}' has no manifest ${file} (an interrupted or older generation); ${fix}`);
  checkExisting(dir, "dir", "data set");
  const m = readJsonFile(
    file,
    "data set manifest",
    (v) => {
      const o = requireFields(v, { format: "string", files: "object", spec: "object" });
      if (o.format !== DATASET_FORMAT) throw new Error(`its format '${o.format}' is not '${DATASET_FORMAT}'`);
      for (const [f, e] of Object.entries(o.files as Record<string, unknown>)) {
        try {
          requireFields(e, { sha256: "string", bytes: "number", split: "string", count: "number" });
        } catch (err) {
          throw new Error(`its entry for '${f}': ${(err as Error).message}`);
        }
      }
      return o as unknown as Manifest;
    },
    fix,
  );
  const present = fs.readdirSync(dir).filter((f) => f.endsWith(".amida")).sort();
  const listed = Object.keys(m.files).sort();
  const extra = present.filter((f) => !listed.includes(f));
  const missing = listed.filter((f) => !present.includes(f));
  if (extra.length) throw new Error(`data set '${dir}' holds ${extra.join(", ")}, which its manifest ${file} does not list (added by hand or by another generation); ${fix}`);
  if (missing.length) throw new Error(`data set '${dir}' lacks ${missing.join(", ")}, which its manifest ${file} lists; ${fix}`);
  for (const f of listed) {
    checkExisting(path.join(dir, f), "file", `data set '${dir}'`);
    const size = fs.statSync(path.join(dir, f)).size;
    if (size !== m.files[f].bytes) throw new Error(`data file '${path.join(dir, f)}' has ${size} bytes, its manifest ${file} says ${m.files[f].bytes}; ${fix}`);
  }
  return m;
}

/** Reads and hashes every file of data set `dir` against its manifest; returns the manifest. */
export function verifyDataset(dir: string): Manifest {
  const m = readManifest(dir);
  for (const f of Object.keys(m.files)) new SplitReader(path.join(dir, f)).close();
  return m;
}

/** The manifest entry of an open file, after checking that its header agrees with the manifest. */
function manifestEntry(file: string, h: DatasetHeader): ManifestFile {
  const dir = path.dirname(file);
  const m = readManifest(dir);
  const entry = m.files[path.basename(file)];
  const fix = `regenerate the data set with 'npx amida generate --out ${dir}'`;
  const want = fileSpec(path.basename(file), m.spec);
  if (canonicalJson(h.spec) !== canonicalJson(want)) throw new Error(`data file '${file}' has spec ${JSON.stringify(h.spec)} but its data set's manifest says ${JSON.stringify(want)} (files from different generations); ${fix}`);
  if (h.split !== entry.split || h.count !== entry.count) throw new Error(`data file '${file}' holds split '${h.split}' x ${h.count}, its manifest says '${entry.split}' x ${entry.count}; ${fix}`);
  return entry;
}
