/**
 * Max pooling's relevance (all of each window's upper value to its first maximum in row-major
 * window order, the rule of src/ops/pool.ts) as one GPU shader on the WebGPU and WebGL backends,
 * where the same from basic ops takes 5–12 kernels and each kernel costs a dispatch.
 *
 * The shaders are one tfjs kernel, {@link MAX_POOL_RELEVANCE_KERNEL}, registered for each of the two
 * backend names on its first use there (`tf.registerKernel`), so tf.tidy tracks the result and
 * tf.profile lists it like any other kernel. The backends are duck-typed (the program methods
 * `runWebGPUProgram` and `runWebGLProgram` that tfjs' own kernels call): neither backend package is
 * imported here, so a bundle of tfjs-lrp does not pull one in. Float comparisons decide where dy
 * goes, so windows that tile the input get exact copies of dy on any device; where windows overlap,
 * a position sums the dy of up to ⌈ph/sh⌉·⌈pw/sw⌉ windows in float32 (in its own order, as the
 * basic-op routes do in theirs). WebGL 1 (GLSL ES 1.00: no integer `%`, constant loop bounds only)
 * and windows of more than {@link MAX_UNROLLED_WINDOW} positions keep the basic-op routes. Compared
 * with Node's cpu backend on inputs full of ties by test/ops.test.ts (WebGPU in Node) and the
 * browser conformance suite (WebGL and WebGPU).
 */
import * as tf from '@tensorflow/tfjs';

/** The tfjs kernel name of the shaders (inputs `x`, `pooled`, `dy`; attrs {@link MaxPoolGeometry}). */
export const MAX_POOL_RELEVANCE_KERNEL = 'TfjsLrpMaxPoolRelevance';

/** Window, strides and the padding before the first row and column of one max pool. */
interface MaxPoolGeometry {
  readonly pool: readonly [number, number];
  readonly strides: readonly [number, number];
  /** Rows above and columns left of the input that the windows cover (TensorFlow padding). */
  readonly before: readonly [number, number];
}

/** What tfjs-backend-webgpu 4.22 reads of a program (its exported `WebGPUProgram` type). */
interface WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  size: boolean;
  getUserCode: () => string;
}

/** What tfjs-backend-webgl 4.22 reads of a program (its `GPGPUProgram`). */
interface WebGLProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
}

interface WebGPUBackendLike {
  runWebGPUProgram(program: WebGPUProgram, inputs: tf.TensorInfo[], outputDtype: tf.DataType): tf.TensorInfo;
}

interface WebGLBackendLike {
  runWebGLProgram(program: WebGLProgram, inputs: tf.TensorInfo[], outputDtype: tf.DataType): tf.TensorInfo;
}

function hasMethod<K extends string>(backend: unknown, name: K): backend is Record<K, (...args: never[]) => unknown> {
  return typeof backend === 'object' && backend !== null && typeof (backend as Record<string, unknown>)[name] === 'function';
}

/**
 * The largest window (positions) the shaders take: the tiling shaders spell out each position of a
 * window, so a huge window (a converted graph's MaxPool over a whole feature map, say) would make a
 * huge shader; such pools are rare and keep the basic-op routes.
 */
export const MAX_UNROLLED_WINDOW = 64;

/** The backends with a shader here, by tf backend name, and the method that runs one. */
const SHADER_METHOD: Readonly<Record<string, 'runWebGPUProgram' | 'runWebGLProgram'>> = { webgpu: 'runWebGPUProgram', webgl: 'runWebGLProgram' };

/**
 * `Jᵀ dy` of max pooling by one shader on the active backend, or null where there is none (any
 * backend but WebGPU and WebGL). `x` is the pool's NHWC input, `pooled` its output (the forward's own
 * result: its values are exactly some of x's), `dy` of pooled's shape.
 */
