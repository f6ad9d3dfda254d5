// A service that breaks the protocol on request, for the registry's decoding tests: in its own
// worker (placement 'worker'), `{ inject: [...entries] }` posts those entries to the page as a
// batch of its own, as if the host had sent them, before the host's reply to this message.
export function onMessage(message) {
  if (message && message.inject) postMessage({ m: JSON.stringify(message.inject) });
  return message;
}

/** This module's URL, for the tests to register it. */
export function rogueServiceUrl() {
  return import.meta.url;
}
