//! Call inputs from JavaScript: bytes in any common shape, and per-call options.

use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array};
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::Error;
use crate::scheduler::Priority;

/// Options every call takes.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub(crate) struct CallOptions {
    /// Move the caller's buffer to the worker instead of copying it (the caller's `ArrayBuffer`,
    /// all of it, is detached).
    pub(crate) transfer: bool,
    /// Queue priority.
    pub(crate) priority: Priority,
}

impl CallOptions {
    pub(crate) fn from_js(value: &JsValue) -> Result<Self, Error> {
        parse_options(value, "call options", &["transfer", "priority"])
    }
}

/// Reads an options object with serde; `undefined`/`null` mean all defaults. A key outside
/// `known` is rejected (a typo like `tranfser` must not silently mean "default"):
/// serde-wasm-bindgen reads only the fields it knows, so `deny_unknown_fields` cannot see it.
pub(crate) fn parse_options<T: Default + for<'de> Deserialize<'de>>(
    value: &JsValue,
    what: &str,
    known: &[&str],
) -> Result<T, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    if !value.is_object() || Array::is_array(value) {
        return Err(Error::validation(format!("{what} must be an object")));
    }
    let object: &Object = value.unchecked_ref();
    for key in Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            return Err(Error::validation(format!("unknown {what} key {key:?} (expected one of {known:?})")));
        }
    }
    serde_wasm_bindgen::from_value(value.clone()).map_err(|e| Error::validation(format!("invalid {what}: {e}")))
}

/// Takes the bytes of a `Uint8Array`, any other `ArrayBuffer` view, an `ArrayBuffer` or a
/// `SharedArrayBuffer`, and returns a `Uint8Array` the bridge owns: the caller's own buffer moved
/// (detached on the caller's side) when `transfer` is set, else a private copy of just the
/// viewed bytes, so the caller may reuse its buffer as soon as the call returns.
///
/// # Errors
/// `ValidationError` for any other value or a detached buffer.
pub(crate) fn owned_bytes(value: &JsValue, transfer: bool) -> Result<Uint8Array, Error> {
    let (buffer, offset, length) = if ArrayBuffer::is_view(value) {
        let buffer = Reflect::get(value, &"buffer".into()).unwrap_or(JsValue::UNDEFINED);
        let offset = number(value, "byteOffset");
        let length = number(value, "byteLength");
        (buffer, offset, length)
    } else if value.is_instance_of::<ArrayBuffer>() || value.is_instance_of::<js_sys::SharedArrayBuffer>() {
        (value.clone(), 0, number(value, "byteLength"))
    } else {
        return Err(Error::validation(format!(
            "expected a Uint8Array, an ArrayBuffer or an ArrayBuffer view, got {}",
            type_name(value)
        )));
    };
    if Reflect::get(&buffer, &"detached".into()).map(|d| d.is_truthy()).unwrap_or(false) {
        return Err(Error::validation("the input's ArrayBuffer is detached (was it transferred already?)"));
    }
    let movable = buffer.is_instance_of::<ArrayBuffer>();
    if transfer && movable {
        // `ArrayBuffer.prototype.transfer()` moves the bytes to a new buffer without a copy and
        // detaches the caller's now, in every placement; without it, `postMessage` detaches it later.
        let moved = Reflect::get(&buffer, &"transfer".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .and_then(|f| f.call0(&buffer).ok())
            .unwrap_or(buffer);
        return Ok(Uint8Array::new_with_byte_offset_and_length(&moved, offset, length));
    }
    Ok(Uint8Array::new_with_byte_offset_and_length(&buffer, offset, length).slice(0, length))
}

fn number(value: &JsValue, key: &str) -> u32 {
    Reflect::get(value, &key.into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0) as u32
}

fn type_name(value: &JsValue) -> String {
    if value.is_null() {
        return "null".into();
    }
    let ty = value.js_typeof().as_string().unwrap_or_default();
    if ty == "object" {
        if let Some(ctor) = Reflect::get(value, &"constructor".into()).ok().and_then(|c| c.dyn_into::<Function>().ok())
        {
            return String::from(ctor.name());
        }
    }
    ty
}
