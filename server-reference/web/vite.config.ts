// Vite build of the operator console. Deterministic output (committed in dist/): the entry
// and chunks are content-hashed, the WASM module keeps a fixed name so the JS bytes do not
// depend on the WASM bytes (CI rebuilds dist and diffs it, the .wasm excepted).
import { defineConfig } from 'vite';
import { xtermCsp } from './xterm-csp.ts';

const root = decodeURIComponent(new URL('.', import.meta.url).pathname).replace(/\/$/, '');
const pkgWeb = decodeURIComponent(new URL('../../bindings/wasm/pkg-web/', import.meta.url).pathname);
const api = process.env['BREEZE_API'] ?? 'http://127.0.0.1:3000';

const assetFileNames = (info: { names?: readonly string[] }): string =>
  (info.names ?? []).some((n) => n.endsWith('.wasm')) ? 'assets/[name][extname]' : 'assets/[name]-[hash][extname]';

export default defineConfig({
  root,
  base: '/',
  plugins: [xtermCsp(root)],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    rolldownOptions: {
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames,
      },
    },
  },
  worker: {
    format: 'es',
    rolldownOptions: {
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames,
      },
    },
  },
  optimizeDeps: { exclude: ['@xterm/xterm'] },
  server: {
    host: '127.0.0.1',
    fs: { allow: [root, pkgWeb] },
    proxy: { '/api': { target: api, ws: true, changeOrigin: false } },
  },
});
