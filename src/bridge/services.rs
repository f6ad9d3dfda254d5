//! `bridge.services`: register long-running services written as JavaScript handler modules,
//! place them in a worker or on the main thread, and drive their lifecycle.

use js_sys::{Array, Promise, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::input::{milliseconds, parse_options};
use super::js_error::to_js;
use crate::error::{Error, ErrorKind};
use crate::executor::timer::{AbortWatch, Timer};
use crate::services::{Placement, Registry, ServiceOptions};

/// `register(name, definition, options)` options.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RegisterOptions {
    placement: Placement,
    start_timeout_ms: Option<f64>,
    stop_timeout_ms: Option<f64>,
    restart: Option<String>,
    max_restarts: Option<u32>,
}

const REGISTER_KEYS: &[&str] = &["placement", "startTimeoutMs", "stopTimeoutMs", "restart", "maxRestarts"];

/// Long-running services.
#[wasm_bindgen]
#[derive(Debug)]
pub struct ServicesFacade {
    registry: Registry,
}

impl ServicesFacade {
    pub(crate) fn new(registry: Registry) -> Self {
        ServicesFacade { registry }
    }
}

fn promise<F>(f: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, Error>> + 'static,
{
    future_to_promise(async move { f.await.map_err(|e| to_js(&e)) })
}

fn reject(e: Error) -> Promise {
    Promise::reject(&to_js(&e))
}

/// The handler module's absolute URL, from `{ module }`, a `URL` or a string.
fn module_url(definition: &JsValue) -> Result<String, Error> {
    let module = Reflect::get(definition, &"module".into()).ok().filter(|m| !m.is_undefined());
    let value = module.unwrap_or_else(|| definition.clone());
    let text = value
        .as_string()
        .or_else(|| Reflect::get(&value, &"href".into()).ok().and_then(|h| h.as_string()))
        .ok_or_else(|| {
            Error::validation("a service definition is { module: URL | string } (a handler module's URL)")
        })?;
    let base = Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|l| Reflect::get(&l, &"href".into()))
        .ok()
        .and_then(|h| h.as_string());
    let url = match base {
        Some(base) => web_sys::Url::new_with_base(&text, &base),
        None => web_sys::Url::new(&text),
    };
    url.map(|u| u.href()).map_err(|_| Error::validation(format!("invalid module URL {text:?}")))
}

