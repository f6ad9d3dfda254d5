//! A service's lifecycle, driven: load, start, stop, restart and fail, each a step of the shared
//! [`Lifecycle`](crate::services::lifecycle::Lifecycle) announced as `service_state_changed`. A step that needs the
//! hosts posts its message to every copy's host and waits for all of them to confirm (a
//! [`Step`]), bounded by the service's start or stop timeout (0: none); a failure at any step
//! stops every host, settles whatever waits on them, and carries out what the restart policy
//! decides (`restart` in the core: stay failed, restart after a back-off, or give up). One copy of
//! several that fails while the service runs is replaced alone (`instances` in the core decides),
//! announced as `worker_state_changed { kind: 'service', service, instance, from, to, reason? }`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::oneshot;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

use super::{Definition, Failure, Registry};
use crate::error::{Error, ErrorKind};
use crate::protocol::ToService;
use crate::runtime::timer::Timer;
use crate::services::host::{Host, HostEvent, HostKind, Placement};
use crate::services::instances::{self, CopyFailure};
use crate::services::lifecycle::{Event, State, Transition};
use crate::services::peers::Ended;
use crate::services::restart::{AfterFailure, During};

/// The confirmation a lifecycle step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    Loaded,
    Started,
    Stopped,
    Restored,
    Snapshotted,
}

/// One lifecycle step, awaited from one or more copies: done when every copy has confirmed it,
/// failed at the first copy that fails it (or at its timeout). Sending its outcome runs no user
/// code, so a copy settles it inside the registry's borrow.
#[derive(Debug)]
pub(super) struct Step {
    expect: Expect,
    remaining: Cell<usize>,
    tx: RefCell<Option<oneshot::Sender<Result<(), Failure>>>>,
}

impl Step {
    /// What this step waits for.
    pub(super) fn expects(&self) -> Expect {
        self.expect
    }

    /// Whether it has its outcome (a copy's later answer changes nothing).
    pub(super) fn is_over(&self) -> bool {
        self.tx.borrow().is_none()
    }

    /// One copy's answer: the step is done at the last confirmation, or failed at the first error.
    pub(super) fn settle(&self, result: Result<(), Failure>) {
        let done = match &result {
            Ok(()) => {
                let left = self.remaining.get().saturating_sub(1);
                self.remaining.set(left);
                left == 0
            }
            Err(_) => true,
        };
        if done {
            if let Some(tx) = self.tx.borrow_mut().take() {
                let _ = tx.send(result);
            }
        }
    }
}

/// Which copies a step is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Copies {
    /// Every copy.
    All,
    /// Those without a host (to load them).
    Missing,
    /// Those with a host (to stop them).
    Hosted,
    /// One copy (its replacement).
    One(usize),
    /// The copies whose bit is set (at most `instances::MAX_INSTANCES`, 64).
    Mask(u64),
}

impl Copies {
    pub(super) fn pick(self, copies: &[super::Copy]) -> Vec<usize> {
        (0..copies.len())
            .filter(|&i| match self {
                Copies::All => true,
                Copies::Missing => copies[i].host.is_none(),
                Copies::Hosted => copies[i].host.is_some(),
                Copies::One(one) => i == one,
                Copies::Mask(mask) => i < 64 && mask & (1 << i) != 0,
            })
            .collect()
    }
}

fn gone() -> Error {
    Error::new(ErrorKind::WorkerCrashed, "the service's host is gone")
}

