//! Typed errors become JavaScript `Error`s whose `name` says what happened.

use wasm_bindgen::JsValue;

use crate::error::Error;

/// `new Error(message)` with `name` set to the kind's name (`TimeoutError`, `AbortError`, ...).
pub(crate) fn to_js(e: &Error) -> JsValue {
    let err = js_sys::Error::new(e.message());
    err.set_name(e.kind().name());
    if let Some(status) = e.status() {
        // A `NetworkError` for a non-2xx response carries the status.
        let _ = js_sys::Reflect::set(&err, &"status".into(), &status.into());
    }
    err.into()
}
