//! Messages both ways. To a service: `send` posts at once (its host queues and handles them in
//! order) and keeps a reply sender per sequence number; `abandon` settles one the caller stopped
//! waiting for. From a host: `on_host_event` decodes what it says and routes it — a lifecycle
//! confirmation to the waiting step, a reply to its caller, a failure or crash to `fail`, a
//! health answer to the health checks. Events of a replaced host are dropped by generation.

use futures_channel::oneshot;
use js_sys::Reflect;
use wasm_bindgen::JsValue;

use super::control::Expect;
use super::{js, Failure, Registry};
use crate::error::{Error, ErrorKind};
use crate::protocol::{self, FromService, ToService};
use crate::services::host::HostEvent;

/// Replies settle with the handler's value, or with the error it threw (its own `name` and
/// `message`), hence a JS value on both sides.
pub(super) type ReplySender = oneshot::Sender<Result<JsValue, JsValue>>;

impl Registry {
    /// Sends `payload`; resolves with the reply of `onMessage`.
    pub(crate) fn send(
        &self,
        name: &str,
        payload: &JsValue,
    ) -> Result<(u32, oneshot::Receiver<Result<JsValue, JsValue>>), Error> {
        self.with(name, |s| {
            s.life.check_accepts_messages()?;
            let seq = s.next_seq;
            s.next_seq = s.next_seq.wrapping_add(1);
            let (tx, rx) = oneshot::channel();
            let host =
                s.host.as_ref().ok_or_else(|| Error::new(ErrorKind::WorkerCrashed, "the service's host is gone"))?;
            host.post(&ToService::Message { seq }, Some(payload))?;
            s.replies.insert(seq, tx);
            Ok((seq, rx))
        })
    }

    /// Gives up waiting for the reply to `seq` (timeout or abort).
    pub(crate) fn abandon(&self, name: &str, seq: u32, error: Error) {
        let _ = self.with(name, |s| {
            if let Some(tx) = s.replies.remove(&seq) {
                let _ = tx.send(Err(js(&error)));
            }
            Ok(())
        });
    }

    pub(super) fn on_host_event(&self, name: &str, generation: u32, event: HostEvent) {
        let current = self.with(name, |s| Ok(s.generation == generation && s.host.is_some())).unwrap_or(false);
        if !current {
            return;
        }
        let data = match event {
            HostEvent::Crashed(message) => {
                self.fail(name, Error::new(ErrorKind::WorkerCrashed, message));
                return;
            }
            HostEvent::Message(data) => data,
        };
        let msg = match protocol::decode::<FromService, _>(serde_wasm_bindgen::Deserializer::from(data.clone())) {
            Ok(msg) => msg,
            Err(e) => {
                self.fail(
                    name,
                    Error::new(ErrorKind::WorkerCrashed, format!("the service host broke protocol: {}", e.message())),
                );
                return;
            }
        };
        let confirm = |expect: Expect, result: Result<(), Failure>| {
            let _ = self.with(name, |s| {
                match s.waiter.take() {
                    Some((want, tx)) if want == expect => {
                        let _ = tx.send(result);
                    }
                    other => s.waiter = other,
                }
                Ok(())
            });
        };
        match msg {
            FromService::Loaded => confirm(Expect::Loaded, Ok(())),
            FromService::Started => confirm(Expect::Started, Ok(())),
            FromService::Stopped => confirm(Expect::Stopped, Ok(())),
            FromService::Failed { error } => {
                // What the hook threw (or a Rust hook returned), as it was: its own name and stack.
                let error = Failure::Thrown(error);
                let waiting = self.with(name, |s| Ok(s.waiter.is_some())).unwrap_or(false);
                if waiting {
                    let _ = self.with(name, |s| {
                        if let Some((_, tx)) = s.waiter.take() {
                            let _ = tx.send(Err(error.clone()));
                        }
                        Ok(())
                    });
                } else {
                    self.fail(name, error);
                }
            }
            FromService::Reply { seq } => {
                let payload = Reflect::get(&data, &"payload".into()).unwrap_or(JsValue::UNDEFINED);
                let _ = self.with(name, |s| {
                    s.handled += 1;
                    if let Some(tx) = s.replies.remove(&seq) {
                        let _ = tx.send(Ok(payload));
                    }
                    Ok(())
                });
            }
            FromService::ReplyFailed { seq, error } => {
                let _ = self.with(name, |s| {
                    s.handled += 1;
                    if let Some(tx) = s.replies.remove(&seq) {
                        // The caller sees what the handler threw: its name, message and stack.
                        let _ = tx.send(Err(Failure::Thrown(error).to_js()));
                    }
                    Ok(())
                });
            }
            FromService::Crashed { error } => {
                self.fail(name, Error::new(ErrorKind::WorkerCrashed, error.message));
            }
            FromService::Health { healthy, detail } => self.on_health(name, healthy, detail),
        }
    }
}
