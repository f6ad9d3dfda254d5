//! # worker-bridge-core
//!
//! The part of worker-bridge that knows nothing of JavaScript: what the work is ([`ops`]), how
//! the page and a worker talk ([`protocol`]), in which order calls run ([`scheduler`]), what the
//! pool decides when a worker fails ([`pool`]), how a service moves through its life
//! ([`services`]), what an app's own task is ([`tasks`]), and what `status()` reports
//! ([`status`]). The `worker-bridge` crate is the browser edge that carries these decisions out.
//!
//! This crate has no dependency on `wasm-bindgen`, `js-sys` or `web-sys`, so nothing here can
//! reach JavaScript; every module is tested natively with `cargo test`.
#![forbid(unsafe_code)]

pub mod defaults;
pub mod error;
pub mod nonce_guard;
pub mod ops;
pub mod pool;
pub mod protocol;
pub mod scheduler;
pub mod services;
pub mod spares;
pub mod status;
pub mod tasks;

pub use error::{Error, ErrorKind};
