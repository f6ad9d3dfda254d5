// A service written in JavaScript for the demo: a counter whose context persists across
// messages. Loaded by URL, in its own worker or on the page, whichever placement is chosen.
// Registered with `persist: true` (the demo's "saved"), its count is snapshotted and restored
// through onSnapshot / onRestore.

export function onStart(ctx) {
  ctx.count = 0;
}

export function onMessage(message, ctx) {
  switch (message?.op) {
    case 'add': {
      const by = message.by ?? 1;
      if (!Number.isFinite(by)) throw new TypeError('"by" must be a number');
      ctx.count += by;
      return { count: ctx.count };
    }
    case 'get':
      return { count: ctx.count };
    case 'reset':
      ctx.count = 0;
      return { count: 0 };
    default:
      throw new TypeError(`unknown op ${JSON.stringify(message?.op)} (expected "add", "get" or "reset")`);
  }
}

export function onSnapshot(ctx) {
  return { count: ctx.count };
}

export function onRestore(ctx, snapshot) {
  ctx.count = Number(snapshot?.count) || 0;
}

export function health(ctx) {
  return { healthy: true, detail: `count ${ctx.count}` };
}
