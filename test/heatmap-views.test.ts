/** Non-image views: ranked features, text table, SVG bar chart, token HTML; colours equal heatmap()'s, escaping, errors. */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../src';
import { COLORMAPS, featureBarChartSvg, formatFeatureRanking, heatmap, rankFeatures, textHtml } from '../src/heatmap';
import type { ColormapName, HeatmapOptions } from '../src/heatmap';
import { BACKENDS, expectError, expectNoLeak, SYNC_BACKENDS, uniform, useBackend } from './helpers';

const NAMES = ['age', 'income', 'debt_to_income', 'tenure', 'zero'];
const REL = [0.1, 0.3, -0.412, -0.05, 0];

/** heatmap() int32 colours of a vector (one sample [1,1,T]) as [r,g,b] rows, read asynchronously (every backend). */
async function heatColors(values: number[], options: HeatmapOptions = {}): Promise<number[][]> {
  const rel = tf.tensor3d([[values]]);
  const out = heatmap(rel, { ...options, output: 'int32' });
  let data: number[];
  try {
    data = Array.from(await out.data());
  } finally {
    tf.dispose([rel, out]);
  }
  const rows: number[][] = [];
  for (let i = 0; i < data.length; i += 3) rows.push(data.slice(i, i + 3));
  return rows;
}

/** 64 values in [-3, 3) with an outlier (for clipping) and a zero, read asynchronously. */
async function colourTestValues(): Promise<number[]> {
  const t = uniform([64], 17, -3, 3);
  const values = Array.from(await t.data());
  t.dispose();
  values[5] = 40;
  values[6] = 0;
  return values;
}

