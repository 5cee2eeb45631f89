/**
 * NumPy `.npy` files (format version 1.0 written; 1.0–3.0 read): little-endian float32 (`<f4`)
 * or float64 (`<f8`) arrays in C order. Reading also accepts `|u1`, `|i1`, `<i2`, `<u2`, `<i4`,
 * `<u4` and `|b1` and converts to float32. Rows (the first axis) can be read one at a time
 * without loading the whole file ({@link NpyFile}).
 */
import * as fs from 'fs';
import { LrpArgumentError } from '../../errors.js';
import { isFloat32Array, isFloat64Array } from './typed.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** Data types written by {@link encodeNpy}. */
export type NpyDtype = '<f4' | '<f8';

/** Header of an .npy file. */
export interface NpyHeader {
  readonly descr: string;
  readonly fortranOrder: boolean;
  readonly shape: number[];
  /** Byte offset of the data. */
  readonly dataOffset: number;
  /** Bytes per element. */
  readonly itemSize: number;
}

const READERS: Record<string, { size: number; read(b: Buffer, o: number): number }> = {
  '<f4': { size: 4, read: (b, o) => b.readFloatLE(o) },
  '<f8': { size: 8, read: (b, o) => b.readDoubleLE(o) },
  '|u1': { size: 1, read: (b, o) => b.readUInt8(o) },
  '|i1': { size: 1, read: (b, o) => b.readInt8(o) },
  '|b1': { size: 1, read: (b, o) => b.readUInt8(o) },
  '<u2': { size: 2, read: (b, o) => b.readUInt16LE(o) },
  '<i2': { size: 2, read: (b, o) => b.readInt16LE(o) },
  '<u4': { size: 4, read: (b, o) => b.readUInt32LE(o) },
  '<i4': { size: 4, read: (b, o) => b.readInt32LE(o) },
};

/**
 * The .npy header bytes (version 1.0, padded so the data starts at a multiple of 64): write it,
 * then the values row by row, to stream an array larger than memory into a file.
 */
export function encodeNpyHeader(shape: readonly number[], dtype: NpyDtype = '<f4'): Buffer {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) throw new LrpArgumentError('shape', `expected non-negative integers, got ${JSON.stringify(shape)}.`);
  if (dtype !== '<f4' && dtype !== '<f8') throw new LrpArgumentError('dtype', `expected '<f4' or '<f8', got ${JSON.stringify(dtype)}.`);
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (dict.length > 65535) throw new LrpArgumentError('shape', 'is too long for an .npy version 1.0 header.');
  const head = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1')]);
}

/**
 * Encodes an array as .npy bytes (version 1.0, C order).
 *
 * @param data the values, row-major; `Float32Array` for `<f4`, `Float64Array` (or numbers) for `<f8`
 * @param shape the array shape; its product must equal `data.length`
 * @param dtype `'<f4'` (float32, default for Float32Array) or `'<f8'` (float64)
 */
export function encodeNpy(data: Float32Array | Float64Array, shape: readonly number[], dtype: NpyDtype = isFloat64Array(data) ? '<f8' : '<f4'): Buffer {
  const header = encodeNpyHeader(shape, dtype);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new LrpArgumentError('data', `holds ${data.length} values but shape [${shape.join(', ')}] needs ${count}.`);
  const typed = dtype === '<f4' ? (isFloat32Array(data) ? data : Float32Array.from(data)) : isFloat64Array(data) ? data : Float64Array.from(data);
  const body = Buffer.alloc(typed.byteLength);
  // the platform is little-endian on every Node target; copy through a typed view to be sure
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).copy(body);
  else typed.forEach((v, i) => (dtype === '<f4' ? body.writeFloatLE(v, 4 * i) : body.writeDoubleLE(v, 8 * i)));
  return Buffer.concat([header, body]);
}

