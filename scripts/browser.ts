/**
 * Shared by the browser tests, the browser benchmark and `npm run demo:web`: building the browser
 * files and the demo page, and launching Debian's Chromium with playwright-core (headless,
 * WebGL 2 on SwiftShader where there is no GPU, a fresh profile; WebGPU on request).
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

/**
 * What WebGPU needs on top of {@link CHROMIUM_ARGS}: Chromium 156 on Linux keeps WebGPU behind
 * `--enable-unsafe-webgpu`, and without a GPU `--use-webgpu-adapter=swiftshader` gives Dawn's
 * software Vulkan adapter (`navigator.gpu.requestAdapter()` then answers vendor 'google',
 * architecture 'swiftshader'; `--enable-features=Vulkan` / `--use-vulkan` are not needed).
 * `navigator.gpu` exists only in a secure context: serve the page from 127.0.0.1, not a file: URL.
 */
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

/** Options of {@link launchChromium}. */
export interface LaunchOptions {
  /** Also enable WebGPU ({@link WEBGPU_ARGS}). Default false. */
  readonly webgpu?: boolean;
}

/** Whether the Chromium binary is there. */
export function hasChromium(): boolean {
  try {
    fs.accessSync(CHROMIUM_PATH, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Launches Chromium (a fresh temporary profile, removed on close), with WebGPU on request. */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const args = options.webgpu === true ? [...CHROMIUM_ARGS, ...WEBGPU_ARGS] : CHROMIUM_ARGS;
  return chromium.launch({ executablePath: CHROMIUM_PATH, args, headless: true });
}

/** The one-file browser build (esbuild, about a second) into `dir` (default dist/browser). */
export function buildBrowserBundle(dir = path.join(ROOT, 'dist', 'browser')): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--browser', '--out-dir', dir], { cwd: ROOT, stdio: 'pipe' });
}

/**
 * The demo page (web/) with Vite into `outDir` (default out/web), after the one-file build into
 * `bundleDir` (default dist/browser; tests use a temporary folder so that they never race
 * `npm run build`).
 */
export function buildWeb(outDir = path.join(ROOT, 'out', 'web'), bundleDir = path.join(ROOT, 'dist', 'browser')): string {
  buildBrowserBundle(bundleDir);
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', path.join(ROOT, 'web', 'vite.config.mts'), '--outDir', outDir, '--emptyOutDir'], {
    cwd: ROOT,
    stdio: 'pipe',
    env: { ...process.env, TFJS_LRP_BROWSER_DIST: bundleDir },
  });
  return outDir;
}