export function maxPoolTransposeByShader(x: tf.Tensor4D, pooled: tf.Tensor4D, dy: tf.Tensor4D, geometry: MaxPoolGeometry): tf.Tensor4D | null {
  const name = tf.getBackend();
  const method = SHADER_METHOD[name];
  if (method === undefined || !hasMethod(tf.backend(), method)) return null;
  if (method === 'runWebGLProgram' && tf.env().getNumber('WEBGL_VERSION') !== 2) return null;
  if (geometry.pool[0] * geometry.pool[1] > MAX_UNROLLED_WINDOW) return null;
  if (tf.getKernel(MAX_POOL_RELEVANCE_KERNEL, name) === undefined) {
    tf.registerKernel({ kernelName: MAX_POOL_RELEVANCE_KERNEL, backendName: name, kernelFunc: method === 'runWebGPUProgram' ? runOnWebGPU : runOnWebGL });
  }
  const attrs = { pool: [...geometry.pool], strides: [...geometry.strides], before: [...geometry.before] };
  return tf.engine().runKernel(MAX_POOL_RELEVANCE_KERNEL, { x, pooled, dy }, attrs) as tf.Tensor4D;
}

function geometryOf(attrs: tf.NamedAttrMap): { pool: [number, number]; strides: [number, number]; before: [number, number] } {
  const pair = (key: string): [number, number] => {
    const v = attrs[key] as number[];
    return [v[0], v[1]];
  };
  return { pool: pair('pool'), strides: pair('strides'), before: pair('before') };
}

function tensorInfos(inputs: tf.NamedTensorInfoMap): { x: tf.TensorInfo; pooled: tf.TensorInfo; dy: tf.TensorInfo } {
  const { x, pooled, dy } = inputs;
  if (x === undefined || pooled === undefined || dy === undefined) throw new Error(`internal: ${MAX_POOL_RELEVANCE_KERNEL} needs x, pooled and dy`);
  return { x, pooled, dy };
}

const runOnWebGPU: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, pooled, dy } = tensorInfos(inputs);
  const geometry = geometryOf(attrs ?? {});
  const gpu = backend as unknown as WebGPUBackendLike;
  return tilesExactly(x.shape, geometry.pool, geometry.strides) ? gpu.runWebGPUProgram(webgpuTilesProgram(x.shape, geometry.pool), [x, dy], 'float32') : gpu.runWebGPUProgram(webgpuWindowsProgram(x.shape, geometry), [x, pooled, dy], 'float32');
};

const runOnWebGL: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, pooled, dy } = tensorInfos(inputs);
  const geometry = geometryOf(attrs ?? {});
  const gl = backend as unknown as WebGLBackendLike;
  return tilesExactly(x.shape, geometry.pool, geometry.strides) ? gl.runWebGLProgram(webglTilesProgram(x.shape, geometry.pool), [x, dy], 'float32') : gl.runWebGLProgram(webglProgram(x.shape, pooled.shape, geometry), [x, pooled, dy], 'float32');
};

/**
 * Whether the windows tile the input: stride = window and no rows or columns left over (then
 * TensorFlow's 'same' padding is zero too, so both paddings give the same windows).
 */
export function tilesExactly(shape: readonly number[], pool: readonly [number, number], strides: readonly [number, number]): boolean {
  return pool[0] === strides[0] && pool[1] === strides[1] && shape[1] % pool[0] === 0 && shape[2] % pool[1] === 0;
}

/**
 * WebGL, windows that tile the input: each output position reads its one window, picks the first
 * maximum (`>`) and keeps dy if that is itself. No loops, no pooled values.
 */
