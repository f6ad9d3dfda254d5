//! # worker-bridge
//!
//! Heavy work off the main thread. A [`WorkerBridge`] drives a pool of real Web Workers, each
//! running this same wasm module, over a typed protocol; when workers are unavailable the same
//! calls run on the main thread in slices that yield to the page.
//!
//! ```text
//! bridge (wasm-bindgen edge) → executor ─┬─ pool → scheduler → workers → worker_main → ops
//!                                        └─ inline (main thread, sliced)             → ops
//! ```
//!
//! The core — [`ops`], [`protocol`], [`scheduler`] — is pure Rust with no JavaScript types and
//! is tested natively with `cargo test`; everything that touches the browser sits at the edge.
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod bridge;
mod error;
mod events;
mod executor;
mod network;
pub mod nonce_guard;
pub mod ops;
mod output;
mod pool;
pub mod protocol;
pub mod scheduler;
pub mod services;
mod shared;
mod source;
mod status;
mod worker_main;

pub use bridge::{CompressionFacade, CryptoFacade, FileFacade, NetworkFacade, ServicesFacade, WorkerBridge};
pub use error::{Error, ErrorKind};
pub use shared::{
    create_cancellation_token, create_progress_tracker, SharedCancellation, SharedCounter, SharedProgress,
};
pub use status::{CounterSnapshot, Mode, Status, WorkerStatus};
