//! The network driver: `fetch` with progress, cancellation and optional hashing of the body as it
//! downloads. The same routine runs in a worker (the default) and on the main thread (fallback);
//! either way the body is read chunk by chunk from the response stream and stays in JavaScript
//! memory — only a copy of each chunk passes through wasm when a digest is asked for.

use js_sys::{Function, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, ReadableStreamDefaultReader, RequestInit, Response};

use crate::error::{Error, ErrorKind};
use crate::io::source::Input;
use crate::ops::{FetchSpec, Progress, Sha256Stream, Stream};
use crate::protocol::HttpMeta;
use crate::runtime::cancel::{aborted, LocalCancel};
use crate::runtime::js_error::describe;
use crate::shared::CancelBlock;

fn network_error(e: &JsValue) -> Error {
    Error::new(ErrorKind::Network, format!("the request failed ({})", describe(e)))
}

/// Runs `spec`, returning the response's metadata and its whole body.
///
/// # Errors
/// `NetworkError` when the request fails (or, with `throwHttpErrors`, has a non-2xx status — the
/// error then carries the status); `AbortError` when cancelled.
pub(crate) async fn fetch(
    spec: &FetchSpec,
    body: &Input,
    progress: &mut dyn Progress,
    cancel: &LocalCancel,
    shared_cancel: Option<&CancelBlock>,
) -> Result<(HttpMeta, Uint8Array), Error> {
    let cancelled = || cancel.is_cancelled() || shared_cancel.is_some_and(CancelBlock::is_cancelled);
    let controller = AbortController::new().map_err(|e| network_error(&e))?;
    cancel.attach(controller.clone());
    let init = RequestInit::new();
    init.set_method(&spec.method);
    init.set_signal(Some(&controller.signal()));
    let headers = Headers::new().map_err(|e| network_error(&e))?;
    for (name, value) in &spec.headers {
        headers.append(name, value).map_err(|_| Error::validation(format!("invalid request header {name:?}")))?;
    }
    init.set_headers(&headers);
    if spec.has_body {
        init.set_body(body.as_js());
    }
    let global = js_sys::global();
    let fetch_fn: Function = Reflect::get(&global, &"fetch".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| Error::new(ErrorKind::Unsupported, "fetch is not available here"))?;
    let started = fetch_fn.call2(&global, &spec.url.as_str().into(), &init).map_err(|e| network_error(&e))?;
    let response: Response = match JsFuture::from(js_sys::Promise::from(started)).await {
        Ok(r) => r.unchecked_into(),
        Err(_) if cancelled() => return Err(aborted()),
        Err(e) => return Err(network_error(&e)),
    };
    let status = response.status();
    if spec.throw_http_errors && !response.ok() {
        controller.abort();
        let text = response.status_text();
        return Err(
            Error::new(ErrorKind::Network, format!("HTTP {status} {text}").trim_end().to_owned()).with_status(status)
        );
    }
    let total =
        response.headers().get("content-length").ok().flatten().and_then(|n| n.trim().parse::<u64>().ok()).unwrap_or(0);
    // Only a body counts: a HEAD, 204 or 304 may announce a length it does not send.
    if total > spec.max_bytes && response.body().is_some() {
        controller.abort();
        return Err(too_long(spec.max_bytes));
    }
    let mut hasher = spec.sha256.then(Box::<Sha256Stream>::default);
    let mut scratch = Vec::new();
    let mut parts = Vec::new();
    let mut done = 0u64;
    progress.report(0, total);
    if let Some(stream) = response.body() {
        let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
        loop {
            if cancelled() {
                controller.abort();
                return Err(aborted());
            }
            let chunk = match JsFuture::from(reader.read()).await {
                Ok(chunk) => chunk,
                Err(_) if cancelled() => return Err(aborted()),
                Err(e) => return Err(network_error(&e)),
            };
            if Reflect::get(&chunk, &"done".into()).is_ok_and(|d| d.is_truthy()) {
                break;
            }
            let bytes: Uint8Array =
                Reflect::get(&chunk, &"value".into()).map_err(|e| network_error(&e))?.unchecked_into();
            done += u64::from(bytes.length());
            if done > spec.max_bytes {
                // No Content-Length, or a server that sends more than it announced.
                controller.abort();
                return Err(too_long(spec.max_bytes));
            }
            if let Some(hasher) = hasher.as_mut() {
                scratch.resize(bytes.length() as usize, 0);
                bytes.copy_to(&mut scratch);
                hasher.update(&scratch, &mut Vec::new())?;
            }
            progress.report(done, total.max(done));
            parts.push(bytes);
        }
    }
    let body = crate::io::output::concat(&parts)?;
    let sha256 = match hasher {
        Some(h) => {
            let mut digest = Vec::new();
            h.finish(&mut digest)?;
            Some(digest)
        }
        None => None,
    };
    let mut header_list = Vec::new();
    if let Ok(Some(entries)) = js_sys::try_iter(&response.headers()) {
        for entry in entries.flatten() {
            let pair = js_sys::Array::from(&entry);
            header_list
                .push((pair.get(0).as_string().unwrap_or_default(), pair.get(1).as_string().unwrap_or_default()));
        }
    }
    let meta =
        HttpMeta { status, status_text: response.status_text(), url: response.url(), headers: header_list, sha256 };
    Ok((meta, body))
}

fn too_long(max: u64) -> Error {
    Error::new(ErrorKind::LimitExceeded, format!("the response body is longer than maxBytes ({max} bytes)"))
}

/// The value `network.fetch` resolves to: `{ status, statusText, url, headers, body, sha256? }`.
pub(crate) fn result_object(meta: &HttpMeta, body: &JsValue) -> JsValue {
    let out = Object::new();
    let set = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&out, &k.into(), v);
    };
    set("status", &meta.status.into());
    set("statusText", &meta.status_text.as_str().into());
    set("url", &meta.url.as_str().into());
    let headers = Object::new();
    for (name, value) in &meta.headers {
        let _ = Reflect::set(&headers, &name.as_str().into(), &value.as_str().into());
    }
    set("headers", &headers);
    set("body", body);
    if let Some(digest) = &meta.sha256 {
        set("sha256", &Uint8Array::from(digest.as_slice()));
    }
    out.into()
}
