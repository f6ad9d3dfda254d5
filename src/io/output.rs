//! Op output moved out of wasm memory as it is produced: pieces of about [`PIECE`] bytes are
//! copied into JavaScript `Uint8Array`s, so the wasm heap holds at most one piece however large
//! the output. At the end the pieces become one `Uint8Array` or a `Blob`: at once in a worker,
//! in slices on the page.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::copy;
use crate::error::Error;
use crate::ops::Sink;
use crate::protocol::OutputKind;

/// Size of the pieces the output is moved out in.
const PIECE: usize = 1 << 20;

/// A [`Sink`] that collects output in JavaScript memory.
#[derive(Debug, Default)]
pub(crate) struct JsOutput {
    parts: Vec<Uint8Array>,
    pending: Vec<u8>,
    len: u64,
}

impl JsOutput {
    /// Output already made in JavaScript memory, in order (WebCrypto's results).
    pub(crate) fn of_parts(parts: Vec<Uint8Array>) -> JsOutput {
        let len = parts.iter().map(|p| u64::from(p.length())).sum();
        JsOutput { parts, pending: Vec::new(), len }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.parts.push(Uint8Array::from(self.pending.as_slice()));
            self.pending.clear();
        }
    }

    /// The output as `kind`, built at once (in a worker, where blocking costs the page nothing).
    ///
    /// # Errors
    /// `ValidationError` when the browser refuses to build the `Blob`.
    pub(crate) fn finish(mut self, kind: OutputKind) -> Result<JsValue, Error> {
        self.flush();
        match kind {
            OutputKind::Bytes | OutputKind::Value | OutputKind::Stream => concat(&self.parts).map(JsValue::from),
            OutputKind::Blob => {
                let parts: Array = self.parts.iter().collect();
                web_sys::Blob::new_with_u8_array_sequence(&parts)
                    .map(JsValue::from)
                    .map_err(|_| Error::validation("the browser could not build the output Blob"))
            }
        }
    }

    /// The output as `kind`, built in slices that yield to the page (on the main thread, where
    /// joining 64 MiB at once was an 80 ms task).
    ///
    /// # Errors
    /// As [`finish`](Self::finish).
    pub(crate) async fn finish_sliced(mut self, kind: OutputKind) -> Result<JsValue, Error> {
        self.flush();
        match kind {
            OutputKind::Bytes | OutputKind::Value | OutputKind::Stream => {
                copy::concat_sliced(&self.parts).await.map(JsValue::from)
            }
            OutputKind::Blob => copy::blob_sliced(&self.parts).await.map(JsValue::from),
        }
    }
}

/// The pieces joined into one `Uint8Array` (a single piece is returned as is), at once.
///
/// # Errors
/// `LimitExceededError` beyond 4 GiB, the largest `Uint8Array` the bridge makes.
pub(crate) fn concat(parts: &[Uint8Array]) -> Result<Uint8Array, Error> {
    if let [one] = parts {
        return Ok(one.clone());
    }
    let all = Uint8Array::new_with_length(copy::total_len(parts)?);
    let mut at = 0;
    for part in parts {
        all.set(part, at);
        at += part.length();
    }
    Ok(all)
}

/// A [`Sink`] that also takes output already in JavaScript memory (WebCrypto's results), in
/// order with the bytes written to it, without copying it into wasm memory and out again.
pub(crate) trait JsSink: Sink {
    /// Appends `part`.
    ///
    /// # Errors
    /// As [`Sink::write`].
    fn write_js(&mut self, part: Uint8Array) -> Result<(), Error>;

    /// The same sink as a plain [`Sink`] (without trait upcasting, Rust 1.86, for the declared
    /// `rust-version`).
    fn as_sink(&mut self) -> &mut dyn Sink;
}

impl JsSink for JsOutput {
    fn write_js(&mut self, part: Uint8Array) -> Result<(), Error> {
        self.flush();
        self.len += u64::from(part.length());
        self.parts.push(part);
        Ok(())
    }

    fn as_sink(&mut self) -> &mut dyn Sink {
        self
    }
}

impl Sink for JsOutput {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.len += bytes.len() as u64;
        if bytes.len() >= PIECE {
            self.flush();
            self.parts.push(Uint8Array::from(bytes));
        } else {
            self.pending.extend_from_slice(bytes);
            if self.pending.len() >= PIECE {
                self.flush();
            }
        }
        Ok(())
    }
}

/// `head ‖ parts…`, in order, for one output: the head copied out of wasm memory.
pub(crate) fn with_head(head: Option<&[u8]>, parts: Vec<JsValue>) -> Array {
    let all = Array::new();
    if let Some(head) = head {
        all.push(&Uint8Array::from(head));
    }
    for part in parts {
        all.push(&part);
    }
    all
}

/// How many bytes `parts` hold in `Uint8Array`s (not in `Blob`s): the views' lengths, though a
/// message clones a view's whole buffer (a split call's parts are views of most of theirs).
pub(crate) fn bytes_in(parts: &Array) -> u64 {
    parts.iter().filter_map(|p| p.dyn_into::<Uint8Array>().ok()).map(|p| u64::from(p.byte_length())).sum()
}

/// `parts` (`Blob`s and `Uint8Array`s) as one `Blob`, built here at once: no copy of a `Blob`
/// part, but a synchronous call to the browser (see `Executor::join`).
///
/// # Errors
/// `ValidationError` when the browser refuses to build the `Blob`.
pub(crate) fn join_here(parts: &Array) -> Result<web_sys::Blob, Error> {
    web_sys::Blob::new_with_blob_sequence(parts)
        .map_err(|_| Error::validation("the browser could not build the output Blob"))
}

/// `parts` (`Uint8Array`s) as one `Uint8Array`, joined in slices: this runs on the page,
/// whichever placement made the parts.
///
/// # Errors
/// `LimitExceededError` beyond 4 GiB.
pub(crate) async fn concat_parts(parts: &Array) -> Result<Uint8Array, Error> {
    let pieces: Vec<Uint8Array> = parts.iter().filter_map(|p| p.dyn_into::<Uint8Array>().ok()).collect();
    copy::concat_sliced(&pieces).await
}
