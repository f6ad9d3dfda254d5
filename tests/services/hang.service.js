// A service whose onStart never finishes: startup timeouts must fail it.
export function onStart() {
  return new Promise(() => {});
}

export function onMessage() {
  return 'unreachable';
}

/** This module's URL, for the tests to register it. */
export function hangServiceUrl() {
  return import.meta.url;
}
