//! The pool's wire: what one `postMessage` between the page and a pool worker carries. It is an
//! array — `[envelopes, attachment₀, attachment₁, …]`:
//! - `envelopes`: a `Uint8Array` of the batch's UTF-8 JSON (`protocol::encode_batch`);
//! - `attachmentᵢ`, for the `i`-th envelope: `undefined` (nothing), its body alone (a
//!   `Uint8Array` or a `Blob`: the common case), or `{ body?, progress?, cancel?, beat? }` when
//!   shared blocks travel too; an app's task's input or result, which may be any value (an
//!   object with a `body` of its own), always travels wrapped, as `{ value, progress?, … }`;
//!   an input stream and an output sink as `{ stream?, body?, sink?, progress?, … }`.
//!
//! Flat and small on purpose: the browser clones it on one side and rebuilds it on the other,
//! and each nested object costs both. Bodies are transferred when asked (`Attachment`); the
//! envelope bytes, a few hundred, are copied.
//!
//! **The one-buffer form.** When every attachment of a message is nothing or a small body the
//! browser would copy anyway (under [`COPY_BELOW`], not a caller's buffer moved with `transfer:
//! true`), the message is a single `Uint8Array`: `[envelopes][body₀][body₁]…[trailer]`, the
//! trailer little-endian `u32`s — the envelopes' length, then per envelope its body's length plus
//! one (0: no body), then how many envelopes there are. One buffer for the browser to clone and
//! rebuild instead of an array and one per body: a 16-byte echo's round trip costs a raw
//! `postMessage` of one buffer ×1.22 as `[envelopes, body]` and ×1.14 as `[buffer]` (scratch page,
//! 25 paired rounds). The receiver gives each body a buffer of its own.
//!
//! Both sides — `pool::worker_handle` and `worker_main` — read and write it only through this
//! module.

use js_sys::{Array, Int32Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;
use zeroize::Zeroize;

use crate::error::Error;
use crate::runtime::names::name;

/// A body whose whole buffer is smaller than this is copied even when it may be moved: the
/// browser rebuilds a moved buffer at a fixed cost that a small copy undercuts (16-byte echo
/// calls, `npm run bench:ipc`). So is a body this small in the one-buffer form, whatever its
/// buffer (only its own bytes are copied there).
const COPY_BELOW: u32 = 16 << 10;

/// What travels beside one envelope.
#[derive(Debug, Default)]
pub(crate) struct Attachment<'a> {
    /// A `Uint8Array` or a `Blob`.
    pub(crate) body: Option<&'a JsValue>,
    /// Move the body's buffer (a `Uint8Array`'s) instead of letting the browser copy it —
    /// unless it is small (see [`COPY_BELOW`]).
    pub(crate) transfer_body: bool,
    /// The body is the caller's own buffer, moved with `transfer: true`: it leaves the caller
    /// however small (where `ArrayBuffer.prototype.transfer` is missing, only `postMessage`
    /// detaches it).
    pub(crate) callers: bool,
    /// Shared blocks, by name (`progress`, `cancel`, `beat`).
    pub(crate) blocks: Vec<(&'static str, &'a Int32Array)>,
    /// An app's task's value, in place of a body (always wrapped: `{ value }`).
    pub(crate) value: Option<&'a JsValue>,
    /// Transferables to move with the value.
    pub(crate) transfer: Option<&'a Array>,
    /// An input stream (or its relay's port), moved.
    pub(crate) stream: Option<&'a JsValue>,
    /// Where the output goes: a stream or a relay's port (moved), or a file handle (cloned).
    pub(crate) sink: Option<&'a JsValue>,
}

/// A message being built: the envelopes, then one attachment per envelope.
pub(crate) struct Outgoing {
    /// The envelopes' bytes, until the message's form is known (wiped once copied out).
    envelopes: Vec<u8>,
    /// The one-buffer form's bodies so far, while every attachment fits it, each with whether
    /// its buffer is to be moved should the message end up in the array form.
    inline: Option<Vec<(Option<Uint8Array>, bool)>>,
    wire: Array,
    transfer: Array,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the envelopes: they may hold a key.
        f.debug_struct("Outgoing").field("envelopes", &self.envelopes.len()).finish_non_exhaustive()
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        self.envelopes.zeroize();
    }
}

impl Outgoing {
    /// Starts a message with the batch's JSON bytes, which are wiped from wasm memory once
    /// copied out (they may hold a key).
    pub(crate) fn new(envelopes: Vec<u8>) -> Self {
        Outgoing { envelopes, inline: Some(Vec::new()), wire: Array::new(), transfer: Array::new() }
    }

