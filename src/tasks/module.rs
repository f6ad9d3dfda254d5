//! One call of a JavaScript task: `worker/tasks.js` imports the module (once per realm), calls
//! the export with `(input, ctx)` and shapes the result; this side starts it, polls its progress,
//! aborts its `ctx.signal`, and turns its outcome into a value or a typed error.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal};

use crate::error::{Error, ErrorKind};
use crate::protocol::OutputKind;
use crate::runtime::js_error::{describe, to_js};
use crate::runtime::names::name;

#[wasm_bindgen(module = "/worker/tasks.js")]
extern "C" {
    /// Runs one call; resolves to `{ value, transfer }`, `{ failed }` or `{ thrown }`, never
    /// rejects.
    #[wasm_bindgen(catch, js_name = runTask)]
    fn run_task(
        name: &JsValue,
        url: &JsValue,
        export: &JsValue,
        input: &JsValue,
        output: &JsValue,
        signal: &AbortSignal,
        state: &TaskState,
        now: bool,
    ) -> Result<JsValue, JsValue>;

    /// `{ done, total, seq }`: a call's progress, written by `ctx.progress`.
    #[derive(Debug)]
    type TaskState;
    #[wasm_bindgen(js_name = newState)]
    fn new_state() -> TaskState;
    #[wasm_bindgen(method, getter)]
    fn done(this: &TaskState) -> f64;
    #[wasm_bindgen(method, getter)]
    fn total(this: &TaskState) -> f64;
    #[wasm_bindgen(method, getter)]
    fn seq(this: &TaskState) -> f64;

    /// A result as `output` asks: `{ value, transfer }` or `{ failed }`.
    #[wasm_bindgen(catch, js_name = shape)]
    fn shape_js(name: &str, value: &JsValue, output: &str, transfer: &Array) -> Result<JsValue, JsValue>;
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
    let shaped = shape_js(name, value, output_name(output), &Array::new()).map_err(|e| {
        Error::new(ErrorKind::Task, format!("task {name}: its result could not be shaped: {}", describe(&e)))
    })?;
    read_outcome(&shaped)
}

/// A JavaScript task's call in progress.
#[derive(Debug)]
pub(crate) struct ModuleCall {
    /// The outcome, when the task returned it at once; else its promise.
    settled: Settled,
    /// `{ done, total, seq }`, written by `ctx.progress`.
    state: TaskState,
    /// The last `seq` reported.
    seen: f64,
    controller: AbortController,
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A task's outcome: returned at once, or a promise of it.
#[derive(Debug)]
enum Settled {
    /// Taken when read.
    Now(Option<JsValue>),
    Later(JsFuture),
}

/// `s` as a JavaScript string, made once per realm: a task's name, URL and export cross to
/// JavaScript on every call, and each crossing decodes the string anew.
fn interned(s: &str) -> JsValue {
    thread_local! {
        static STRINGS: std::cell::RefCell<std::collections::HashMap<String, JsValue>> = Default::default();
    }
    STRINGS.with(|strings| {
        let mut strings = strings.borrow_mut();
        if let Some(js) = strings.get(s) {
            return js.clone();
        }
        let js = JsValue::from_str(s);
        // A realm sees few tasks; a page that makes up URLs must not grow this without end.
        if strings.len() < 256 {
            strings.insert(s.to_owned(), js.clone());
        }
        js
    })
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
        now: bool,
    ) -> Result<ModuleCall, Error> {
        let controller = AbortController::new()
            .map_err(|e| Error::new(ErrorKind::Unsupported, format!("no AbortController: {}", describe(&e))))?;
        let state = new_state();
        let [name, url, export, output] = [name, url, export, output_name(output)].map(interned);
        let outcome = run_task(&name, &url, &export, input, &output, &controller.signal(), &state, now);
        // A throw is reported as the async path reports a rejection.
        let outcome = outcome.unwrap_or_else(|e| Promise::reject(&e).into());
        let settled = match outcome.dyn_into::<Promise>() {
            Ok(promise) => Settled::Later(JsFuture::from(promise)),
            Err(outcome) => Settled::Now(Some(outcome)),
        };
        Ok(ModuleCall { settled, state, seen: 0.0, controller })
    }

    /// The outcome, if the task returned it at once (a function that returns a value, called in
    /// a worker whose module is loaded): then nothing needs awaiting.
    pub(crate) fn settled_now(&mut self) -> Option<Result<(JsValue, Array), Error>> {
        match &mut self.settled {
            Settled::Now(outcome) => outcome.take().map(|o| read_outcome(&o)),
            Settled::Later(_) => None,
        }
    }

    /// The outcome, once the task settles within `ms`; `None` if it is still running then.
    pub(crate) async fn settled_within(&mut self, ms: u32) -> Option<Result<(JsValue, Array), Error>> {
        if let Some(outcome) = self.settled_now() {
            return Some(outcome);
        }
        let Settled::Later(settled) = &mut self.settled else { return None };
        let mut tick = gloo_timers::future::TimeoutFuture::new(ms);
        let outcome = poll_fn(|cx| {
            if let Poll::Ready(outcome) = Pin::new(&mut *settled).poll(cx) {
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
        let seq = self.state.seq();
        if seq == self.seen {
            return None;
        }
        self.seen = seq;
        let count = worker_bridge_core::pool::reported_progress;
        Some((count(self.state.done()), count(self.state.total())))
    }

    /// Aborts the task's `ctx.signal`, its reason the error the call stops with.
    pub(crate) fn abort(&self, why: &Error) {
        self.controller.abort_with_reason(&to_js(why));
    }
}

/// `{ value, transfer }` → the value and what it moves; `{ failed }` → `TaskError`; `{ thrown }`
/// → what the task threw, its name, message and stack kept.
fn read_outcome(outcome: &JsValue) -> Result<(JsValue, Array), Error> {
    if !outcome.is_object() {
        return Err(Error::new(ErrorKind::Task, "the task runner gave no outcome"));
    }
    let read: &Outcome = outcome.unchecked_ref();
    if let Some(message) = read.failed().as_string() {
        return Err(Error::new(ErrorKind::Task, message));
    }
    if read.has_thrown() {
        let thrown = read.thrown();
        return Err(match thrown.dyn_ref::<js_sys::Error>() {
            Some(e) => Error::thrown(String::from(e.name()), String::from(e.message()), get(e, "stack").as_string()),
            None => Error::new(ErrorKind::Task, format!("the task threw {}", describe(&thrown))),
        });
    }
    let transfer = read.transfer().dyn_into::<Array>().unwrap_or_default();
    Ok((read.value(), transfer))
}

#[wasm_bindgen]
extern "C" {
    /// What `runTask` and `shape` return, read through getters bound once (a `Reflect.get` by
    /// name decodes the name on every call).
    type Outcome;
    #[wasm_bindgen(method, getter)]
    fn failed(this: &Outcome) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn thrown(this: &Outcome) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn transfer(this: &Outcome) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn value(this: &Outcome) -> JsValue;
}

impl Outcome {
    /// `'thrown' in outcome`: a task may throw `undefined`.
    fn has_thrown(&self) -> bool {
        Reflect::has(self, &name("thrown")).unwrap_or(false)
    }
}
