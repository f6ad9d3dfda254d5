//! Typed errors become JavaScript `Error`s whose `name` says what happened; JavaScript errors
//! become text for ours.

use wasm_bindgen::{JsCast, JsValue};

use crate::error::Error;

/// `new Error(message)` with `name` set to the kind's name (`TimeoutError`, `AbortError`, ...),
/// or, for what a task threw, to the thrown error's own name, with its stack.
pub(crate) fn to_js(e: &Error) -> JsValue {
    let err = js_sys::Error::new(e.message());
    err.set_name(e.js_name());
    if let Some(stack) = e.stack() {
        let _ = js_sys::Reflect::set(&err, &"stack".into(), &stack.into());
    }
    if let Some(status) = e.status() {
        // A `NetworkError` for a non-2xx response carries the status.
        let _ = js_sys::Reflect::set(&err, &"status".into(), &status.into());
    }
    err.into()
}

/// What a service's handler threw, rebuilt on the caller's side: an `Error` with the handler's own
/// `name` and `message`, and its `stack` (where it had one) in place of the rebuilt one's.
pub(crate) fn thrown(name: &str, message: &str, stack: Option<&str>) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name(name);
    if let Some(stack) = stack {
        let _ = js_sys::Reflect::set(&err, &"stack".into(), &stack.into());
    }
    err.into()
}

/// A readable message for any thrown JS value: `Name: message` for an `Error`.
pub(crate) fn describe(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return format!("{}: {}", String::from(err.name()), String::from(err.message()));
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}
