//! `bridge.tasks`: the app's own functions, run in the pool like the built-in ops — the same
//! queue, priorities, time limits, retries, cancellation, progress, crash handling and counters,
//! and the main-thread fallback. `register` names a function exported by a JavaScript module
//! (`{ module, export }`, the module's origin checked as a service module's is) or a Rust task
//! (`{ rust }`, see `register_task`); `run` calls it with a value and resolves to what it returns.
//!
//! The registry lives here, on the page: each call carries its module's URL and export, so every
//! worker — one spawned later, or one replacing a crashed worker — runs any registered task, and
//! imports each module once, at its first call there.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Promise, Reflect};
use wasm_bindgen::prelude::*;
use worker_bridge_core::tasks::{check_export, check_name, Definition};

use super::input::{absolute_url, page_origin, Taken};
use super::pipeline::{promise, reject, single, Bridge};
use crate::error::{Error, ErrorKind};
use crate::io::source::{Input, TaskValue};
use crate::protocol::OutputKind;
use crate::services::origin;

/// The tasks a bridge knows, by name.
pub(crate) type Tasks = RefCell<BTreeMap<String, Definition>>;

/// `bridge.tasks`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct TasksFacade {
    bridge: Rc<Bridge>,
}

impl TasksFacade {
    pub(crate) fn new(bridge: Rc<Bridge>) -> Self {
        TasksFacade { bridge }
    }

    fn definition(&self, definition: &JsValue) -> Result<Definition, Error> {
        let field = |key: &str| Reflect::get(definition, &key.into()).ok().filter(|v| !v.is_undefined());
        if !definition.is_object() {
            return Err(Error::validation("a task definition is { module: URL | string, export } or { rust: name }"));
        }
        if let Some(rust) = field("rust") {
            let name = rust.as_string().ok_or_else(|| Error::validation("{ rust } must be a task name"))?;
            if !crate::tasks::is_known(&name) {
                return Err(Error::validation(format!(
                    "no Rust task is registered as {name:?} (call register_task in your #[wasm_bindgen(start)] function)"
                )));
            }
            return Ok(Definition::Rust(name));
        }
        let module = field("module").ok_or_else(|| Error::validation("a task definition needs a module URL"))?;
        let text = module
            .as_string()
            .or_else(|| Reflect::get(&module, &"href".into()).ok().and_then(|h| h.as_string()))
            .ok_or_else(|| Error::validation("module must be a URL or a string"))?;
        let url = absolute_url(&text)?;
        origin::check_module_url(&url, page_origin().as_deref(), &self.bridge.services.module_origins())?;
        let export = match field("export") {
            None => "default".to_owned(),
            Some(e) => e.as_string().ok_or_else(|| Error::validation("export must be a string"))?,
        };
        check_export(&export)?;
        Ok(Definition::Module { url, export })
    }
}

/// The `transfer` option of `run`: `true` moves the input itself (an `ArrayBuffer`, or a view's
/// whole buffer), a list moves what it names; else nothing moves.
fn transfer_list(input: &JsValue, options: &JsValue) -> Result<Array, Error> {
    let transfer = if options.is_object() {
        Reflect::get(options, &"transfer".into()).unwrap_or_default()
    } else {
        JsValue::UNDEFINED
    };
    if transfer.is_undefined() || transfer.is_null() || transfer == JsValue::FALSE {
        return Ok(Array::new());
    }
    if transfer == JsValue::TRUE {
        if input.is_instance_of::<ArrayBuffer>() {
            return Ok(Array::of1(input));
        }
        if ArrayBuffer::is_view(input) {
            return Ok(Array::of1(&Reflect::get(input, &"buffer".into()).unwrap_or_default()));
        }
        return Err(Error::validation(
            "transfer: true moves an ArrayBuffer input or a view's buffer; list what to move for any other input",
        ));
    }
    transfer.dyn_into::<Array>().map_err(|_| Error::validation("transfer must be true or a list of transferables"))
}

#[wasm_bindgen]
impl TasksFacade {
    /// Registers `name`: `{ module: new URL('./resize.task.js', import.meta.url), export: 'resize' }`
    /// (the export defaults to `default`; the module's origin must be the page's or one of
    /// `serviceOrigins`), or `{ rust: 'name' }` for a task registered with `register_task`. A later
    /// registration of the same name replaces the earlier one (for calls made after it).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn register(&self, name: String, definition: JsValue) -> Promise {
        let registered = check_name(&name).and_then(|()| self.definition(&definition));
        match registered {
            Ok(definition) => {
                self.bridge.tasks.borrow_mut().insert(name, definition);
                Promise::resolve(&JsValue::UNDEFINED)
            }
            Err(e) => reject(e),
        }
    }

    /// Forgets `name` (calls already made still run); resolves to whether it was registered.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn unregister(&self, name: String) -> Promise {
        let removed = self.bridge.tasks.borrow_mut().remove(&name).is_some();
        Promise::resolve(&JsValue::from_bool(removed))
    }

    /// The registered names, sorted.
    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn list(&self) -> Array {
        self.bridge.tasks.borrow().keys().map(|k| JsValue::from_str(k)).collect()
    }

    /// Runs task `name` with `input` (any value the browser can clone) in a pool worker — or on
    /// the page, on the main-thread fallback — and resolves to what it returns. Options: every
    /// call option (`priority`, `deadline`, `timeoutMs`, `timeoutFrom`, `retries`, `signal`,
    /// `onProgress`, `progress`), `transfer` (`true`: the input's buffer; or a list) and `output`
    /// (`'value'`, the default; `'bytes'` or `'blob'` for a task that returns bytes).
    #[wasm_bindgen(unchecked_return_type = "Promise<any>")]
    pub fn run(&self, name: String, input: JsValue, options: JsValue) -> Promise {
        let queued = (|| {
            let definition = self.bridge.tasks.borrow().get(&name).cloned().ok_or_else(|| {
                Error::new(ErrorKind::Task, format!("no task is registered as {name:?} (tasks.register it first)"))
            })?;
            let mut options_read = self.bridge.options(&options, &["transfer"])?;
            let transfer = transfer_list(&input, &options)?;
            options_read.transfer = transfer.length() > 0;
            let taken = Taken::Owned(Input::Value(TaskValue { value: input, transfer }));
            Ok(self.bridge.queue(options_read, vec![(definition.op(&name), 0..0)], taken, OutputKind::Value))
        })();
        match queued {
            Ok(queued) => promise(single(queued)),
            Err(e) => reject(e),
        }
    }
}