#[wasm_bindgen]
impl ServicesFacade {
    /// Registers `name` with a handler module (`{ module: new URL('./x.service.js',
    /// import.meta.url) }`). Options: `placement` (`'worker'` | `'main'`), `startTimeoutMs`,
    /// `stopTimeoutMs` (default 10,000), `restart` (`'never'` | `'on-failure'`), `maxRestarts` (3).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn register(&self, name: String, definition: JsValue, options: JsValue) -> Promise {
        let registered = (|| {
            let url = module_url(&definition)?;
            let o: RegisterOptions = parse_options(&options, "service options", REGISTER_KEYS, &[])?;
            let restart_on_failure = match o.restart.as_deref() {
                None | Some("never") => false,
                Some("on-failure") => true,
                Some(other) => {
                    return Err(Error::validation(format!("restart must be 'never' or 'on-failure', got {other:?}")))
                }
            };
            let options = ServiceOptions {
                placement: o.placement,
                start_timeout_ms: o.start_timeout_ms.map_or(Ok(10_000), |ms| milliseconds(ms, "startTimeoutMs"))?,
                stop_timeout_ms: o.stop_timeout_ms.map_or(Ok(10_000), |ms| milliseconds(ms, "stopTimeoutMs"))?,
                restart_on_failure,
                max_restarts: o.max_restarts.unwrap_or(3),
            };
            self.registry.register(&name, url, options)
        })();
        match registered {
            Ok(()) => Promise::resolve(&JsValue::UNDEFINED),
            Err(e) => reject(e),
        }
    }

    /// Removes a service that is not running.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn unregister(&self, name: String) -> Promise {
        match self.registry.unregister(&name) {
            Ok(()) => Promise::resolve(&JsValue::UNDEFINED),
            Err(e) => reject(e),
        }
    }

    /// Loads (first time) and starts the service; `ServiceStateError` if it is already running.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn start(&self, name: String) -> Promise {
        let r = self.registry.clone();
        promise(async move { r.start(&name).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Stops the service after the messages queued before the stop.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn stop(&self, name: String) -> Promise {
        let r = self.registry.clone();
        promise(async move { r.stop(&name).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Stops (if running) and starts again with a fresh context; also recovers a failed service.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn restart(&self, name: String) -> Promise {
        let r = self.registry.clone();
        promise(async move { r.restart(&name).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Starts every registered service that is not running, in registration order.
    #[wasm_bindgen(js_name = startAll, unchecked_return_type = "Promise<void>")]
    pub fn start_all(&self) -> Promise {
        let r = self.registry.clone();
        promise(async move {
            for name in r.names() {
                if r.state(&name)? != crate::services::lifecycle::State::Running {
                    r.start(&name).await?;
                }
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops every running service, in reverse registration order.
    #[wasm_bindgen(js_name = stopAll, unchecked_return_type = "Promise<void>")]
    pub fn stop_all(&self) -> Promise {
        let r = self.registry.clone();
        promise(async move {
            for name in r.names().into_iter().rev() {
                if r.state(&name)? == crate::services::lifecycle::State::Running {
                    r.stop(&name).await?;
                }
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Sends `message` (structured-cloneable) to a running service; resolves with what its
    /// `onMessage` returns, rejects with what it throws. Options: `{ timeoutMs, signal }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<unknown>")]
    pub fn send(&self, name: String, message: JsValue, options: JsValue) -> Promise {
        let field = |k: &str| {
            if options.is_object() {
                Reflect::get(&options, &k.into()).unwrap_or(JsValue::UNDEFINED)
            } else {
                JsValue::UNDEFINED
            }
        };
        let timeout = match field("timeoutMs").as_f64() {
            Some(ms) => match milliseconds(ms, "timeoutMs") {
                Ok(ms) => Some(ms),
                Err(e) => return reject(e),
            },
            None => None,
        };
        let signal: Option<web_sys::AbortSignal> = wasm_bindgen::JsCast::dyn_into(field("signal")).ok();
        if signal.as_ref().is_some_and(|s| s.aborted()) {
            return reject(Error::new(ErrorKind::Abort, "the call was aborted"));
        }
        let (seq, reply) = match self.registry.send(&name, &message) {
            Ok(sent) => sent,
            Err(e) => return reject(e),
        };
        let registry = self.registry.clone();
        let timer = timeout.map(|ms| {
            let (r, n) = (registry.clone(), name.clone());
            Timer::new(ms, move || {
                r.abandon(&n, seq, Error::new(ErrorKind::Timeout, format!("no reply within {ms} ms")))
            })
        });
        let watch = signal.map(|s| {
            let (r, n) = (registry.clone(), name.clone());
            AbortWatch::new(s, move || r.abandon(&n, seq, Error::new(ErrorKind::Abort, "the call was aborted")))
        });
        future_to_promise(async move {
            let result = reply
                .await
                .unwrap_or_else(|_| Err(to_js(&Error::new(ErrorKind::Terminated, "the service registry is gone"))));
            drop((timer, watch));
            result
        })
    }

    /// The registered names, in registration order.
    pub fn list(&self) -> Array {
        self.registry.names().iter().map(|n| JsValue::from(n.as_str())).collect()
    }

    /// Diagnostics per service: `{ name, state, placement, lastError, startedAt, restarts,
    /// messagesHandled, queueLength, lastHealth }`.
    pub fn status(&self) -> JsValue {
        self.registry.status()
    }
}

/// Shared with the bridge.
pub(crate) fn facade(registry: &Registry) -> ServicesFacade {
    ServicesFacade::new(registry.clone())
}
