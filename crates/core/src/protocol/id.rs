//! Request ids: random (version 4) UUIDs, written on the wire as their hyphenated string.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// Names one request from submission to its response; unique across workers and bridges.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(Uuid);

impl RequestId {
    /// A fresh random id from the platform's CSPRNG (`crypto.getRandomValues` in a browser).
    ///
    /// # Panics
    /// Only if the platform has no random source at all, which no supported browser lacks.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::getrandom(&mut bytes).expect("invariant: the platform provides randomness");
        RequestId(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

thread_local! {
    /// `next`'s random base (drawn once per thread) and how many ids it has given out.
    static SEQUENCE: std::cell::Cell<Option<(u128, u64)>> = const { std::cell::Cell::new(None) };
}

impl RequestId {
    /// A fresh id without a call into the platform's CSPRNG per request (one costs ~4 µs in a
    /// browser, on every call): a random 128-bit base drawn once per thread, plus a counter.
    /// Ids stay unique and unguessable from outside the thread; they are not secret.
    pub fn next() -> Self {
        let (base, n) = SEQUENCE.with(|s| {
            let (base, n) = s.get().unwrap_or_else(|| {
                let mut bytes = [0u8; 16];
                getrandom::getrandom(&mut bytes).expect("invariant: the platform provides randomness");
                (u128::from_le_bytes(bytes), 0)
            });
            s.set(Some((base, n.wrapping_add(1))));
            (base, n)
        });
        // The counter lives in the low 62 bits, below the variant and version bits.
        let bytes = base.wrapping_add(u128::from(n & ((1 << 62) - 1))).to_be_bytes();
        RequestId(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

impl TryFrom<String> for RequestId {
    type Error = Error;

    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl std::str::FromStr for RequestId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        // Only the canonical hyphenated form is accepted: one spelling per id keeps maps honest.
        if s.len() != 36 {
            return Err(Error::validation(format!("request id {s:?} is not a hyphenated UUID")));
        }
        Uuid::try_parse(s).map(RequestId).map_err(|e| Error::validation(format!("request id {s:?} is not a UUID: {e}")))
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> String {
        id.to_string()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_v4_and_distinct() {
        let a = RequestId::random();
        let b = RequestId::random();
        assert_ne!(a, b);
        assert_eq!(a.0.get_version_num(), 4);
    }

    #[test]
    fn sequential_ids_are_v4_and_distinct() {
        let ids: std::collections::BTreeSet<RequestId> = (0..10_000).map(|_| RequestId::next()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.0.get_version_num() == 4));
    }

    #[test]
    fn parses_its_own_display_and_rejects_other_spellings() {
        let id = RequestId::random();
        assert_eq!(id.to_string().parse::<RequestId>().unwrap(), id);
        assert!("".parse::<RequestId>().is_err());
        assert!("not-a-uuid-not-a-uuid-not-a-uuid-xxx".parse::<RequestId>().is_err());
        let simple = id.0.simple().to_string();
        assert!(simple.parse::<RequestId>().is_err(), "unhyphenated form must be rejected");
    }
}
