import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// SharedArrayBuffer (progress and cancellation without messages) needs a cross-origin isolated
// page: `npm run dev` and `npm run preview` send these headers; send them from your own server in
// production. worker-bridge also works without them, through messages.
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [react()],
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  // worker-bridge finds its worker script and its .wasm with `new URL('./…', import.meta.url)`.
  // Vite 8's dev-server pre-bundling rewrites those URLs to the package's own files, so this line
  // is not needed here (checked with Vite 8.3.8: pre-bundled, the workers start and hash). Vite 7
  // and older copy the package into node_modules/.vite/deps without the .wasm, and the dev server
  // fails with "CompileError: WebAssembly.instantiate(): expected magic word" unless the package
  // is excluded. Kept so that the config works on both; `vite build` is unaffected either way.
  optimizeDeps: { exclude: ['worker-bridge'] },
});
