//! The service registry: services by name, each with the shared [`Lifecycle`], a [`Host`] in
//! the placement it was registered with, its pending replies, and its diagnostics. Every state
//! change is emitted as `service_state_changed { name, from, to, reason? }`.
//!
//! Messages to a service are posted at once and queued by its host, which handles them one at a
//! time in order: a burst costs no round trip per message, and replies come back in order.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use futures_channel::oneshot;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

use super::host::{Host, HostEvent, Placement};
use super::lifecycle::{Event, Lifecycle, State, Transition};
use crate::error::{Error, ErrorKind};
use crate::events::EventHub;
use crate::protocol::{self, FromService, ToService};
use crate::runtime::timer::{Repeat, Timer};

/// What a service is: a JavaScript handler module, or a Rust [`Service`](super::Service)
/// registered by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Definition {
    /// The handler module's absolute URL.
    Module(String),
    /// The Rust service's registered name.
    Rust(String),
}

/// How a service is run, set at registration.
#[derive(Debug, Clone)]
pub(crate) struct ServiceOptions {
    pub(crate) placement: Placement,
    pub(crate) start_timeout_ms: u32,
    pub(crate) stop_timeout_ms: u32,
    pub(crate) restart_on_failure: bool,
    pub(crate) max_restarts: u32,
    /// Ask `health(ctx)` this often while running (0: never).
    pub(crate) health_interval_ms: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Loaded,
    Started,
    Stopped,
}

type Waiter = (Expect, oneshot::Sender<Result<(), Error>>);
/// Replies settle with the handler's value, or with the error it threw (its own `name` and
/// `message`), hence a JS value on both sides.
type ReplySender = oneshot::Sender<Result<JsValue, JsValue>>;

fn js(e: &Error) -> JsValue {
    crate::runtime::js_error::to_js(e)
}

#[derive(Debug)]
struct Service {
    name: String,
    definition: Definition,
    options: ServiceOptions,
    life: Lifecycle,
    host: Option<Host>,
    /// Bumped for every new host, so late events of a replaced host are ignored.
    generation: u32,
    waiter: Option<Waiter>,
    replies: BTreeMap<u32, ReplySender>,
    next_seq: u32,
    started_at: Option<f64>,
    restarts: u32,
    handled: u32,
    last_error: Option<String>,
    last_health: Option<(bool, String)>,
    /// The health-check timer while running, and whether a check awaits its answer.
    health: Option<Repeat>,
    health_outstanding: bool,
}

#[derive(Debug)]
struct Inner {
    services: Vec<Service>,
    /// Set by the bridge's `terminate()`: every host is gone and nothing starts again.
    terminated: bool,
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
    pub(crate) fn new(events: Rc<EventHub>) -> Self {
        Registry { inner: Rc::new(RefCell::new(Inner { services: Vec::new(), terminated: false })), events }
    }

