/** The PNG encoder (src/node/png.ts) against sharp's decoder: exact pixels for 1–4 channels. */
import sharp from 'sharp';
import { crc32, encodePng } from '../src/node/png';
import { rng } from './helpers';

describe('encodePng', () => {
  it('crc32 matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  for (const channels of [1, 2, 3, 4]) {
    it(`round-trips ${channels} channel(s) exactly through sharp`, async () => {
      const random = rng(100 + channels);
      const [w, h] = [37, 23];
      const pixels = Uint8Array.from({ length: w * h * channels }, () => Math.floor(random() * 256));
      const png = encodePng(w, h, channels, pixels);
      const meta = await sharp(png).metadata();
      expect([meta.width, meta.height, meta.channels]).toEqual([w, h, channels]);
      // sharp decodes gray (+alpha) to RGB (A) with R = G = B: expand ours the same way
      const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      const expected = channels >= 3 ? pixels : Uint8Array.from({ length: w * h * (channels + 2) }, (_, i) => {
        const p = Math.floor(i / (channels + 2));
        const c = i % (channels + 2);
        return c < 3 ? pixels[p * channels] : pixels[p * channels + 1];
      });
      expect(Buffer.compare(Buffer.from(data), Buffer.from(expected))).toBe(0);
    });
  }

  it('rejects a wrong length, size or channel count', () => {
    expect(() => encodePng(2, 2, 3, new Uint8Array(11))).toThrow(/expected 12 bytes/);
    expect(() => encodePng(0, 2, 3, new Uint8Array(0))).toThrow(/positive integers/);
    expect(() => encodePng(2, 2, 5, new Uint8Array(20))).toThrow(/channels must be 1, 2, 3 or 4/);
  });
});
