//! `bridge.network`: `fetch` run in a worker, with progress, cancellation and optional hashing
//! of the body while it downloads.

use std::rc::Rc;

use js_sys::{Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::input::{absolute_url, field, opt_u64, Taken};
use super::pipeline::{promise, reject, single, Bridge};
use crate::defaults;
use crate::error::Error;
use crate::io::source::Input;
use crate::ops::{FetchSpec, Op};
use crate::protocol::OutputKind;

const FETCH_KEYS: &[&str] = &["method", "headers", "body", "sha256", "throwHttpErrors", "maxBytes"];

/// Network operations, run on the bridge's executor.
#[wasm_bindgen]
#[derive(Debug)]
pub struct NetworkFacade {
    bridge: Rc<Bridge>,
}

impl NetworkFacade {
    pub(crate) fn new(bridge: Rc<Bridge>) -> Self {
        NetworkFacade { bridge }
    }
}

#[wasm_bindgen]
impl NetworkFacade {
    /// Fetches `url` in a worker: `{ status, statusText, url, headers, body: Uint8Array, sha256? }`.
    /// Options: `method`, `headers` (an object), `body` (string, bytes or Blob), `sha256: true`
    /// to hash the body while downloading, `throwHttpErrors` (default true: a non-2xx status
    /// rejects with a `NetworkError` carrying `status`), `maxBytes` (default 512 MiB: a longer
    /// body rejects with `LimitExceededError`), and the usual call options —
    /// `onProgress` follows the bytes read against `Content-Length`, `signal` aborts the request.
    #[wasm_bindgen(
        unchecked_return_type = "Promise<{ status: number, statusText: string, url: string, headers: Record<string, string>, body: Uint8Array, sha256?: Uint8Array }>"
    )]
    pub fn fetch(&self, url: String, options: JsValue) -> Promise {
        let bridge = self.bridge.clone();
        let queued = (|| {
            let opts = bridge.options(&options, FETCH_KEYS)?;
            let field = |k: &str| field(&options, k);
            let method = match field("method").as_string() {
                Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()) => m.to_ascii_uppercase(),
                Some(m) => return Err(Error::validation(format!("invalid HTTP method {m:?}"))),
                None if field("method").is_undefined() => "GET".to_owned(),
                None => return Err(Error::validation("method must be a string")),
            };
            let headers = headers(&field("headers"))?;
            let body_value = field("body");
            let has_body = !(body_value.is_undefined() || body_value.is_null());
            let flag = |k: &str, default: bool| match field(k) {
                v if v.is_undefined() => Ok(default),
                v => v.as_bool().ok_or_else(|| Error::validation(format!("{k} must be true or false"))),
            };
            let spec = FetchSpec {
                url: absolute_url(&url)?,
                method,
                headers,
                has_body,
                sha256: flag("sha256", false)?,
                throw_http_errors: flag("throwHttpErrors", true)?,
                max_bytes: opt_u64(&options, "maxBytes")?.unwrap_or(defaults::FETCH_MAX_BYTES),
            };
            // Taken last: a refused call leaves a body passed with `transfer: true` to its caller.
            let input = if !has_body {
                Taken::Owned(Input::Bytes(Uint8Array::new_with_length(0)))
            } else if let Some(text) = body_value.as_string() {
                Taken::Owned(Input::Bytes(Uint8Array::from(text.as_bytes())))
            } else {
                bridge.take(&body_value, &opts)?
            };
            let len = input.len();
            Ok(bridge.queue(opts, vec![(Op::Fetch(spec), 0..len)], input, OutputKind::Bytes))
        })();
        match queued {
            Ok(queued) => promise(single(queued)),
            Err(e) => reject(e),
        }
    }
}

fn headers(value: &JsValue) -> Result<Vec<(String, String)>, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !value.is_object() {
        return Err(Error::validation("headers must be an object of strings"));
    }
    let mut out = Vec::new();
    let object: &Object = value.unchecked_ref();
    for key in Object::keys(object).iter() {
        let name = key.as_string().unwrap_or_default();
        let v = Reflect::get(value, &key).ok().and_then(|v| v.as_string());
        let v = v.ok_or_else(|| Error::validation(format!("header {name:?} must be a string")))?;
        out.push((name, v));
    }
    Ok(out)
}
