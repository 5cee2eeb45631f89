/**
 * Exact, order-independent sums of float32 values (the aggregator's arithmetic).
 *
 * Every finite float32 is an integer multiple of 2^-149 (the smallest subnormal) below 2^277.
 * An {@link ExactSums} keeps, per element, that integer sum split into 32-bit digits ("limbs"),
 * each digit held in a float64. A float32 value touches at most two adjacent limbs, and a float64
 * holds integers up to 2^53 exactly, so 2^20 additions can be made before the digits are
 * normalised (carries propagated) — no addition ever rounds. After normalisation every digit is
 * in [0, 2^32): the state is canonical, so two sums over the same multiset of values are
 * bit-for-bit equal whatever the order, grouping, batching, sharding or merging. Positive and
 * negative values go to separate sums (both as magnitudes), so no digit is ever negative.
 * Converting to float64 (`value`) rounds once, to nearest, via BigInt.
 *
 * Limbs are allocated lazily for the whole vector: relevance maps typically span 2–4 of the 10.
 */

/** 2^32: one limb's radix. */
const RADIX = 4294967296;
/** 10 limbs of 32 bits cover bits 0..319 of a sum in units of 2^-149 (float32 values reach bit 277). */
export const LIMB_COUNT = 10;
/** Additions per element between normalisations (each < 2^32 per limb: 2^20 · 2^32 < 2^53). */
const NORMALIZE_EVERY = 1 << 20;
/** 2^r for r in 0..31. */
const POW2 = Float64Array.from({ length: 32 }, (_, r) => 2 ** r);
/** 2^-149, the unit of the integer sums. */
const UNIT = 2 ** -149;
/** 32 as a BigInt (no BigInt literals: the target is ES2019). */
const SHIFT = BigInt(32);

/** A JSON-safe, canonical copy of an `ExactSums`: base64 of little-endian uint32 digits per limb. */
export interface ExactSumsJSON {
  readonly size: number;
  /** Limb index → base64 of `size` little-endian uint32 digits (absent limbs are zero). */
  readonly limbs: Readonly<Record<string, string>>;
}

