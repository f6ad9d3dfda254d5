// Hosts one JavaScript service: imports its handler module ({ onStart, onMessage, onStop,
// health }), keeps its context across messages, and handles its queue strictly in FIFO order.
// The registry (Rust, on the page) talks to it over a port: the service's own worker (`self`),
// or, for main-thread placement, one end of a MessageChannel in the page — the same code either
// way, so both placements behave alike. Messages are the `ToService` / `FromService` enums of
// src/protocol/service.rs, built here by hand.

const V = 1;

function wire(e) {
  if (e && typeof e === 'object' && 'message' in e) {
    return { name: String(e.name || 'Error'), message: String(e.message) };
  }
  return { name: 'Error', message: String(e) };
}

/** Serves the service protocol on `port` (a worker global or a MessagePort). */
export function hostService(port) {
  let module = null;
  let ctx = null;
  const queue = [];
  let draining = false;
  const post = (msg, payload) => {
    try {
      port.postMessage(payload === undefined ? { v: V, msg } : { v: V, msg, payload });
    } catch (e) {
      // The reply could not be cloned (a function, a DOM node…): fail that message, not the service.
      if (msg.type === 'reply') port.postMessage({ v: V, msg: { type: 'reply_failed', seq: msg.seq, error: wire(e) } });
      else throw e;
    }
  };
  async function handle({ msg, payload }) {
    switch (msg && msg.type) {
      case 'load':
        try {
          module = await import(/* webpackIgnore: true */ /* @vite-ignore */ msg.url);
          if (typeof module.onMessage !== 'function') throw new TypeError('the service module exports no onMessage');
          post({ type: 'loaded' });
        } catch (e) {
          post({ type: 'failed', error: wire(e) });
        }
        return;
      case 'start':
        try {
          ctx = {};
          await module.onStart?.(ctx);
          post({ type: 'started' });
        } catch (e) {
          post({ type: 'failed', error: wire(e) });
        }
        return;
      case 'message':
        try {
          post({ type: 'reply', seq: msg.seq }, await module.onMessage(payload, ctx));
        } catch (e) {
          post({ type: 'reply_failed', seq: msg.seq, error: wire(e) });
        }
        return;
      case 'stop':
        try {
          await module.onStop?.(ctx);
          ctx = null;
          post({ type: 'stopped' });
        } catch (e) {
          post({ type: 'failed', error: wire(e) });
        }
        return;
      case 'health':
        try {
          const h = module.health ? await module.health(ctx) : true;
          const healthy = typeof h === 'object' && h !== null ? Boolean(h.healthy) : Boolean(h);
          const detail = typeof h === 'object' && h !== null && h.detail !== undefined ? String(h.detail) : '';
          post({ type: 'health', healthy, detail });
        } catch (e) {
          post({ type: 'health', healthy: false, detail: `${wire(e).name}: ${wire(e).message}` });
        }
        return;
      default:
        // Not ours: ignore (the registry never sends anything else).
    }
  }
  // A burst of messages is queued here and drained in order, one at a time, without waiting for
  // the page between them.
  port.addEventListener('message', (event) => {
    queue.push(event.data);
    if (draining) return;
    draining = true;
    (async () => {
      while (queue.length) await handle(queue.shift());
      draining = false;
    })();
  });
  if (typeof port.start === 'function') port.start();
}

// In a service worker spawned by spawn.js (named "worker-bridge-service:…"), serve `self`. The
// name check keeps this module inert when the wasm glue imports it elsewhere.
if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope
    && typeof self.name === 'string' && self.name.startsWith('worker-bridge-service:')) {
  hostService(self);
}
