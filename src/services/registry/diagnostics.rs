//! The services' diagnostics, as `status()` and the remote-control `list_services` return them:
//! plain objects built from a snapshot of each service's state, under a short borrow that runs
//! no user code.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

use super::{Registry, Service};
use crate::services::host::Placement;

impl Registry {
    /// Diagnostics: `[{ name, state, placement, lastError, startedAt, restarts, autoRestarts,
    /// messagesHandled, queueLength, lastHealth, instances, instanceRestarts, dependsOn }]`: `restarts` counts
    /// every restart, manual or automatic; `autoRestarts` the automatic ones that `maxRestarts`
    /// bounds (since the budget was last renewed); `messagesHandled` and `queueLength` add up every
    /// copy's; `instanceRestarts` counts the copies replaced alone.
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
    set("autoRestarts", s.budget.spent().into());
    let links = || s.copies.iter().filter_map(|c| c.host.as_ref()).map(|h| h.link());
    set("messagesHandled", (s.handled + links().map(|l| l.handled()).sum::<u32>()).into());
    set("queueLength", links().map(|l| l.waiting()).sum::<u32>().into());
    set("instances", (s.copies.len() as u32).into());
    set("instanceRestarts", s.copies.iter().map(|c| c.restarts).sum::<u32>().into());
    set("dependsOn", s.options.depends_on.iter().map(|d| JsValue::from(d.as_str())).collect::<Array>().into());
    let health = s.last_health.as_ref().map_or(JsValue::UNDEFINED, |(healthy, detail)| {
        let h = Object::new();
        let _ = Reflect::set(&h, &"healthy".into(), &(*healthy).into());
        let _ = Reflect::set(&h, &"detail".into(), &detail.as_str().into());
        h.into()
    });
    set("lastHealth", health);
    o.into()
}
