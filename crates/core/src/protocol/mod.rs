//! The messages between the page and a worker.
//!
//! Every message is an [`Envelope`] `{ v, msg }`: a protocol version and one typed message,
//! tagged with a readable string (`{ v: 2, msg: { type: "request", id, op: { kind: "sha256" } } }`).
//! Envelopes travel in batches of JSON ([`encode_batch`], [`decode_batch`]): between the page and
//! a pool worker as UTF-8 bytes (`io::wire`), between the registry and a service host as text
//! (`worker/service-link.js`). Bulk bytes never go through serde: they travel beside the
//! envelopes — a transferable `body`, a service message's structured-cloned payload — so a
//! 64 MiB buffer is moved, not encoded.
//!
//! Decoding is strict and total: unknown tags, unknown fields, a wrong version or a malformed id
//! give a [`ErrorKind::Validation`](crate::ErrorKind::Validation) error, never a panic.

mod batch;
mod id;
mod messages;
mod service;

pub use batch::{decode_batch, encode_batch, Rejected, MAX_BATCH};
pub use id::RequestId;
pub use messages::{Caps, Envelope, FromWorker, HttpMeta, OutputKind, ToWorker, WireError};
pub use service::{FromService, ToService};

use serde::{Deserialize, Deserializer};

use crate::error::Error;

/// The version every envelope carries; a peer speaking another version is rejected.
/// Version 2: pool messages travel as UTF-8 JSON, in batches (see `batch`).
pub const PROTOCOL_VERSION: u32 = 2;

/// Decodes one envelope from any serde deserializer (JSON natively, a `JsValue` at the edge) and
/// checks its version.
///
/// # Errors
/// [`ErrorKind::Validation`](crate::ErrorKind::Validation) when the input is not an envelope of
/// `T` or speaks another protocol version.
pub fn decode<'de, T, D>(deserializer: D) -> Result<T, Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
    D::Error: std::fmt::Display,
{
    let envelope =
        Envelope::<T>::deserialize(deserializer).map_err(|e| Error::validation(format!("malformed message: {e}")))?;
    if envelope.v != PROTOCOL_VERSION {
        return Err(Error::validation(format!(
            "protocol version {} is not supported (expected {PROTOCOL_VERSION})",
            envelope.v
        )));
    }
    Ok(envelope.msg)
}
