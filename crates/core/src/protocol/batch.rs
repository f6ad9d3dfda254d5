//! How pool messages travel: a **batch** — the JSON text of an array of envelopes
//! (`[{"v":2,"msg":{…}}, …]`), as UTF-8 bytes — in one `postMessage`, with each message's
//! transferables (body, shared blocks) beside it (`pool::worker_handle` describes the wire).
//!
//! Why JSON bytes: they cross the wasm boundary as one copy each way, where an object tree costs
//! a `Reflect` call per field on each side and a string costs a `TextDecoder`/`TextEncoder` pass
//! (`npm run bench:ipc` measures the three); and the text of each envelope is exactly what
//! `tests/fixtures/protocol/` holds, so the fixtures stay the single source of truth.
//! Why batches: calls submitted in one task turn, and the answers of short calls that ran back to
//! back, share one message instead of paying for one each.
//!
//! Decoding is strict per entry: a malformed entry is rejected on its own (with its id when one
//! can be read) and the others of its batch still count.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{decode, Envelope, RequestId};
use crate::error::Error;

/// Most messages one batch carries; more go in the next one.
pub const MAX_BATCH: usize = 256;

/// An entry of a batch that did not decode.
#[derive(Debug)]
pub struct Rejected {
    /// The entry's request id, if it has a well-formed one (so its caller can be answered).
    pub id: Option<RequestId>,
    /// Why it was rejected.
    pub error: Error,
}

/// The JSON text of a batch of `msgs`, each in its envelope (`.into_bytes()` for the wire).
///
/// # Errors
/// [`ErrorKind::Validation`](crate::ErrorKind::Validation) if a message cannot be written as JSON
/// (a non-string map key; none of our messages has one).
pub fn encode_batch<T: Serialize>(msgs: &[T]) -> Result<String, Error> {
    let envelopes: Vec<Envelope<&T>> = msgs.iter().map(Envelope::new).collect();
    let mut out = WipingWriter(Vec::with_capacity(512));
    serde_json::to_writer(&mut out, &envelopes)
        .map_err(|e| Error::validation(format!("cannot encode a message: {e}")))?;
    // serde_json writes only UTF-8.
    String::from_utf8(std::mem::take(&mut out.0))
        .map_err(|e| Error::validation(format!("cannot encode a message: {e}")))
}

/// A buffer that wipes what it outgrows: a message may hold a key, and a `Vec` that grows leaves
/// its old copy in freed memory.
struct WipingWriter(Vec<u8>);

impl std::io::Write for WipingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + bytes.len() > self.0.capacity() {
            let mut bigger = Vec::with_capacity((self.0.len() + bytes.len()).max(2 * self.0.capacity()));
            bigger.extend_from_slice(&self.0);
            zeroize::Zeroize::zeroize(&mut self.0);
            self.0 = bigger;
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Decodes a batch (its UTF-8 JSON text): every entry on its own.
///
/// # Errors
/// [`ErrorKind::Validation`](crate::ErrorKind::Validation) when `text` is not a JSON array of at
/// most [`MAX_BATCH`] entries.
pub fn decode_batch<T: DeserializeOwned>(text: impl AsRef<[u8]>) -> Result<Vec<Result<T, Rejected>>, Error> {
    // Each entry is kept as its raw text and decoded on its own, straight into `T`.
    let entries: Vec<&RawValue> =
        serde_json::from_slice(text.as_ref()).map_err(|e| Error::validation(format!("malformed batch: {e}")))?;
    if entries.len() > MAX_BATCH {
        return Err(Error::validation(format!("a batch of {} messages (at most {MAX_BATCH})", entries.len())));
    }
    Ok(entries
        .into_iter()
        .map(|entry| {
            let mut de = serde_json::Deserializer::from_str(entry.get());
            decode::<T, _>(&mut de).map_err(|error| Rejected { id: readable_id(entry), error })
        })
        .collect())
}

/// The request id of an entry that did not decode, if it has a well-formed one.
fn readable_id(entry: &RawValue) -> Option<RequestId> {
    let entry: Value = serde_json::from_str(entry.get()).ok()?;
    entry.get("msg")?.get("id")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::ops::Op;
    use crate::protocol::{FromWorker, OutputKind, ToWorker, PROTOCOL_VERSION};

    fn request(id: RequestId) -> ToWorker {
        ToWorker::Request { id, op: Op::Sha256, progress: false, output: OutputKind::Bytes, engine: Default::default() }
    }

    #[test]
    fn a_batch_round_trips_in_order() {
        let (a, b) = (RequestId::random(), RequestId::random());
        let msgs = [request(a), ToWorker::Ping { seq: 7 }, request(b)];
        let text = encode_batch(&msgs).unwrap();
        assert!(text.starts_with(&format!("[{{\"v\":{PROTOCOL_VERSION},\"msg\":{{\"type\":\"request\"")), "{text}");
        let back: Vec<ToWorker> = decode_batch(&text).unwrap().into_iter().map(Result::unwrap).collect();
        assert_eq!(back, msgs);
    }

    #[test]
    fn a_malformed_entry_fails_alone_with_its_id() {
        let (good, bad) = (RequestId::random(), RequestId::random());
        let text = format!(
            r#"[{}, {{"v":{PROTOCOL_VERSION},"msg":{{"type":"request","id":"{bad}","op":{{"kind":"rm -rf"}}}}}},
                {{"v":99,"msg":{{"type":"ping","seq":1}}}}, 42]"#,
            &encode_batch(&[request(good)]).unwrap()[1..].trim_end_matches(']'),
        );
        let out = decode_batch::<ToWorker>(&text).unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].as_ref().unwrap(), &request(good));
        let rejected: Vec<_> = out[1..].iter().map(|r| r.as_ref().unwrap_err()).collect();
        assert_eq!(rejected[0].id, Some(bad));
        assert!(rejected[1].id.is_none() && rejected[1].error.message().contains("version"));
        assert!(rejected.iter().all(|r| r.error.kind() == ErrorKind::Validation));
    }

    #[test]
    fn what_is_not_a_bounded_array_is_refused_whole() {
        for text in ["", "{}", "[", "\"request\"", "null"] {
            let err = decode_batch::<FromWorker>(text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Validation, "{text:?}");
        }
        let many = format!("[{}]", vec!["1"; MAX_BATCH + 1].join(","));
        assert!(decode_batch::<FromWorker>(&many).unwrap_err().message().contains("at most"));
    }
}