    /// The body `a` carries in the one-buffer form (`Some((None, _))`: no body), if it fits it,
    /// and whether the array form would move its buffer.
    fn inline_body(a: &Attachment<'_>) -> Option<(Option<Uint8Array>, bool)> {
        let plain = a.blocks.is_empty() && a.value.is_none() && a.transfer.is_none() && a.stream.is_none();
        if !plain || a.sink.is_some() {
            return None;
        }
        let Some(body) = a.body else { return Some((None, false)) };
        let bytes = body.dyn_ref::<Uint8Array>()?;
        if bytes.byte_length() >= COPY_BELOW || (a.callers && a.transfer_body) {
            return None;
        }
        Some((Some(bytes.clone()), Self::moves(bytes, a.transfer_body, a.callers)))
    }

    /// Whether the array form moves `bytes`' buffer (see [`Attachment::transfer_body`]).
    fn moves(bytes: &Uint8Array, transfer_body: bool, callers: bool) -> bool {
        let buffer = bytes.buffer();
        transfer_body
            && buffer.is_instance_of::<js_sys::ArrayBuffer>()
            && (callers || buffer.byte_length() >= COPY_BELOW)
    }

    /// Leaves the one-buffer form: the envelopes and the bodies so far become the array form's.
    fn leave_one_buffer(&mut self) {
        let Some(bodies) = self.inline.take() else { return };
        self.wire.push(&Uint8Array::from(self.envelopes.as_slice()));
        self.envelopes.zeroize();
        for (body, moved) in bodies {
            if let Some(body) = body.as_ref().filter(|_| moved) {
                self.transfer.push(&body.buffer());
            }
            self.wire.push(&body.map_or(JsValue::UNDEFINED, JsValue::from));
        }
    }

    /// Adds the next envelope's attachment.
    pub(crate) fn attach(&mut self, a: Attachment<'_>) {
        if let Some(bodies) = self.inline.as_mut() {
            if let Some(body) = Self::inline_body(&a) {
                bodies.push(body);
                return;
            }
        }
        self.leave_one_buffer();
        if let Some(bytes) = a.body.and_then(|b| b.dyn_ref::<Uint8Array>()) {
            if Self::moves(bytes, a.transfer_body, a.callers) {
                self.transfer.push(&bytes.buffer());
            }
        }
        if let Some(list) = a.transfer {
            for item in list.iter() {
                self.transfer.push(&item);
            }
        }
        if let Some(value) = a.value {
            let object = Object::new();
            let _ = Reflect::set(&object, &name("value"), value);
            for (key, words) in a.blocks {
                let _ = Reflect::set(&object, &name(key), words);
            }
            self.wire.push(&object);
            return;
        }
        for moved in [a.stream, a.sink].into_iter().flatten() {
            let movable = moved.is_instance_of::<web_sys::ReadableStream>()
                || moved.is_instance_of::<web_sys::WritableStream>()
                || moved.is_instance_of::<web_sys::MessagePort>();
            if movable {
                self.transfer.push(moved);
            }
        }
        let plain = a.blocks.is_empty() && a.stream.is_none() && a.sink.is_none();
        let value = match (a.body, plain) {
            (None, true) => JsValue::UNDEFINED,
            (Some(body), true) => body.clone(),
            (body, false) => {
                let object = Object::new();
                if let Some(body) = body {
                    let _ = Reflect::set(&object, &name("body"), body);
                }
                for (key, field) in [("stream", a.stream), ("sink", a.sink)] {
                    if let Some(field) = field {
                        let _ = Reflect::set(&object, &name(key), field);
                    }
                }
                for (key, words) in a.blocks {
                    let _ = Reflect::set(&object, &name(key), words);
                }
                object.into()
            }
        };
        self.wire.push(&value);
    }

    /// The message and its transfer list.
    pub(crate) fn finish(mut self) -> (JsValue, Array) {
        let Some(bodies) = self.inline.take() else {
            let wire = std::mem::replace(&mut self.wire, Array::new());
            return (wire.into(), std::mem::replace(&mut self.transfer, Array::new()));
        };
        // Built in JavaScript memory at its final size: nothing of it is left behind in wasm
        // memory (the envelopes may hold a key; `Drop` wipes them).
        let mut trailer = Vec::with_capacity(4 * (bodies.len() + 2));
        let mut push = |n: usize| trailer.extend_from_slice(&(n as u32).to_le_bytes());
        push(self.envelopes.len());
        let mut total = self.envelopes.len();
        for (body, _) in &bodies {
            let len = body.as_ref().map_or(0, Uint8Array::length) as usize;
            push(body.as_ref().map_or(0, |_| len + 1));
            total += len;
        }
        push(bodies.len());
        let one = Uint8Array::new_with_length((total + trailer.len()) as u32);
        one.subarray(0, self.envelopes.len() as u32).copy_from(&self.envelopes);
        let mut at = self.envelopes.len() as u32;
        for body in bodies.iter().filter_map(|(body, _)| body.as_ref()) {
            one.set(body, at);
            at += body.length();
        }
        one.subarray(at, at + trailer.len() as u32).copy_from(&trailer);
        (one.into(), Array::new())
    }
}