function webglTilesProgram(xShape: number[], pool: readonly [number, number]): WebGLProgram {
  const [ph, pw] = pool;
  const offsets = windowOffsets(pool);
  return {
    variableNames: ['x', 'dy'],
    outputShape: xShape,
    userCode: `
    void main() {
      ivec4 coords = getOutputCoords();
      int b = coords.x;
      int d = coords.w;
      int oy = coords.y / ${ph};
      int ox = coords.z / ${pw};
      int top = oy * ${ph};
      int left = ox * ${pw};
      int own = (coords.y - top) * ${pw} + coords.z - left;
      ${offsets.map(([k, i, j]) => `float v${k} = getX(b, top + ${i}, left + ${j}, d);`).join('\n      ')}
      float best = v0;
      int at = 0;
      ${offsets.slice(1).map(([k]) => `if (v${k} > best) { best = v${k}; at = ${k}; }`).join('\n      ')}
      setOutput(at == own ? getDy(b, oy, ox, d) : 0.0);
    }`,
  };
}

const WORKGROUP = 64;

/** `[k, i, j]` for the k-th position (i, j) of a window in row-major order. */
function windowOffsets(pool: readonly [number, number]): Array<[number, number, number]> {
  const offsets: Array<[number, number, number]> = [];
  for (let i = 0; i < pool[0]; i++) for (let j = 0; j < pool[1]; j++) offsets.push([i * pool[1] + j, i, j]);
  return offsets;
}

/**
 * WebGPU, windows that tile the input: one invocation per window reads its values, picks the first
 * maximum (`>`: a later equal value does not replace it) and writes every position of the window,
 * dy at that maximum and 0 elsewhere. Each input position belongs to exactly one window, so every
 * output value is written once. Shapes come from tfjs' uniforms (no pipeline per batch size).
 * 2×2 windows on [8, 32, 32, 32]: WebGPU in Node (Dawn on llvmpipe) 1.6 ms against 9–12 ms for the
 * rank-4 routing of basic ops it replaced, Chromium (SwiftShader) 2.5 against 29.5 ms.
 */
function webgpuTilesProgram(xShape: number[], pool: readonly [number, number]): WebGPUProgram {
  const [ph, pw] = pool;
  const offsets = windowOffsets(pool);
  const windows = xShape.reduce((a, b) => a * b, 1) / (ph * pw);
  const code = `
  fn main(index : i32) {
    let count = uniforms.size / ${ph * pw};
    if (index < count) {
      let H = uniforms.xShape[1];
      let W = uniforms.xShape[2];
      let C = uniforms.xShape[3];
      let outW = W / ${pw};
      let outH = H / ${ph};
      let d = index % C;
      let ox = (index / C) % outW;
      let oy = (index / (C * outW)) % outH;
      let b = index / (C * outW * outH);
      let top = oy * ${ph};
      let left = ox * ${pw};
      ${offsets.map(([k, i, j]) => `let v${k} = getX(b, top + ${i}, left + ${j}, d);`).join('\n      ')}
      var best = v0;
      var at = 0;
      ${offsets.slice(1).map(([k]) => `if (v${k} > best) { best = v${k}; at = ${k}; }`).join('\n      ')}
      let g = getDy(b, oy, ox, d);
      ${offsets.map(([k, i, j]) => `setOutputAtIndex(((b * H + top + ${i}) * W + left + ${j}) * C + d, select(0.0, g, at == ${k}));`).join('\n      ')}
    }
  }`;
  return {
    outputShape: xShape,
    shaderKey: `tfjsLrpMaxPoolTiles_${ph}_${pw}`,
    dispatchLayout: { x: xShape.map((_, i) => i) },
    dispatch: [Math.ceil(windows / WORKGROUP), 1, 1],
    variableNames: ['x', 'dy'],
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => code,
  };
}

/**
 * The body shared by the WebGPU and WebGL shaders for any windows: one invocation per input
 * position sums dy over the windows that hold it and whose first maximum it is (its value equals the
 * window's pooled value and no earlier in-bounds position of the window holds that value).
 * `lang` picks the syntax; the arithmetic is the same.
 */
