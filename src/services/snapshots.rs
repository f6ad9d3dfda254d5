//! Where persisted services' snapshots are stored: IndexedDB on the page, through
//! `worker/snapshot-store.js` (one database per origin, one record per service copy, keyed by
//! `core::services::persist::snapshot_key`). The registry reads a copy's snapshot before its start
//! and writes what its host sends back; what to store and when is decided in the core.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{Error, ErrorKind};
use crate::runtime::js_error::describe;

#[wasm_bindgen(module = "/worker/snapshot-store.js")]
extern "C" {
    #[wasm_bindgen(js_name = readSnapshot)]
    fn read_snapshot(key: &str, timeout_ms: u32) -> js_sys::Promise;

    #[wasm_bindgen(js_name = writeSnapshot)]
    fn write_snapshot(key: &str, text: &str) -> js_sys::Promise;
}

/// What the store rejected with, typed: `LimitExceededError` when the origin's storage quota is
/// spent, otherwise `NotSupportedError` (IndexedDB unavailable, or refusing the read or write),
/// with IndexedDB's own words.
fn store_error(e: &JsValue, doing: &str) -> Error {
    let name = js_sys::Reflect::get(e, &"name".into()).ok().and_then(|n| n.as_string());
    let kind = match name.as_deref() {
        Some("QuotaExceededError") => ErrorKind::LimitExceeded,
        Some("TimeoutError") => ErrorKind::Timeout,
        _ => ErrorKind::Unsupported,
    };
    Error::new(kind, format!("{doing} failed: {}", describe(e)))
}

/// The snapshot stored under `key` (its JSON text), if any, read within `timeout_ms` (0: no
/// limit).
///
/// # Errors
/// `NotSupportedError` when IndexedDB is unavailable or the read fails; `TimeoutError` when it
/// did not answer in time.
pub(crate) async fn read(key: &str, timeout_ms: u32) -> Result<Option<String>, Error> {
    let value = JsFuture::from(read_snapshot(key, timeout_ms))
        .await
        .map_err(|e| store_error(&e, &format!("reading the snapshot of {key:?}")))?;
    Ok(value.as_string())
}

/// Stores `text` under `key`; resolves once the write is committed.
///
/// # Errors
/// `NotSupportedError` when IndexedDB is unavailable or the write fails; `LimitExceededError`
/// when the origin's storage quota is spent.
pub(crate) async fn write(key: &str, text: &str) -> Result<(), Error> {
    JsFuture::from(write_snapshot(key, text))
        .await
        .map_err(|e| store_error(&e, &format!("storing the snapshot of {key:?}")))?;
    Ok(())
}
