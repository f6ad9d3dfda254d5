// A counter service for the browser tests: its context persists across messages. Its config
// (optional) `{ from, label, stopFails, snapshotFails, restoreFails, snapshotBytes }` starts the
// count at `from`, prefixes the health detail with `label`, makes `onStop`, `onSnapshot` or
// `onRestore` throw, and pads the snapshot (for `persist: true`, `{ count }`); `{ op: 'config' }` answers `ctx.config`, and
// `{ op: 'mutate-config' }` changes it (a restart must bring back a fresh copy).
export async function onStart(ctx) {
  ctx.count = ctx.config?.from ?? 0;
}

export async function onMessage(message, ctx) {
  if (message && message.op === 'config') return ctx.config;
  if (message && message.op === 'mutate-config') {
    ctx.config.label = 'mutated';
    return ctx.config;
  }
  if (message && message.op === 'throw') throw new RangeError(`asked to throw at ${ctx.count}`);
  if (message && message.op === 'sick') {
    ctx.sick = true;
    return 'sick';
  }
  if (message && message.op === 'sleep') {
    // A slow message: the service is busy, and healthy, for `ms`.
    await new Promise((resolve) => setTimeout(resolve, message.ms));
    return 'slept';
  }
  if (message && message.op === 'uncloneable') {
    // A reply the browser cannot clone: that message fails, not the service.
    return () => 'a function is not cloneable';
  }
  if (message && message.op === 'crash') {
    // An error outside any handler: in a worker it kills the service's worker.
    setTimeout(() => { throw new Error('the counter service crashed, as asked'); });
    return 'crashing';
  }
  ctx.count += 1;
  return { count: ctx.count, echo: message };
}

export async function onStop(ctx) {
  if (ctx.config?.stopFails) throw new RangeError(`${ctx.config.label}: asked to fail the stop`);
  ctx.stopped = true;
}

export function onSnapshot(ctx) {
  if (ctx.config?.snapshotFails) throw new RangeError('asked to fail the snapshot');
  // `snapshotBytes`: a snapshot padded to about that many bytes of JSON.
  return ctx.config?.snapshotBytes ? { count: ctx.count, pad: 'x'.repeat(ctx.config.snapshotBytes) } : { count: ctx.count };
}

export function onRestore(ctx, snapshot) {
  if (ctx.config?.restoreFails) throw new RangeError('asked to fail the restore');
  ctx.count = snapshot.count;
}

export function health(ctx) {
  if (ctx && ctx.sick) return { healthy: false, detail: 'asked to be sick' };
  const label = ctx?.config?.label ? `${ctx.config.label}: ` : '';
  return { healthy: true, detail: `${label}count ${ctx ? ctx.count : 'none'}` };
}

/** This module's URL, for the tests to register it. */
export function counterServiceUrl() {
  return import.meta.url;
}
