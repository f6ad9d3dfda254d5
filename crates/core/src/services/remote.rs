//! Remote control over a transport (`services.serve`): what a request must pass before the
//! registry reads it — its size, the transport's rate, the token — decided here, carried out by
//! the edge (`bridge::remote`).
//!
//! ```
//! use worker_bridge_core::services::remote::{Gate, Limits, Refusal};
//! let mut gate = Gate::new(Limits { max_message_bytes: 100, rate_per_second: 1, burst: 2 }, Some("s3cret".into()));
//! assert_eq!(gate.admit(10, 0.0), Ok(()));
//! assert_eq!(gate.admit(500, 0.0), Err(Refusal::TooLarge { bytes: 500, max: 100 }));
//! assert_eq!(gate.admit(10, 0.0), Ok(()));
//! assert_eq!(gate.admit(10, 0.0), Err(Refusal::TooFast { rate_per_second: 1 }));
//! assert_eq!(gate.admit(10, 1000.0), Ok(())); // a second later, one more
//! assert!(gate.token_matches(Some("s3cret")));
//! assert!(!gate.token_matches(None));
//! ```

use subtle::ConstantTimeEq;

use crate::defaults;
use crate::error::{Error, ErrorKind};

/// A transport's limits (see `defaults::REMOTE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request, in UTF-8 bytes of its text.
    pub max_message_bytes: u32,
    /// Requests served per second, sustained (at least 1).
    pub rate_per_second: u32,
    /// Requests served at once before the rate applies (at least 1).
    pub burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: defaults::REMOTE_MAX_MESSAGE_BYTES,
            rate_per_second: defaults::REMOTE_RATE_PER_SECOND,
            burst: defaults::REMOTE_BURST,
        }
    }
}

/// Why a request is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Its text is longer than `max` bytes (it is not parsed).
    TooLarge {
        /// The request's size, or any size over `max` when it was not measured.
        bytes: u64,
        /// The transport's `maxMessageBytes`.
        max: u32,
    },
    /// The transport's rate is spent.
    TooFast {
        /// The transport's `ratePerSecond`.
        rate_per_second: u32,
    },
    /// The token is missing or wrong.
    BadToken,
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::TooLarge { max, .. } => Error::new(
                ErrorKind::LimitExceeded,
                format!("a request is over this transport's maxMessageBytes ({max})"),
            ),
            Refusal::TooFast { rate_per_second } => Error::new(
                ErrorKind::LimitExceeded,
                format!("too many requests: this transport serves {rate_per_second} per second"),
            ),
            Refusal::BadToken => Error::new(ErrorKind::Authentication, "the request's token is missing or wrong"),
        }
    }
}

/// One transport's gate: a token bucket of `burst` requests refilled at `rate_per_second`, and
/// the token every request must carry when one is set.
#[derive(Debug, Clone)]
pub struct Gate {
    limits: Limits,
    token: Option<String>,
    /// Requests that may pass now (fractions accrue), and when that was counted (ms).
    available: f64,
    counted_at: Option<f64>,
}

impl Gate {
    /// A full bucket. `rate_per_second` and `burst` of 0 count as 1.
    pub fn new(limits: Limits, token: Option<String>) -> Self {
        let limits = Limits { rate_per_second: limits.rate_per_second.max(1), burst: limits.burst.max(1), ..limits };
        Gate { available: f64::from(limits.burst), limits, token, counted_at: None }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether a request of `bytes` may be read at `now_ms` (a monotonic clock); a request that
    /// passes spends one from the bucket, a refused one nothing.
    ///
    /// # Errors
    /// [`Refusal::TooLarge`] or [`Refusal::TooFast`].
    pub fn admit(&mut self, bytes: u64, now_ms: f64) -> Result<(), Refusal> {
        if bytes > u64::from(self.limits.max_message_bytes) {
            return Err(Refusal::TooLarge { bytes, max: self.limits.max_message_bytes });
        }
        let elapsed = self.counted_at.map_or(0.0, |then| (now_ms - then).max(0.0));
        self.counted_at = Some(now_ms);
        let refill = elapsed / 1000.0 * f64::from(self.limits.rate_per_second);
        self.available = (self.available + refill).min(f64::from(self.limits.burst));
        if self.available < 1.0 {
            return Err(Refusal::TooFast { rate_per_second: self.limits.rate_per_second });
        }
        self.available -= 1.0;
        Ok(())
    }

    /// Whether `given` is the token (in constant time); always true without one.
    pub fn token_matches(&self, given: Option<&str>) -> bool {
        match (&self.token, given) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(token), Some(given)) => bool::from(token.as_bytes().ct_eq(given.as_bytes())),
        }
    }

    /// [`token_matches`](Self::token_matches) as a result.
    ///
    /// # Errors
    /// [`Refusal::BadToken`].
    pub fn check_token(&self, given: Option<&str>) -> Result<(), Refusal> {
        if self.token_matches(given) {
            Ok(())
        } else {
            Err(Refusal::BadToken)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_at_the_rate_and_holds_at_most_the_burst() {
        let mut gate = Gate::new(Limits { max_message_bytes: 1000, rate_per_second: 10, burst: 3 }, None);
        for _ in 0..3 {
            assert_eq!(gate.admit(1, 0.0), Ok(()));
        }
        assert_eq!(gate.admit(1, 50.0), Err(Refusal::TooFast { rate_per_second: 10 }));
        // 100 ms at 10/s: one more (the refused one spent nothing).
        assert_eq!(gate.admit(1, 100.0), Ok(()));
        assert!(gate.admit(1, 100.0).is_err());
        // A long pause refills to the burst, not beyond.
        for _ in 0..3 {
            assert_eq!(gate.admit(1, 60_000.0), Ok(()));
        }
        assert!(gate.admit(1, 60_000.0).is_err());
        // A clock that goes back does not add requests.
        assert!(gate.admit(1, 10.0).is_err());
    }

    #[test]
    fn too_large_is_refused_before_the_rate_and_spends_nothing() {
        let mut gate = Gate::new(Limits { max_message_bytes: 10, rate_per_second: 1, burst: 1 }, None);
        assert_eq!(gate.admit(11, 0.0), Err(Refusal::TooLarge { bytes: 11, max: 10 }));
        assert_eq!(gate.admit(10, 0.0), Ok(()));
        let error = Error::from(Refusal::TooLarge { bytes: 11, max: 10 });
        assert_eq!(error.kind(), ErrorKind::LimitExceeded);
    }

    #[test]
    fn zero_limits_count_as_one() {
        let gate = Gate::new(Limits { max_message_bytes: 0, rate_per_second: 0, burst: 0 }, None);
        assert_eq!(gate.limits(), Limits { max_message_bytes: 0, rate_per_second: 1, burst: 1 });
    }

    #[test]
    fn the_token_is_checked_only_when_set() {
        let open = Gate::new(Limits::default(), None);
        assert!(open.token_matches(None) && open.token_matches(Some("anything")));
        let closed = Gate::new(Limits::default(), Some("abc".into()));
        assert!(closed.token_matches(Some("abc")));
        for wrong in [None, Some(""), Some("ab"), Some("abcd"), Some("abd")] {
            assert_eq!(closed.check_token(wrong), Err(Refusal::BadToken), "{wrong:?}");
        }
        assert_eq!(Error::from(Refusal::BadToken).kind(), ErrorKind::Authentication);
    }
}