impl Registry {
    /// Applies `event` and announces the change.
    fn transition(&self, name: &str, event: Event, reason: Option<&str>) -> Result<Transition, Error> {
        let t = self.with(name, |s| {
            let t = s.life.apply(event)?;
            // A start in progress is over: tell who waits for it (a oneshot runs no user code).
            if matches!(t.to, State::Running | State::Failed | State::Stopped) {
                for tx in s.up_waiters.drain(..) {
                    let _ = tx.send(t.to == State::Running);
                }
            }
            Ok(t)
        })?;
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

    /// Spawns a host for every copy that has none.
    fn ensure_hosts(&self, name: &str) -> Result<(), Error> {
        let weak = Rc::downgrade(&self.inner);
        let events = self.events.clone();
        let busy_poll_us = self.inner.borrow().busy_poll_us;
        self.with(name, |s| {
            for i in 0..s.copies.len() {
                if s.copies[i].host.is_some() {
                    continue;
                }
                s.generation += 1;
                let generation = s.generation;
                let service = s.name.clone();
                let (weak, events) = (weak.clone(), events.clone());
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
                let host = Host::spawn(&s.name, s.options.placement, kind, busy_poll_us, on_event)?;
                let copy = &mut s.copies[i];
                copy.host = Some(host);
                copy.generation = generation;
            }
            Ok(())
        })
    }

    /// Posts `msg` (with `payload` beside it) to each of `copies` and waits (at most
    /// `timeout_ms`; 0: no limit) until every one has confirmed with `expect`.
    pub(super) async fn expect(
        &self,
        name: &str,
        expect: Expect,
        copies: Copies,
        msg: ToService,
        payload: Option<JsValue>,
        timeout_ms: u32,
    ) -> Result<(), Failure> {
        let (tx, rx) = oneshot::channel();
        let step = self.with(name, |s| {
            let targets = copies.pick(&s.copies);
            let step = Rc::new(Step { expect, remaining: Cell::new(targets.len()), tx: RefCell::new(Some(tx)) });
            if targets.is_empty() {
                step.settle(Ok(()));
            }
            for i in targets {
                let copy = &mut s.copies[i];
                copy.waiter = Some(step.clone());
                if let Err(e) = copy.host.as_ref().ok_or_else(gone).and_then(|h| h.post(&msg, payload.as_ref())) {
                    step.settle(Err(e.clone().into()));
                    return Err(e);
                }
            }
            Ok(step)
        })?;
        let _timer = (timeout_ms > 0).then(|| {
            let step = Rc::downgrade(&step);
            Timer::new(timeout_ms, move || {
                if let Some(step) = step.upgrade() {
                    let message = format!("the service did not answer within {timeout_ms} ms");
                    step.settle(Err(Error::new(ErrorKind::Timeout, message).into()));
                }
            })
        });
        drop(step);
        let result = rx.await.unwrap_or_else(|_| Err(gone().into()));
        // The step is over: no copy waits on it any more (a late answer is ignored).
        let _ = self.with(name, |s| {
            for copy in &mut s.copies {
                if copy.waiter.as_ref().is_some_and(|w| w.is_over()) {
                    copy.waiter = None;
                }
            }
            Ok(())
        });
        result
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

    /// Loads every copy that has no host yet.
    async fn load(&self, name: &str, timeout: u32) -> Result<(), Failure> {
        self.load_copies(name, Copies::Missing, timeout).await
    }

    async fn load_copies(&self, name: &str, copies: Copies, timeout: u32) -> Result<(), Failure> {
        let copies = match copies {
            // Which copies: decided before their hosts exist.
            Copies::Missing => {
                let missing = self.with(name, |s| Ok(Copies::Missing.pick(&s.copies)))?;
                Copies::Mask(missing.iter().fold(0, |mask, &i| mask | (1 << i)))
            }
            other => other,
        };
        self.ensure_hosts(name)?;
        let (definition, config, placement) = self.with(name, |s| {
            Ok((s.definition.clone(), s.options.config.as_ref().map(|c| c.value().clone()), s.options.placement))
        })?;
        // A worker-placed host polls for the page's next message; on the page's own thread
        // nothing has to wake.
        let busy_poll_us =
            Some(self.inner.borrow().busy_poll_us).filter(|&us| us > 0 && placement == Placement::Worker);
        let (msg, payload) = match definition {
            Definition::Module(url) => (ToService::Load { url, config, busy_poll_us }, None),
            Definition::Inline(_) => (ToService::LoadInline { config }, None),
            // The host instantiates the page's compiled module again: no download, no compile.
            Definition::Rust(service) => (
                ToService::LoadRust { service, glue_url: crate::runtime::glue::glue_url(), config, busy_poll_us },
                Some(wasm_bindgen::module()),
            ),
        };
        self.expect(name, Expect::Loaded, copies, msg, payload, timeout).await
    }

    /// From `starting`: (re)load the copies whose host is gone, call `onStart` in every copy,
    /// reach `running`.
    async fn run_start(&self, name: &str, timeout: u32) -> Result<(), Failure> {
        let needs_host = self.with(name, |s| Ok(s.copies.iter().any(|c| c.host.is_none())))?;
        if needs_host {
            if let Err(e) = self.load(name, timeout).await {
                return Err(self.fail(name, e));
            }
        }
        let stored = match self.read_snapshots(name, Copies::All, timeout).await {
            Ok(stored) => stored,
            Err(e) => return Err(self.fail(name, e)),
        };
        if let Err(e) = self.expect(name, Expect::Started, Copies::All, ToService::Start, None, timeout).await {
            return Err(self.fail(name, e));
        }
        if let Err(e) = self.restore(name, stored, timeout).await {
            return Err(self.fail(name, e));
        }
        self.with(name, |s| {
            let now = js_sys::Date::now();
            s.started_at = Some(now);
            for copy in &mut s.copies {
                copy.started_at = Some(now);
                copy.budget.renew();
            }
            Ok(())
        })?;
        self.transition(name, Event::Started, None)?;
        // Routes to it through the page may be direct now: their senders ask again.
        self.unlink(name, None, Ended::Changed);
        self.arm_health(name)?;
        Ok(self.arm_snapshots(name)?)
    }

    /// Stops a running service after the messages queued before the stop. A stop that fails
    /// leaves the service `failed`, never restarted automatically. Stopping a failed service
    /// cancels its pending automatic restart: failed → stopped.
    pub(crate) async fn stop(&self, name: &str) -> Result<(), Failure> {
        self.stop_because(name, None).await
    }

    /// `stop`, with the `reason` its events give (a dependency stopping or failing).
    pub(super) async fn stop_because(&self, name: &str, reason: Option<&str>) -> Result<(), Failure> {
        if self.state(name)? == State::Failed {
            self.transition(name, Event::GiveUp, Some(reason.unwrap_or("stopped")))?;
            self.with(name, |s| {
                s.pending_restart = None;
                Ok(())
            })?;
            return Ok(());
        }
        let timeout = self.with(name, |s| Ok(s.options.stop_timeout_ms))?;
        self.transition(name, Event::Stop, reason)?;
        let dropped = self.with(name, |s| {
            s.health = None;
            s.snapshots = None;
            // A copy waiting to be replaced is not, and one being replaced (loaded, never started)
            // loses its new host: the service stops, and the replacement ends at its next step.
            let mut dropped = Vec::new();
            for i in 0..s.copies.len() {
                s.copies[i].pending_restart = None;
                if s.copies[i].replacing.is_some() {
                    if let Some(step) = s.copies[i].waiter.take() {
                        step.settle(Err(Error::new(ErrorKind::ServiceState, "the service is stopping").into()));
                    }
                    dropped.extend(s.take_host(i));
                }
            }
            Ok(dropped)
        })?;
        // After the borrow: a host's drop closes its port or worker.
        drop(dropped);
        // The state as it is after the last message, stored before `onStop` can change it.
        if let Err(e) = self.snapshot_at_stop(name, timeout).await {
            return Err(self.fail(name, e));
        }
        if let Err(e) = self.expect(name, Expect::Stopped, Copies::Hosted, ToService::Stop, None, timeout).await {
            return Err(self.fail(name, e));
        }
        self.with(name, |s| {
            s.started_at = None;
            Ok(())
        })?;
        self.transition(name, Event::Stopped, reason)?;
        // Its routes go (a sender lets a direct one drain first, then asks again).
        self.unlink(name, None, Ended::Changed);
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
            let during = match s.life.state() {
                State::Stopping => During::Stopping,
                State::Running => During::Running { for_ms: s.started_at.map_or(0.0, |at| js_sys::Date::now() - at) },
                _ => During::Starting,
            };
            let mut hosts = Vec::new();
            for i in 0..s.copies.len() {
                hosts.extend(s.take_host(i));
                let copy = &mut s.copies[i];
                copy.pending_restart = None;
                if let Some(step) = copy.waiter.take() {
                    step.settle(Err(error.clone()));
                }
            }
            s.health = None;
            s.snapshots = None;
            s.last_error = Some(reason.clone());
            Ok((during, hosts))
        });
        let Ok((during, hosts)) = during else { return error };
        for host in hosts {
            // After the borrow: the callers' rejections are the last thing the host does.
            host.link().fail_all(&Error::new(ErrorKind::WorkerCrashed, format!("the service failed: {reason}")));
        }
        self.unlink(name, None, Ended::Gone);
        if self.transition(name, Event::Fail, Some(&reason)).is_err() {
            return error;
        }
        // What depends on it stops (after this borrow-free point, in a task of its own).
        self.stop_dependents(name, &reason);
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

    /// Announces copy `instance`'s move as `worker_state_changed { kind: 'service', service,
    /// instance, from, to, reason? }`.
    fn announce_copy(&self, name: &str, instance: usize, from: &str, to: &str, reason: Option<&str>) {
        let data = Object::new();
        let _ = Reflect::set(&data, &"kind".into(), &"service".into());
        let _ = Reflect::set(&data, &"service".into(), &name.into());
        let _ = Reflect::set(&data, &"instance".into(), &(instance as u32).into());
        let _ = Reflect::set(&data, &"from".into(), &from.into());
        let _ = Reflect::set(&data, &"to".into(), &to.into());
        if let Some(reason) = reason {
            let _ = Reflect::set(&data, &"reason".into(), &reason.into());
        }
        self.events.emit("worker_state_changed", &data);
    }

    /// The host `generation` failed (a crash, a hook error outside any step, a failed health
    /// check): the step its copy owes an answer to fails; otherwise, while the service runs, that
    /// copy alone is replaced when `instances::after_copy_failure` says so, else the whole service
    /// fails.
    pub(super) fn fail_copy(&self, name: &str, generation: u32, error: impl Into<Failure>) {
        let error = error.into();
        let decided = self.with(name, |s| {
            let running = s.life.state() == State::Running;
            let (policy, instances) = (s.options.restart, s.copies.len());
            let Some((i, copy)) = s.copy_of(generation) else { return Ok(None) };
            if let Some(step) = copy.waiter.take().filter(|w| !w.is_over()) {
                step.settle(Err(error.clone()));
                return Ok(None);
            }
            if !running {
                return Ok(Some(None));
            }
            let for_ms = copy.started_at.map_or(0.0, |at| js_sys::Date::now() - at);
            match instances::after_copy_failure(instances, policy, &mut copy.budget, During::Running { for_ms }) {
                CopyFailure::Replace { delay_ms } => Ok(Some(Some((i, s.take_host(i), delay_ms)))),
                CopyFailure::FailService => Ok(Some(None)),
            }
        });
        match decided {
            Ok(Some(Some((i, host, delay_ms)))) => {
                self.unlink(name, Some(generation), Ended::Gone);
                self.replace_later(name, i, "running", host, &error, delay_ms);
            }
            Ok(Some(None)) => {
                self.fail(name, error);
            }
            Ok(None) | Err(_) => {}
        }
    }

    /// Copy `i` lost its `host` to `error` while `from` (`running`, `starting`): fail what it
    /// still owed, announce it, and replace it after `delay_ms` (unless the service stops or fails
    /// first, which drops the timer).
    fn replace_later(&self, name: &str, i: usize, from: &str, host: Option<Host>, error: &Failure, delay_ms: u32) {
        let reason = error.to_string();
        if let Some(host) = host {
            host.link().fail_all(&Error::new(ErrorKind::WorkerCrashed, format!("the service's copy failed: {reason}")));
        }
        self.announce_copy(name, i, from, "crashed", Some(&reason));
        let weak = Rc::downgrade(&self.inner);
        let events = self.events.clone();
        let service = name.to_owned();
        let timer = Timer::new(delay_ms, move || {
            if let Some(inner) = weak.upgrade() {
                let registry = Registry { inner, events };
                wasm_bindgen_futures::spawn_local(async move { registry.replace_copy(&service, i).await });
            }
        });
        let _ = self.with(name, |s| {
            s.last_error = Some(reason.clone());
            s.copies[i].pending_restart = Some(timer);
            Ok(())
        });
    }

    /// Replaces copy `i` of a running service: a new host, loaded and started; its failure is
    /// decided again (`instances::after_copy_failure`, as a start).
    async fn replace_copy(&self, name: &str, i: usize) {
        let started = self.with(name, |s| {
            if s.life.state() != State::Running || s.copies[i].host.is_some() {
                return Err(Error::validation("no longer to be replaced"));
            }
            let copy = &mut s.copies[i];
            copy.pending_restart = None;
            copy.budget.count();
            copy.restarts += 1;
            copy.replacing = Some(copy.restarts);
            Ok((s.options.start_timeout_ms, copy.restarts))
        });
        let Ok((timeout, token)) = started else { return };
        // Whether this replacement still owns copy `i` (no stop, failure or newer replacement
        // took its host since): checked after every await, before the next step.
        let owns = || {
            self.with(name, |s| Ok(s.life.state() == State::Running && s.copies[i].replacing == Some(token)))
                .unwrap_or(false)
        };
        self.announce_copy(name, i, "crashed", "starting", None);
        let mut result = self.load_copies(name, Copies::One(i), timeout).await;
        let mut stored = Vec::new();
        if result.is_ok() && owns() {
            result = self.read_snapshots(name, Copies::One(i), timeout).await.map(|s| stored = s);
        }
        if result.is_ok() && owns() {
            result = self.expect(name, Expect::Started, Copies::One(i), ToService::Start, None, timeout).await;
        }
        if result.is_ok() && owns() {
            result = self.restore(name, stored, timeout).await;
        }
        if !owns() {
            return;
        }
        match result {
            Ok(()) => {
                let _ = self.with(name, |s| {
                    s.copies[i].started_at = Some(js_sys::Date::now());
                    s.copies[i].replacing = None;
                    Ok(())
                });
                self.announce_copy(name, i, "starting", "running", None);
            }
            Err(error) => {
                let decided = self.with(name, |s| {
                    if s.life.state() != State::Running {
                        return Ok(None);
                    }
                    let (policy, instances) = (s.options.restart, s.copies.len());
                    match instances::after_copy_failure(instances, policy, &mut s.copies[i].budget, During::Starting) {
                        CopyFailure::Replace { delay_ms } => Ok(Some(Some((s.take_host(i), delay_ms)))),
                        CopyFailure::FailService => Ok(Some(None)),
                    }
                });
                match decided {
                    Ok(Some(Some((host, delay_ms)))) => self.replace_later(name, i, "starting", host, &error, delay_ms),
                    Ok(Some(None)) => {
                        self.fail(name, error);
                    }
                    Ok(None) | Err(_) => {}
                }
            }
        }
    }
}
