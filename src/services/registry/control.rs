//! A service's lifecycle, driven: load, start, stop, restart and fail, each a step of the shared
//! [`Lifecycle`](crate::services::lifecycle::Lifecycle) announced as `service_state_changed`. A step that needs the
//! host posts its message and waits for the host's confirmation (an [`Expect`]), bounded by the
//! service's start or stop timeout (0: none); a failure at any step stops the host, settles
//! whatever waits on it, and carries out what the restart policy decides (`restart` in the core:
//! stay failed, restart after a back-off, or give up).

use std::rc::Rc;

use futures_channel::oneshot;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

use super::{Definition, Failure, Registry};
use crate::error::{Error, ErrorKind};
use crate::protocol::ToService;
use crate::runtime::timer::Timer;
use crate::services::host::{Host, HostEvent, HostKind};
use crate::services::lifecycle::{Event, State, Transition};
use crate::services::restart::{AfterFailure, During};

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
            let kind = match &s.definition {
                Definition::Module(_) => HostKind::Module,
                Definition::Rust(_) => HostKind::Rust,
                Definition::Inline(handler) => HostKind::Inline(handler.clone()),
            };
            s.host = Some(Host::spawn(&s.name, s.options.placement, kind, on_event)?);
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

    /// Loads (if needed) and starts the service. A start by the app: the automatic restart
    /// budget is whole again.
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
        self.with(name, |s| {
            s.budget.renew();
            Ok(())
        })?;
        self.run_start(name, timeout).await
    }

    async fn load(&self, name: &str, timeout: u32) -> Result<(), Failure> {
        self.ensure_host(name)?;
        let (definition, config) =
            self.with(name, |s| Ok((s.definition.clone(), s.options.config.as_ref().map(|c| c.value().clone()))))?;
        let (msg, payload) = match definition {
            Definition::Module(url) => (ToService::Load { url, config }, None),
            Definition::Inline(_) => (ToService::LoadInline { config }, None),
            // The host instantiates the page's compiled module again: no download, no compile.
            Definition::Rust(service) => (
                ToService::LoadRust { service, glue_url: crate::runtime::glue::glue_url(), config },
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

    /// Stops a running service after the messages queued before the stop. A stop that fails
    /// leaves the service `failed`, never restarted automatically. Stopping a failed service
    /// cancels its pending automatic restart: failed → stopped.
    pub(crate) async fn stop(&self, name: &str) -> Result<(), Failure> {
        if self.state(name)? == State::Failed {
            self.transition(name, Event::GiveUp, Some("stopped"))?;
            self.with(name, |s| {
                s.pending_restart = None;
                Ok(())
            })?;
            return Ok(());
        }
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

    /// Stops (if running) and starts again with a fresh context, or recovers a failed service
    /// at once (cancelling its pending automatic restart). Counted in `restarts`, never against
    /// the automatic restart budget, which it renews.
    pub(crate) async fn restart(&self, name: &str) -> Result<(), Failure> {
        match self.state(name)? {
            State::Running => self.stop(name).await?,
            State::Failed => {
                self.transition(name, Event::Retry, Some("restart"))?;
                let timeout = self.with(name, |s| {
                    s.pending_restart = None;
                    s.budget.renew();
                    s.restarts += 1;
                    Ok(s.options.start_timeout_ms)
                })?;
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

    /// The automatic restart of a failed service, once its back-off has passed; nothing if the
    /// service left `failed` meanwhile.
    async fn auto_restart(&self, name: &str) -> Result<(), Failure> {
        if self.state(name)? != State::Failed {
            return Ok(());
        }
        let (attempt, max) = self.with(name, |s| Ok((s.budget.spent() + 1, s.options.restart.max_restarts)))?;
        self.transition(name, Event::Retry, Some(&format!("automatic restart {attempt} of {max}")))?;
        let timeout = self.with(name, |s| {
            s.pending_restart = None;
            s.budget.count();
            s.restarts += 1;
            Ok(s.options.start_timeout_ms)
        })?;
        self.run_start(name, timeout).await
    }

    /// Restarts `name` automatically in `delay_ms`, unless a start, restart, stop, unregister or
    /// terminate comes first (each drops the timer).
    fn schedule_restart(&self, name: &str, delay_ms: u32) {
        let weak = Rc::downgrade(&self.inner);
        let events = self.events.clone();
        let service = name.to_owned();
        let timer = Timer::new(delay_ms, move || {
            if let Some(inner) = weak.upgrade() {
                let registry = Registry { inner, events };
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = registry.auto_restart(&service).await;
                });
            }
        });
        let _ = self.with(name, |s| {
            s.pending_restart = Some(timer);
            Ok(())
        });
    }

    /// The service failed: stop its host, fail what waits on it, announce it, then do what its
    /// restart policy decides (`restart::Budget::after_failure`): nothing, an automatic restart
    /// after a back-off, or give up (failed → stopped). Returns `error` for the caller.
    pub(super) fn fail(&self, name: &str, error: impl Into<Failure>) -> Failure {
        let error = error.into();
        let reason = error.to_string();
        let during = self.with(name, |s| {
            let host = s.host.take();
            s.handled += host.as_ref().map_or(0, |h| h.link().handled());
            s.health = None;
            s.last_error = Some(reason.clone());
            if let Some((_, tx)) = s.waiter.take() {
                let _ = tx.send(Err(error.clone()));
            }
            let during = match s.life.state() {
                State::Stopping => During::Stopping,
                State::Running => During::Running { for_ms: s.started_at.map_or(0.0, |at| js_sys::Date::now() - at) },
                _ => During::Starting,
            };
            Ok((during, host))
        });
        let Ok((during, host)) = during else { return error };
        if let Some(host) = host {
            // After the borrow: the callers' rejections are the last thing the host does.
            host.link().fail_all(&Error::new(ErrorKind::WorkerCrashed, format!("the service failed: {reason}")));
        }
        if self.transition(name, Event::Fail, Some(&reason)).is_err() {
            return error;
        }
        // Decided after the event: a listener may have restarted or stopped the service already,
        // which the timer's callback (`auto_restart`) and the give-up's transition both check.
        let next = self.with(name, |s| Ok((s.budget.after_failure(s.options.restart, during), s.budget.spent())));
        match next {
            Ok((AfterFailure::Restart { delay_ms }, _)) => self.schedule_restart(name, delay_ms),
            Ok((AfterFailure::GiveUp, spent)) => {
                let _ =
                    self.transition(name, Event::GiveUp, Some(&format!("gave up after {spent} automatic restarts")));
            }
            Ok((AfterFailure::Stay, _)) | Err(_) => {}
        }
        error
    }
}
