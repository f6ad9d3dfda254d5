//! Helpers shared by the browser tests (`tests/web*.rs`).
#![allow(dead_code)] // each test file uses its own subset

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

/// A plain object from key/value pairs.
pub fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

/// `value[key]`.
pub fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}
