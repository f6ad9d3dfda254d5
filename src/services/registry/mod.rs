//! The service registry: services by name, each with the shared [`Lifecycle`], one [`Host`] per
//! copy (`instances`, 1 by default) in the placement it was registered with, its pending replies,
//! and its diagnostics. Every state
//! change is emitted as `service_state_changed { name, from, to, reason? }`.
//!
//! Messages to a service are queued on its host's link, which posts what was sent in one task
//! turn as one batch; the service's host handles them one at a time in order and sends replies
//! that are ready back to back as one batch too: a burst costs no round trip per message, and
//! replies come back in order. The link (`worker/service-link.js`) keeps each message's caller
//! and settles it; the registry fails them all when the service fails or the bridge terminates.
//!
//! One concern per file: this one holds the [`Registry`] handle, its state and registration;
//! `control` drives a service through its lifecycle (start, stop, restart, fail); `dependencies`
//! orders those steps across services that depend on each other (`dependsOn`); `messages`
//! carries messages to a service and routes everything its host says back; `health` runs the
//! health checks; `persistence` restores and stores snapshots (`persist`); `peers` relays what
//! services send each other (`ctx.send`); `diagnostics` builds the status objects.
//!
//! Two invariants hold in every file:
//! - **No user callback runs while the state is borrowed.** The state is reached only through
//!   `with` (or a short borrow that calls nothing), whose borrow ends when its closure returns;
//!   events are emitted, and restarts spawned, after it. Inside it, channels are settled and
//!   messages posted, which run no user code.
//! - **Every promise settles.** A lifecycle call's waiter settles when the host confirms, when its
//!   timeout fires, when the service fails, or when the bridge terminates; a message's reply when
//!   the handler answers, when the caller gives up (its timeout or abort, in the link), when the
//!   service fails, or when the bridge terminates (`Link::fail_all`, after the borrow). A sender
//!   dropped unsent settles its receiver; a host dropped with callers waiting fails them.

mod control;
mod dependencies;
mod diagnostics;
mod health;
mod messages;
mod peers;
mod persistence;

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::host::{inline_in_worker, Host, Placement};
use super::lifecycle::{Lifecycle, State};
use crate::error::{Error, ErrorKind};
use crate::events::EventHub;
use crate::protocol::WireError;
use crate::runtime::timer::{Repeat, Timer};
use crate::services::persist::Persist;
use crate::services::restart::{Budget, Policy};
use crate::services::Config;
use control::Step;
pub(crate) use dependencies::check as check_dependencies;

/// What a service is: a JavaScript handler module, a Rust [`Service`](super::Service)
/// registered by name, or (main placement only) a handler object given inline.
#[derive(Debug, Clone)]
pub(crate) enum Definition {
    /// The handler module's absolute URL.
    Module(String),
    /// The Rust service's registered name.
    Rust(String),
    /// `{ onStart, onMessage, onStop, health }` itself: it runs on the page, never cloned.
    Inline(js_sys::Object),
}

/// How a service is run, set at registration.
#[derive(Debug, Clone)]
pub(crate) struct ServiceOptions {
    pub(crate) placement: Placement,
    pub(crate) start_timeout_ms: u32,
    pub(crate) stop_timeout_ms: u32,
    /// `restart` and `maxRestarts`.
    pub(crate) restart: Policy,
    /// Ask `health(ctx)` this often while running (0: never).
    pub(crate) health_interval_ms: u32,
    /// `config`: carried to the host with the load (`ctx.config`, or a Rust service's typed config).
    pub(crate) config: Option<Config>,
    /// `instances`: how many copies run (each its own host; see `core::services::instances`).
    pub(crate) instances: u32,
    /// `dependsOn`: the services to start before this one (and to stop after it).
    pub(crate) depends_on: Vec<String>,
    /// `persist` and `snapshotIntervalMs` (see `core::services::persist`).
    pub(crate) persist: Option<Persist>,
}

fn js(e: &Error) -> JsValue {
    crate::runtime::js_error::to_js(e)
}

/// Why a lifecycle step (load, start, stop) failed: the bridge's own error (a timeout, a crash),
/// or what the service's hook threw — kept as it was, its own `name` (a `TypeError` stays one),
/// `message` and `stack`, for the caller.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    Bridge(Error),
    Thrown(WireError),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Bridge(e)
    }
}