/// How long the trailer of a one-buffer message of `len` bytes is, by its last four bytes (the
/// envelope count; see the module docs).
fn trailer_len(last: [u8; 4], len: usize) -> Option<usize> {
    let n = usize::try_from(u32::from_le_bytes(last)).ok()?;
    let trailer = n.checked_add(2)?.checked_mul(4)?;
    (trailer <= len).then_some(trailer)
}

/// Reads the `trailer` of a one-buffer message of `len` bytes: the envelopes' length, and each
/// body's range.
fn read_trailer(trailer: &[u8], len: usize) -> Option<(usize, Vec<Option<std::ops::Range<usize>>>)> {
    let words: Vec<usize> = trailer
        .chunks_exact(4)
        .map(|w| usize::try_from(u32::from_le_bytes([w[0], w[1], w[2], w[3]])).ok())
        .collect::<Option<_>>()?;
    let (&envelopes, rest) = words.split_first()?;
    let (_, lengths) = rest.split_last()?;
    let mut at = envelopes;
    let mut bodies = Vec::with_capacity(lengths.len());
    for &length in lengths {
        bodies.push(match length {
            0 => None,
            length => {
                let end = at.checked_add(length - 1)?;
                let range = at..end;
                at = end;
                Some(range)
            }
        });
    }
    (Some(at) == len.checked_sub(trailer.len())).then_some((envelopes, bodies))
}

/// A message as it arrived: the batch's JSON bytes and each envelope's attachment.
#[derive(Debug)]
pub(crate) struct Incoming {
    /// Wiped when dropped (they may hold a key).
    pub(crate) envelopes: zeroize::Zeroizing<Vec<u8>>,
    attachments: Attachments,
}

/// Where the attachments are.
#[derive(Debug)]
enum Attachments {
    /// The whole message, in the array form: the attachments follow the envelopes.
    Wire(Array),
    /// The bodies of the one-buffer form, each in a buffer of its own.
    Bodies(Vec<JsValue>),
}

impl Incoming {
    /// Reads `data`.
    ///
    /// # Errors
    /// `ValidationError` when it is not a message of this wire.
    pub(crate) fn read(data: &JsValue) -> Result<Incoming, Error> {
        let not_ours = || Error::validation("not a worker-bridge message");
        if let Some(one) = data.dyn_ref::<Uint8Array>() {
            // Only the trailer and the envelopes come into wasm memory; each body gets a buffer
            // of its own in JavaScript.
            let len = one.length();
            if len < 4 {
                return Err(not_ours());
            }
            let mut last = [0; 4];
            one.subarray(len - 4, len).copy_to(&mut last);
            let trailer = trailer_len(last, len as usize).ok_or_else(not_ours)? as u32;
            let (envelopes, ranges) =
                read_trailer(&one.subarray(len - trailer, len).to_vec(), len as usize).ok_or_else(not_ours)?;
            let bodies = ranges
                .into_iter()
                .map(|range| range.map_or(JsValue::UNDEFINED, |r| one.slice(r.start as u32, r.end as u32).into()))
                .collect();
            let envelopes = zeroize::Zeroizing::new(one.subarray(0, envelopes as u32).to_vec());
            return Ok(Incoming { envelopes, attachments: Attachments::Bodies(bodies) });
        }
        let wire = data.dyn_ref::<Array>().ok_or_else(not_ours)?;
        let envelopes = wire.get(0).dyn_into::<Uint8Array>().map_err(|_| not_ours())?;
        Ok(Incoming {
            envelopes: zeroize::Zeroizing::new(envelopes.to_vec()),
            attachments: Attachments::Wire(wire.clone()),
        })
    }

    /// The attachment of the `i`-th envelope (`undefined` when none).
    pub(crate) fn attachment(&self, i: usize) -> Attached {
        Attached(match &self.attachments {
            Attachments::Wire(wire) => u32::try_from(i + 1).map(|i| wire.get(i)).unwrap_or(JsValue::UNDEFINED),
            Attachments::Bodies(bodies) => bodies.get(i).cloned().unwrap_or(JsValue::UNDEFINED),
        })
    }
}

