// The runner of an app's own tasks (`bridge.tasks.run`), the same in a pool worker and on the
// page (the main-thread fallback): import the task's module once per realm, call its export with
// `(input, ctx)`, shape the result as the call's `output` asked. Rust drives it (src/driver.rs):
// it polls `state` for progress and aborts `signal` when the call is cancelled or runs out of
// time; this file never decides anything about the call.

/** @type {Map<string, Promise<Record<string, unknown>>>} url → the module, imported once */
const modules = new Map();

/**
 * The module at `url`, imported at its first use in this realm and then cached. A failed import
 * is not cached: a later call tries again.
 * @param {string} url
 */
function importOnce(url) {
  let module = modules.get(url);
  if (!module) {
    module = import(/* webpackIgnore: true */ /* @vite-ignore */ url);
    modules.set(url, module);
    module.catch(() => modules.delete(url));
  }
  return module;
}

/**
 * What a call ended with: `{ value, transfer }`, `{ failed: message }` (the task could not be
 * loaded or its result shaped: a `TaskError`), or `{ thrown }` (what the task's code threw).
 * @typedef {{ value: unknown, transfer: Transferable[] } | { failed: string } | { thrown: unknown }} Outcome
 */

/**
 * Runs one call of a task.
 * @param {string} name the task's registered name (for messages)
 * @param {string} url the module's absolute URL
 * @param {string} exportName the exported function (`default` for the default export)
 * @param {unknown} input
 * @param {'value' | 'bytes' | 'blob'} output
 * @param {AbortSignal} signal aborted when the call is cancelled or times out
 * @param {{ done: number, total: number, seq: number }} state progress, polled by Rust
 * @returns {Promise<Outcome>}
 */
export async function runTask(name, url, exportName, input, output, signal, state) {
  let module;
  try {
    module = await importOnce(url);
  } catch (/** @type {any} */ e) {
    return { failed: `task ${name}: its module ${url} did not import (${describe(e)})` };
  }
  const fn = module[exportName];
  if (typeof fn !== 'function') {
    return { failed: `task ${name}: the module ${url} exports no function ${exportName}` };
  }
  /** @type {Transferable[]} */
  const transfer = [];
  const ctx = {
    signal,
    /** @param {number} done @param {number} [total] */
    progress(done, total = 0) {
      state.done = Number(done) || 0;
      state.total = Number(total) || 0;
      state.seq += 1;
    },
    /** Moves these buffers with the result instead of copying them. @param {Transferable[]} list */
    transfer(...list) {
      transfer.push(...list.flat());
    },
  };
  let value;
  try {
    value = await fn(input, ctx);
  } catch (e) {
    return { thrown: e };
  }
  return shape(name, value, output, transfer);
}

/**
 * The result as the call's `output` asked (also for a Rust task's result): as returned (`value`), or its bytes as a
 * `Uint8Array` (`bytes`) or a `Blob` (`blob`).
 * @param {string} name
 * @param {unknown} value
 * @param {string} output
 * @param {Transferable[]} transfer
 * @returns {Outcome}
 */
export function shape(name, value, output, transfer) {
  if (output === 'value') return { value, transfer };
  const bytes =
    value instanceof ArrayBuffer
      ? new Uint8Array(value)
      : ArrayBuffer.isView(value)
        ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
        : null;
  if (output === 'blob' && (value instanceof Blob || bytes)) {
    const part = /** @type {BlobPart} */ (bytes);
    return { value: value instanceof Blob ? value : new Blob([part]), transfer: [] };
  }
  if (output === 'bytes' && bytes) return { value: bytes, transfer };
  return { failed: `task ${name}: output '${output}' needs the task to return bytes (an ArrayBuffer or a view)` };
}

/** @param {any} e */
function describe(e) {
  return e && e.message ? `${e.name}: ${e.message}` : String(e);
}
