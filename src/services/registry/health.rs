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
            // Every running copy is asked; one whose last check is still unanswered missed it.
            let missed: Vec<u32> = registry
                .with(&service, |s| {
                    let mut missed = Vec::new();
                    for copy in &mut s.copies {
                        // A copy being replaced is asked once it runs.
                        let (outstanding, generation) = (copy.health_outstanding, copy.generation);
                        let Some(host) = copy.serving() else { continue };
                        if outstanding {
                            missed.push(generation);
                            continue;
                        }
                        host.post(&ToService::Health, None)?;
                        copy.health_outstanding = true;
                    }
                    Ok(missed)
                })
                .unwrap_or_default();
            for generation in missed {
                let detail = format!("no answer to a health check within {interval} ms");
                registry.on_health(&service, generation, false, detail);
            }
        });
        self.with(name, |s| {
            s.health = Some(timer);
            s.copies.iter_mut().for_each(|c| c.health_outstanding = false);
            Ok(())
        })
    }

    /// A health answer of host `generation` (or a missed one): record it, announce it (with the
    /// copy's `instance` index), and fail that copy if it is unhealthy and its policy restarts it.
    pub(super) fn on_health(&self, name: &str, generation: u32, healthy: bool, detail: String) {
        let copy = self
            .with(name, |s| {
                let Some((i, copy)) = s.copy_of(generation) else { return Ok(None) };
                copy.health_outstanding = false;
                s.last_health = Some((healthy, detail.clone()));
                Ok(Some((i, s.options.restart.on_failure)))
            })
            .ok()
            .flatten();
        let Some((instance, restart)) = copy else { return };
        let data = Object::new();
        let _ = Reflect::set(&data, &"name".into(), &name.into());
        let _ = Reflect::set(&data, &"healthy".into(), &healthy.into());
        let _ = Reflect::set(&data, &"detail".into(), &detail.as_str().into());
        let _ = Reflect::set(&data, &"instance".into(), &(instance as u32).into());
        self.events.emit("health_check_result", &data);
        if !healthy && restart && self.state(name).ok() == Some(State::Running) {
            self.fail_copy(
                name,
                generation,
                Error::new(ErrorKind::WorkerCrashed, format!("health check failed: {detail}")),
            );
        }
    }
}
