//! Messages from one service to another (`ctx.send(name, message)` inside a service). A send that
//! reaches the page (`FromService::Send`) is sent on as `services.send` would send it — the same
//! checks, the same least busy copy, the same FIFO link — and its outcome goes back to the sending
//! host (`ToService::SendReply` with the reply beside it, or `ToService::SendFailed`). Sends from
//! one host are relayed in the order they arrive, so the order from a sender to a receiver is the
//! order it sent in.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::Registry;
use crate::protocol::{ToService, WireError};

/// A rejection as data: its `name`, `message` and `stack`, for the sending service's `Error`.
fn wire(e: &JsValue) -> WireError {
    let read = |key: &str| js_sys::Reflect::get(e, &key.into()).ok().and_then(|v| v.as_string());
    match e.dyn_ref::<js_sys::Error>() {
        Some(error) => WireError {
            name: String::from(error.name()),
            message: String::from(error.message()),
            status: None,
            stack: read("stack"),
        },
        None => WireError {
            name: "Error".into(),
            message: e.as_string().unwrap_or_else(|| format!("{e:?}")),
            status: None,
            stack: None,
        },
    }
}

impl Registry {
    /// Send `seq` of host `generation` of `from`: `payload` to the service `to`; its outcome goes
    /// back to that host, if it is still current.
    pub(super) fn relay(&self, from: &str, generation: u32, seq: u32, to: &str, payload: &JsValue) {
        // Queued on the receiver's link now, in the order the sender's entries arrived.
        let sent = self.send(to, payload, None, None);
        let registry = self.clone();
        let from = from.to_owned();
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = match sent {
                Ok(promise) => JsFuture::from(promise).await,
                Err(e) => Err(super::js(&e)),
            };
            let (msg, value) = match outcome {
                Ok(value) => (ToService::SendReply { seq }, Some(value)),
                Err(e) => (ToService::SendFailed { seq, error: wire(&e) }, None),
            };
            let _ = registry.with(&from, |s| {
                let Some(host) = s.copy_of(generation).and_then(|(_, c)| c.host.as_ref()) else { return Ok(()) };
                if let Err(e) = host.post(&msg, value.as_ref()) {
                    // The reply was cloned once already; should it fail here, the send fails.
                    host.post(&ToService::SendFailed { seq, error: WireError::from(&e) }, None)?;
                }
                Ok(())
            });
        });
    }
}