impl Failure {
    /// The `Error` the caller's promise rejects with.
    pub(crate) fn to_js(&self) -> JsValue {
        match self {
            Failure::Bridge(e) => js(e),
            Failure::Thrown(w) => crate::runtime::js_error::thrown(&w.name, &w.message, w.stack.as_deref()),
        }
    }
}

impl std::fmt::Display for Failure {
    /// `Name: message`, as `lastError` and the `reason` of events say it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Bridge(e) => e.fmt(f),
            Failure::Thrown(w) => write!(f, "{}: {}", w.name, w.message),
        }
    }
}

/// One copy of a service: its host (none before the load, after a failure, while it waits to be
/// replaced), the lifecycle step it owes an answer to, its health check and its own restart
/// budget (a copy replaced alone spends from it).
#[derive(Debug, Default)]
struct Copy {
    host: Option<Host>,
    /// The generation of `host` (unique within the service), so late events of a replaced host
    /// are ignored.
    generation: u32,
    waiter: Option<Rc<Step>>,
    health_outstanding: bool,
    /// When this copy last reached `running`.
    started_at: Option<f64>,
    /// Its replacement (numbered by `restarts`) is loading or starting: its new host takes no
    /// message, health check or snapshot request until it runs (the steps of a replacement are
    /// separate awaits, and a timer may fire between them). A replacement whose number is no
    /// longer here was overtaken (its host dropped) and stops at its next step.
    replacing: Option<u32>,
    budget: Budget,
    /// Replacements of this copy alone.
    restarts: u32,
    /// The timer of its replacement, waiting out its back-off.
    pending_restart: Option<Timer>,
}

#[derive(Debug)]
struct Service {
    name: String,
    definition: Definition,
    options: ServiceOptions,
    life: Lifecycle,
    /// `options.instances` copies, in order.
    copies: Vec<Copy>,
    /// The last host generation given out (bumped for every new host of any copy).
    generation: u32,
    started_at: Option<f64>,
    /// Every restart, manual or automatic.
    restarts: u32,
    /// The automatic restarts spent (what `maxRestarts` bounds).
    budget: Budget,
    /// The timer of an automatic restart waiting out its back-off.
    pending_restart: Option<Timer>,
    /// Replies handled by hosts gone since (`messagesHandled` adds the current hosts' counts).
    handled: u32,
    last_error: Option<String>,
    last_health: Option<(bool, String)>,
    /// The health-check timer while running.
    health: Option<Repeat>,
    /// The snapshot timer while running (`persist` with a `snapshotIntervalMs`).
    snapshots: Option<Repeat>,
    /// Told, when a start in progress ends, whether the service reached `running` (a dependent
    /// started at the same time waits for it rather than starting it twice).
    up_waiters: Vec<futures_channel::oneshot::Sender<bool>>,
}

impl Copy {
    /// Its host, if it is in service: neither waiting on a lifecycle step nor being replaced.
    fn serving(&self) -> Option<&Host> {
        self.host.as_ref().filter(|_| self.replacing.is_none() && self.waiter.as_ref().is_none_or(|w| w.is_over()))
    }
}

impl Service {
    /// The copy whose current host is `generation`.
    fn copy_of(&mut self, generation: u32) -> Option<(usize, &mut Copy)> {
        self.copies.iter_mut().enumerate().find(|(_, c)| c.host.is_some() && c.generation == generation)
    }

    /// Drops copy `i`'s host (counting what it handled); returns it, for its callers to be failed
    /// after the borrow.
    fn take_host(&mut self, i: usize) -> Option<Host> {
        let copy = &mut self.copies[i];
        let host = copy.host.take();
        copy.health_outstanding = false;
        copy.started_at = None;
        // A replacement in progress loses its host with it.
        copy.replacing = None;
        self.handled += host.as_ref().map_or(0, |h| h.link().handled());
        host
    }
}

#[derive(Debug)]
struct Inner {
    services: Vec<Service>,
    /// Origins besides the page's that handler modules may come from (`serviceOrigins`).
    module_origins: Rc<[String]>,
    /// Set by the bridge's `terminate()`: every host is gone and nothing starts again.
    terminated: bool,
    /// The routes given to services for their `ctx.send`s (see `peers`).
    links: Vec<peers::PeerLink>,
    /// The last route number given out.
    last_link: u32,
    /// `busyPollUs`: how long the page polls for a worker-placed service's replies, and its
    /// worker for the page's next message.
    busy_poll_us: u32,
}

