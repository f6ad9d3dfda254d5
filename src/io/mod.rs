//! Input and output at the edge: reading a call's input (bytes, a `Blob` chunk by chunk, or a
//! `ReadableStream` as it comes), writing output to a `WritableStream`,
//! collecting its output into JS containers, copying large byte arrays without a long task,
//! the network fetch, WebCrypto as an engine, and the pool's wire format.

pub(crate) mod blob_stream;
pub(crate) mod copy;
pub(crate) mod network;
pub(crate) mod output;
pub(crate) mod source;
pub(crate) mod stream;
pub(crate) mod webcrypto;
pub(crate) mod wire;
