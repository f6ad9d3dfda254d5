//! Input and output at the edge: reading a call's input (bytes, or a `Blob` chunk by chunk),
//! collecting its output into JS containers, copying large byte arrays without a long task,
//! the network fetch, WebCrypto as an engine, and the pool's wire format.

pub(crate) mod copy;
pub(crate) mod network;
pub(crate) mod output;
pub(crate) mod source;
pub(crate) mod webcrypto;
pub(crate) mod wire;
