//! Input and output at the edge: reading a call's input (bytes, or a `Blob` chunk by chunk),
//! collecting its output into JS containers, copying large byte arrays without a long task,
//! and the network fetch.

pub(crate) mod copy;
pub(crate) mod network;
pub(crate) mod output;
pub(crate) mod source;
