//! How long a thread stays awake — polling its event loop — when it expects a message soon,
//! instead of sleeping until the message wakes it.
//!
//! A thread that sleeps between messages is woken by the next one, and that wake is most of a
//! short call's round trip: the operating system (and on a virtual machine, the hypervisor) has
//! to schedule the sleeping thread again, which costs tens of µs and grows the longer it slept
//! (`npm run bench:ipc`, a 2-vCPU VM: a 16-byte echo went from 149 to 70 µs per sequential call
//! with both ends polling). Polling costs CPU, so the window adapts the way the Linux kernel's
//! halt-polling does: it stays while messages arrive inside it, grows when one arrived just
//! after it, and shrinks to nothing when the thread's waits are long — a page that calls now and
//! then pays for a few short polls and then none.

/// A thread's polling window, in µs: [`idle`](Self::idle) when it starts waiting,
/// [`event`](Self::event) when a message arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct BusyPoll {
    /// The longest window (the `busyPollUs` option); 0 turns polling off.
    max_us: f64,
    /// The current window.
    window_us: f64,
    /// When the thread began to wait (ms, its clock), if it is waiting.
    idle_since: Option<f64>,
}

impl BusyPoll {
    /// Polling up to `max_us` at a time, starting at the full window.
    pub fn new(max_us: u32) -> BusyPoll {
        let max_us = f64::from(max_us);
        BusyPoll { max_us, window_us: max_us, idle_since: None }
    }

    /// The smallest window kept: below it the window is closed (a poll this short saves nothing).
    fn floor(&self) -> f64 {
        self.max_us / 8.0
    }

    /// The thread starts waiting at `now_ms`: how long to poll, in µs (0: sleep at once).
    pub fn idle(&mut self, now_ms: f64) -> f64 {
        self.idle_since = Some(now_ms);
        self.window_us
    }

    /// A message arrived at `now_ms`: the window learns from how long the thread waited. A
    /// message that did not find the thread waiting teaches nothing.
    pub fn event(&mut self, now_ms: f64) {
        let Some(since) = self.idle_since.take() else { return };
        let waited_us = (now_ms - since).max(0.0) * 1000.0;
        if waited_us <= self.window_us {
            return; // caught while polling
        }
        if waited_us <= self.max_us {
            // A longer window would have caught it.
            self.window_us = (self.window_us * 2.0).max(self.floor()).min(self.max_us);
        } else {
            // Polling would not have helped: poll less.
            self.window_us /= 2.0;
            if self.window_us < self.floor() {
                self.window_us = 0.0;
            }
        }
    }

    /// The current window, in µs.
    pub fn window_us(&self) -> f64 {
        self.window_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits `us` µs from `at` ms and returns when the message came.
    fn wait(p: &mut BusyPoll, at: f64, us: f64) -> f64 {
        p.idle(at);
        let now = at + us / 1000.0;
        p.event(now);
        now
    }

    #[test]
    fn messages_inside_the_window_keep_it() {
        let mut p = BusyPoll::new(200);
        let mut t = 0.0;
        for _ in 0..100 {
            t = wait(&mut p, t, 60.0);
        }
        assert_eq!(p.window_us(), 200.0);
    }

    #[test]
    fn long_waits_close_the_window_and_a_short_one_opens_it() {
        let mut p = BusyPoll::new(200);
        let mut t = 0.0;
        let mut polled = 0.0;
        for _ in 0..100 {
            polled += p.window_us();
            t = wait(&mut p, t, 16_000.0); // one call a frame
        }
        assert_eq!(p.window_us(), 0.0);
        // 200 + 100 + 50 + 25: what a page calling once a frame pays, in all.
        assert_eq!(polled, 375.0);
        assert_eq!(p.idle(t), 0.0);
        p.event(t + 0.1); // 100 µs: a window of 200 would have caught it
        assert_eq!(p.window_us(), 25.0);
        for _ in 0..3 {
            t = wait(&mut p, t + 1.0, 150.0);
        }
        assert_eq!(p.window_us(), 200.0, "grows back to the most, never past it");
    }

    #[test]
    fn a_message_that_found_the_thread_busy_teaches_nothing() {
        let mut p = BusyPoll::new(200);
        p.event(5.0);
        p.event(50.0);
        assert_eq!(p.window_us(), 200.0);
        p.idle(0.0);
        p.event(100.0); // a long wait: shrinks once
        p.event(200.0); // not waiting any more
        assert_eq!(p.window_us(), 100.0);
    }

    #[test]
    fn zero_never_polls() {
        let mut p = BusyPoll::new(0);
        let mut t = 0.0;
        for us in [10.0, 100.0, 10_000.0] {
            assert_eq!(p.idle(t), 0.0);
            t += us / 1000.0;
            p.event(t);
        }
        assert_eq!(p.window_us(), 0.0);
    }

    #[test]
    fn a_clock_that_steps_back_counts_as_no_wait() {
        let mut p = BusyPoll::new(200);
        p.idle(10.0);
        p.event(9.0);
        assert_eq!(p.window_us(), 200.0);
    }
}
