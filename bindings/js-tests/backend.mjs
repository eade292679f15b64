// Selects the package under test: BREEZE_BACKEND=napi (the native addon, default) or
// BREEZE_BACKEND=wasm (the wasm-bindgen package built with --target nodejs). Both expose the
// same functions with the same arguments, results and error codes (lightningcss style).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const backendName = process.env.BREEZE_BACKEND ?? 'napi';

function load() {
  switch (backendName) {
    case 'napi':
      return require('../node/index.js');
    case 'wasm':
      return require(process.env.BREEZE_WASM_PKG ?? '../wasm/pkg-node/breeze_wasm.js');
    default:
      throw new Error(`BREEZE_BACKEND must be napi or wasm, not ${backendName}`);
  }
}

export const breeze = load();
