//! What follows a service's failure — the `restart: 'on-failure'` policy's decisions, apart from
//! the timers that carry them out (the registry, `src/services/registry/control.rs`):
//!
//! - **A failed stop is final.** A service that fails while stopping (`onStop` throws or times
//!   out, its worker dies) stays `failed`: restarting it would undo the caller's `stop()`.
//! - **Back off.** An `on-failure` service restarts after 250 ms, then 500 ms, 1 s, … (doubling,
//!   at most 10 s), so a module that always fails does not spin workers in a tight loop.
//! - **A budget of automatic restarts.** At most `maxRestarts` in a row; then the registry gives
//!   up: `failed → stopped`. Manual `start()` / `restart()` do not spend it (they renew it), and a
//!   service that ran for 60 s before failing gets it back whole.
//!
//! ```
//! # use worker_bridge_core::services::restart::{AfterFailure, Budget, During, Policy};
//! let policy = Policy { on_failure: true, max_restarts: 2 };
//! let mut budget = Budget::default();
//! assert_eq!(budget.after_failure(policy, During::Starting), AfterFailure::Restart { delay_ms: 250 });
//! budget.count();
//! assert_eq!(budget.after_failure(policy, During::Starting), AfterFailure::Restart { delay_ms: 500 });
//! budget.count();
//! assert_eq!(budget.after_failure(policy, During::Starting), AfterFailure::GiveUp);
//! assert_eq!(budget.after_failure(policy, During::Stopping), AfterFailure::Stay);
//! ```

use crate::defaults::{SERVICE_RESTART_BACKOFF_MAX_MS, SERVICE_RESTART_BACKOFF_MS, SERVICE_RESTART_BUDGET_RESET_MS};

/// A service's restart policy, as registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `restart: 'on-failure'` (else `'never'`).
    pub on_failure: bool,
    /// `maxRestarts`: automatic restarts in a row before giving up.
    pub max_restarts: u32,
}

/// What the service was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum During {
    /// Loading or starting (a start, or a restart).
    Starting,
    /// Running, for this long (ms) since it last reached `running`.
    Running {
        /// How long it had been running.
        for_ms: f64,
    },
    /// Stopping: the failure of a `stop()`.
    Stopping,
}

/// What the registry does after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Nothing: the service stays `failed` (`restart: 'never'`, or it failed while stopping).
    Stay,
    /// Restart it automatically after `delay_ms`.
    Restart {
        /// The back-off before the restart.
        delay_ms: u32,
    },
    /// The budget is spent: `failed → stopped`.
    GiveUp,
}

/// The automatic restarts a service has spent in a row: what `maxRestarts` bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    spent: u32,
}

impl Budget {
    /// Automatic restarts spent since the budget was last renewed.
    pub fn spent(&self) -> u32 {
        self.spent
    }

    /// A manual `start()` or `restart()`: the whole budget again.
    pub fn renew(&mut self) {
        self.spent = 0;
    }

    /// An automatic restart happened.
    pub fn count(&mut self) {
        self.spent = self.spent.saturating_add(1);
    }

    /// Decides what follows a failure during `during` under `policy`; a service that had run for
    /// [`SERVICE_RESTART_BUDGET_RESET_MS`] before failing gets its budget back first.
    pub fn after_failure(&mut self, policy: Policy, during: During) -> AfterFailure {
        if !policy.on_failure || during == During::Stopping {
            return AfterFailure::Stay;
        }
        if let During::Running { for_ms } = during {
            if for_ms >= f64::from(SERVICE_RESTART_BUDGET_RESET_MS) {
                self.renew();
            }
        }
        if self.spent >= policy.max_restarts {
            AfterFailure::GiveUp
        } else {
            AfterFailure::Restart { delay_ms: backoff_ms(self.spent) }
        }
    }
}