/// One envelope's attachment, as it arrived.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attached(JsValue);

impl Attached {
    /// The body: a `Uint8Array` or a `Blob`.
    pub(crate) fn body(&self) -> Option<JsValue> {
        let is_body = |v: &JsValue| v.is_instance_of::<Uint8Array>() || v.is_instance_of::<Blob>();
        if is_body(&self.0) {
            return Some(self.0.clone());
        }
        self.field("body").filter(is_body)
    }

    /// An app's task's value (`{ value }`; it may be `undefined`), if this attachment is one.
    pub(crate) fn value(&self) -> Option<JsValue> {
        let wrapped = self.0.is_object() && !self.0.is_instance_of::<Uint8Array>() && !self.0.is_instance_of::<Blob>();
        if wrapped && Reflect::has(&self.0, &name("value")).unwrap_or(false) {
            return Reflect::get(&self.0, &name("value")).ok();
        }
        None
    }

    /// The input stream (or its relay's port), when the input is a stream.
    pub(crate) fn stream(&self) -> Option<JsValue> {
        self.field("stream")
    }

    /// Where the output goes, when it is written as it is produced.
    pub(crate) fn sink(&self) -> Option<JsValue> {
        self.field("sink")
    }

    /// A shared block by name (`progress`, `cancel`, `beat`).
    pub(crate) fn block(&self, key: &'static str) -> Option<Int32Array> {
        self.field(key).and_then(|v| v.dyn_into::<Int32Array>().ok())
    }

    fn field(&self, key: &'static str) -> Option<JsValue> {
        if !self.0.is_object() || self.0.is_instance_of::<Uint8Array>() || self.0.is_instance_of::<Blob>() {
            return None;
        }
        Reflect::get(&self.0, &name(key)).ok().filter(|v| !v.is_undefined())
    }
}

#[cfg(test)]
mod tests {
    use super::{read_trailer, trailer_len};

    /// Both steps of `Incoming::read` over a whole message.
    fn split_one(bytes: &[u8]) -> Option<(usize, Vec<Option<std::ops::Range<usize>>>)> {
        let last = bytes.get(bytes.len().checked_sub(4)?..)?.try_into().ok()?;
        let trailer = trailer_len(last, bytes.len())?;
        read_trailer(&bytes[bytes.len() - trailer..], bytes.len())
    }

    /// The one-buffer form of `envelopes` and `bodies`, as `Outgoing::finish` lays it out.
    fn join(envelopes: &[u8], bodies: &[Option<&[u8]>]) -> Vec<u8> {
        let mut one = envelopes.to_vec();
        let mut trailer = vec![envelopes.len() as u32];
        for body in bodies {
            trailer.push(body.map_or(0, |b| b.len() as u32 + 1));
            one.extend_from_slice(body.unwrap_or_default());
        }
        trailer.push(bodies.len() as u32);
        one.extend(trailer.iter().flat_map(|n| n.to_le_bytes()));
        one
    }

    #[test]
    fn the_one_buffer_form_gives_back_the_envelopes_and_each_body() {
        let bodies: [Option<&[u8]>; 4] = [Some(b"abc"), None, Some(b""), Some(b"xyz!")];
        let one = join(b"[1,2,3,4]", &bodies);
        let (envelopes, ranges) = split_one(&one).unwrap();
        assert_eq!(&one[..envelopes], b"[1,2,3,4]");
        let got: Vec<Option<&[u8]>> = ranges.into_iter().map(|r| r.map(|r| &one[r])).collect();
        assert_eq!(got, bodies);
        let (envelopes, ranges) = split_one(&join(b"[]", &[])).unwrap();
        assert_eq!((envelopes, ranges.len()), (2, 0));
    }

    #[test]
    fn a_buffer_that_is_not_the_one_buffer_form_is_refused() {
        let good = join(b"[1]", &[Some(b"body")]);
        let mut lying = good.clone();
        // The body's length, one more than it is.
        let at = lying.len() - 8;
        lying[at] += 1;
        let mut many = good.clone();
        let last = many.len() - 4;
        many[last..].copy_from_slice(&u32::MAX.to_le_bytes());
        for bad in [&b""[..], &[1, 2, 3], &[0; 7], &good[..good.len() - 1], &good[1..], &lying, &many] {
            assert!(split_one(bad).is_none(), "{bad:?}");
        }
    }
}
