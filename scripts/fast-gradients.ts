import * as tf from '@tensorflow/tfjs';

/**
 * Faster gradients for the two ops whose cpu-backend gradients dominate training time (the
 * cpu kernels Conv2DBackpropFilter/Input take 0.5–2 s per batch of 32 for the digits CNN):
 * Conv2D ('same' padding, stride 1, odd kernel, NHWC) and MaxPool (2×2, stride 2, 'valid', even
 * sizes), as plain loops over the tensors' data. Other configurations use tfjs's own gradients.
 * The values equal tfjs's up to float rounding (max-pool ties go to the first maximum, as in tfjs).
 * Used by scripts/train-digits.ts only; it changes the global gradient registry of the process.
 */
export function installFastGradients(): void {
  const conv = tf.getGradient('Conv2D');
  const pool = tf.getGradient('MaxPool');
  const all = (v: unknown, want: number) => (Array.isArray(v) ? v : [v]).every((s) => s === want);
  tf.registerGradient({
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, w] = saved as [tf.Tensor4D, tf.Tensor4D];
      const a = attrs as unknown as { strides: unknown; pad: unknown; dilations: unknown; dataFormat: string };
      const [kh, kw, c, f] = w.shape;
      if (!(a.pad === 'same' && all(a.strides, 1) && all(a.dilations, 1) && a.dataFormat === 'NHWC' && kh % 2 === 1 && kw % 2 === 1)) return conv.gradFunc(dy, saved, attrs);
      const [n, h, wd] = x.shape;
      const ph = (kh - 1) / 2;
      const pw = (kw - 1) / 2;
      // visit(xOffset, wOffset, dyOffset) for every (sample, output pixel, kernel tap) inside the image
      const each = (visit: (xo: number, wo: number, go: number) => void) => {
        for (let b = 0; b < n; b++)
          for (let y = 0; y < h; y++)
            for (let z = 0; z < wd; z++) {
              const go = ((b * h + y) * wd + z) * f;
              for (let i = 0; i < kh; i++) {
                const iy = y + i - ph;
                if (iy < 0 || iy >= h) continue;
                for (let j = 0; j < kw; j++) {
                  const iz = z + j - pw;
                  if (iz < 0 || iz >= wd) continue;
                  visit(((b * h + iy) * wd + iz) * c, (i * kw + j) * c * f, go);
                }
              }
            }
      };
      return {
        x: () => {
          const g = (dy as tf.Tensor).dataSync() as Float32Array;
          const wv = w.dataSync() as Float32Array;
          const dx = new Float32Array(x.size);
          each((xo, wo, go) => {
            for (let k = 0; k < c; k++) {
              let acc = 0;
              const wk = wo + k * f;
              for (let m = 0; m < f; m++) acc += wv[wk + m] * g[go + m];
              dx[xo + k] += acc;
            }
          });
          return tf.tensor4d(dx, x.shape);
        },
        filter: () => {
          const g = (dy as tf.Tensor).dataSync() as Float32Array;
          const xv = x.dataSync() as Float32Array;
          const dw = new Float64Array(w.size);
          each((xo, wo, go) => {
            for (let k = 0; k < c; k++) {
              const v = xv[xo + k];
              if (v === 0) continue;
              const wk = wo + k * f;
              for (let m = 0; m < f; m++) dw[wk + m] += v * g[go + m];
            }
          });
          return tf.tensor4d(Float32Array.from(dw), w.shape);
        },
      };
    },
  });
  tf.registerGradient({
    kernelName: 'MaxPool',
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor4D];
      const a = attrs as unknown as { filterSize: unknown; strides: unknown; pad: unknown };
      const [n, h, w, c] = x.shape;
      if (!(all(a.filterSize, 2) && all(a.strides, 2) && a.pad === 'valid' && h % 2 === 0 && w % 2 === 0)) return pool.gradFunc(dy, saved, attrs);
      return {
        x: () => {
          const xv = x.dataSync() as Float32Array;
          const g = (dy as tf.Tensor).dataSync() as Float32Array;
          const dx = new Float32Array(x.size);
          const oh = h / 2;
          const ow = w / 2;
          for (let b = 0; b < n; b++)
            for (let y = 0; y < oh; y++)
              for (let z = 0; z < ow; z++)
                for (let k = 0; k < c; k++) {
                  let best = -1;
                  let bestV = -Infinity;
                  for (let i = 0; i < 2; i++)
                    for (let j = 0; j < 2; j++) {
                      const o = ((b * h + 2 * y + i) * w + 2 * z + j) * c + k;
                      if (xv[o] > bestV || best < 0) {
                        bestV = xv[o];
                        best = o;
                      }
                    }
                  dx[best] += g[((b * oh + y) * ow + z) * c + k];
                }
          return tf.tensor4d(dx, x.shape);
        },
      };
    },
  });
}
