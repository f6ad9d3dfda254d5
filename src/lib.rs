//! # worker-bridge
//!
//! Heavy work off the main thread. A [`WorkerBridge`] drives a pool of real Web Workers, each
//! running this same wasm module, over a typed protocol; when workers are unavailable the same
//! calls run on the main thread in slices that yield to the page.
//!
//! The work itself and every decision that needs no browser — [`ops`], [`protocol`],
//! [`scheduler`], the pool's and the services' state machines, `status()` — live in the
//! `worker-bridge-core` crate, which cannot touch JavaScript, and are re-exported here. This crate
//! is the browser edge, in layers whose imports only point down (ARCHITECTURE.md has the map):
//!
//! ```text
//! bridge (the API: facades, one call pipeline)
//!   └─ services (registry, hosts)      executor (pool or page; owns the fallback decision)
//!                                        ├─ pool (slots, worker handles) ─┐
//!                                        └─ inline (page)                 │   worker_main
//!                                             └─ driver (one step loop, a pace per placement)
//!                                                  └─ call (a call until it settles)
//!                                                       └─ io (sources, outputs, fetch), tasks (an app's own)
//!                                                            └─ events, shared (SAB)
//!                                                                 └─ runtime (timers, yielding, JS errors, glue URL)
//! ```

mod bridge;
mod call;
mod driver;
mod events;
mod executor;
mod io;
mod pool;
mod runtime;
pub mod services;
mod shared;
pub mod tasks;
mod worker_main;

use worker_bridge_core::{defaults, error, status};
pub use worker_bridge_core::{nonce_guard, ops, protocol, scheduler};

pub use bridge::{
    CompressionFacade, CryptoFacade, FileFacade, NetworkFacade, RemoteServer, ServicesFacade, TasksFacade, WorkerBridge,
};
pub use error::{Error, ErrorKind};
pub use shared::{
    create_cancellation_token, create_progress_tracker, SharedCancellation, SharedCounter, SharedProgress,
};
pub use status::{CounterSnapshot, Mode, Status, WorkerStatus};
