/**
 * NumPy `.npy` files (format version 1.0 written; 1.0–3.0 read): little-endian float32 (`<f4`)
 * or float64 (`<f8`) arrays in C order. Reading also accepts `|u1`, `|i1`, `<i2`, `<u2`, `<i4`,
 * `<u4`, `<i8`, `<u8` (numpy's default integers: token ids) and `|b1` and converts to float32. Rows (the first axis) can be read one at a time
 * without loading the whole file ({@link NpyFile}). Headers of any length the format allows are
 * read (version 1.0: up to 65,535 bytes; 2.0 and 3.0: up to {@link NPY_MAX_HEADER_BYTES}, 1 MiB,
 * a sanity cap), and a file's header is checked against its size before its shape is used.
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
  // numpy's default integers (token ids: `np.save('ids.npy', np.array(ids))`); exact up to 2^24 as float32
  '<u8': { size: 8, read: (b, o) => Number(b.readBigUInt64LE(o)) },
  '<i8': { size: 8, read: (b, o) => Number(b.readBigInt64LE(o)) },
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

/**
 * The largest .npy header this library reads, in bytes (1 MiB). The format allows 65,535 bytes
 * in version 1.0 (a 2-byte length) and 4 GiB in versions 2.0 and 3.0 (a 4-byte length); a real
 * header is a short Python dict (numpy's own `np.load` refuses headers over 10,000 bytes unless
 * told otherwise), so a longer one is refused before it is read rather than allocated.
 */
export const NPY_MAX_HEADER_BYTES = 1 << 20;

/** Where the header text starts and how long it is, from the first 12 bytes of a file. */
function headerBounds(buf: Buffer, what: string): { major: number; start: number; len: number } {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new LrpArgumentError(what, 'is not an .npy file (no \\x93NUMPY magic). Save arrays with numpy.save().');
  const major = buf[6];
  if (major === 1) return { major, start: 10, len: buf.readUInt16LE(8) };
  if (major === 2 || major === 3) {
    if (buf.length < 12) throw new LrpArgumentError(what, 'has a truncated .npy header.');
    const len = buf.readUInt32LE(8);
    if (len > NPY_MAX_HEADER_BYTES) throw new LrpArgumentError(what, `has an .npy header of ${len} bytes; at most ${NPY_MAX_HEADER_BYTES} are read (a real header is a short dict: descr, fortran_order, shape). Save it again with numpy.save().`);
    return { major, start: 12, len };
  }
  throw new LrpArgumentError(what, `has .npy format version ${major}.${buf[7]}; versions 1.0–3.0 are read.`);
}

