// The benchmark's service: the least a service can do per message — return it.
export function onStart(ctx) {
  ctx.started = true;
}

export function onMessage(message) {
  return message;
}

export function onStop(ctx) {
  ctx.started = false;
}
