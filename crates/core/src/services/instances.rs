//! Copies of one service (`register(name, definition, { instances: n })`): the decisions, apart
//! from the hosts that carry them out (`src/services/registry/`).
//!
//! - **Which copy takes a message**: [`least_busy`] — the one with the fewest messages awaiting
//!   their reply; among equals, the one that has answered fewest; then the first. A copy being
//!   replaced takes none.
//! - **Ordering**: each copy handles its own queue strictly in FIFO order, one message at a time;
//!   across copies there is none (two messages sent back to back may run at once on two copies).
//! - **A copy that fails** while the service runs ([`after_copy_failure`]): with
//!   `restart: 'on-failure'` and more than one copy, that copy alone is replaced after the usual
//!   back-off, from its own restart budget, while the others carry on; otherwise (one copy,
//!   `restart: 'never'`, or its budget spent) the whole service fails, as a single copy does.
//!
//! ```
//! # use worker_bridge_core::services::instances::{least_busy, Load};
//! let copies = [Some(Load { waiting: 2, handled: 0 }), None, Some(Load { waiting: 1, handled: 9 })];
//! assert_eq!(least_busy(&copies), Some(2));
//! ```

use super::restart::{AfterFailure, Budget, During, Policy};
use crate::error::Error;

/// The most copies one service may run (each is a worker, or a host on the page).
pub const MAX_INSTANCES: u32 = 64;

/// How busy one copy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Messages sent to it whose reply has not come yet.
    pub waiting: u32,
    /// Replies it has sent.
    pub handled: u32,
}

/// The copy that takes the next message (see the module docs); `None` when no copy can take one.
/// `copies[i]` is `None` for a copy that cannot take messages now (being replaced).
pub fn least_busy(copies: &[Option<Load>]) -> Option<usize> {
    copies
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|load| (load.waiting, load.handled, i)))
        .min()
        .map(|(_, _, i)| i)
}

/// Checks `instances` (absent: 1).
///
/// # Errors
/// `ValidationError` unless it is 1 to [`MAX_INSTANCES`].
pub fn check_instances(instances: Option<f64>) -> Result<u32, Error> {
    let Some(n) = instances else { return Ok(1) };
    if n.fract() != 0.0 || !(1.0..=f64::from(MAX_INSTANCES)).contains(&n) {
        return Err(Error::validation(format!("instances must be a whole number from 1 to {MAX_INSTANCES}, got {n}")));
    }
    // In range and whole: exact.
    Ok(n as u32)
}

/// What follows the failure of one copy of a running service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFailure {
    /// Replace that copy alone after `delay_ms`; the others carry on.
    Replace {
        /// The back-off before the replacement starts.
        delay_ms: u32,
    },
    /// The whole service fails (and its own policy decides what follows).
    FailService,
}

/// Decides what follows the failure of one of `instances` copies of a running service, during
/// `during` (running for a while, or starting as a replacement), spending from that copy's own
/// `budget`.
pub fn after_copy_failure(instances: usize, policy: Policy, budget: &mut Budget, during: During) -> CopyFailure {
    if instances <= 1 {
        return CopyFailure::FailService;
    }
    match budget.after_failure(policy, during) {
        AfterFailure::Restart { delay_ms } => CopyFailure::Replace { delay_ms },
        AfterFailure::Stay | AfterFailure::GiveUp => CopyFailure::FailService,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(waiting: u32, handled: u32) -> Option<Load> {
        Some(Load { waiting, handled })
    }

    #[test]
    fn the_least_busy_copy_takes_the_message_ties_go_to_the_least_used_then_the_first() {
        assert_eq!(least_busy(&[]), None);
        assert_eq!(least_busy(&[None, None]), None, "every copy is being replaced");
        assert_eq!(least_busy(&[load(0, 0)]), Some(0));
        assert_eq!(least_busy(&[load(3, 0), load(1, 50), load(2, 0)]), Some(1), "fewest waiting first");
        assert_eq!(least_busy(&[load(1, 7), load(1, 4), load(1, 4)]), Some(1), "then fewest handled, then first");
        assert_eq!(least_busy(&[None, load(9, 9)]), Some(1), "a copy being replaced takes nothing");
    }

    #[test]
    fn a_burst_spreads_evenly_over_idle_copies() {
        // Sending without awaiting: each message makes its copy busier by one.
        let mut copies = vec![load(0, 0); 3];
        let mut taken = [0; 3];
        for _ in 0..9 {
            let i = least_busy(&copies).unwrap();
            taken[i] += 1;
            copies[i] = copies[i].map(|l| Load { waiting: l.waiting + 1, ..l });
        }
        assert_eq!(taken, [3, 3, 3]);
    }

    #[test]
    fn instances_is_a_whole_number_from_1_to_the_maximum() {
        assert_eq!(check_instances(None).unwrap(), 1);
        assert_eq!(check_instances(Some(4.0)).unwrap(), 4);
        assert_eq!(check_instances(Some(f64::from(MAX_INSTANCES))).unwrap(), MAX_INSTANCES);
        for bad in [0.0, -1.0, 1.5, 65.0, f64::NAN, f64::INFINITY] {
            assert_eq!(check_instances(Some(bad)).unwrap_err().kind(), crate::ErrorKind::Validation, "{bad}");
        }
    }

    #[test]
    fn one_copy_fails_alone_while_its_budget_lasts_else_the_service_fails() {
        let on_failure = Policy { on_failure: true, max_restarts: 2 };
        let never = Policy { on_failure: false, max_restarts: 2 };
        let running = During::Running { for_ms: 10.0 };
        let mut budget = Budget::default();
        assert_eq!(after_copy_failure(1, on_failure, &mut budget, running), CopyFailure::FailService, "one copy");
        assert_eq!(after_copy_failure(3, never, &mut budget, running), CopyFailure::FailService, "restart: 'never'");
        assert_eq!(after_copy_failure(3, on_failure, &mut budget, running), CopyFailure::Replace { delay_ms: 250 });
        budget.count();
        assert_eq!(
            after_copy_failure(3, on_failure, &mut budget, During::Starting),
            CopyFailure::Replace { delay_ms: 500 }
        );
        budget.count();
        assert_eq!(after_copy_failure(3, on_failure, &mut budget, running), CopyFailure::FailService, "budget spent");
        // A copy that ran for a minute gets its budget back.
        assert_eq!(
            after_copy_failure(3, on_failure, &mut budget, During::Running { for_ms: 60_000.0 }),
            CopyFailure::Replace { delay_ms: 250 }
        );
    }
}