/// The registry behind `bridge.services`.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    inner: Rc<RefCell<Inner>>,
    events: Rc<EventHub>,
}

fn terminated() -> Error {
    Error::new(ErrorKind::Terminated, "the bridge was terminated")
}

fn not_found(name: &str) -> Error {
    Error::validation(format!("no service is registered as {name:?}"))
}

impl Registry {
    pub(crate) fn new(events: Rc<EventHub>, module_origins: Vec<String>, busy_poll_us: u32) -> Self {
        let inner = Inner {
            services: Vec::new(),
            module_origins: module_origins.into(),
            terminated: false,
            links: Vec::new(),
            last_link: 0,
            busy_poll_us,
        };
        Registry { inner: Rc::new(RefCell::new(inner)), events }
    }

    /// The origins besides the page's that handler modules may come from.
    pub(crate) fn module_origins(&self) -> Rc<[String]> {
        self.inner.borrow().module_origins.clone()
    }

    pub(crate) fn register(&self, name: &str, definition: Definition, options: ServiceOptions) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        if inner.terminated {
            return Err(terminated());
        }
        if matches!(definition, Definition::Inline(_)) && options.placement == Placement::Worker {
            return Err(inline_in_worker());
        }
        if name.is_empty() || inner.services.iter().any(|s| s.name == name) {
            return Err(Error::validation(format!(
                "a service named {name:?} is already registered (or the name is empty)"
            )));
        }
        let copies = (0..options.instances.max(1)).map(|_| Copy::default()).collect();
        inner.services.push(Service {
            name: name.to_owned(),
            definition,
            options,
            life: Lifecycle::default(),
            copies,
            generation: 0,
            started_at: None,
            restarts: 0,
            budget: Budget::default(),
            pending_restart: None,
            handled: 0,
            last_error: None,
            last_health: None,
            health: None,
            snapshots: None,
            up_waiters: Vec::new(),
        });
        Ok(())
    }

    pub(crate) fn unregister(&self, name: &str) -> Result<(), Error> {
        let inner = self.inner.borrow();
        if inner.terminated {
            return Err(terminated());
        }
        let index = inner.services.iter().position(|s| s.name == name).ok_or_else(|| not_found(name))?;
        let state = inner.services[index].life.state();
        if matches!(state, State::Starting | State::Running | State::Stopping | State::Initializing) {
            return Err(Error::new(
                ErrorKind::ServiceState,
                format!("stop the service before unregistering it (it is {})", state.as_str()),
            ));
        }
        drop(inner);
        // Its hosts go with it: a sender still draining a route to it fails what it awaits.
        self.unlink(name, None, crate::services::peers::Ended::Gone);
        self.inner.borrow_mut().services.retain(|s| s.name != name);
        Ok(())
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.inner.borrow().services.iter().map(|s| s.name.clone()).collect()
    }

    pub(crate) fn state(&self, name: &str) -> Result<State, Error> {
        self.with(name, |s| Ok(s.life.state()))
    }

    /// Ends every service with the bridge: hosts (and their workers) go, whatever waits on them
    /// fails with `TerminatedError`, and nothing can start again.
    pub(crate) fn terminate(&self) {
        let mut hosts = Vec::new();
        {
            let mut inner = self.inner.borrow_mut();
            inner.terminated = true;
            inner.links.clear();
            for s in &mut inner.services {
                s.health = None;
                s.snapshots = None;
                s.pending_restart = None;
                // Who waits for a start hears it did not happen.
                s.up_waiters.clear();
                for i in 0..s.copies.len() {
                    hosts.extend(s.take_host(i));
                    let copy = &mut s.copies[i];
                    copy.pending_restart = None;
                    if let Some(step) = copy.waiter.take() {
                        step.settle(Err(terminated().into()));
                    }
                }
            }
        }
        for host in hosts {
            host.link().fail_all(&terminated());
        }
    }

    fn with<T>(&self, name: &str, f: impl FnOnce(&mut Service) -> Result<T, Error>) -> Result<T, Error> {
        let mut inner = self.inner.borrow_mut();
        if inner.terminated {
            return Err(terminated());
        }
        let service = inner.services.iter_mut().find(|s| s.name == name).ok_or_else(|| not_found(name))?;
        f(service)
    }
}
