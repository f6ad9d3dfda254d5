//! Health checks of a running service, and what an answer — or a missed one — leads to. The
//! check's timer lives in the service's state, so it ends with the service (stop, fail,
//! terminate): no check outlives its host.

use std::rc::Rc;

use js_sys::{Object, Reflect};

use super::Registry;
use crate::error::{Error, ErrorKind};
use crate::protocol::ToService;
use crate::runtime::timer::Repeat;
use crate::services::lifecycle::State;

impl Registry {
    /// Starts the health checks of a running service: every interval, ask `health(ctx)`; a check
    /// still unanswered at the next tick, or an unhealthy answer, is reported and — with
    /// `restart: 'on-failure'` — fails the service so that it restarts.
    pub(super) fn arm_health(&self, name: &str) -> Result<(), Error> {
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

    /// A health answer (or a missed one): record it, announce it, and fail the service if it is
    /// unhealthy and its policy restarts it.
    pub(super) fn on_health(&self, name: &str, healthy: bool, detail: String) {
        let restart = self
            .with(name, |s| {
                s.health_outstanding = false;
                s.last_health = Some((healthy, detail.clone()));
                Ok(s.options.restart.on_failure)
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
}
