// How worker-side code finds the generated wasm glue (`worker_bridge.js`). No side effects: the
// pool worker (worker.js), a Rust service's worker and the threaded build's helper threads
// (threads.js) all import it.

/**
 * @param {string} glueUrl the glue's own URL, sent by whoever started this worker
 * @returns {Promise<import('./service-host.js').Glue>}
 */
export async function loadGlue(glueUrl) {
  try {
    // Snippets live at pkg/snippets/<crate>-<hash>/worker/glue.js: a literal relative import
    // of the glue that bundlers can follow and rewrite.
    return await import('../../../worker_bridge.js');
  } catch (bundled) {
    // Served from somewhere else (the wasm-bindgen test runner): use the URL the page sent.
    return await import(/* webpackIgnore: true */ /* @vite-ignore */ glueUrl);
  }
}
