//! A service's lifecycle, driven: load, start, stop, restart and fail, each a step of the shared
//! [`Lifecycle`](crate::services::lifecycle::Lifecycle) announced as `service_state_changed`. A step that needs the
//! host posts its message and waits for the host's confirmation (an [`Expect`]), bounded by the
//! service's start or stop timeout; a failure at any step stops the host, settles whatever waits
//! on it, and restarts the service if its policy says so.

use std::rc::Rc;

use futures_channel::oneshot;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

use super::{js, Definition, Failure, Registry};
use crate::error::{Error, ErrorKind};
use crate::protocol::ToService;
use crate::runtime::timer::Timer;
use crate::services::host::{Host, HostEvent};
use crate::services::lifecycle::{Event, State, Transition};

/// The confirmation a lifecycle step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    Loaded,
    Started,
    Stopped,
}

/// The one lifecycle step a service waits on, and where its outcome goes.
pub(super) type Waiter = (Expect, oneshot::Sender<Result<(), Failure>>);

impl Registry {
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

    /// Posts `msg` (with `payload` beside it) and waits (at most `timeout_ms`; 0: no limit) for
    /// the host to confirm with `expect`.
    async fn expect(
        &self,
        name: &str,
        expect: Expect,
        msg: ToService,
        payload: Option<JsValue>,
        timeout_ms: u32,
    ) -> Result<(), Failure> {
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
        let _timer = (timeout_ms > 0).then(|| {
            Timer::new(timeout_ms, move || {
                if let Some(inner) = weak.upgrade() {
                    let mut inner = inner.borrow_mut();
                    if let Some(s) = inner.services.iter_mut().find(|s| s.name == service) {
                        if let Some((_, tx)) = s.waiter.take() {
                            let message = format!("the service did not answer within {timeout_ms} ms");
                            let _ = tx.send(Err(Error::new(ErrorKind::Timeout, message).into()));
                        }
                    }
                }
            })
        });
        rx.await.unwrap_or_else(|_| Err(Error::new(ErrorKind::WorkerCrashed, "the service's host is gone").into()))
    }

    /// Loads (if needed) and starts the service.
    pub(crate) async fn start(&self, name: &str) -> Result<(), Failure> {
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

    async fn load(&self, name: &str, timeout: u32) -> Result<(), Failure> {
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
    async fn run_start(&self, name: &str, timeout: u32) -> Result<(), Failure> {
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
        Ok(self.arm_health(name)?)
    }

    pub(crate) async fn stop(&self, name: &str) -> Result<(), Failure> {
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
        self.transition(name, Event::Stopped, None)?;
        Ok(())
    }

    pub(crate) async fn restart(&self, name: &str) -> Result<(), Failure> {
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
        Ok(self.with(name, |s| {
            s.restarts += 1;
            Ok(())
        })?)
    }

    /// The service failed: stop its host, fail what waits on it, announce it, and restart it if
    /// its policy says so. Returns `error` for the caller.
    pub(super) fn fail(&self, name: &str, error: impl Into<Failure>) -> Failure {
        let error = error.into();
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
}
