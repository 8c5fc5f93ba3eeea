// The console's build: `vite build --config console/vite.config.ts` writes console/dist, a static
// site with every dependency bundled (nothing is fetched from a CDN at run time). npm install
// (postinstall) and npm start (stack/console.ts, when the sources are newer) run it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  // Preact's automatic JSX runtime (no React, no Babel)
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: path.join(here, 'dist'), emptyOutDir: true, target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 600 },
});
