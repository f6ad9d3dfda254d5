//! Messages from one service to another (`ctx.send(name, message)` inside a service). A host's
//! first send to a name asks for a route (`FromService::Connect`); the registry decides it
//! (`core::services::peers::route`) and answers (`ToService::Route`): a direct `MessageChannel`
//! between the two workers (its far end handed to the receiver with `ToService::Accept`), or the
//! page. A send through the page (`FromService::Send`) is sent on as `services.send` would send it
//! — the same checks, the same least busy copy, the same FIFO link — and its outcome goes back to
//! the sending host (`ToService::SendReply` with the reply beside it, or `ToService::SendFailed`).
//! Every route given out is kept in a table until either end stops, starts or loses its host;
//! then the ends are told (`ToService::Disconnect`, as `core::services::peers::teardown` decides)
//! and the sender asks again at its next send.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{Inner, Registry};
use crate::protocol::{ToService, WireError};
use crate::services::host::{channel, Placement};
use crate::services::lifecycle::State;
use crate::services::peers::{route, teardown, Ended, Receiver, Route};

/// A route given to a host for its sends to `to`.
#[derive(Debug)]
pub(super) struct PeerLink {
    id: u32,
    from: String,
    from_generation: u32,
    to: String,
    /// The receiver's host at the other end of a direct route (`None`: through the page).
    to_generation: Option<u32>,
    /// The sender was told to let it go (the receiver stopped) and may still await replies on
    /// it: kept until the receiver starts again (it answers them) or its host goes (then the
    /// sender hears it is gone).
    draining: bool,
}

/// Posts `msg` to host `generation` of `name`, if it is still current (nothing otherwise: a host
/// that is gone needs no telling).
fn tell(inner: &Inner, name: &str, generation: u32, msg: &ToService) {
    let host = inner
        .services
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.copies.iter().find(|c| c.generation == generation))
        .and_then(|c| c.host.as_ref());
    if let Some(host) = host {
        let _ = host.post(msg, None);
    }
}

/// A rejection as data: its `name`, `message` and `stack`, for the sending service's `Error`.
fn wire(e: &JsValue) -> WireError {
    let read = |key: &str| js_sys::Reflect::get(e, &key.into()).ok().and_then(|v| v.as_string());
    match e.dyn_ref::<js_sys::Error>() {
        Some(error) => WireError {
            name: String::from(error.name()),
            message: String::from(error.message()),
            status: None,
            stack: read("stack"),
            thrown: None,
        },
        None => WireError {
            name: "Error".into(),
            message: e.as_string().unwrap_or_else(|| format!("{e:?}")),
            status: None,
            stack: None,
            thrown: None,
        },
    }
}

impl Registry {
    /// Host `generation` of `from` asks for a route to `to`: decided, recorded and answered (a
    /// direct one with a new channel, one end to each host; its far end first, so the receiver
    /// has it before any message comes).
    pub(super) fn connect(&self, from: &str, generation: u32, to: &str) {
        let mut inner = self.inner.borrow_mut();
        if inner.terminated {
            return;
        }
        inner.last_link = inner.last_link.wrapping_add(1);
        let id = inner.last_link;
        let Some(sender) = inner.services.iter().find(|s| s.name == from) else { return };
        if sender.copies.iter().all(|c| c.generation != generation || c.host.is_none()) {
            return;
        }
        let sender_in_worker = sender.options.placement == Placement::Worker;
        let receiver = inner.services.iter().find(|s| s.name == to);
        let decided = route(
            sender_in_worker,
            receiver.map(|r| Receiver {
                in_worker: r.options.placement == Placement::Worker,
                instances: r.copies.len(),
                running: r.life.state() == State::Running && r.copies.iter().all(|c| c.serving().is_some()),
            }),
        );
        let direct = match (decided, receiver.and_then(|r| r.copies.first())) {
            (Route::Direct, Some(copy)) => {
                let host = copy.host.as_ref().expect("route() is Direct only when every copy has a host");
                let ends = channel().and_then(|(near, far)| {
                    host.post_port(&ToService::Accept { link: id }, &far)?;
                    Ok((copy.generation, near))
                });
                ends.ok()
            }
            _ => None,
        };
        let to_generation = direct.as_ref().map(|(generation, _)| *generation);
        let msg = ToService::Route { to: to.to_owned(), link: id, direct: direct.is_some() };
        let sender = inner
            .services
            .iter()
            .find(|s| s.name == from)
            .and_then(|s| s.copies.iter().find(|c| c.generation == generation).and_then(|c| c.host.as_ref()));
        if let Some(host) = sender {
            let posted = match &direct {
                Some((_, near)) => host.post_port(&msg, near),
                None => host.post(&msg, None),
            };
            if posted.is_ok() {
                let link = PeerLink {
                    id,
                    from: from.to_owned(),
                    from_generation: generation,
                    to: to.to_owned(),
                    to_generation,
                    draining: false,
                };
                inner.links.push(link);
            }
        }
    }

    /// `name` stopped or started (`Ended::Changed`), or lost its hosts (`Ended::Gone`; only host
    /// `generation` when given): every route to or from it is dropped, its ends told as
    /// `core::services::peers::teardown` decides.
    pub(super) fn unlink(&self, name: &str, generation: Option<u32>, ended: Ended) {
        let mut inner = self.inner.borrow_mut();
        let ends = |l: &PeerLink| {
            let at_sender = l.from == name && generation.is_none_or(|g| g == l.from_generation);
            let at_receiver = l.to == name && generation.is_none_or(|g| l.to_generation.is_none_or(|t| t == g));
            (at_sender, at_receiver)
        };
        let mut kept = Vec::new();
        for mut l in std::mem::take(&mut inner.links) {
            let (at_sender, at_receiver) = ends(&l);
            if !(at_sender || at_receiver) {
                kept.push(l);
                continue;
            }
            let told = teardown(at_sender, at_receiver, l.to_generation.is_some(), ended);
            match told.sender {
                // Told already; now its receiver answers again (a start), or never (handled below).
                Some(false) if l.draining => continue,
                Some(gone) => tell(&inner, &l.from, l.from_generation, &ToService::Disconnect { link: l.id, gone }),
                None => {}
            }
            if let (true, Some(to_generation)) = (told.receiver, l.to_generation) {
                tell(&inner, &l.to, to_generation, &ToService::Disconnect { link: l.id, gone: true });
            }
            // A direct route whose receiver stopped: its sender may still await replies on it.
            if told.sender == Some(false) && at_receiver && !at_sender && l.to_generation.is_some() {
                l.draining = true;
                kept.push(l);
            }
        }
        inner.links = kept;
    }

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
