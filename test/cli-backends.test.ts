/**
 * `tfjs-lrp explain --backend webgpu` (WebGPU through Dawn, one worker) on the digits fixture
 * gives the relevance of `--backend cpu` within 1e-3 · max|R|; `--backend tensorflow` without
 * @tensorflow/tfjs-node installed is a usage error (exit 2) that names the package and how to
 * install it. Runs main() in this process.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { readNpy } from '../src/node';
import { encodeNpy } from '../src/node/batch/npy';
import { runCli, type CliResult } from './support/cli';
import { digitSet } from '../scripts/digits-data';
import { expectClose, WEBGPU_IN_NODE } from './helpers';

const MODEL = path.join(__dirname, '..', 'fixtures', 'digits');
let tmp: string;

/** Runs main() in this process, capturing its output. */
const cli = (...argv: string[]): Promise<CliResult> => runCli(tmp, argv);

const tfjsNodeInstalled = (() => {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-cli-backends-'));
  const set = digitSet('heldOut');
  fs.writeFileSync(path.join(tmp, 'digits.npy'), encodeNpy(set.pixels.slice(0, 8 * 784), [8, 28, 28, 1]));
});

afterAll(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await tf.setBackend('cpu');
});

(tfjsNodeInstalled ? test.skip : test)('--backend tensorflow without @tensorflow/tfjs-node: exit 2, names the package and the install command', async () => {
  const r = await cli('explain', '--model', MODEL, '--input', path.join(tmp, 'digits.npy'), '--out', path.join(tmp, 'tf-out'), '-q', '--backend', 'tensorflow');
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/@tensorflow\/tfjs-node is not installed/);
  expect(r.stderr).toMatch(/npm install @tensorflow\/tfjs-node/);
  expect(fs.existsSync(path.join(tmp, 'tf-out', 'summary.json'))).toBe(false);
});

test('--help lists webgpu among the backends', async () => {
  const r = await cli('explain', '--help');
  expect(r.stdout).toMatch(/--backend <name>[\s\S]*webgpu/);
});

(WEBGPU_IN_NODE ? test : test.skip)('--backend webgpu: one worker, relevance = --backend cpu within 1e-3 max|R|', async () => {
  // Mesa reads EGL_PLATFORM from the real environment (see test/support/webgpu-node.ts)
  (require('./support/webgpu-node') as typeof import('./support/webgpu-node')).prepareWebGPUEnv();
  const run = (backend: string, ...extra: string[]) => cli('explain', '--model', MODEL, '--input', path.join(tmp, 'digits.npy'), '--out', path.join(tmp, backend), '--batch', '4', '--save-relevance', '--composite', 'epsilonGammaBox', '--low', '0', '--high', '1', '--progress', 'none', '--backend', backend, ...extra);
  const cpu = await run('cpu', '--workers', '1');
  expect(cpu.code).toBe(0);
  const gpu = await run('webgpu', '--workers', '2');
  expect(gpu.stderr).toMatch(/--workers 2 ignored: webgpu runs in one thread/);
  expect(gpu.stderr).toMatch(/^backend: webgpu \(.+\), 1 worker/m);
  expect(gpu.stdout).toMatch(/done: 8 explained, 0 failed/);
  expect(gpu.code).toBe(0);
  expect(tf.findBackend('webgpu')).toBeNull(); // the run released the device
  for (let i = 0; i < 8; i++) {
    const a = readNpy(path.join(tmp, 'webgpu', 'relevance', 'digits', `${i}.npy`));
    const b = readNpy(path.join(tmp, 'cpu', 'relevance', 'digits', `${i}.npy`));
    expect(a.shape).toEqual([28, 28, 1]);
    expectClose(a.data, b.data, 1e-3, `digit ${i}`);
  }
  const summaryOf = (b: string) => JSON.parse(fs.readFileSync(path.join(tmp, b, 'summary.json'), 'utf8')) as { items: Array<{ class: number }> };
  expect(summaryOf('webgpu').items.map((i) => i.class)).toEqual(summaryOf('cpu').items.map((i) => i.class));
});
