// Turns a subscription (a wasm-bindgen object owning the listener's registrations) into the
// plain function `bridge.subscribe(...)` returns. Calling it more than once does nothing.

/**
 * @param {{ cancel(): void }} subscription
 * @returns {() => void}
 */
export function unsubscribeFunction(subscription) {
  return () => subscription.cancel();
}
