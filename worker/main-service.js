// Services placed on the main thread: the page side of their MessageChannel is served by the same
// host as a service worker (service-host.js). Imported by the wasm glue (wasm-bindgen snippet).
//
// Rust services on this thread must never run in the page's own wasm instance (a panic would trap
// the bridge), so they share one instance of their own, made from a second copy of the glue
// module: the literal import below, which bundlers rewrite (the query makes it a module of its
// own, with its own state), or, where the glue is not beside this file (the wasm-bindgen test
// runner), the glue's URL with the same query.

import { hostService, RustInstance } from './service-host.js';

const SERVICE_COPY = 'worker-bridge-service';

const instance = new RustInstance(async (glueUrl) => {
  try {
    return await import('../../../worker_bridge.js?worker-bridge-service');
  } catch (bundled) {
    const url = `${glueUrl}${glueUrl.includes('?') ? '&' : '?'}${SERVICE_COPY}`;
    return await import(/* webpackIgnore: true */ /* @vite-ignore */ url);
  }
});

/**
 * Hosts a main-placed service on `port` — an inline `handler` object, when given; returns the
 * function that closes the host.
 * @param {MessagePort} port
 * @param {import('./service-host.js').ServiceModule} [handler]
 * @returns {() => void}
 */
export function hostMainService(port, handler) {
  return hostService(port, instance, handler);
}
