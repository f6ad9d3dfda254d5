//! Long-running, stateful services (see `../shared/DESIGN.md`, Services), written once — a
//! JavaScript handler module `{ onStart, onMessage, onStop, health }` or a Rust [`Service`] —
//! registered by name and placed in its own worker or on the main thread by configuration.
//! [`lifecycle`] is the pure state machine both placements share; `host` runs a service in its
//! placement; `registry` manages them; `rust_host` makes Rust services look like handler modules.

mod host;
mod kv;
pub mod lifecycle;
mod registry;
mod rust_host;
mod service;
#[cfg(feature = "test-ops")]
mod testing;

pub use host::Placement;
pub use kv::{KvMessage, KvStore};
pub(crate) use registry::{Definition, Registry, ServiceOptions};
pub(crate) use rust_host::is_known as is_rust_service;
pub use rust_host::register_service;
pub use service::{Health, Instance, Service, ServiceError};