/** Parses an .npy header from the start of a file (`what` names the file in errors). */
export function parseNpyHeader(buf: Buffer, what: string): NpyHeader {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new LrpArgumentError(what, 'is not an .npy file (no \\x93NUMPY magic). Save arrays with numpy.save().');
  const major = buf[6];
  let len: number;
  let start: number;
  if (major === 1) {
    len = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new LrpArgumentError(what, 'has a truncated .npy header.');
    len = buf.readUInt32LE(8);
    start = 12;
  } else throw new LrpArgumentError(what, `has .npy format version ${major}.${buf[7]}; versions 1.0–3.0 are read.`);
  if (buf.length < start + len) throw new LrpArgumentError(what, 'has a truncated .npy header.');
  const text = buf.subarray(start, start + len).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new LrpArgumentError(what, `has an unreadable .npy header: ${text.trim()}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new LrpArgumentError(what, `has a bad shape in its .npy header: (${shapeText}).`);
  const reader = READERS[descr === '<f4' || descr === '=f4' ? '<f4' : descr === '=f8' ? '<f8' : descr];
  if (reader === undefined) throw new LrpArgumentError(what, `has dtype '${descr}'; supported: ${Object.keys(READERS).join(', ')} (little-endian). Convert with arr.astype('<f4').`);
  return { descr, fortranOrder: fortran === 'True', shape, dataOffset: start + len, itemSize: reader.size };
}

/** Decodes .npy bytes to float32 (or float64 for `<f8` when `keepFloat64`). */
export function decodeNpy(buf: Buffer, what = 'npy', keepFloat64 = false): { data: Float32Array | Float64Array; shape: number[]; descr: string } {
  const header = parseNpyHeader(buf, what);
  if (header.fortranOrder) throw new LrpArgumentError(what, 'is in Fortran order; save a C-ordered array (np.ascontiguousarray).');
  const count = header.shape.reduce((a, b) => a * b, 1);
  const need = header.dataOffset + count * header.itemSize;
  if (buf.length < need) throw new LrpArgumentError(what, `is truncated: the header promises ${count} values (${need} bytes), the file has ${buf.length} bytes.`);
  return { data: convert(buf, header.dataOffset, count, header.descr, keepFloat64), shape: header.shape, descr: header.descr };
}

function convert(buf: Buffer, offset: number, count: number, descr: string, keepFloat64: boolean): Float32Array | Float64Array {
  const key = descr === '=f4' ? '<f4' : descr === '=f8' ? '<f8' : descr;
  const reader = READERS[key];
  if (key === '<f8' && keepFloat64) {
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = buf.readDoubleLE(offset + 8 * i);
    return out;
  }
  const out = new Float32Array(count);
  if (key === '<f4') {
    Buffer.from(out.buffer).set(buf.subarray(offset, offset + 4 * count));
    return out;
  }
  for (let i = 0; i < count; i++) out[i] = reader.read(buf, offset + reader.size * i);
  return out;
}

/** Reads an .npy file. */
export function readNpy(file: string): { data: Float32Array | Float64Array; shape: number[]; descr: string } {
  return decodeNpy(fs.readFileSync(file), file, true);
}

/**
 * An .npy file opened for reading rows (items along the first axis) one at a time, as float32.
 * Call `close()` when done.
 */
export class NpyFile {
  readonly file: string;
  readonly header: NpyHeader;
  /** Number of rows (the first axis). */
  readonly rows: number;
  /** Shape of one row. */
  readonly rowShape: number[];
  private readonly rowBytes: number;
  private fd: number | null;

  constructor(file: string) {
    this.file = file;
    this.fd = fs.openSync(file, 'r');
    try {
      const head = Buffer.alloc(4096);
      const n = fs.readSync(this.fd, head, 0, head.length, 0);
      this.header = parseNpyHeader(head.subarray(0, n), file);
      if (this.header.fortranOrder) throw new LrpArgumentError(file, 'is in Fortran order; save a C-ordered array (np.ascontiguousarray).');
      if (this.header.shape.length < 1) throw new LrpArgumentError(file, 'holds a scalar; expected items along the first axis ([N, ...]).');
      this.rows = this.header.shape[0];
      this.rowShape = this.header.shape.slice(1);
      this.rowBytes = this.rowShape.reduce((a, b) => a * b, 1) * this.header.itemSize;
      const size = fs.fstatSync(this.fd).size;
      const need = this.header.dataOffset + this.rows * this.rowBytes;
      if (size < need) throw new LrpArgumentError(file, `is truncated: the header promises ${this.rows} rows (${need} bytes), the file has ${size} bytes.`);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Row `k` as float32. */
  row(k: number): Float32Array {
    if (this.fd === null) throw new LrpArgumentError(this.file, 'is closed.');
    if (!Number.isInteger(k) || k < 0 || k >= this.rows) throw new LrpArgumentError('row', `${k} is out of range [0, ${this.rows}).`);
    const buf = Buffer.alloc(this.rowBytes);
    fs.readSync(this.fd, buf, 0, this.rowBytes, this.header.dataOffset + k * this.rowBytes);
    return convert(buf, 0, this.rowBytes / this.header.itemSize, this.header.descr, false) as Float32Array;
  }

  /** Closes the file. */
  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
