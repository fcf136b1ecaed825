import { defineConfig } from 'vite';

// Static files the api serves at / (apps/api serves dist/ with @fastify/static). Everything is
// bundled: no CDN, the dashboard works offline. Preact's automatic JSX runtime, no plugin needed.
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
});
