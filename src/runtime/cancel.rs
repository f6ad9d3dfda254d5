//! Cancelling the call a driver (a worker, or the main-thread executor) is running: a flag the
//! driver checks between steps, plus — for a call waiting on the network — the fetch's
//! `AbortController`, so a cancel interrupts a stalled read at once.

use std::cell::{Cell, RefCell};

use web_sys::AbortController;

use crate::error::{Error, ErrorKind};

/// The error of a call its caller (or the bridge) cancelled.
pub(crate) fn aborted() -> Error {
    Error::new(ErrorKind::Abort, "the call was aborted")
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct LocalCancel {
    flag: Cell<bool>,
    controller: RefCell<Option<AbortController>>,
}

impl LocalCancel {
    pub(crate) fn cancel(&self) {
        self.flag.set(true);
        if let Some(controller) = self.controller.borrow_mut().take() {
            controller.abort();
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.flag.get()
    }

    /// Ties a fetch to this call: cancelling aborts it (at once, if already cancelled).
    pub(crate) fn attach(&self, controller: AbortController) {
        if self.flag.get() {
            controller.abort();
        } else {
            *self.controller.borrow_mut() = Some(controller);
        }
    }
}
