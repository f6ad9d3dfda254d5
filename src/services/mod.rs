//! Long-running, stateful services (see `../shared/DESIGN.md`, Services): a handler module with
//! `{ onStart, onMessage, onStop, health }`, registered by name and placed in its own worker or on
//! the main thread by configuration. [`lifecycle`] is the pure state machine both placements
//! share; `host` runs a service in its placement; `registry` manages them.

mod host;
pub mod lifecycle;
mod registry;

pub use host::Placement;
pub(crate) use registry::{Registry, ServiceOptions};
