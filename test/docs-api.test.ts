/**
 * docs/api/ is TypeDoc's output for the four entries, committed so that GitHub renders it. This
 * regenerates it into a temporary folder (typedoc.json treats warnings, e.g. an undocumented
 * export or a broken {@link}, as errors) and fails when the committed pages differ: run
 * `npm run docs:api` after changing a doc comment or an export.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');

function listFiles(dir: string, base = dir): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))]))
    .sort();
}

test('docs/api is what TypeDoc generates now, without warnings', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-api-'));
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out], { cwd: ROOT, stdio: 'pipe' });
    const fresh = listFiles(out);
    const committed = listFiles(path.join(ROOT, 'docs', 'api'));
    expect(committed).toEqual(fresh);
    const stale = fresh.filter((f) => fs.readFileSync(path.join(out, f), 'utf8') !== fs.readFileSync(path.join(ROOT, 'docs', 'api', f), 'utf8'));
    if (stale.length > 0) throw new Error(`docs/api is stale (${stale.length} page(s), e.g. ${stale.slice(0, 3).join(', ')}): run npm run docs:api`);
    expect(fresh.length).toBeGreaterThan(50);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}, 180000);
