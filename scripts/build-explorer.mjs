#!/usr/bin/env node
// Builds the explorer (explorer/src → explorer/dist) with esbuild: one minified ES module, its CSS and the page. `--check` fails if dist is stale.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'explorer', 'src');
const dist = join(root, 'explorer', 'dist');

/** The three files dist holds, as esbuild makes them (deterministic for one esbuild version). */
export async function explorerFiles() {
  const js = await build({
    entryPoints: [join(src, 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  const css = await build({
    entryPoints: [join(src, 'style.css')],
    bundle: true,
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return {
    'explorer.js': js.outputFiles[0].text,
    'explorer.css': css.outputFiles[0].text,
    'index.html': readFileSync(join(src, 'index.html'), 'utf8'),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await explorerFiles();
  if (process.argv.includes('--check')) {
    const stale = Object.entries(files).filter(
      ([name, text]) => !existsSync(join(dist, name)) || readFileSync(join(dist, name), 'utf8') !== text,
    );
    if (stale.length) {
      console.error(
        `explorer/dist is stale (${stale.map(([n]) => n).join(', ')}): run npm run build:explorer`,
      );
      process.exit(1);
    }
    console.log('explorer/dist is up to date');
  } else {
    mkdirSync(dist, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dist, name), text);
    console.log(
      `explorer/dist: ${Object.entries(files)
        .map(([n, t]) => `${n} ${(Buffer.byteLength(t) / 1024).toFixed(1)} KiB`)
        .join(', ')}`,
    );
  }
}
