// Builds dist/cjs (CommonJS), dist/esm (ES modules) and dist/types (.d.ts) with tsc.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';

const tsc = (args) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', ...args], { stdio: 'inherit' });
rmSync('dist', { recursive: true, force: true });
tsc(['--outDir', 'dist/cjs', '--module', 'commonjs', '--declaration', 'false']);
tsc(['--outDir', 'dist/esm', '--module', 'es2020', '--declaration', 'false']);
tsc(['--outDir', 'dist/types', '--emitDeclarationOnly']);
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
writeFileSync('dist/esm/package.json', JSON.stringify({ type: 'module' }) + '\n');
console.log('built dist/cjs, dist/esm, dist/types');

// Node's ES module loader needs explicit file extensions on relative imports.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
function fixEsm(dir) {
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) { fixEsm(p); continue; }
    if (!p.endsWith('.js')) continue;
    const src = readFileSync(p, 'utf8');
    const out = src.replace(/(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]*)\2/g, (m, pre, q, spec) => {
      if (spec.endsWith('.js')) return m;
      const target = resolve(dirname(p), spec);
      const withExt = existsSync(target + '.js') ? spec + '.js' : spec + '/index.js';
      return `${pre}${q}${withExt}${q}`;
    });
    if (out !== src) writeFileSync(p, out);
  }
}
fixEsm('dist/esm');
