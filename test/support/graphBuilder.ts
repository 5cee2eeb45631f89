/**
 * A tiny hand builder of graph-model artifacts (the GraphDef JSON the TF converter writes, with
 * its weights), for op-by-op tests: `tf.loadGraphModel(tf.io.fromMemory(b.artifacts()))`.
 */
import * as tf from '@tensorflow/tfjs';

/** One attribute value (protobuf JSON mapping). */
export type Attr = Record<string, unknown>;

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
/** A string attribute. */
export const str = (s: string): Attr => ({ s: b64(s) });
/** An int list attribute. */
export const ints = (v: number[]): Attr => ({ list: { i: v.map(String) } });
/** A string list attribute. */
export const strs = (v: string[]): Attr => ({ list: { s: v.map(b64) } });
/** An int attribute. */
export const int = (v: number): Attr => ({ i: String(v) });
/** A float attribute. */
export const float = (v: number): Attr => ({ f: v });
/** A bool attribute. */
export const bool = (v: boolean): Attr => ({ b: v });
const DT_FLOAT: Attr = { type: 'DT_FLOAT' };

/** Conv-style attributes: strides, padding, NHWC, dilations. */
export function convAttrs(stride: number, padding: 'SAME' | 'VALID', extra: Record<string, Attr> = {}): Record<string, Attr> {
  return { T: DT_FLOAT, strides: ints([1, stride, stride, 1]), padding: str(padding), data_format: str('NHWC'), dilations: ints([1, 1, 1, 1]), explicit_paddings: ints([]), ...extra };
}

/** Fused-op attributes (`_FusedConv2D`, `_FusedMatMul`, `FusedDepthwiseConv2dNative`). */
export function fused(ops: string[], numArgs = 1, alpha = 0.2): Record<string, Attr> {
  return { fused_ops: strs(ops), num_args: int(numArgs), epsilon: float(0), leakyrelu_alpha: float(alpha) };
}

interface Node {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, Attr>;
}

/** Builds a graph: placeholders, constants (weights), ops; `artifacts()` gives what fromMemory loads. */
export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly specs: tf.io.WeightsManifestEntry[] = [];
  private readonly chunks: ArrayBuffer[] = [];
  private readonly values = new Map<string, Float32Array>();

  /** The values of a constant (for building a layers twin with the same weights). */
  valuesOf(name: string): Float32Array {
    const v = this.values.get(name);
    if (v === undefined) throw new Error(`no constant ${name}`);
    return v;
  }

  /** A float32 placeholder (`-1` for the batch). */
  input(name: string, shape: number[]): string {
    this.nodes.push({ name, op: 'Placeholder', input: [], attr: { dtype: DT_FLOAT, shape: { shape: { dim: shape.map((d) => ({ size: String(d) })) } } } });
    return name;
  }

  /** A constant with its values (float32 unless `dtype` is int32). */
  constant(name: string, shape: number[], data: ArrayLike<number>, dtype: 'float32' | 'int32' = 'float32'): string {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`constant ${name}: ${data.length} values for shape [${shape}]`);
    const typed = dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data);
    this.values.set(name, Float32Array.from(data));
    this.chunks.push(typed.buffer.slice(0));
    this.specs.push({ name, shape, dtype });
    this.nodes.push({ name, op: 'Const', input: [], attr: { dtype: { type: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' }, value: { tensor: { dtype: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } } });
    return name;
  }

  /** A float32 constant of seeded uniform values in [lo, hi). */
  random(name: string, shape: number[], seed: number, lo = -1, hi = 1): string {
    let s = seed >>> 0;
    const next = () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
    const size = shape.reduce((a, b) => a * b, 1);
    return this.constant(name, shape, Array.from({ length: size }, () => lo + (hi - lo) * next()));
  }

  /** An int32 constant (shapes, axes, paddings). */
  ints(name: string, values: number[], shape: number[] = [values.length]): string {
    return this.constant(name, shape, values, 'int32');
  }

  /** An op node; returns its name. */
  op(op: string, name: string, inputs: string[], attr: Record<string, Attr> = {}): string {
    this.nodes.push({ name, op, input: inputs, attr: { T: DT_FLOAT, ...attr } });
    return name;
  }

  /** The artifacts (no signature: the outputs are the nodes nothing reads). */
  artifacts(): tf.io.ModelArtifacts {
    const total = this.chunks.reduce((n, c) => n + c.byteLength, 0);
    const data = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) {
      data.set(new Uint8Array(c), at);
      at += c.byteLength;
    }
    return { format: 'graph-model', generatedBy: 'test', convertedBy: 'graphBuilder', modelTopology: { node: this.nodes, versions: { producer: 1395 }, library: {} }, weightSpecs: [...this.specs], weightData: data.buffer };
  }

  /** The graph model. */
  async load(): Promise<tf.GraphModel> {
    return tf.loadGraphModel(tf.io.fromMemory(this.artifacts()));
  }
}
