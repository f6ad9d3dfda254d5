//! Long-running, stateful services (see `../shared/DESIGN.md`, Services). This module holds the
//! pure core — the [`lifecycle`] state machine both placements share; the registry and the
//! placements build on it.

pub mod lifecycle;
