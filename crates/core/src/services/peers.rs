//! Messages from one service to another (`ctx.send(name, message)` inside a service): the
//! decisions, apart from the registry (`src/services/registry/peers.rs`) and the hosts
//! (`worker/service-host.js`) that carry them out.
//!
//! - **Which route** ([`route`]): the first send from a host to a name asks the page, which answers
//!   with a route the host keeps until told otherwise. **Direct** — a `MessageChannel` from the
//!   sender's worker to the receiver's, no hop through the page — when both run in workers, the
//!   receiver runs, and it has one copy. Otherwise **through the page**: the registry sends it on
//!   as `services.send` (a main-placed service, mixed placements, a receiver with `instances` > 1
//!   whose least busy copy the page picks, a receiver that does not run — which then gets the
//!   typed error `services.send` gives).
//! - **Ordering**: FIFO from one sender host to one receiver, as `services.send`: a host sends
//!   nothing to a name while it waits for the route, and keeps one route at a time.
//! - **Teardown** ([`teardown`]): when either end stops, or loses its host (a failure, a copy
//!   replaced), or the receiver starts (a route through the page may now be direct), the registry
//!   tells the ends; the sender asks again at its next send. A sender told to let a direct link go
//!   waits for the replies it awaits (a stopping receiver answers what came before its stop, and
//!   refuses what came after with `ServiceStateError`), then says so on the channel, which the
//!   receiver closes.
//! - **Cycles**: a service handles one message at a time, so a handler that awaits a reply from a
//!   service that (directly or through others) awaits a reply from it waits forever, as does one
//!   that awaits its own send to itself. Nothing detects it: give such sends a `timeoutMs`.
//!
//! ```
//! # use worker_bridge_core::services::peers::{route, Receiver, Route};
//! let receiver = Receiver { in_worker: true, instances: 1, running: true };
//! assert_eq!(route(true, Some(receiver)), Route::Direct);
//! assert_eq!(route(false, Some(receiver)), Route::Page);
//! ```

/// How a service's messages reach another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Over a `MessageChannel` between the two workers.
    Direct,
    /// Through the page's registry, as `services.send`.
    Page,
}

/// What the registry knows of the receiver when a route is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receiver {
    /// Placed in a worker.
    pub in_worker: bool,
    /// Its copies (`instances`).
    pub instances: usize,
    /// Running, with every copy's host up.
    pub running: bool,
}

/// The route from a sender (in a worker or not) to `receiver` (`None`: no such service).
pub fn route(sender_in_worker: bool, receiver: Option<Receiver>) -> Route {
    match receiver {
        Some(r) if sender_in_worker && r.in_worker && r.instances == 1 && r.running => Route::Direct,
        _ => Route::Page,
    }
}

/// What happened to a service with routes to or from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It stopped (its host stays, and answers what it got before the stop), or it started (a
    /// route to it may be better now).
    Changed,
    /// Its host is gone (a failure, a copy replaced): it answers nothing more.
    Gone,
}

/// Who hears of it, for one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Teardown {
    /// Tell the sender to drop the route: `Some(false)` lets a direct link drain first,
    /// `Some(true)` fails what still awaits a reply on it at once.
    pub sender: Option<bool>,
    /// Tell the receiver to close its end of the direct channel.
    pub receiver: bool,
}

/// Who is told what about a route (`direct` or through the page) when the service at its sending
/// end (`at_sender`), its receiving end (`at_receiver`), or both (a service sending to itself)
/// `ended`.
pub fn teardown(at_sender: bool, at_receiver: bool, direct: bool, ended: Ended) -> Teardown {
    let nobody = Teardown { sender: None, receiver: false };
    match (at_sender, at_receiver, ended) {
        (_, true, Ended::Changed) | (true, false, Ended::Changed) => Teardown { sender: Some(false), receiver: false },
        // The receiver's host is gone (with the sender's, for a send to itself: telling it is
        // harmless).
        (_, true, Ended::Gone) => Teardown { sender: Some(true), receiver: false },
        // The sender's host is gone: nobody says goodbye on the channel, so the receiver closes it.
        (true, false, Ended::Gone) => Teardown { sender: None, receiver: direct },
        (false, false, _) => nobody,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_only_between_workers_to_a_single_running_copy() {
        let r = |in_worker, instances, running| Some(Receiver { in_worker, instances, running });
        assert_eq!(route(true, r(true, 1, true)), Route::Direct);
        assert_eq!(route(false, r(true, 1, true)), Route::Page, "a main-placed sender");
        assert_eq!(route(true, r(false, 1, true)), Route::Page, "a main-placed receiver");
        assert_eq!(route(true, r(true, 2, true)), Route::Page, "the page picks the least busy copy");
        assert_eq!(route(true, r(true, 1, false)), Route::Page, "not running: the page's typed error");
        assert_eq!(route(true, None), Route::Page, "unknown: the page's typed error");
    }

    #[test]
    fn either_end_changing_drops_the_route_and_a_gone_host_fails_or_closes_it() {
        let drain = Teardown { sender: Some(false), receiver: false };
        let fail = Teardown { sender: Some(true), receiver: false };
        let close = Teardown { sender: None, receiver: true };
        for direct in [true, false] {
            assert_eq!(teardown(false, true, direct, Ended::Changed), drain, "the receiver stopped or started");
            assert_eq!(teardown(true, false, direct, Ended::Changed), drain, "the sender stopped");
            assert_eq!(teardown(false, true, direct, Ended::Gone), fail, "the receiver's host is gone");
            assert_eq!(teardown(true, true, direct, Ended::Gone), fail, "a send to itself");
            assert_eq!(teardown(false, false, direct, Ended::Gone), Teardown { sender: None, receiver: false });
        }
        assert_eq!(teardown(true, false, true, Ended::Gone), close, "the sender's host is gone");
        assert_eq!(teardown(true, false, false, Ended::Gone), Teardown { sender: None, receiver: false });
    }
}
