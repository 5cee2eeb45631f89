/** PNG helpers for scripts: RGB encoding (src/node/png.ts) and a small RGB canvas. */
import { encodePng as encodeAny } from '../src/node/png';

export { crc32 } from '../src/node/png';

/** Encodes `rgb` (width × height × 3 bytes, row-major) as a PNG file. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  return encodeAny(width, height, 3, rgb);
}

/** An RGB canvas with a background colour. */
export class Canvas {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number, background: [number, number, number] = [255, 255, 255]) {
    this.data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.data.set(background, i * 3);
  }
  /** Fills a rectangle (clipped to the canvas). */
  fill(x: number, y: number, w: number, h: number, rgb: readonly number[]): void {
    for (let yy = Math.max(0, y); yy < Math.min(this.height, y + h); yy++)
      for (let xx = Math.max(0, x); xx < Math.min(this.width, x + w); xx++) this.data.set(rgb, (yy * this.width + xx) * 3);
  }
  /** Draws a cols × rows image of colours `colour(i)` at (x, y), each pixel `scale` × `scale`. */
  image(x: number, y: number, cols: number, rows: number, scale: number, colour: (i: number) => readonly number[]): void {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) this.fill(x + c * scale, y + r * scale, scale, scale, colour(r * cols + c));
  }
  png(): Buffer {
    return encodePng(this.width, this.height, this.data);
  }
}
