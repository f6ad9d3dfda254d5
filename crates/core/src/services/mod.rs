//! Services, the pure part: the [`Service`] trait and the [`Instance`] that runs one through its
//! life, the [`lifecycle`] state machine both placements share, what follows a failure
//! ([`restart`]), which handler modules may be imported ([`origin`]), a service's [`Config`], how
//! its copies share the work ([`instances`]), the order services start and stop in
//! ([`dependencies`]), when their state is snapshotted and restored ([`persist`]), which route
//! their messages to each other take ([`peers`]) and how a Rust service sends them ([`Outbox`]),
//! what a remote-control request must pass ([`remote`]), and the built-in [`KvStore`].
//! Hosting them in a worker or on the page is the edge's job (`worker-bridge`'s `services`).

mod config;
pub mod dependencies;
pub mod instances;
mod kv;
pub mod lifecycle;
pub mod origin;
mod outbox;
pub mod peers;
pub mod persist;
pub mod remote;
pub mod restart;
mod service;
#[cfg(feature = "test-ops")]
mod testing;

pub use config::Config;
pub use kv::{KvMessage, KvStore};
pub use outbox::{Outbox, Outgoing, Ticket};
pub use service::{Health, Instance, Service, ServiceError};
#[cfg(feature = "test-ops")]
pub use testing::{Count, CounterConfig, TestCounter};
