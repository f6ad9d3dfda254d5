//! Persistence (`register(name, definition, { persist: true, snapshotIntervalMs })`): the
//! decisions, apart from the registry that carries them out (`src/services/registry/`) and the
//! IndexedDB store (`worker/snapshot-store.js`).
//!
//! - **When a snapshot is taken**: at every stop, before `onStop` (a stop resolves only once the
//!   snapshot is written), and every `snapshotIntervalMs` while the service runs
//!   ([`Persist::interval_ms`]; 0: at stop only). A crash takes none: it loses what changed since
//!   the last snapshot. A failed snapshot fails the stop (or, for one taken on the interval, the
//!   service), as a throwing `onStop` does.
//! - **When it is restored**: at every start (the first, a restart, an automatic restart, a copy
//!   replaced alone), right after `onStart`, before any message — also in a new bridge after a
//!   reload. No snapshot stored: `onRestore` is not called.
//! - **Where**: one record per copy ([`snapshot_key`]): the service's name, or `name#i` for copy
//!   `i` of a service with `instances` > 1 (each copy has a state of its own).
//! - **What**: JSON, at most [`SERVICE_SNAPSHOT_MAX_BYTES`] as text ([`check_snapshot`]).
//!
//! ```
//! # use worker_bridge_core::services::persist::snapshot_key;
//! assert_eq!(snapshot_key("counter", 0, 1), "counter");
//! assert_eq!(snapshot_key("counter", 2, 4), "counter#2");
//! ```

use serde_json::Value;

use crate::defaults::{SERVICE_SNAPSHOT_INTERVAL_MS, SERVICE_SNAPSHOT_MAX_BYTES, SERVICE_SNAPSHOT_MIN_INTERVAL_MS};
use crate::error::{Error, ErrorKind};

/// How a persisted service is snapshotted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persist {
    /// Take a snapshot this often while running (0: at stop only).
    pub interval_ms: u32,
}

/// Checks `persist` and `snapshotIntervalMs` (each absent: the default), in milliseconds already.
///
/// # Errors
/// `ValidationError` for `snapshotIntervalMs` without `persist: true`, or an interval shorter than
/// [`SERVICE_SNAPSHOT_MIN_INTERVAL_MS`] (other than 0).
pub fn check_persist(persist: Option<bool>, interval_ms: Option<u32>) -> Result<Option<Persist>, Error> {
    match (persist.unwrap_or(false), interval_ms) {
        (false, None) => Ok(None),
        (false, Some(_)) => Err(Error::validation("snapshotIntervalMs needs persist: true")),
        (true, Some(ms)) if ms != 0 && ms < SERVICE_SNAPSHOT_MIN_INTERVAL_MS => Err(Error::validation(format!(
            "snapshotIntervalMs must be 0 (at stop only) or at least {SERVICE_SNAPSHOT_MIN_INTERVAL_MS}, got {ms}"
        ))),
        (true, ms) => Ok(Some(Persist { interval_ms: ms.unwrap_or(SERVICE_SNAPSHOT_INTERVAL_MS) })),
    }
}

/// The IndexedDB key of copy `instance` of `name`, which runs `instances` copies.
pub fn snapshot_key(name: &str, instance: usize, instances: usize) -> String {
    if instances <= 1 {
        name.to_owned()
    } else {
        format!("{name}#{instance}")
    }
}

/// A snapshot as it is stored: its JSON text.
///
/// # Errors
/// `LimitExceededError` when the text is longer than [`SERVICE_SNAPSHOT_MAX_BYTES`].
pub fn check_snapshot(snapshot: &Value) -> Result<String, Error> {
    let text = snapshot.to_string();
    if text.len() > SERVICE_SNAPSHOT_MAX_BYTES {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!("the snapshot is {} bytes of JSON; at most {SERVICE_SNAPSHOT_MAX_BYTES} are stored", text.len()),
        ));
    }
    Ok(text)
}

/// A stored snapshot, read back: its JSON value.
///
/// # Errors
/// `ValidationError` when the stored text is not JSON (written by something else).
pub fn read_snapshot(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::validation(format!("the stored snapshot is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn persist_and_its_interval_are_checked_together() {
        assert_eq!(check_persist(None, None).unwrap(), None);
        assert_eq!(check_persist(Some(false), None).unwrap(), None);
        assert_eq!(check_persist(Some(true), None).unwrap(), Some(Persist { interval_ms: 0 }));
        assert_eq!(check_persist(Some(true), Some(0)).unwrap(), Some(Persist { interval_ms: 0 }));
        assert_eq!(check_persist(Some(true), Some(1000)).unwrap(), Some(Persist { interval_ms: 1000 }));
        for (persist, ms) in [(None, Some(1000)), (Some(false), Some(0)), (Some(true), Some(99))] {
            assert_eq!(check_persist(persist, ms).unwrap_err().kind(), ErrorKind::Validation, "{persist:?} {ms:?}");
        }
    }

    #[test]
    fn each_copy_of_several_has_a_key_of_its_own() {
        assert_eq!(snapshot_key("c", 0, 1), "c");
        assert_eq!(snapshot_key("c", 0, 0), "c");
        let keys: Vec<String> = (0..3).map(|i| snapshot_key("c", i, 3)).collect();
        assert_eq!(keys, ["c#0", "c#1", "c#2"]);
    }

    #[test]
    fn a_snapshot_is_stored_as_json_text_within_the_limit() {
        let snapshot = json!({ "count": 3, "names": ["a", "b"] });
        let text = check_snapshot(&snapshot).unwrap();
        assert_eq!(read_snapshot(&text).unwrap(), snapshot);
        let big = Value::String("x".repeat(SERVICE_SNAPSHOT_MAX_BYTES));
        assert_eq!(check_snapshot(&big).unwrap_err().kind(), ErrorKind::LimitExceeded);
        let just = Value::String("x".repeat(SERVICE_SNAPSHOT_MAX_BYTES - 2));
        assert!(check_snapshot(&just).is_ok(), "the quotes count");
        assert_eq!(read_snapshot("{nope").unwrap_err().kind(), ErrorKind::Validation);
    }
}
