/**
 * Every fenced code block of README.md runs as written, from the repository root:
 *
 * - ```ts / ```js blocks type-check (tsc) and run with ts-node; the only change made to the text
 *   is that the package specifiers (`tfjs-lrp`, `tfjs-lrp/heatmap`, …) point at the repository's
 *   src/ (the entries of package.json "exports").
 * - ```sh / ```bash blocks run with bash -e in the repository root, with dist/ built and the
 *   `tfjs-lrp` command on PATH (so `npx tfjs-lrp …` works too).
 * - Skipped, and printed with the reason: blocks that install or clone (npm ci, npm install,
 *   git clone, …) and blocks whose fence has `<!-- readme-test: skip (reason) -->` on the line
 *   before. Blocks in other languages (json, html, text, …) are listed as not run.
 *
 * The blocks write under out/ (created here first) or a temporary folder.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBuilt, ROOT } from './support/build';

/** A fenced code block of a markdown file. */
export interface CodeBlock {
  /** 1-based index among the file's blocks. */
  readonly index: number;
  /** Line of the opening fence (1-based). */
  readonly line: number;
  /** The info string's first word, lower case ('' for none). */
  readonly lang: string;
  readonly code: string;
  /** Why it is not run, or null. */
  readonly skip: string | null;
}

const TS_LANGS = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs', 'cjs']);
const SHELL_LANGS = new Set(['sh', 'bash', 'shell']);
const INSTALLS = /(^|[\s;&|(])(npm\s+(ci|install|i|add)\b|git\s+clone\b|yarn\s+(add|install)\b|pnpm\s+(add|install|i)\b|npx\s+--yes\b)/m;
const SKIP_MARK = /^<!--\s*readme-test:\s*skip\s*(?:\((.*)\))?\s*-->$/;

/** The fenced blocks of `markdown`, with the reason each is skipped (or null). */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (open === null) continue;
    const fence = open[2];
    const start = i;
    let end = i + 1;
    while (end < lines.length && !(lines[end].trim().startsWith(fence) && lines[end].trim().replace(/[`~]/g, '') === '')) end++;
    const code = lines.slice(start + 1, end).join('\n');
    const lang = open[3].toLowerCase();
    let before = start - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const mark = before >= 0 ? SKIP_MARK.exec(lines[before].trim()) : null;
    let skip: string | null = null;
    if (mark !== null) skip = `marked skip: ${mark[1] ?? 'no reason given'}`;
    else if (!TS_LANGS.has(lang) && !SHELL_LANGS.has(lang)) skip = `not run: language '${lang || 'none'}'`;
    else if (SHELL_LANGS.has(lang) && INSTALLS.test(code)) skip = `installs or clones: ${(INSTALLS.exec(code) as RegExpExecArray)[2]}`;
    blocks.push({ index: blocks.length + 1, line: start + 1, lang, code, skip });
    i = end;
  }
  return blocks;
}

/** The package's entries ('tfjs-lrp', 'tfjs-lrp/heatmap', …) → their source files (absolute, without extension). */
export function sourceEntries(root = ROOT): Map<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string | { types?: string }> };
  const out = new Map<string, string>();
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object' || target.types === undefined) continue;
    const src = target.types.replace(/^\.\/dist\/types\//, '').replace(/\.d\.ts$/, '');
    out.set(subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`, path.join(root, src));
  }
  return out;
}

/** `code` with its import/require specifiers of the package pointed at src/ (relative to `fromDir`). */
export function pointAtSources(code: string, entries: Map<string, string>, fromDir: string): string {
  return code.replace(/(\bfrom\s+|\bimport\s+|\brequire\s*\(\s*|\bimport\s*\(\s*)(['"])([^'"]+)\2/g, (all, lead: string, q: string, spec: string) => {
    const target = entries.get(spec);
    if (target === undefined) return all;
    let rel = path.relative(fromDir, target).split(path.sep).join('/');
    if (!rel.startsWith('.')) rel = `./${rel}`;
    return `${lead}${q}${rel}${q}`;
  });
}

/** README.md, or another file (README_TEST_FILE, e.g. to check that a broken block fails). */
const README = process.env.README_TEST_FILE !== undefined ? path.resolve(process.env.README_TEST_FILE) : path.join(ROOT, 'README.md');
const blocks = fs.existsSync(README) ? codeBlocks(fs.readFileSync(README, 'utf8')) : [];
const WORK = path.join(ROOT, 'out', 'readme-test');
const label = (b: CodeBlock) => `block ${b.index} (\`\`\`${b.lang}, ${path.basename(README)}:${b.line})`;
const runnable = blocks.filter((b) => b.skip === null);
const tsBlocks = runnable.filter((b) => TS_LANGS.has(b.lang));
const shellBlocks = runnable.filter((b) => SHELL_LANGS.has(b.lang));
/** The file each ts/js block is written to. */
const fileOf = (b: CodeBlock) => path.join(WORK, `block-${b.index}.ts`);
let binDir = '';

beforeAll(() => {
  const skipped = blocks.filter((b) => b.skip !== null);
  console.log(
    `README.md: ${blocks.length} code blocks; running ${runnable.length}` +
      (skipped.length > 0 ? `; skipped:\n${skipped.map((b) => `  ${label(b)}: ${b.skip}`).join('\n')}` : ''),
  );
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const entries = sourceEntries();
  for (const b of tsBlocks) fs.writeFileSync(fileOf(b), pointAtSources(b.code, entries, WORK) + '\n');
  if (shellBlocks.length > 0) {
    ensureBuilt();
    binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-readme-bin-'));
    fs.symlinkSync(path.join(ROOT, 'bin', 'tfjs-lrp.js'), path.join(binDir, 'tfjs-lrp'));
  }
}, 300000);

afterAll(() => {
  if (binDir !== '') fs.rmSync(binDir, { recursive: true, force: true });
});

test('README.md has code blocks, and the skip markers name a reason', () => {
  expect(blocks.length).toBeGreaterThan(0);
  for (const b of blocks) if (b.skip !== null && b.skip.startsWith('marked skip')) expect(b.skip).not.toMatch(/no reason given/);
});

test('codeBlocks finds fences, languages and skip reasons', () => {
  const md = ['```ts', 'a()', '```', '', '<!-- readme-test: skip (browser only) -->', '```js', 'b()', '```', '```sh', 'npm ci && npm test', '```', '```json', '{}', '```'].join('\n');
  expect(codeBlocks(md).map((b) => [b.lang, b.line, b.code, b.skip])).toEqual([
    ['ts', 1, 'a()', null],
    ['js', 6, 'b()', 'marked skip: browser only'],
    ['sh', 9, 'npm ci && npm test', 'installs or clones: npm ci'],
    ['json', 12, '{}', "not run: language 'json'"],
  ]);
  const entries = new Map([['tfjs-lrp', '/r/src/index'], ['tfjs-lrp/node', '/r/src/node/index']]);
  expect(pointAtSources("import { a } from 'tfjs-lrp';\nconst n = require(\"tfjs-lrp/node\");\nimport * as tf from '@tensorflow/tfjs';", entries, '/r/out/x')).toBe(
    "import { a } from '../../src/index';\nconst n = require(\"../../src/node/index\");\nimport * as tf from '@tensorflow/tfjs';",
  );
});

const typeCheck = tsBlocks.length > 0 ? test : test.skip;
typeCheck('the ts/js blocks type-check against the sources', () => {
  const config = path.join(WORK, 'tsconfig.json');
  fs.writeFileSync(config, JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { noEmit: true, rootDir: '../..' }, include: [], files: tsBlocks.map((b) => path.basename(fileOf(b))) }));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], { cwd: ROOT, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`.replace(/out\/readme-test\/block-(\d+)\.ts/g, (_m, i: string) => label(blocks[Number(i) - 1]));
  if (r.status !== 0) throw new Error(`README code does not type-check:\n${out}`);
}, 120000);

for (const b of tsBlocks) {
  test(`${label(b)} runs`, () => {
    const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', fileOf(b)], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') },
      timeout: 240000,
    });
    if (r.status !== 0) throw new Error(`${label(b)} failed (exit ${String(r.status ?? r.signal)}):\n${b.code}\n--- output ---\n${r.stdout}${r.stderr}`);
  }, 250000);
}

for (const b of shellBlocks) {
  test(`${label(b)} runs`, () => {
    let out = '';
    try {
      out = execFileSync('bash', ['-e', '-o', 'pipefail', '-c', b.code], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}` },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 290000,
      });
    } catch (e) {
      const err = e as { status: number | null; signal: string | null; stdout: string; stderr: string };
      throw new Error(`${label(b)} failed (exit ${String(err.status ?? err.signal)}):\n${b.code}\n--- output ---\n${err.stdout}${err.stderr}`);
    }
    expect(typeof out).toBe('string');
  }, 300000);
}

test('blocks that would install or clone are never run', () => {
  for (const b of blocks) if (SHELL_LANGS.has(b.lang) && INSTALLS.test(b.code)) expect(b.skip).not.toBeNull();
});
