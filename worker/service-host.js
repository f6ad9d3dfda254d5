// Hosts one service: imports its handler module ({ onStart, onMessage, onStop, health }) — or,
// for a Rust service, instantiates the wasm module and takes the object with the same four
// methods that `__workerBridgeRustService` returns — keeps its context across messages, and
// handles its queue strictly in FIFO order.
// The registry (Rust, on the page) talks to it over a port: the service's own worker (`self`),
// or, for main-thread placement, one end of a MessageChannel in the page — the same code either
// way, so both placements behave alike. Messages are the `ToService` / `FromService` enums of
// src/protocol/service.rs, built here by hand.

const V = 1;

const inWorker = typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope;

/**
 * Copies of the wasm glue that Rust services run in, each with its own instance and memory:
 * `{ glue, trapped, panic, hosts }`. On the main thread a service must never run in the page's
 * own instance (a panic would trap the bridge itself), so it gets a copy of the glue module.
 */
let copies = 0;

/**
 * A glue copy with a live (untrapped) instance of `module`, for one Rust service host. Imported by
 * URL only: a literal import of the glue here would put the glue (and so every worker it spawns)
 * inside this worker's bundle, which bundlers reject as circular worker imports. Bundled apps
 * therefore cannot host Rust services yet (see the README).
 */
async function rustCopy(glueUrl, module) {
  if (!/^(https?|blob):/.test(glueUrl)) {
    throw new Error('Rust services need the wasm glue at a fetchable URL; bundled builds cannot host them yet');
  }
  let url = glueUrl;
  if (!inWorker) {
    // On the page: never the page's own instance (a panic would trap the bridge): a fresh module.
    copies += 1;
    url = `${glueUrl}${glueUrl.includes('?') ? '&' : '?'}worker-bridge-service=${copies}`;
  }
  const copy = { glue: await import(/* webpackIgnore: true */ /* @vite-ignore */ url), trapped: false, panic: null, hosts: new Set() };
  await copy.glue.default({ module_or_path: module });
  return copy;
}

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
  // A Rust service's glue copy, and whether its instance trapped (then nothing more is handled).
  let copy = null;
  let dead = false;
  const onTrap = () => {
    if (dead) return;
    dead = true;
    queue.length = 0;
    post({ type: 'crashed', error: { name: 'WorkerCrashedError', message: copy.panic ?? 'the service\'s instance trapped' } });
  };
  // A wasm trap (a Rust panic) leaves the instance unusable: fail the call, then the service
  // (and every other service sharing the instance).
  const trapped = (e) => {
    if (!copy || !(e instanceof WebAssembly.RuntimeError)) return null;
    copy.trapped = true;
    const message = `the service panicked: ${copy.panic ?? e.message}`;
    queueMicrotask(() => copy.hosts.forEach((h) => h()));
    return { name: 'WorkerCrashedError', message };
  };
  const failure = (e) => trapped(e) ?? wire(e);
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
      case 'load_rust':
        try {
          copy = await rustCopy(msg.glue_url, payload);
          copy.hosts.add(onTrap);
          module = copy.glue.__workerBridgeRustService(msg.service, (panic) => {
            copy.panic = panic;
            console.error(`worker-bridge: the Rust service ${JSON.stringify(msg.service)} panicked: ${panic}`);
          });
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
          post({ type: 'failed', error: failure(e) });
        }
        return;
      case 'message':
        try {
          post({ type: 'reply', seq: msg.seq }, await module.onMessage(payload, ctx));
        } catch (e) {
          post({ type: 'reply_failed', seq: msg.seq, error: failure(e) });
        }
        return;
      case 'stop':
        try {
          await module.onStop?.(ctx);
          ctx = null;
          post({ type: 'stopped' });
        } catch (e) {
          post({ type: 'failed', error: failure(e) });
        }
        return;
      case 'health':
        try {
          const h = module.health ? await module.health(ctx) : true;
          const healthy = typeof h === 'object' && h !== null ? Boolean(h.healthy) : Boolean(h);
          const detail = typeof h === 'object' && h !== null && h.detail !== undefined ? String(h.detail) : '';
          post({ type: 'health', healthy, detail });
        } catch (e) {
          const error = failure(e);
          post({ type: 'health', healthy: false, detail: `${error.name}: ${error.message}` });
        }
        return;
      default:
        // Not ours: ignore (the registry never sends anything else).
    }
  }
  // A burst of messages is queued here and drained in order, one at a time, without waiting for
  // the page between them.
  port.addEventListener('message', (event) => {
    if (dead) return;
    queue.push(event.data);
    if (draining) return;
    draining = true;
    (async () => {
      while (queue.length && !dead) await handle(queue.shift());
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
