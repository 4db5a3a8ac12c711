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
 */
import * as fs from "fs";
import { createHash } from "crypto";
import { replaceAtomically } from "../util/atomic";
import { DatasetSpec, Split } from "./spec";
import { DatasetStats, computeStats } from "./stats";

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

  constructor(readonly file: string, opts: { verify?: boolean } = {}) {
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
      if (opts.verify !== false) this.verify();
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  get count(): number {
    return this.header.count;
  }

  private verify(): void {
    const sha = createHash("sha256");
    const buf = Buffer.alloc(1 << 22);
    for (let pos = HEADER_BYTES; pos < this.header.offsets.end; ) {
      const n = fs.readSync(this.fd, buf, 0, Math.min(buf.length, this.header.offsets.end - pos), pos);
      sha.update(buf.subarray(0, n));
      pos += n;
    }
    if (sha.digest("hex") !== this.header.sha256) {
      throw new Error(`data file '${this.file}' is corrupt: its payload checksum does not match the header; regenerate it with 'npx amida generate'`);
    }
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
