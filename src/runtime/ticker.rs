//! One frame-rate ticker per executor: while calls with `onProgress` run, it calls `on_frame`
//! once per animation frame (every 16 ms where there is no `requestAnimationFrame`, e.g. when the
//! bridge itself lives in a worker), and stops when `on_frame` says nothing is left to watch.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

type OnFrame = Box<dyn FnMut() -> bool>;

struct Inner {
    armed: Cell<bool>,
    /// The pending request: `(true, id)` from `requestAnimationFrame`, `(false, id)` from `setTimeout`.
    pending: Cell<Option<(bool, f64)>>,
    on_frame: RefCell<OnFrame>,
    tick: RefCell<Option<Closure<dyn FnMut()>>>,
}

/// See the module docs.
pub(crate) struct FrameTicker {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for FrameTicker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameTicker").field("armed", &self.inner.armed.get()).finish()
    }
}

impl FrameTicker {
    /// `on_frame` returns whether to keep ticking.
    pub(crate) fn new(on_frame: impl FnMut() -> bool + 'static) -> Self {
        let inner = Rc::new(Inner {
            armed: Cell::new(false),
            pending: Cell::new(None),
            on_frame: RefCell::new(Box::new(on_frame)),
            tick: RefCell::new(None),
        });
        let weak: Weak<Inner> = Rc::downgrade(&inner);
        let tick = Closure::<dyn FnMut()>::new(move || {
            let Some(inner) = weak.upgrade() else { return };
            inner.armed.set(false);
            inner.pending.set(None);
            let again = (inner.on_frame.borrow_mut())();
            if again {
                arm(&inner);
            }
        });
        *inner.tick.borrow_mut() = Some(tick);
        FrameTicker { inner }
    }

    /// Starts ticking if it is not already.
    pub(crate) fn wake(&self) {
        arm(&self.inner);
    }
}

fn arm(inner: &Rc<Inner>) {
    if inner.armed.replace(true) {
        return;
    }
    let tick = inner.tick.borrow();
    let Some(tick) = tick.as_ref() else { return };
    let global = js_sys::global();
    let f: &Function = tick.as_ref().unchecked_ref();
    let raf = Reflect::get(&global, &"requestAnimationFrame".into()).ok().and_then(|r| r.dyn_into::<Function>().ok());
    let scheduled = match raf {
        Some(raf) => raf.call1(&global, f).ok().and_then(|id| id.as_f64()).map(|id| (true, id)),
        None => global_fn("setTimeout")
            .and_then(|set_timeout| set_timeout.call2(&global, f, &16.into()).ok())
            .and_then(|id| id.as_f64())
            .map(|id| (false, id)),
    };
    inner.pending.set(scheduled);
    if scheduled.is_none() {
        inner.armed.set(false);
    }
}

fn global_fn(name: &str) -> Option<Function> {
    Reflect::get(&js_sys::global(), &name.into()).ok().and_then(|f| f.dyn_into::<Function>().ok())
}

impl Drop for FrameTicker {
    fn drop(&mut self) {
        // Cancel the pending frame before its closure goes, so it is never called after free.
        if let Some((raf, id)) = self.inner.pending.take() {
            let cancel = if raf { "cancelAnimationFrame" } else { "clearTimeout" };
            if let Some(f) = global_fn(cancel) {
                let _ = f.call1(&js_sys::global(), &id.into());
            }
        }
        if let Some(tick) = self.inner.tick.borrow_mut().take() {
            super::timer::defer_drop(tick);
        }
    }
}
