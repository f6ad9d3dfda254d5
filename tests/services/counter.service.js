// A counter service for the browser tests: its context persists across messages.
export async function onStart(ctx) {
  ctx.count = 0;
}

export async function onMessage(message, ctx) {
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
  ctx.stopped = true;
}

export function health(ctx) {
  if (ctx && ctx.sick) return { healthy: false, detail: 'asked to be sick' };
  return { healthy: true, detail: `count ${ctx ? ctx.count : 'none'}` };
}

/** This module's URL, for the tests to register it. */
export function counterServiceUrl() {
  return import.meta.url;
}
