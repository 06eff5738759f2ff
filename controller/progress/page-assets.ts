// The web page's files (plain HTML/JS/CSS, no build step). tsc does not copy them, so the server
// looks next to its own module first (source tree: tap runs the .ts here; or a packager copied
// page/ into dist), then in the source tree seen from dist/controller/progress/. Images and
// packages must therefore ship controller/progress/page/ along with dist/.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CANDIDATES = ['./page/', '../../../controller/progress/page/'];

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
  '/page.css': { file: 'page.css', type: 'text/css; charset=utf-8' },
};

export interface PageAsset {
  body: Buffer;
  type: string;
}

export function resolvePageDir(override?: string): string {
  if (override !== undefined) {
    if (!existsSync(`${override}/index.html`)) throw new Error(`progress page dir ${override} has no index.html`);
    return override;
  }
  for (const candidate of CANDIDATES) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  throw new Error('progress page assets not found (controller/progress/page/ must ship with dist/)');
}

/** Reads every asset once: a few kilobytes, and later edits to the tree cannot change a running page. */
export function loadPageAssets(dir: string): Map<string, PageAsset> {
  const assets = new Map<string, PageAsset>();
  for (const [path, { file, type }] of Object.entries(FILES)) {
    assets.set(path, { body: readFileSync(`${dir}/${file}`), type });
  }
  return assets;
}