/** Parses an .npy header from the start of a file (`what` names the file in errors). */
export function parseNpyHeader(buf: Buffer, what: string): NpyHeader {
  const { major, start, len } = headerBounds(buf, what);
  if (buf.length < start + len) throw new LrpArgumentError(what, 'has a truncated .npy header.');
  const text = buf.subarray(start, start + len).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new LrpArgumentError(what, `has an unreadable .npy header: ${text.trim().slice(0, 200)}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new LrpArgumentError(what, `has a bad shape in its .npy header: (${shapeText.slice(0, 200)}).`);
  const reader = READERS[descr === '<f4' || descr === '=f4' ? '<f4' : descr === '=f8' ? '<f8' : descr];
  if (reader === undefined) throw new LrpArgumentError(what, `has dtype '${descr}'; supported: ${Object.keys(READERS).join(', ')} (little-endian). Convert with arr.astype('<f4').`);
  return { descr, fortranOrder: fortran === 'True', shape, dataOffset: start + len, itemSize: reader.size };
}

/** Reads exactly `length` bytes at `position` (looping over short reads); fewer only at the end of the file. */
function readFully(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/**
 * Reads the header of an open .npy file (of any length the format allows, up to
 * {@link NPY_MAX_HEADER_BYTES}) and checks it against the file size before anything else is
 * done with it: header + rows × row bytes must be the file's size exactly, so a header that
 * claims more (or fewer) values than the file holds is refused at once.
 *
 * @throws {LrpArgumentError} naming `file`: not an .npy file, a truncated or oversized header,
 *   or a shape that does not match the file size (the claim and the real size are given)
 */
export function readNpyHeaderSync(fd: number, file: string): NpyHeader {
  const size = fs.fstatSync(fd).size;
  const { start, len } = headerBounds(readFully(fd, 12, 0), file);
  if (start + len > size) throw new LrpArgumentError(file, `has a truncated .npy header: it claims ${len} bytes of header, the file has ${size} bytes.`);
  const header = parseNpyHeader(readFully(fd, start + len, 0), file);
  const count = header.shape.reduce((a, b) => a * BigInt(b), BigInt(1));
  const need = BigInt(header.dataOffset) + count * BigInt(header.itemSize);
  if (need !== BigInt(size)) {
    const claim = `its header claims shape (${header.shape.join(', ')}${header.shape.length === 1 ? ',' : ''}) of '${header.descr}': ${count} values, ${need} bytes with the ${header.dataOffset}-byte header`;
    throw new LrpArgumentError(file, `${need > BigInt(size) ? 'is truncated or its header is wrong' : 'has bytes after its data or its header is wrong'}: ${claim}, but the file has ${size} bytes. Save the array again with numpy.save().`);
  }
  return header;
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
 *
 * Opening checks the header against the file before anything else: header + rows × row bytes
 * must be the file's size exactly, so a header that claims more rows than the file holds (say
 * 10^15) is refused at once, naming the file, the claimed shape and the real size. Headers of any
 * length the format allows are read: up to 65,535 bytes in version 1.0 and up to 1 MiB (a sanity
 * cap; numpy's own `np.load` stops at 10,000 bytes by default) in versions 2.0 and 3.0.
 *
 * @throws {LrpArgumentError} (from the constructor) naming the file: not an .npy file, a header
 *   too long or past the end of the file, a shape that does not match the file size, Fortran
 *   order, a scalar, or rows of 0 values
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
      this.header = readNpyHeaderSync(this.fd, file);
      if (this.header.fortranOrder) throw new LrpArgumentError(file, 'is in Fortran order; save a C-ordered array (np.ascontiguousarray).');
      if (this.header.shape.length < 1) throw new LrpArgumentError(file, 'holds a scalar; expected items along the first axis ([N, ...]).');
      this.rows = this.header.shape[0];
      this.rowShape = this.header.shape.slice(1);
      this.rowBytes = this.rowShape.reduce((a, b) => a * b, 1) * this.header.itemSize;
      if (this.rowBytes === 0 && this.rows > 0) throw new LrpArgumentError(file, `holds ${this.rows} rows of 0 values (shape (${this.header.shape.join(', ')})); expected items with values.`);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Row `k` as float32. */
  row(k: number): Float32Array {
    return this.decodeRow(this.rawRow(k));
  }

  /** The bytes of row `k` as stored in the file (little-endian, the file's dtype). */
  rawRow(k: number): Buffer {
    if (this.fd === null) throw new LrpArgumentError(this.file, 'is closed.');
    if (!Number.isInteger(k) || k < 0 || k >= this.rows) throw new LrpArgumentError('row', `${k} is out of range [0, ${this.rows}).`);
    const buf = readFully(this.fd, this.rowBytes, this.header.dataOffset + k * this.rowBytes);
    if (buf.length !== this.rowBytes) throw new LrpArgumentError(this.file, `is shorter than when it was opened: row ${k} ends past the end of the file.`);
    return buf;
  }

  /** Bytes of one row (from {@link NpyFile.rawRow}) as float32. */
  decodeRow(bytes: Buffer): Float32Array {
    if (bytes.length !== this.rowBytes) throw new LrpArgumentError('bytes', `holds ${bytes.length} bytes; a row of ${this.file} has ${this.rowBytes}.`);
    return convert(bytes, 0, this.rowBytes / this.header.itemSize, this.header.descr, false) as Float32Array;
  }

  /** Closes the file. */
  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
