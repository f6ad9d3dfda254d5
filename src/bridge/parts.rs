//! Calls split into parts that run on several workers at once (sealing or opening a large file):
//! wait for every part, cancel the rest when one fails, and join the outputs without a copy when
//! the caller wants a `Blob`.

use std::future::Future;
use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::Core;
use crate::error::Error;
use crate::protocol::{OutputKind, RequestId};

/// Awaits every part in order; on the first failure cancels the parts still running and returns
/// that failure, so no partial output escapes.
pub(crate) async fn gather<F>(core: &Rc<Core>, parts: Vec<(RequestId, F)>) -> Result<Vec<JsValue>, Error>
where
    F: Future<Output = Result<JsValue, Error>>,
{
    let ids: Vec<RequestId> = parts.iter().map(|(id, _)| *id).collect();
    let mut outputs = Vec::with_capacity(parts.len());
    for (k, (_, part)) in parts.into_iter().enumerate() {
        match part.await {
            Ok(out) => outputs.push(out),
            Err(e) => {
                for id in &ids[k + 1..] {
                    core.cancel(*id);
                }
                return Err(e);
            }
        }
    }
    Ok(outputs)
}

/// `head ‖ parts…` as one `Blob` (no copy) or one `Uint8Array`.
pub(crate) fn assemble(head: Option<&[u8]>, parts: Vec<JsValue>, output: OutputKind) -> Result<JsValue, Error> {
    let all = Array::new();
    if let Some(head) = head {
        all.push(&Uint8Array::from(head));
    }
    for part in parts {
        all.push(&part);
    }
    match output {
        OutputKind::Blob => web_sys::Blob::new_with_blob_sequence(&all)
            .map(JsValue::from)
            .map_err(|_| Error::validation("the browser could not build the output Blob")),
        OutputKind::Bytes => {
            let pieces: Vec<Uint8Array> = all.iter().filter_map(|p| p.dyn_into::<Uint8Array>().ok()).collect();
            crate::io::output::concat(&pieces).map(JsValue::from)
        }
    }
}
