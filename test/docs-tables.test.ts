/**
 * The generated tables of README.md and docs/ (scripts/docs-tables.ts): every
 * `<!-- tables:NAME -->` block matches the registries (so CI fails when a table drifts), the
 * tables cover every registered rule, composite, layer class and explain option, and the marker
 * machinery rewrites, checks and rejects what it should.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { COMPOSITE_NAMES, describe as describePlan, layerClassNames, ruleNames } from '../src';
import type { ExplainOptions } from '../src';
import { fillTables, findBlocks, markdownFiles, splitDefault, TABLES, updateTables } from '../scripts/docs-tables';

const ROOT = path.join(__dirname, '..');

/** The first cell of each body row of a markdown table, without backticks. */
function firstColumn(table: string): string[] {
  return table
    .split('\n')
    .slice(2)
    .map((l) => l.split('|')[1].trim().replace(/`/g, ''));
}

test('every tables block in README.md and docs/ is up to date (npm run docs:tables)', () => {
  const { stale, blocks } = updateTables({ check: true });
  console.log(`docs tables: ${blocks} block(s) in ${markdownFiles().join(', ')}`);
  expect(stale).toEqual([]);
});

test('the tables list every registered rule, composite and layer class', () => {
  expect(firstColumn(TABLES.rules())).toEqual(ruleNames());
  expect(firstColumn(TABLES.composites())).toEqual(COMPOSITE_NAMES);
  expect(firstColumn(TABLES.layers())).toEqual(layerClassNames());
});

test('the options table lists exactly the options explain() accepts, each with a default', () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2 })] });
  let message = '';
  try {
    describePlan(model, { notAnOption: 1 } as unknown as ExplainOptions);
  } catch (e) {
    message = (e as Error).message;
  }
  const known = /Known options: ([^.]+)\./.exec(message);
  expect(known).not.toBeNull();
  const accepted = (known as RegExpExecArray)[1].split(',').map((s) => s.trim());
  const rows = TABLES.options().split('\n').slice(2);
  expect(firstColumn(TABLES.options()).sort()).toEqual([...accepted].sort());
  for (const row of rows) expect(row.split('|')[2].trim()).not.toBe('');
  model.dispose();
});

test('splitDefault reads "Default X." and "`x` (default)"', () => {
  expect(splitDefault('γ of the gamma rule. Default 0.25.')).toEqual({ defaultValue: '0.25', description: 'γ of the gamma rule.' });
  expect(splitDefault("`'lrp'` (default), or a gradient method.").defaultValue).toBe("`'lrp'`");
  expect(splitDefault('No default here.').defaultValue).toBe('—');
});

test('fillTables replaces a stale block and leaves the rest of the file alone', () => {
  const text = 'intro\n<!-- tables:rules -->\nold table\n<!-- /tables:rules -->\noutro\n';
  const filled = fillTables(text, (name) => `TABLE ${name}`);
  expect(filled).toBe('intro\n<!-- tables:rules -->\nTABLE rules\n<!-- /tables:rules -->\noutro\n');
  expect(fillTables(filled, (name) => `TABLE ${name}`)).toBe(filled);
  expect(() => findBlocks('<!-- tables:nope -->\n<!-- /tables:nope -->', 'x.md')).toThrow(/x\.md:1: unknown table 'nope'/);
  expect(() => findBlocks('a\n<!-- tables:rules -->\n', 'x.md')).toThrow(/x\.md:2: .*no closing/);
});

test('--check exits 1 and names the stale block; a rewrite makes it pass', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-tables-'));
  try {
    fs.mkdirSync(path.join(dir, 'docs'));
    fs.writeFileSync(path.join(dir, 'README.md'), '# x\n\n<!-- tables:composites -->\n| stale |\n<!-- /tables:composites -->\n');
    fs.writeFileSync(path.join(dir, 'docs', 'a.md'), 'no tables here\n');
    const script = ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'scripts', 'docs-tables.ts'), '--root', dir];
    const run = (extra: string[]) => {
      try {
        return { code: 0, out: execFileSync(process.execPath, [...script, ...extra], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' }) };
      } catch (e) {
        const err = e as { status: number; stderr: string; stdout: string };
        return { code: err.status, out: `${err.stdout}${err.stderr}` };
      }
    };
    const stale = run(['--check']);
    expect(stale.code).toBe(1);
    expect(stale.out).toMatch(/README\.md:3 tables:composites/);
    expect(run([]).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toContain(TABLES.composites());
    expect(run(['--check']).code).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60000);
