/**
 * The input side of the demo: a drawing pad (mouse, touch, pen), MNIST-style preprocessing of
 * what is drawn, and images from files. Plain DOM and arrays, no tf.
 */

/** An image the model takes: H×W×C values, row-major, in the model's range. */
export interface ModelInput {
  readonly pixels: Float32Array;
  readonly shape: readonly [number, number, number];
}

/** A drawing pad: white strokes on black, the way MNIST digits look. */
export class DrawPad {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private last: { x: number; y: number } | null = null;
  private readonly onStroke: (phase: 'start' | 'move' | 'end') => void;
  /** Stroke width in canvas pixels. */
  lineWidth = 22;

  constructor(canvas: HTMLCanvasElement, onStroke: (phase: 'start' | 'move' | 'end') => void) {
    this.canvas = canvas;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (ctx === null) throw new Error('the drawing pad has no 2D context');
    this.ctx = ctx;
    this.onStroke = onStroke;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', (e) => this.up(e));
  }

  private point(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * this.canvas.width) / r.width, y: ((e.clientY - r.top) * this.canvas.height) / r.height };
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.point(e);
    this.onStroke('start');
    this.segment(this.last, this.last);
    this.onStroke('move');
  }

  private move(e: PointerEvent): void {
    if (this.last === null) return;
    e.preventDefault();
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const ev of events.length > 0 ? events : [e]) {
      const p = this.point(ev);
      this.segment(this.last, p);
      this.last = p;
    }
    this.onStroke('move');
  }

  private up(e: PointerEvent): void {
    if (this.last === null) return;
    this.last = null;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    this.onStroke('end');
  }

  private segment(a: { x: number; y: number }, b: { x: number; y: number }): void {
    const c = this.ctx;
    c.strokeStyle = '#fff';
    c.lineWidth = this.lineWidth;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(a.x, a.y);
    c.lineTo(b.x + 0.01, b.y);
    c.stroke();
  }

  /** Paints the pad black. */
  clear(): void {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Shows an image on the pad, fitted and centred (black borders). */
  show(source: CanvasImageSource, width: number, height: number, smooth = true): void {
    this.clear();
    const s = Math.min(this.canvas.width / width, this.canvas.height / height);
    const w = width * s;
    const h = height * s;
    this.ctx.imageSmoothingEnabled = smooth;
    this.ctx.imageSmoothingQuality = 'high';
    this.ctx.drawImage(source, (this.canvas.width - w) / 2, (this.canvas.height - h) / 2, w, h);
  }

  /** The pad's pixels. */
  imageData(): ImageData {
    return this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }
}

/** Luminance in 0..1 of every pixel of an RGBA image. */
function luminance(img: ImageData): Float32Array {
  const out = new Float32Array(img.width * img.height);
  const d = img.data;
  for (let i = 0; i < out.length; i++) out[i] = (0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2]) / 255;
  return out;
}

/**
 * MNIST preprocessing (as LeCun et al. prepared the digits): the ink's bounding box is scaled to
 * fit 20×20 (area averaging), placed in a 28×28 field and shifted so that its centre of mass is
 * the centre. A light background (a photo of ink on paper) is inverted first.
 */
export function mnistInput(img: ImageData, size = 28, box = 20, range: readonly [number, number] = [0, 1]): ModelInput {
  const { width: W, height: H } = img;
  const g = luminance(img);
  let mean = 0;
  for (const v of g) mean += v;
  if (mean / g.length > 0.5) for (let i = 0; i < g.length; i++) g[i] = 1 - g[i];
  let x0 = W;
  let y0 = H;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (g[y * W + x] > 0.1) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  const out = new Float32Array(size * size);
  if (x1 >= 0) {
    const bw = x1 - x0 + 1;
    const bh = y1 - y0 + 1;
    const s = box / Math.max(bw, bh);
    const tw = Math.max(1, Math.round(bw * s));
    const th = Math.max(1, Math.round(bh * s));
    // area averaging: every source pixel adds to the target cell it falls in
    const sum = new Float32Array(tw * th);
    const cnt = new Float32Array(tw * th);
    for (let y = y0; y <= y1; y++) {
      const ty = Math.min(th - 1, Math.floor((y - y0 + 0.5) * s));
      for (let x = x0; x <= x1; x++) {
        const tx = Math.min(tw - 1, Math.floor((x - x0 + 0.5) * s));
        sum[ty * tw + tx] += g[y * W + x];
        cnt[ty * tw + tx] += 1;
      }
    }
    // centre of mass of the scaled digit, then the offset that puts it at the field's centre
    let m = 0;
    let mx = 0;
    let my = 0;
    for (let y = 0; y < th; y++) {
      for (let x = 0; x < tw; x++) {
        const v = cnt[y * tw + x] > 0 ? sum[y * tw + x] / cnt[y * tw + x] : 0;
        sum[y * tw + x] = v;
        m += v;
        mx += v * (x + 0.5);
        my += v * (y + 0.5);
      }
    }
    const clamp = (v: number, hi: number): number => Math.max(0, Math.min(hi, v));
    const ox = clamp(Math.round(size / 2 - mx / m), size - tw);
    const oy = clamp(Math.round(size / 2 - my / m), size - th);
    for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) out[(oy + y) * size + ox + x] = Math.min(1, sum[y * tw + x]);
  }
  const [lo, hi] = range;
  for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * out[i];
  return { pixels: out, shape: [size, size, 1] };
}

/** An image resized to the model's H×W (cover: centre crop), C = 1 (luminance) or 3, in `range`. */
export function resizedInput(source: CanvasImageSource, srcW: number, srcH: number, shape: readonly [number, number, number], range: readonly [number, number]): ModelInput {
  const [h, w, c] = shape;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (ctx === null) throw new Error('no 2D context');
  const s = Math.max(w / srcW, h / srcH);
  const cw = w / s;
  const ch = h / s;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, (srcW - cw) / 2, (srcH - ch) / 2, cw, ch, 0, 0, w, h);
  const img = ctx.getImageData(0, 0, w, h);
  const [lo, hi] = range;
  const out = new Float32Array(h * w * c);
  const lum = c === 1 ? luminance(img) : null;
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < c; k++) {
      const v = lum !== null ? lum[i] : img.data[4 * i + k] / 255;
      out[i * c + k] = lo + (hi - lo) * v;
    }
  }
  return { pixels: out, shape: [h, w, c] };
}

/** Draws model input (in `range`) onto a canvas of its size, e.g. for thumbnails. */
export function paintInput(canvas: HTMLCanvasElement, input: ModelInput, range: readonly [number, number]): void {
  const [h, w, c] = input.shape;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  if (ctx === null) return;
  const img = ctx.createImageData(w, h);
  const [lo, hi] = range;
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.round((255 * (input.pixels[i * c + (c === 1 ? 0 : k)] - lo)) / (hi - lo));
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** Decodes an image file. */
export async function loadImageFile(file: Blob): Promise<ImageBitmap> {
  if (!file.type.startsWith('image/')) throw new Error(`not an image file (${file.type || 'unknown type'})`);
  return createImageBitmap(file);
}
