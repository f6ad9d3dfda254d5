//! One call of a JavaScript task: `worker/tasks.js` imports the module (once per realm), calls
//! the export with `(input, ctx)` and shapes the result; this side starts it, polls its progress,
//! aborts its `ctx.signal`, and turns its outcome into a value or a typed error.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal};

use crate::error::{Error, ErrorKind};
use crate::protocol::OutputKind;
use crate::runtime::js_error::{describe, to_js};

#[wasm_bindgen(module = "/worker/tasks.js")]
extern "C" {
    /// Runs one call; resolves to `{ value, transfer }`, `{ failed }` or `{ thrown }`, never
    /// rejects.
    #[wasm_bindgen(js_name = runTask)]
    fn run_task(
        name: &str,
        url: &str,
        export: &str,
        input: &JsValue,
        output: &str,
        signal: &AbortSignal,
        state: &Object,
    ) -> Promise;

    /// A result as `output` asks: `{ value, transfer }` or `{ failed }`.
    #[wasm_bindgen(js_name = shape)]
    fn shape_js(name: &str, value: &JsValue, output: &str, transfer: &Array) -> JsValue;
}

fn output_name(output: OutputKind) -> &'static str {
    match output {
        OutputKind::Value | OutputKind::Stream => "value",
        OutputKind::Bytes => "bytes",
        OutputKind::Blob => "blob",
    }
}

/// A Rust task's result as the call's `output` asks (`bytes`, `blob`: it must be bytes).
///
/// # Errors
/// `TaskError` when `output` asks for bytes and the result is not.
pub(crate) fn shape(name: &str, value: &JsValue, output: OutputKind) -> Result<(JsValue, Array), Error> {
    read_outcome(&shape_js(name, value, output_name(output), &Array::new()))
}

/// A JavaScript task's call in progress.
#[derive(Debug)]
pub(crate) struct ModuleCall {
    settled: JsFuture,
    /// `{ done, total, seq }`, written by `ctx.progress`.
    state: Object,
    /// The last `seq` reported.
    seen: f64,
    controller: AbortController,
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

impl ModuleCall {
    /// Starts task `name`: the function `export` of the module at `url`, called with `input`.
    ///
    /// # Errors
    /// `NotSupportedError` when the platform has no `AbortController`.
    pub(crate) fn start(
        name: &str,
        url: &str,
        export: &str,
        input: &JsValue,
        output: OutputKind,
    ) -> Result<ModuleCall, Error> {
        let controller = AbortController::new()
            .map_err(|e| Error::new(ErrorKind::Unsupported, format!("no AbortController: {}", describe(&e))))?;
        let state = Object::new();
        for key in ["done", "total", "seq"] {
            let _ = Reflect::set(&state, &key.into(), &0.into());
        }
        let promise = run_task(name, url, export, input, output_name(output), &controller.signal(), &state);
        Ok(ModuleCall { settled: JsFuture::from(promise), state, seen: 0.0, controller })
    }

    /// The outcome, once the task settles within `ms`; `None` if it is still running then.
    pub(crate) async fn settled_within(&mut self, ms: u32) -> Option<Result<(JsValue, Array), Error>> {
        let mut tick = gloo_timers::future::TimeoutFuture::new(ms);
        let outcome = poll_fn(|cx| {
            if let Poll::Ready(outcome) = Pin::new(&mut self.settled).poll(cx) {
                return Poll::Ready(Some(outcome));
            }
            match Pin::new(&mut tick).poll(cx) {
                Poll::Ready(()) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        Some(match outcome {
            Ok(outcome) => read_outcome(&outcome),
            Err(e) => Err(Error::new(ErrorKind::Task, format!("the task runner failed: {}", describe(&e)))),
        })
    }

    /// The progress the task reported since the last look, if any.
    pub(crate) fn progress(&mut self) -> Option<(u64, u64)> {
        let seq = get(&self.state, "seq").as_f64().unwrap_or(0.0);
        if seq == self.seen {
            return None;
        }
        self.seen = seq;
        let count = |key| worker_bridge_core::pool::reported_progress(get(&self.state, key).as_f64().unwrap_or(0.0));
        Some((count("done"), count("total")))
    }

    /// Aborts the task's `ctx.signal`, its reason the error the call stops with.
    pub(crate) fn abort(&self, why: &Error) {
        self.controller.abort_with_reason(&to_js(why));
    }
}

/// `{ value, transfer }` → the value and what it moves; `{ failed }` → `TaskError`; `{ thrown }`
/// → what the task threw, its name, message and stack kept.
fn read_outcome(outcome: &JsValue) -> Result<(JsValue, Array), Error> {
    if let Some(message) = get(outcome, "failed").as_string() {
        return Err(Error::new(ErrorKind::Task, message));
    }
    if Reflect::has(outcome, &"thrown".into()).unwrap_or(false) {
        let thrown = get(outcome, "thrown");
        return Err(match thrown.dyn_ref::<js_sys::Error>() {
            Some(e) => Error::thrown(String::from(e.name()), String::from(e.message()), get(e, "stack").as_string()),
            None => Error::new(ErrorKind::Task, format!("the task threw {}", describe(&thrown))),
        });
    }
    let transfer = get(outcome, "transfer").dyn_into::<Array>().unwrap_or_default();
    Ok((get(outcome, "value"), transfer))
}
