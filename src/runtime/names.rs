//! Property names as JavaScript strings, made once per realm. Passing a `&str` to JavaScript
//! decodes it anew on every crossing (a `TextDecoder` call each): on the per-call path, where
//! the same few names are read on every message, that showed in the profiles
//! (`benches/profile-ipc.mjs`).

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::JsValue;

thread_local! {
    static NAMES: RefCell<HashMap<&'static str, JsValue>> = RefCell::default();
}

/// `name` as a JavaScript string, cached.
pub(crate) fn name(name: &'static str) -> JsValue {
    NAMES.with(|names| names.borrow_mut().entry(name).or_insert_with(|| JsValue::from_str(name)).clone())
}
