//! Long-running, stateful services, written once — a JavaScript handler module `{ onStart,
//! onMessage, onStop, health }` or a Rust [`Service`] — registered by name and placed in its own
//! worker or on the main thread by configuration. The pure parts (the [`Service`] trait, the
//! [`lifecycle`] state machine both placements share, the kv store) are in `worker-bridge-core`;
//! here, `host` runs a service in its placement, `registry` manages them, `rust_host` makes
//! Rust services look like handler modules and `snapshots` stores persisted services' state.

mod host;
mod registry;
mod rust_host;
mod snapshots;

pub(crate) use host::inline_in_worker;
pub use host::Placement;
pub(crate) use registry::{check_dependencies, Definition, Failure, Registry, ServiceOptions};
pub(crate) use rust_host::is_known as is_rust_service;
pub use rust_host::{register_configured_service, register_service};
pub use worker_bridge_core::services::lifecycle;
pub(crate) use worker_bridge_core::services::{dependencies, instances, origin, peers, persist, remote, restart};
pub use worker_bridge_core::services::{
    Config, Health, Instance, KvMessage, KvStore, Outbox, Outgoing, Service, ServiceError, Ticket,
};
