// A service whose onStart throws a TypeError — or, loaded as `throw.service.js?on=stop`, whose
// onStop does: the caller must see the handler's own error (name, message and stack).
const throwOn = new URL(import.meta.url).searchParams.get('on') ?? 'start';

export function onStart() {
  if (throwOn === 'start') throw new TypeError('onStart refused, as asked');
}

export function onMessage(message) {
  return message;
}

export function onStop() {
  if (throwOn === 'stop') throw new TypeError('onStop refused, as asked');
}

/** This module's URL, for the tests to register it. */
export function throwServiceUrl() {
  return new URL(import.meta.url).href.split('?')[0];
}