    pub(crate) fn register(&self, name: &str, definition: Definition, options: ServiceOptions) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        if inner.terminated {
            return Err(terminated());
        }
        if name.is_empty() || inner.services.iter().any(|s| s.name == name) {
            return Err(Error::validation(format!(
                "a service named {name:?} is already registered (or the name is empty)"
            )));
        }
        inner.services.push(Service {
            name: name.to_owned(),
            definition,
            options,
            life: Lifecycle::default(),
            host: None,
            generation: 0,
            waiter: None,
            replies: BTreeMap::new(),
            next_seq: 0,
            started_at: None,
            restarts: 0,
            handled: 0,
            last_error: None,
            last_health: None,
            health: None,
            health_outstanding: false,
        });
        Ok(())
    }

    pub(crate) fn unregister(&self, name: &str) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        let index = inner.services.iter().position(|s| s.name == name).ok_or_else(|| not_found(name))?;
        let state = inner.services[index].life.state();
        if matches!(state, State::Starting | State::Running | State::Stopping | State::Initializing) {
            return Err(Error::new(
                ErrorKind::ServiceState,
                format!("stop the service before unregistering it (it is {})", state.as_str()),
            ));
        }
        inner.services.remove(index);
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
        let mut inner = self.inner.borrow_mut();
        inner.terminated = true;
        for s in &mut inner.services {
            s.host = None;
            s.health = None;
            if let Some((_, tx)) = s.waiter.take() {
                let _ = tx.send(Err(terminated()));
            }
            for (_, tx) in std::mem::take(&mut s.replies) {
                let _ = tx.send(Err(js(&terminated())));
            }
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

    /// Applies `event` and announces the change.
    fn transition(&self, name: &str, event: Event, reason: Option<&str>) -> Result<Transition, Error> {
        let t = self.with(name, |s| s.life.apply(event))?;
        let data = Object::new();
        let _ = Reflect::set(&data, &"name".into(), &name.into());
        let _ = Reflect::set(&data, &"from".into(), &t.from.as_str().into());
        let _ = Reflect::set(&data, &"to".into(), &t.to.as_str().into());
        if let Some(reason) = reason {
            let _ = Reflect::set(&data, &"reason".into(), &reason.into());
        }
        self.events.emit("service_state_changed", &data);
        Ok(t)
    }

    /// Spawns the service's host if it has none.
    fn ensure_host(&self, name: &str) -> Result<(), Error> {
        let weak = Rc::downgrade(&self.inner);
        let events = self.events.clone();
        self.with(name, |s| {
            if s.host.is_some() {
                return Ok(());
            }
            s.generation += 1;
            let generation = s.generation;
            let service = s.name.clone();
            let on_event = move |event: HostEvent| {
                if let Some(inner) = weak.upgrade() {
                    Registry { inner, events: events.clone() }.on_host_event(&service, generation, event);
                }
            };
            let rust = matches!(s.definition, Definition::Rust(_));
            s.host = Some(Host::spawn(&s.name, s.options.placement, rust, on_event)?);
            Ok(())
        })
    }

    /// Posts `msg` (with `payload` beside it) and waits (at most `timeout_ms`) for the host to
    /// confirm with `expect`.
    async fn expect(
        &self,
        name: &str,
        expect: Expect,
        msg: ToService,
        payload: Option<JsValue>,
        timeout_ms: u32,
    ) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.with(name, |s| {
            s.waiter = Some((expect, tx));
            s.host
                .as_ref()
                .ok_or_else(|| Error::new(ErrorKind::WorkerCrashed, "the service's host is gone"))?
                .post(&msg, payload.as_ref())
        })?;
        let weak = Rc::downgrade(&self.inner);
        let service = name.to_owned();
        let _timer = Timer::new(timeout_ms, move || {
            if let Some(inner) = weak.upgrade() {
                let mut inner = inner.borrow_mut();
                if let Some(s) = inner.services.iter_mut().find(|s| s.name == service) {
                    if let Some((_, tx)) = s.waiter.take() {
                        let _ = tx.send(Err(Error::new(
                            ErrorKind::Timeout,
                            format!("the service did not answer within {timeout_ms} ms"),
                        )));
                    }
                }
            }
        });
        rx.await.unwrap_or_else(|_| Err(Error::new(ErrorKind::WorkerCrashed, "the service's host is gone")))
    }

    /// Loads (if needed) and starts the service.
    pub(crate) async fn start(&self, name: &str) -> Result<(), Error> {
        let timeout = self.with(name, |s| Ok(s.options.start_timeout_ms))?;
        if self.state(name)? == State::Uninitialized {
            self.transition(name, Event::Initialize, None)?;
            if let Err(e) = self.load(name, timeout).await {
                return Err(self.fail(name, e));
            }
            self.transition(name, Event::Initialized, None)?;
        }
        self.transition(name, Event::Start, None)?;
        self.run_start(name, timeout).await
    }

    async fn load(&self, name: &str, timeout: u32) -> Result<(), Error> {
        self.ensure_host(name)?;
        let (msg, payload) = match self.with(name, |s| Ok(s.definition.clone()))? {
            Definition::Module(url) => (ToService::Load { url }, None),
            // The host instantiates the page's compiled module again: no download, no compile.
            Definition::Rust(service) => (
                ToService::LoadRust { service, glue_url: crate::runtime::glue::glue_url() },
                Some(wasm_bindgen::module()),
            ),
        };
        self.expect(name, Expect::Loaded, msg, payload, timeout).await
    }

    /// From `starting`: (re)load if the host is gone, call `onStart`, reach `running`.
    async fn run_start(&self, name: &str, timeout: u32) -> Result<(), Error> {
        let needs_host = self.with(name, |s| Ok(s.host.is_none()))?;
        if needs_host {
            if let Err(e) = self.load(name, timeout).await {
                return Err(self.fail(name, e));
            }
        }
        if let Err(e) = self.expect(name, Expect::Started, ToService::Start, None, timeout).await {
            return Err(self.fail(name, e));
        }
        self.with(name, |s| {
            s.started_at = Some(js_sys::Date::now());
            Ok(())
        })?;
        self.transition(name, Event::Started, None)?;
        self.arm_health(name)
    }

    /// Starts the health checks of a running service: every interval, ask `health(ctx)`; a check
    /// still unanswered at the next tick, or an unhealthy answer, is reported and — with
    /// `restart: 'on-failure'` — fails the service so that it restarts.
    fn arm_health(&self, name: &str) -> Result<(), Error> {
        let interval = self.with(name, |s| Ok(s.options.health_interval_ms))?;
        if interval == 0 {
            return Ok(());
        }
        let weak = Rc::downgrade(&self.inner);
        let events = self.events.clone();
        let service = name.to_owned();
        let timer = Repeat::new(interval, move || {
            let Some(inner) = weak.upgrade() else { return };
            let registry = Registry { inner, events: events.clone() };
            let missed = registry
                .with(&service, |s| {
                    if s.health_outstanding {
                        return Ok(true);
                    }
                    s.health_outstanding = true;
                    if let Some(host) = &s.host {
                        host.post(&ToService::Health, None)?;
                    }
                    Ok(false)
                })
                .unwrap_or(false);
            if missed {
                registry.on_health(&service, false, format!("no answer to a health check within {interval} ms"));
            }
        });
        self.with(name, |s| {
            s.health = Some(timer);
            s.health_outstanding = false;
            Ok(())
        })
    }

    fn on_health(&self, name: &str, healthy: bool, detail: String) {
        let restart = self
            .with(name, |s| {
                s.health_outstanding = false;
                s.last_health = Some((healthy, detail.clone()));
                Ok(s.options.restart_on_failure)
            })
            .unwrap_or(false);
        let data = Object::new();
        let _ = Reflect::set(&data, &"name".into(), &name.into());
        let _ = Reflect::set(&data, &"healthy".into(), &healthy.into());
        let _ = Reflect::set(&data, &"detail".into(), &detail.as_str().into());
        self.events.emit("health_check_result", &data);
        if !healthy && restart && self.state(name).ok() == Some(State::Running) {
            self.fail(name, Error::new(ErrorKind::WorkerCrashed, format!("health check failed: {detail}")));
        }
    }

    pub(crate) async fn stop(&self, name: &str) -> Result<(), Error> {
        let timeout = self.with(name, |s| Ok(s.options.stop_timeout_ms))?;
        self.transition(name, Event::Stop, None)?;
        self.with(name, |s| {
            s.health = None;
            Ok(())
        })?;
        if let Err(e) = self.expect(name, Expect::Stopped, ToService::Stop, None, timeout).await {
            return Err(self.fail(name, e));
        }
        self.with(name, |s| {
            s.started_at = None;
            Ok(())
        })?;
        self.transition(name, Event::Stopped, None).map(|_| ())
    }

    pub(crate) async fn restart(&self, name: &str) -> Result<(), Error> {
        match self.state(name)? {
            State::Running => self.stop(name).await?,
            State::Failed => {
                self.transition(name, Event::Retry, Some("restart"))?;
                self.with(name, |s| {
                    s.restarts += 1;
                    Ok(())
                })?;
                let timeout = self.with(name, |s| Ok(s.options.start_timeout_ms))?;
                return self.run_start(name, timeout).await;
            }
            _ => {}
        }
        self.start(name).await?;
        self.with(name, |s| {
            s.restarts += 1;
            Ok(())
        })
    }

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

    /// The service failed: stop its host, fail what waits on it, announce it, and restart it if
    /// its policy says so. Returns `error` for the caller.
    fn fail(&self, name: &str, error: Error) -> Error {
        let reason = error.to_string();
        let restart = self
            .with(name, |s| {
                s.host = None;
                s.health = None;
                s.last_error = Some(reason.clone());
                if let Some((_, tx)) = s.waiter.take() {
                    let _ = tx.send(Err(error.clone()));
                }
                for (_, tx) in std::mem::take(&mut s.replies) {
                    let _ = tx
                        .send(Err(js(&Error::new(ErrorKind::WorkerCrashed, format!("the service failed: {reason}")))));
                }
                Ok(s.options.restart_on_failure && s.restarts < s.options.max_restarts)
            })
            .unwrap_or(false);
        if self.transition(name, Event::Fail, Some(&reason)).is_ok() && restart {
            let registry = self.clone();
            let name = name.to_owned();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = registry.restart(&name).await;
            });
        }
        error
    }

    fn on_host_event(&self, name: &str, generation: u32, event: HostEvent) {
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
        let confirm = |expect: Expect, result: Result<(), Error>| {
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
                let error = Error::from(error);
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
                        // The caller sees what the handler threw: its name and message.
                        let e = js_sys::Error::new(&error.message);
                        e.set_name(&error.name);
                        let _ = tx.send(Err(e.into()));
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

    /// Diagnostics: `[{ name, state, placement, lastError, startedAt, restarts, messagesHandled,
    /// queueLength, lastHealth }]`.
    pub(crate) fn status(&self) -> JsValue {
        self.inner.borrow().services.iter().map(diagnostics).collect::<Array>().into()
    }

    /// The diagnostics of one service, if `name` is registered.
    pub(crate) fn status_of(&self, name: &str) -> Option<JsValue> {
        self.inner.borrow().services.iter().find(|s| s.name == name).map(diagnostics)
    }
}

fn diagnostics(s: &Service) -> JsValue {
    let o = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &k.into(), &v);
    };
    set("name", s.name.as_str().into());
    set("state", s.life.state().as_str().into());
    set("placement", if s.options.placement == Placement::Worker { "worker" } else { "main" }.into());
    set("lastError", s.last_error.as_deref().map_or(JsValue::UNDEFINED, JsValue::from));
    set("startedAt", s.started_at.map_or(JsValue::UNDEFINED, JsValue::from));
    set("restarts", s.restarts.into());
    set("messagesHandled", s.handled.into());
    set("queueLength", (s.replies.len() as u32).into());
    let health = s.last_health.as_ref().map_or(JsValue::UNDEFINED, |(healthy, detail)| {
        let h = Object::new();
        let _ = Reflect::set(&h, &"healthy".into(), &(*healthy).into());
        let _ = Reflect::set(&h, &"detail".into(), &detail.as_str().into());
        h.into()
    });
    set("lastHealth", health);
    o.into()
}
