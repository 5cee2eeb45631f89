/**
 * Shared by the browser tests, the browser benchmark and `npm run demo:web`: building the browser
 * files and the demo page, and launching Debian's Chromium with playwright-core (headless,
 * WebGL 2 on SwiftShader where there is no GPU, a fresh profile).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser } from 'playwright-core';

export const ROOT = path.join(__dirname, '..');

/** Debian's chromium package (apt-get install chromium); CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/lib/chromium/chromium';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Whether the Chromium binary is there. */
export function hasChromium(): boolean {
  try {
    fs.accessSync(CHROMIUM_PATH, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Launches Chromium (a fresh temporary profile, removed on close). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/** dist/browser (esbuild, about a second). */
export function buildBrowserBundle(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--browser'], { cwd: ROOT, stdio: 'pipe' });
}

/** The demo page (web/) with Vite into `outDir` (default out/web); builds dist/browser first. */
export function buildWeb(outDir = path.join(ROOT, 'out', 'web')): string {
  buildBrowserBundle();
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', path.join(ROOT, 'web', 'vite.config.mts'), '--outDir', outDir, '--emptyOutDir'], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  return outDir;
}
