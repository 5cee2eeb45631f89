/**
 * A tiny built-in bitmap font for labels drawn into images (grids, swatches): 5×7 glyphs (plus a
 * descender row, so 5×8 cells) for ASCII digits, letters and punctuation. No system fonts, no
 * canvas: the same pixels in Node, in the browser and on CI machines without fonts.
 * Pure JavaScript.
 */

/** Glyph width in px (before scaling). */
export const GLYPH_WIDTH = 5;
/** Cell height in px: 7 rows of capitals and digits, one descender row. */
export const GLYPH_HEIGHT = 8;
/** Horizontal advance per character in px (glyph + 1 px spacing). */
export const GLYPH_ADVANCE = 6;

// Each glyph: up to 8 rows of 5 characters, '#' = ink. Missing rows are blank.
const GLYPHS: Record<string, string> = {
  ' ': '',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '##### ...#. ..#.. ...#. ....# #...# .###.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '###.. #..#. #...# #...# #...# #..#. ###..',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  a: '..... ..... .###. ....# .#### #...# .####',
  b: '#.... #.... #.##. ##..# #...# #...# ####.',
  c: '..... ..... .###. #.... #.... #...# .###.',
  d: '....# ....# .##.# #..## #...# #...# .####',
  e: '..... ..... .###. #...# ##### #.... .###.',
  f: '..##. .#..# .#... ###.. .#... .#... .#...',
  g: '..... ..... .#### #...# #...# .#### ....# .###.',
  h: '#.... #.... #.##. ##..# #...# #...# #...#',
  i: '..#.. ..... .##.. ..#.. ..#.. ..#.. .###.',
  j: '...#. ..... ..##. ...#. ...#. ...#. #..#. .##..',
  k: '#.... #.... #..#. #.#.. ##... #.#.. #..#.',
  l: '.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  m: '..... ..... ##.#. #.#.# #.#.# #...# #...#',
  n: '..... ..... #.##. ##..# #...# #...# #...#',
  o: '..... ..... .###. #...# #...# #...# .###.',
  p: '..... ..... ####. #...# #...# ####. #.... #....',
  q: '..... ..... .#### #...# #...# .#### ....# ....#',
  r: '..... ..... #.##. ##..# #.... #.... #....',
  s: '..... ..... .###. #.... .###. ....# ####.',
  t: '.#... .#... ###.. .#... .#... .#..# ..##.',
  u: '..... ..... #...# #...# #...# #..## .##.#',
  v: '..... ..... #...# #...# #...# .#.#. ..#..',
  w: '..... ..... #...# #...# #.#.# #.#.# .#.#.',
  x: '..... ..... #...# .#.#. ..#.. .#.#. #...#',
  y: '..... ..... #...# #...# #...# .#### ....# .###.',
  z: '..... ..... ##### ...#. ..#.. .#... #####',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  ',': '..... ..... ..... ..... .##.. ..#.. .#...',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  ';': '..... .##.. .##.. ..... .##.. ..#.. .#...',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '[': '.###. .#... .#... .#... .#... .#... .###.',
  ']': '.###. ...#. ...#. ...#. ...#. ...#. .###.',
  '{': '...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.',
  '}': '.#... ..#.. ..#.. ...#. ..#.. ..#.. .#...',
  '/': '..... ....# ...#. ..#.. .#... #.... .....',
  '\\': '..... #.... .#... ..#.. ...#. ....# .....',
  '-': '..... ..... ..... .###. ..... ..... .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  _: '..... ..... ..... ..... ..... ..... #####',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '%': '##... ##..# ...#. ..#.. .#... #..## ...##',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  "'": '..#.. ..#.. .#... ..... ..... ..... .....',
  '"': '.#.#. .#.#. .#.#. ..... ..... ..... .....',
  '`': '.#... ..#.. ...#. ..... ..... ..... .....',
  '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
  '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
  '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
  '*': '..... ..#.. #.#.# .###. #.#.# ..#.. .....',
  '&': '.##.. #..#. #.#.. .#... #.#.# #..#. .##.#',
  '|': '..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  '@': '.###. #...# ....# .##.# #.#.# #.#.# .###.',
  $: '..#.. .#### #.#.. .###. ..#.# ####. ..#..',
  '~': '..... ..... .#... #.#.# ...#. ..... .....',
  '^': '..#.. .#.#. #...# ..... ..... ..... .....',
};

/** Drawn for characters without a glyph: an empty box. */
const UNKNOWN = '##### #...# #...# #...# #...# #...# #####';

const bitmaps = new Map<string, Uint8Array>();

function bitmap(spec: string): Uint8Array {
  const out = new Uint8Array(GLYPH_WIDTH * GLYPH_HEIGHT);
  const rows = spec === '' ? [] : spec.split(' ');
  if (rows.length > GLYPH_HEIGHT || !rows.every((r) => /^[.#]{5}$/.test(r))) throw new Error(`font: malformed glyph ${JSON.stringify(spec)}`);
  rows.forEach((row, y) => {
    for (let x = 0; x < GLYPH_WIDTH; x++) if (row[x] === '#') out[y * GLYPH_WIDTH + x] = 1;
  });
  return out;
}

/** Whether the font has a glyph for the character (others are drawn as an empty box). */
export function hasGlyph(ch: string): boolean {
  return Object.prototype.hasOwnProperty.call(GLYPHS, ch);
}

/** The characters the font draws. */
export function glyphCharacters(): string[] {
  return Object.keys(GLYPHS);
}

/** A glyph's 5×8 bitmap (row-major, 1 = ink); a box for unknown characters. */
export function glyph(ch: string): Uint8Array {
  const key = hasGlyph(ch) ? ch : '\u0000';
  let b = bitmaps.get(key);
  if (b === undefined) {
    b = bitmap(hasGlyph(ch) ? GLYPHS[ch] : UNKNOWN);
    bitmaps.set(key, b);
  }
  return b;
}

/** Width in px of `text` drawn at `scale` (no trailing spacing; 0 for the empty string). */
export function measureText(text: string, scale = 1): number {
  const n = Array.from(text).length;
  return n === 0 ? 0 : (n * GLYPH_ADVANCE - 1) * scale;
}

/** A rendered line of text: row-major coverage, 1 = ink. */
export interface TextBitmap {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/**
 * Renders one line of text with the built-in font, each font pixel a `scale`×`scale` block.
 * `maxWidth` drops the characters that do not fit (the last fitting one becomes '…' drawn as '.').
 */
export function renderText(text: string, scale = 1, maxWidth = Infinity): TextBitmap {
  let chars = Array.from(text);
  const fit = Math.max(0, Math.floor((maxWidth / scale + 1) / GLYPH_ADVANCE));
  if (chars.length > fit) chars = fit >= 2 ? chars.slice(0, fit - 2).concat(['.', '.']) : chars.slice(0, fit);
  const width = measureText(chars.join(''), scale);
  const height = GLYPH_HEIGHT * scale;
  const data = new Uint8Array(width * height);
  chars.forEach((ch, k) => {
    const g = glyph(ch);
    const x0 = k * GLYPH_ADVANCE * scale;
    for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        if (g[gy * GLYPH_WIDTH + gx] === 0) continue;
        for (let dy = 0; dy < scale; dy++) {
          const row = (gy * scale + dy) * width + x0 + gx * scale;
          data.fill(1, row, row + scale);
        }
      }
    }
  });
  return { width, height, data };
}