function windowsBody(geometry: MaxPoolGeometry, lang: 'wgsl' | 'glsl', dims: { H: string; W: string; outH: string; outW: string }): string {
  const [ph, pw] = geometry.pool;
  const [sh, sw] = geometry.strides;
  const [pt, pl] = geometry.before;
  const int = lang === 'wgsl' ? 'let' : 'int';
  const mutInt = lang === 'wgsl' ? 'var' : 'int';
  const bool = lang === 'wgsl' ? 'var' : 'bool';
  const float = lang === 'wgsl' ? 'let' : 'float';
  const floatVar = lang === 'wgsl' ? 'var' : 'float';
  return `
      ${float} v = getX(b, r, c, d);
      ${floatVar} total = 0.0;
      for (${mutInt} i = 0; i < ${ph}; i++) {
        ${int} yr = r + ${pt} - i;
        if (yr < 0 || yr % ${sh} != 0) { continue; }
        ${int} oy = yr / ${sh};
        if (oy >= ${dims.outH}) { continue; }
        for (${mutInt} j = 0; j < ${pw}; j++) {
          ${int} yc = c + ${pl} - j;
          if (yc < 0 || yc % ${sw} != 0) { continue; }
          ${int} ox = yc / ${sw};
          if (ox >= ${dims.outW}) { continue; }
          ${float} m = getPooled(b, oy, ox, d);
          if (v != m) { continue; }
          ${int} top = oy * ${sh} - ${pt};
          ${int} left = ox * ${sw} - ${pl};
          ${bool} first = true;
          for (${mutInt} k = 0; k < i * ${pw} + j; k++) {
            ${int} pr = top + k / ${pw};
            ${int} pc = left + k % ${pw};
            if (pr >= 0 && pr < ${dims.H} && pc >= 0 && pc < ${dims.W} && getX(b, pr, pc, d) == m) { first = false; break; }
          }
          if (first) { total += getDy(b, oy, ox, d); }
        }
      }`;
}

/**
 * WebGPU, windows that overlap, skip positions or reach into the padding: {@link windowsBody}.
 * Slower per value than {@link webgpuTilesProgram} (loops, branches), still well ahead of the
 * basic-op routing: 3×3 windows of stride 2, 'same', on [8, 32, 32, 32] in Chromium 49 against 177 ms.
 */
function webgpuWindowsProgram(xShape: number[], geometry: MaxPoolGeometry): WebGPUProgram {
  const body = windowsBody(geometry, 'wgsl', { H: 'uniforms.xShape[1]', W: 'uniforms.xShape[2]', outH: 'uniforms.pooledShape[1]', outW: 'uniforms.pooledShape[2]' });
  const code = `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let coords = getCoordsFromIndex(index);
      let b = coords[0];
      let r = coords[1];
      let c = coords[2];
      let d = coords[3];${body}
      setOutputAtIndex(index, total);
    }
  }`;
  return {
    outputShape: xShape,
    shaderKey: `tfjsLrpMaxPoolWindows_${[...geometry.pool, ...geometry.strides, ...geometry.before].join('_')}`,
    dispatchLayout: { x: xShape.map((_, i) => i) },
    dispatch: [Math.ceil(xShape.reduce((a, b) => a * b, 1) / WORKGROUP), 1, 1],
    variableNames: ['x', 'pooled', 'dy'],
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => code,
  };
}

/** WebGL: {@link windowsBody} for every geometry, shapes as constants (tfjs keys its shader cache by the code and shapes). */
function webglProgram(xShape: number[], pooledShape: number[], geometry: MaxPoolGeometry): WebGLProgram {
  const body = windowsBody(geometry, 'glsl', { H: String(xShape[1]), W: String(xShape[2]), outH: String(pooledShape[1]), outW: String(pooledShape[2]) });
  return {
    variableNames: ['x', 'pooled', 'dy'],
    outputShape: xShape,
    userCode: `
    void main() {
      ivec4 coords = getOutputCoords();
      int b = coords.x;
      int r = coords.y;
      int c = coords.z;
      int d = coords.w;${body}
      setOutput(total);
    }`,
  };
}
