//! Calls on their way to the queue, kept in call order. Most calls are queued during the call
//! itself; some must first wait a few tasks — a large input copied in slices, a sealed stream's
//! header read from a `Blob` — and every call made meanwhile is queued after them, so queue
//! order stays call order. Each such call takes a [`Turn`] during the call and is queued when
//! every earlier turn is over.
//!
//! ```text
//! sha256(64 MiB)  ─ turn 1: copy in slices ──────── queue ┐
//! sha256(1 KiB)   ─ turn 2: copied at once, waits ─────── └ queue
//! ```

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::oneshot;

/// The line of calls being prepared (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Staging {
    inner: Rc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Turns not over yet.
    open: Cell<usize>,
    /// Closes when the last turn taken is over.
    last: RefCell<Option<oneshot::Receiver<()>>>,
}

impl Staging {
    /// No call is being prepared: a call whose input is ready may be queued at once.
    pub(crate) fn is_idle(&self) -> bool {
        self.inner.open.get() == 0
    }

    /// Takes the next place in line. Take it during the call: the place is the call's order.
    pub(crate) fn join(&self) -> Turn {
        let (done, after_me) = oneshot::channel();
        let before = self.inner.last.replace(Some(after_me));
        self.inner.open.set(self.inner.open.get() + 1);
        Turn { before, _done: done, inner: self.inner.clone() }
    }
}

/// A call's place in line; dropping it (once the call is queued, or refused) lets the next one go.
#[derive(Debug)]
pub(crate) struct Turn {
    before: Option<oneshot::Receiver<()>>,
    /// Dropped with the turn, which closes the next turn's `before`.
    _done: oneshot::Sender<()>,
    inner: Rc<Inner>,
}

impl Turn {
    /// Resolves once every turn taken before this one is over.
    pub(crate) async fn wait(&mut self) {
        if let Some(before) = self.before.as_mut() {
            // Never sent on: the sender closes the channel when its turn is dropped.
            let _ = before.await;
            self.before = None;
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let open = self.inner.open.get() - 1;
        self.inner.open.set(open);
        if open == 0 {
            // Nobody waits behind this turn: the next call starts a fresh line.
            self.inner.last.replace(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    fn ready(f: impl Future<Output = ()>) -> bool {
        pin!(f).as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready()
    }

    #[test]
    fn turns_come_in_the_order_they_were_taken() {
        let line = Staging::default();
        assert!(line.is_idle());
        let mut first = line.join();
        let mut second = line.join();
        let mut third = line.join();
        assert!(!line.is_idle());
        assert!(ready(first.wait()));
        assert!(!ready(second.wait()), "the first turn is not over");
        drop(first);
        assert!(ready(second.wait()));
        assert!(!ready(third.wait()));
        drop(second);
        assert!(ready(third.wait()));
        drop(third);
        assert!(line.is_idle());
        let mut fresh = line.join();
        assert!(ready(fresh.wait()), "a new line starts free");
    }
}
