// The soak's JavaScript service: answers every message with `{ echo: message }`, after
// `message.delayMs` when given (a slow message, for send timeouts). Its context is fresh at
// every start, so `handled` counts the messages since the last (re)start.
export function onStart(ctx) {
  ctx.handled = 0;
}

export async function onMessage(message, ctx) {
  ctx.handled += 1;
  if (message && message.delayMs) await new Promise((resolve) => setTimeout(resolve, message.delayMs));
  return { echo: message };
}

export function onStop(ctx) {
  ctx.stopped = true;
}

export function health(ctx) {
  return { healthy: true, detail: `handled ${ctx ? ctx.handled : 'none'}` };
}