/** A vector of exact sums of float32 values (magnitudes; callers keep signs apart). */
export class ExactSums {
  /** Number of elements. */
  readonly size: number;
  private readonly limbs: Array<Float64Array | null> = new Array<Float64Array | null>(LIMB_COUNT).fill(null);
  private pending = 0;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`ExactSums: size must be a non-negative integer, got ${size}`);
    this.size = size;
  }

  private limb(j: number): Float64Array {
    let l = this.limbs[j];
    if (l === null) {
      l = new Float64Array(this.size);
      this.limbs[j] = l;
    }
    return l;
  }

  /** Call once per "round" in which each element receives at most one value. */
  private tick(): void {
    this.pending += 1;
    if (this.pending >= NORMALIZE_EVERY) this.normalize();
  }

  /**
   * Adds |float32| for each element `i` of `bits` (float32 bit patterns) selected by `take(bits)`;
   * one value per element at most. Non-finite values throw.
   */
  addMagnitudes(bits: Uint32Array, offset: number, wantNegative: boolean): void {
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const b = bits[offset + i];
      if ((b & 0x7fffffff) === 0) continue;
      if ((b >>> 31 === 1) !== wantNegative) continue;
      this.addBits(i, b);
    }
    this.tick();
  }

  /**
   * Adds each value of `bits` (float32 bit patterns, `positive.size` of them from `offset`) to
   * `positive` or, as a magnitude, to `negative`: one pass for both signs.
   */
  static addSigned(bits: Uint32Array, offset: number, positive: ExactSums, negative: ExactSums): void {
    const n = positive.size;
    for (let i = 0; i < n; i++) {
      const b = bits[offset + i];
      if ((b & 0x7fffffff) === 0) continue;
      if (b >>> 31 === 1) negative.addBits(i, b);
      else positive.addBits(i, b);
    }
    positive.tick();
    negative.tick();
  }

  /** Adds |x| (a float32 given by its bit pattern) to element i. */
  private addBits(i: number, b: number): void {
    const biased = (b >>> 23) & 0xff;
    if (biased === 255) throw new RangeError('ExactSums: cannot add NaN or Infinity');
    let mant = b & 0x7fffff;
    let shift: number;
    if (biased === 0) shift = 0;
    else {
      mant += 0x800000;
      shift = biased - 1;
    }
    const j = shift >>> 5;
    const v = mant * POW2[shift & 31]; // < 2^55, 24 significant bits: exact
    const high = Math.floor(v / RADIX);
    this.limb(j)[i] += v - high * RADIX;
    if (high !== 0) this.limb(j + 1)[i] += high;
  }

  /** Adds one non-negative scalar (float32 magnitude) to element `i` (its own round). */
  addScalar(i: number, value: number): void {
    const f = new Float32Array([Math.abs(value)]);
    const b = new Uint32Array(f.buffer)[0];
    if ((b & 0x7fffffff) !== 0) this.addBits(i, b);
    this.tick();
  }

  /** Propagates carries so that every digit is in [0, 2^32): the canonical state. */
  normalize(): void {
    for (let j = 0; j < LIMB_COUNT; j++) {
      const l = this.limbs[j];
      if (l === null) continue;
      for (let i = 0; i < this.size; i++) {
        const d = l[i];
        if (d >= RADIX) {
          const c = Math.floor(d / RADIX);
          l[i] = d - c * RADIX;
          if (j + 1 >= LIMB_COUNT) throw new RangeError('ExactSums: overflow (sum beyond 2^171)');
          this.limb(j + 1)[i] += c;
        }
      }
    }
    this.pending = 0;
  }

  /** Adds another sum of the same size (exact). */
  merge(other: ExactSums): void {
    if (other.size !== this.size) throw new RangeError(`ExactSums: cannot merge size ${other.size} into size ${this.size}`);
    this.normalize();
    other.normalize();
    for (let j = 0; j < LIMB_COUNT; j++) {
      const o = other.limbs[j];
      if (o === null) continue;
      const l = this.limb(j);
      for (let i = 0; i < this.size; i++) l[i] += o[i];
    }
    this.normalize();
  }

  /** The exact sum of element `i` in units of 2^-149 (normalises first if needed). */
  private big(i: number): bigint {
    let s = BigInt(0);
    for (let j = LIMB_COUNT - 1; j >= 0; j--) {
      const l = this.limbs[j];
      s <<= SHIFT;
      if (l !== null && l[i] !== 0) s += BigInt(l[i]);
    }
    return s;
  }

  /**
   * Per element, `sign · this + otherSign · other` as the nearest float64 (one rounding), or
   * just this sum when `other` is omitted.
   */
  values(other?: ExactSums, otherSign: 1 | -1 = 1): Float64Array {
    this.normalize();
    other?.normalize();
    const out = new Float64Array(this.size);
    const used = new Set<number>();
    for (const s of other === undefined ? [this] : [this, other]) s.limbs.forEach((l, j) => l !== null && used.add(j));
    if (used.size === 0) return out;
    if (used.size === 1) {
      // one limb: digits < 2^32 (their sum or difference < 2^33) times a power of two: exact
      const j = [...used][0];
      const a = this.limbs[j];
      const b = other?.limbs[j] ?? null;
      const scale = 2 ** (32 * j) * UNIT;
      for (let i = 0; i < this.size; i++) out[i] = ((a === null ? 0 : a[i]) + (b === null ? 0 : otherSign * b[i])) * scale;
      return out;
    }
    for (let i = 0; i < this.size; i++) {
      let v = this.big(i);
      if (other !== undefined) v = otherSign === 1 ? v + other.big(i) : v - other.big(i);
      out[i] = Number(v) * UNIT;
    }
    return out;
  }

  /** Whether both hold exactly the same sums. */
  equals(other: ExactSums): boolean {
    if (other.size !== this.size) return false;
    this.normalize();
    other.normalize();
    for (let j = 0; j < LIMB_COUNT; j++) {
      const a = this.limbs[j];
      const b = other.limbs[j];
      for (let i = 0; i < this.size; i++) if ((a === null ? 0 : a[i]) !== (b === null ? 0 : b[i])) return false;
    }
    return true;
  }

  /** The canonical state as JSON-safe data (limbs that are all zero are left out). */
  toJSON(): ExactSumsJSON {
    this.normalize();
    const limbs: Record<string, string> = {};
    this.limbs.forEach((l, j) => {
      if (l === null || l.every((d) => d === 0)) return;
      const u = Uint32Array.from(l);
      limbs[String(j)] = Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
    });
    return { size: this.size, limbs };
  }

  /** Restores a state written by {@link toJSON}. */
  static fromJSON(json: ExactSumsJSON): ExactSums {
    if (json === null || typeof json !== 'object' || !Number.isInteger(json.size) || json.limbs === null || typeof json.limbs !== 'object') {
      throw new TypeError('ExactSums.fromJSON: expected { size, limbs }');
    }
    const s = new ExactSums(json.size);
    for (const [key, b64] of Object.entries(json.limbs)) {
      const j = Number(key);
      if (!Number.isInteger(j) || j < 0 || j >= LIMB_COUNT || typeof b64 !== 'string') throw new TypeError(`ExactSums.fromJSON: bad limb '${key}'`);
      const buf = Buffer.from(b64, 'base64');
      if (buf.length !== 4 * json.size) throw new TypeError(`ExactSums.fromJSON: limb ${j} holds ${buf.length} bytes, expected ${4 * json.size}`);
      const l = s.limb(j);
      for (let i = 0; i < json.size; i++) l[i] = buf.readUInt32LE(4 * i);
    }
    return s;
  }
}