/// The wait before automatic restart number `spent + 1`: [`SERVICE_RESTART_BACKOFF_MS`], doubling
/// with every restart already spent, at most [`SERVICE_RESTART_BACKOFF_MAX_MS`].
pub fn backoff_ms(spent: u32) -> u32 {
    let factor = 1u32.checked_shl(spent).unwrap_or(u32::MAX);
    SERVICE_RESTART_BACKOFF_MS.saturating_mul(factor).min(SERVICE_RESTART_BACKOFF_MAX_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON_FAILURE: Policy = Policy { on_failure: true, max_restarts: 3 };

    #[test]
    fn backoff_doubles_from_250_ms_up_to_10_s() {
        let waits: Vec<u32> = (0..9).map(backoff_ms).collect();
        assert_eq!(waits, [250, 500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
        assert_eq!(backoff_ms(31), 10_000);
        assert_eq!(backoff_ms(32), 10_000, "no overflow");
        assert_eq!(backoff_ms(u32::MAX), 10_000);
    }

    #[test]
    fn never_and_a_failed_stop_stay_failed() {
        let never = Policy { on_failure: false, max_restarts: 3 };
        for during in [During::Starting, During::Running { for_ms: 1.0 }, During::Stopping] {
            assert_eq!(Budget::default().after_failure(never, during), AfterFailure::Stay, "{during:?}");
        }
        let mut budget = Budget::default();
        assert_eq!(budget.after_failure(ON_FAILURE, During::Stopping), AfterFailure::Stay, "a stop is final");
        assert_eq!(budget.spent(), 0);
    }

    #[test]
    fn restarts_back_off_until_the_budget_is_spent_then_give_up() {
        let mut budget = Budget::default();
        let mut delays = Vec::new();
        loop {
            match budget.after_failure(ON_FAILURE, During::Running { for_ms: 10.0 }) {
                AfterFailure::Restart { delay_ms } => {
                    delays.push(delay_ms);
                    budget.count();
                }
                AfterFailure::GiveUp => break,
                AfterFailure::Stay => panic!("an on-failure service that failed while running stays failed"),
            }
            assert!(delays.len() <= 3, "more restarts than maxRestarts");
        }
        assert_eq!(delays, [250, 500, 1_000]);
        assert_eq!(budget.spent(), 3);
        // Giving up is decided again, as long as nothing renews the budget.
        assert_eq!(budget.after_failure(ON_FAILURE, During::Starting), AfterFailure::GiveUp);
        let none = Policy { on_failure: true, max_restarts: 0 };
        assert_eq!(Budget::default().after_failure(none, During::Starting), AfterFailure::GiveUp);
    }

    #[test]
    fn a_manual_start_or_a_healthy_run_renews_the_budget() {
        let mut budget = Budget::default();
        for _ in 0..3 {
            budget.count();
        }
        assert_eq!(budget.after_failure(ON_FAILURE, During::Starting), AfterFailure::GiveUp);
        budget.renew();
        assert_eq!(budget.after_failure(ON_FAILURE, During::Starting), AfterFailure::Restart { delay_ms: 250 });

        for _ in 0..3 {
            budget.count();
        }
        let short = f64::from(SERVICE_RESTART_BUDGET_RESET_MS) - 1.0;
        assert_eq!(budget.after_failure(ON_FAILURE, During::Running { for_ms: short }), AfterFailure::GiveUp);
        let healthy = f64::from(SERVICE_RESTART_BUDGET_RESET_MS);
        let after = budget.after_failure(ON_FAILURE, During::Running { for_ms: healthy });
        assert_eq!(after, AfterFailure::Restart { delay_ms: 250 }, "a healthy run gets the whole budget back");
        assert_eq!(budget.spent(), 0);
        // Only a run counts: a failed start after a long gap does not renew it.
        for _ in 0..3 {
            budget.count();
        }
        assert_eq!(budget.after_failure(ON_FAILURE, During::Starting), AfterFailure::GiveUp);
    }
}