/** The background colours of textHtml's tokens, in order. */
function tokenColors(html: string): number[][] {
  return [...html.matchAll(/background-color:rgb\((\d+),(\d+),(\d+)\)/g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
}

describe('rankFeatures', () => {
  test('sorted by |relevance|, shares of Σ|R|, ranks, directions, input index', () => {
    const r = rankFeatures(REL, NAMES);
    expect(r.map((f) => f.name)).toEqual(['debt_to_income', 'income', 'age', 'tenure', 'zero']);
    expect(r.map((f) => f.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(r.map((f) => f.direction)).toEqual(['against', 'for', 'for', 'against', 'neutral']);
    expect(r.map((f) => f.index)).toEqual([2, 1, 0, 3, 4]);
    const total = 0.1 + 0.3 + 0.412 + 0.05;
    expect(r[0].share).toBeCloseTo(0.412 / total, 12);
    expect(r[3].share).toBeCloseTo(0.05 / total, 12);
    expect(r.reduce((s, f) => s + f.share, 0)).toBeCloseTo(1, 12);
    expect(r[0].relevance).toBe(-0.412);
  });

  test('ties keep the input order; topK keeps shares relative to all; all zero gives share 0', () => {
    const r = rankFeatures([1, -1, 2, 1], ['a', 'b', 'c', 'd'], { topK: 2 });
    expect(r.map((f) => f.name)).toEqual(['c', 'a']);
    expect(r[0].share).toBeCloseTo(0.4, 12);
    expect(rankFeatures([1, -1, 2, 1], ['a', 'b', 'c', 'd']).map((f) => f.name)).toEqual(['c', 'a', 'b', 'd']);
    expect(rankFeatures([0, 0], ['a', 'b']).map((f) => f.share)).toEqual([0, 0]);
  });

  test('Float32Array and tf.Tensor1D inputs (the tensor is read, not disposed)', async () => {
    const t = tf.tensor1d(REL);
    expect(rankFeatures(t, NAMES).map((f) => f.name)).toEqual(rankFeatures(REL, NAMES).map((f) => f.name));
    expect(t.isDisposed).toBe(false);
    expect(rankFeatures(Float32Array.from(REL), NAMES)[0].relevance).toBeCloseTo(-0.412, 6);
    await expectNoLeak(() => rankFeatures(t, NAMES));
    t.dispose();
  });

  test('bad input: lengths, NaN, Inf, types, rank, topK', async () => {
    await expectError(() => rankFeatures([1, 2], ['a']), LrpArgumentError, /names/, /1 names for 2/);
    await expectError(() => rankFeatures([1, NaN], ['a', 'b']), LrpArgumentError, /value 1 is NaN/);
    await expectError(() => rankFeatures([1, Infinity], ['a', 'b']), LrpArgumentError, /finite/);
    await expectError(() => rankFeatures([1, 2], ['a', 3 as unknown as string]), LrpArgumentError, /name 1/);
    await expectError(() => rankFeatures('x' as unknown as number[], ['a']), LrpArgumentError, /relevance/);
    const m = tf.zeros([2, 2]);
    await expectError(() => rankFeatures(m as tf.Tensor1D, ['a', 'b']), LrpArgumentError, /Tensor1D/, /\[2,2\]/);
    m.dispose();
    await expectError(() => rankFeatures([1], ['a'], { topK: 0 }), LrpArgumentError, /topK/);
  });
});

describe('formatFeatureRanking', () => {
  test('aligned table, signed values, shares, directions; from ranking or (relevance, names)', () => {
    const text = formatFeatureRanking(REL, NAMES, { topK: 3 });
    const lines = text.split('\n');
    expect(lines.length).toBe(4);
    expect(lines[0]).toMatch(/^rank\s+feature\s+relevance\s+share\s+direction$/);
    expect(lines[1]).toMatch(/^\s+1 {2}debt_to_income\s+-0\.412\s+47\.8% {2}against$/);
    expect(lines[2]).toMatch(/^\s+2 {2}income\s+0\.300\s+34\.8% {2}for$/);
    // columns line up: direction starts at the same place, relevance ends at the same place
    expect(lines[1].indexOf('against')).toBe(lines[0].indexOf('direction'));
    expect(lines[2].indexOf('for')).toBe(lines[0].indexOf('direction'));
    expect(lines[1].indexOf('-0.412') + 6).toBe(lines[0].indexOf('relevance') + 9);
    expect(formatFeatureRanking(rankFeatures(REL, NAMES), { topK: 3, decimals: 3 })).toBe(text);
    expect(formatFeatureRanking([0], ['z'], { decimals: 2 })).toMatch(/z\s+0\.00\s+0\.0% {2}neutral/);
  });
});

describe('featureBarChartSvg', () => {
  test('one bar per feature, red for positive, blue for negative (heatmap ends), lengths ∝ |R|', async () => {
    const svg = featureBarChartSvg(REL, NAMES, { title: 'Credit <decision>' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    const bars = [...svg.matchAll(/<rect class="bar (\w+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="(#[0-9a-f]{6})"/g)];
    expect(bars.length).toBe(5);
    const [blue, red] = [(await heatColors([-1]))[0], (await heatColors([1]))[0]];
    const hex = (c: number[]): string => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
    expect(bars.map((b) => b[1])).toEqual(['against', 'for', 'for', 'against', 'neutral']);
    expect(bars[0][4]).toBe(hex(blue));
    expect(bars[1][4]).toBe(hex(red));
    expect(hex(red)).toBe('#ff0000');
    expect(hex(blue)).toBe('#0000ff');
    const widths = bars.map((b) => Number(b[3]));
    expect(widths[1] / widths[0]).toBeCloseTo(0.3 / 0.412, 2);
    expect(widths[4]).toBe(0);
    // negative bars end at the zero line, positive bars start there
    const zero = Number(/<line class="axis" x1="([\d.]+)"/.exec(svg)?.[1]);
    expect(Number(bars[0][2]) + widths[0]).toBeCloseTo(zero, 1);
    expect(Number(bars[1][2])).toBeCloseTo(zero, 1);
    expect(svg).toContain('>Credit &lt;decision&gt;</text>');
    expect(svg).toContain('>debt_to_income</text>');
    expect(svg).toContain('>-0.412</text>');
  });

  test('well-formed: tags balance; names are escaped; topK; colormap ends', () => {
    const names = ['a<b', 'x&y', '"q"', "it's", '<script>alert(1)</script>'];
    const svg = featureBarChartSvg(rankFeatures([1, 2, 3, 4, 5], names), { topK: 4, colormap: 'seismic' });
    expect(svg).not.toContain('<script');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(svg).toContain('x&amp;y');
    expect(svg).toContain('&quot;q&quot;');
    expect(svg).toContain('it&#39;s');
    expect(svg.match(/class="bar /g)?.length).toBe(4);
    expect(svg).toContain('fill="#d00000"'); // seismic's red end
    // every opened element is closed, in order (a tiny XML check)
    const stack: string[] = [];
    for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
      if (m[3] === '/') continue;
      if (m[1] === '/') expect(stack.pop()).toBe(m[2]);
      else stack.push(m[2]);
    }
    expect(stack).toEqual([]);
    expect(svg.replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toMatch(/&/);
  });

  test('all positive: zero line at the left; bad options', async () => {
    const svg = featureBarChartSvg([1, 2], ['a', 'b']);
    const zero = Number(/<line class="axis" x1="([\d.]+)"/.exec(svg)?.[1]);
    const xs = [...svg.matchAll(/class="bar \w+" x="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(xs).toEqual([zero, zero]);
    await expectError(() => featureBarChartSvg([1], ['a'], { colormap: 'nope' as ColormapName }), LrpArgumentError, /colormap/);
    await expectError(() => featureBarChartSvg([1], ['a'], { width: 10 }), LrpArgumentError, /width/);
    await expectError(() => featureBarChartSvg([{ name: 'a' }] as never), LrpArgumentError, /ranked/);
    await expectError(() => featureBarChartSvg([1, 2] as never), LrpArgumentError, /names/);
  });
});

// textHtml reads a tf.Tensor1D synchronously by design: the backends that can (webgpu: below)
describe.each(SYNC_BACKENDS)('textHtml (%s)', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  test('<script> and quotes in tokens are escaped', () => {
    const html = textHtml(['<script>alert("x")</script>', "it's", 'a&b', '>'], [1, -1, 0, 0.5], { document: true, title: '<script>t</script>' });
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('it&#39;s');
    expect(html).toContain('>a&amp;b<');
    expect(html).toContain('<title>&lt;script&gt;t&lt;/script&gt;</title>');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('class="lrp-legend-bar"');
  });

  test('colours of 0, +max, −max are heatmap()\'s midpoint, red and blue ends; values in titles', async () => {
    const html = textHtml(['neutral', 'good', 'bad'], [0, 2, -2]);
    const c = tokenColors(html);
    expect(c).toEqual(await heatColors([0, 2, -2]));
    expect(c).toEqual([[255, 255, 255], [255, 0, 0], [0, 0, 255]]);
    expect([...html.matchAll(/title="([^"]*)"/g)].map((m) => m[1])).toEqual(['0.000', '2.000', '-2.000']);
    expect(html.match(/<span class="lrp-token"/g)?.length).toBe(3);
    expect(html).toMatch(/^<span class="lrp-text">.*<\/span>$/s);
  });

  test('every colour map, normalisation and clipping: colours equal heatmap()\'s exactly', async () => {
    const values = await colourTestValues();
    const tokens = values.map((_, i) => `t${i}`);
    for (const colormap of COLORMAPS) {
      for (const normalize of ['symmetric', 'absolute', 'positive'] as const) {
        for (const clipPercentile of [undefined, 90]) {
          const html = textHtml(tokens, Float32Array.from(values), { colormap, normalize, clipPercentile });
          expect(tokenColors(html)).toEqual(await heatColors(values, { colormap, normalize, clipPercentile }));
        }
      }
    }
  });

  test('tf.Tensor1D input, separator, no leaks', async () => {
    const t = tf.tensor1d([1, -1]);
    const html = textHtml(['a', 'b'], t, { separator: '|' });
    expect(html).toContain('</span>|<span');
    expect(t.isDisposed).toBe(false);
    await expectNoLeak(() => textHtml(['a', 'b'], t, { document: true }));
    t.dispose();
  });

  test('bad input', async () => {
    await expectError(() => textHtml(['a'], [1, 2]), LrpArgumentError, /relevance/, /2 values for 1 tokens/);
    await expectError(() => textHtml(['a', 'b'], [1, NaN]), LrpArgumentError, /NaN/);
    await expectError(() => textHtml(['a', 5 as unknown as string], [1, 2]), LrpArgumentError, /tokens/, /token 1/);
    await expectError(() => textHtml(['a'], [1], { clipPercentile: 0 }), LrpArgumentError, /clipPercentile/);
    await expectError(() => textHtml(['a'], [1], { normalize: 'max' as never }), LrpArgumentError, /normalize/);
    await expectError(() => textHtml(['a'], [1], { colormap: 'jet' as ColormapName }), LrpArgumentError, /colormap/);
    await expectError(() => textHtml('abc' as unknown as string[], [1]), LrpArgumentError, /tokens/);
  });
});

// webgpu (in Node) reads asynchronously only: a tensor computed there cannot be passed to the
// synchronous textHtml, its values can. Last in the file: tensors do not move back from webgpu.
(BACKENDS.includes('webgpu') ? describe : describe.skip)('textHtml (webgpu): asynchronous reads only', () => {
  test('a tensor on the GPU: a clear LrpArgumentError; await tensor.data(): the same HTML as cpu, heatmap()\'s colours', async () => {
    const values = await colourTestValues();
    const tokens = values.map((_, i) => `t${i}`);
    const options = { colormap: 'coldnhot', normalize: 'symmetric', clipPercentile: 90 } as const;
    await useBackend('cpu');
    const onCpu = tf.tensor1d(values);
    const cpuHtml = textHtml(tokens, onCpu, options);
    const cpuRanking = rankFeatures(onCpu, tokens);
    onCpu.dispose();

    await useBackend('webgpu');
    // computed on the GPU (×1, exact; tiled to 2048 values, over webgpu's hand-off-to-cpu size), so it lives there only
    const onGpu = tf.tidy(() => tf.mul(tf.tile(tf.tensor1d(values), [32]), 1).slice([0], [values.length]) as tf.Tensor1D);
    expect(() => onGpu.dataSync()).toThrow(/OffscreenCanvas/); // the premise: no synchronous read
    const err = await expectError(() => textHtml(tokens, onGpu, options), LrpArgumentError, /relevance/, /synchronously/, /await relevance\.data\(\)/, /webgpu/);
    expect(err.message).not.toMatch(/may be wrong/);
    await expectError(() => rankFeatures(onGpu, tokens), LrpArgumentError, /await relevance\.data\(\)/);
    expect(onGpu.isDisposed).toBe(false);

    const read = await onGpu.data();
    expect(read).toBeInstanceOf(Float32Array);
    const html = textHtml(tokens, read as Float32Array, options);
    expect(html).toBe(cpuHtml);
    expect(rankFeatures(read as Float32Array, tokens)).toEqual(cpuRanking);
    // and the colours equal those of heatmap() computed on webgpu, exactly
    expect(tokenColors(html)).toEqual(await heatColors(values, options));
    onGpu.dispose();
  });
});
