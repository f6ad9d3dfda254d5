//! Helpers shared by the browser tests (`tests/web*.rs`).
#![allow(dead_code)] // each test file uses its own subset

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A plain object from key/value pairs.
pub fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

/// Deterministic, non-trivial test data (xorshift32 from `seed`).
pub fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// SHA-256 by the browser's WebCrypto: the reference our digests are checked against.
pub async fn webcrypto_sha256(bytes: &[u8]) -> Vec<u8> {
    let crypto: web_sys::Crypto = get(&js_sys::global(), "crypto").unchecked_into();
    // A copy, not a view of wasm memory: in the threaded build that memory is shared, and
    // WebCrypto refuses views of shared memory.
    let digest = crypto.subtle().digest_with_str_and_buffer_source("SHA-256", &Uint8Array::from(bytes)).unwrap();
    Uint8Array::new(&JsFuture::from(digest).await.unwrap()).to_vec()
}

/// `value[key]`.
pub fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}
