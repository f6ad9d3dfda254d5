// A service that never finishes starting — or, loaded as `hang.service.js?on=stop`, never
// finishes stopping: startup and stop timeouts must fail it.
const hangOn = new URL(import.meta.url).searchParams.get('on') ?? 'start';
const never = () => new Promise(() => {});

export function onStart() {
  return hangOn === 'start' ? never() : undefined;
}

export function onMessage(message) {
  return message;
}

export function onStop() {
  return hangOn === 'stop' ? never() : undefined;
}

/** This module's URL, for the tests to register it. */
export function hangServiceUrl() {
  return new URL(import.meta.url).href.split('?')[0];
}
