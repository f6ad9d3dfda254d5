//! Persistence (`persist: true`), carried out: a copy's snapshot is read from the store before
//! its start and handed to its host right after `onStart` (`ToService::Restore`); at a stop, and
//! every `snapshotIntervalMs` while running, each copy is asked for one (`ToService::Snapshot`)
//! and what it sends back is checked and written (`services::snapshots`). A stop waits until its
//! snapshots are written. What to store, under which key and when is decided in
//! `core::services::persist`.

use std::rc::Rc;

use serde_json::Value;

use super::control::{Copies, Expect};
use super::{Failure, Registry};
use crate::error::Error;
use crate::protocol::ToService;
use crate::runtime::timer::Repeat;
use crate::services::persist::{check_snapshot, read_snapshot, snapshot_key};
use crate::services::snapshots;

/// The snapshots to restore after a start: each copy's index and its stored snapshot (if any).
pub(super) type Stored = Vec<(usize, Option<Value>)>;

impl Registry {
    /// The snapshots stored for `copies` of a persisted service (nothing for one that is not).
    /// Read before the start, so a store that is unavailable fails it before `onStart` runs; a
    /// read that takes longer than `timeout` (the start's) fails it too.
    pub(super) async fn read_snapshots(&self, name: &str, copies: Copies, timeout: u32) -> Result<Stored, Failure> {
        let keys = self.with(name, |s| {
            if s.options.persist.is_none() {
                return Ok(Vec::new());
            }
            let n = s.copies.len();
            Ok(copies.pick(&s.copies).into_iter().map(|i| (i, snapshot_key(&s.name, i, n))).collect::<Vec<_>>())
        })?;
        let mut stored = Vec::with_capacity(keys.len());
        for (i, key) in keys {
            let snapshot = snapshots::read(&key, timeout).await?.map(|text| read_snapshot(&text)).transpose()?;
            stored.push((i, snapshot));
        }
        Ok(stored)
    }

    /// Right after `onStart`: each copy checks it has the hooks and restores its snapshot.
    pub(super) async fn restore(&self, name: &str, stored: Stored, timeout: u32) -> Result<(), Failure> {
        for (i, snapshot) in stored {
            self.expect(name, Expect::Restored, Copies::One(i), ToService::Restore { snapshot }, None, timeout).await?;
        }
        Ok(())
    }

    /// At a stop, before `onStop`: every copy's snapshot, taken and written (nothing for a
    /// service that is not persisted).
    pub(super) async fn snapshot_at_stop(&self, name: &str, timeout: u32) -> Result<(), Failure> {
        if self.with(name, |s| Ok(s.options.persist.is_none()))? {
            return Ok(());
        }
        self.expect(name, Expect::Snapshotted, Copies::Hosted, ToService::Snapshot { stop: true }, None, timeout).await
    }

    /// Starts the snapshot timer of a running persisted service with a `snapshotIntervalMs`:
    /// each tick asks every running copy for a snapshot (queued after its messages).
    pub(super) fn arm_snapshots(&self, name: &str) -> Result<(), Error> {
        let interval = self.with(name, |s| Ok(s.options.persist.map_or(0, |p| p.interval_ms)))?;
        if interval == 0 {
            return Ok(());
        }
        let weak = Rc::downgrade(&self.inner);
        let events = self.events.clone();
        let service = name.to_owned();
        let timer = Repeat::new(interval, move || {
            let Some(inner) = weak.upgrade() else { return };
            let registry = Registry { inner, events: events.clone() };
            let _ = registry.with(&service, |s| {
                for copy in &s.copies {
                    // A copy being replaced is asked once it runs again.
                    if let Some(host) = copy.serving() {
                        host.post(&ToService::Snapshot { stop: false }, None)?;
                    }
                }
                Ok(())
            });
        });
        self.with(name, |s| {
            s.snapshots = Some(timer);
            Ok(())
        })
    }

    /// A snapshot from host `generation`: checked (`core::services::persist::check_snapshot`) and
    /// written under its copy's key. One taken at stop confirms the stop's step once written (or
    /// fails it); one taken on the interval that cannot be stored fails its copy.
    pub(super) fn on_snapshot(&self, name: &str, generation: u32, snapshot: &Value, stop: bool) {
        let key = self.with(name, |s| {
            let n = s.copies.len();
            let service = s.name.clone();
            Ok(s.copy_of(generation).map(|(i, _)| snapshot_key(&service, i, n)))
        });
        let Ok(Some(key)) = key else { return };
        let checked = check_snapshot(snapshot);
        let registry = self.clone();
        let name = name.to_owned();
        wasm_bindgen_futures::spawn_local(async move {
            let result = match checked {
                Ok(text) => snapshots::write(&key, &text).await,
                Err(e) => Err(e),
            };
            match (stop, result) {
                (true, result) => {
                    registry.confirm(&name, generation, Expect::Snapshotted, result.map_err(Failure::from))
                }
                (false, Err(e)) => registry.fail_copy(&name, generation, e),
                (false, Ok(())) => {}
            }
        });
    }
}
