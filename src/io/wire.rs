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
//! envelope bytes, a few hundred, are copied. Both sides — `pool::worker_handle` and
//! `worker_main` — read and write it only through this module.

use js_sys::{Array, Int32Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;
use zeroize::Zeroize;

use crate::error::Error;
use crate::runtime::names::name;

/// A body whose whole buffer is smaller than this is copied even when it may be moved: the
/// browser rebuilds a moved buffer at a fixed cost that a small copy undercuts (16-byte echo
/// calls, `npm run bench:ipc`).
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
#[derive(Debug)]
pub(crate) struct Outgoing {
    wire: Array,
    transfer: Array,
}

impl Outgoing {
    /// Starts a message with the batch's JSON bytes, which are wiped from wasm memory once
    /// copied out (they may hold a key).
    pub(crate) fn new(mut envelopes: Vec<u8>) -> Self {
        let bytes = Uint8Array::from(envelopes.as_slice());
        envelopes.zeroize();
        Outgoing { wire: Array::of1(&bytes), transfer: Array::new() }
    }

    /// Adds the next envelope's attachment.
    pub(crate) fn attach(&mut self, a: Attachment<'_>) {
        if let Some(view) = a.body.filter(|_| a.transfer_body).and_then(|b| b.dyn_ref::<Uint8Array>()) {
            let len = view.byte_length();
            // The bridge's own short views are over buffers of their length: what they weigh
            // is known without a look at the buffer.
            let own = !a.callers && crate::io::copy::owns_its_buffer(u64::from(len));
            if !own || len >= COPY_BELOW {
                let buffer = view.buffer();
                if buffer.is_instance_of::<js_sys::ArrayBuffer>() && (a.callers || buffer.byte_length() >= COPY_BELOW) {
                    self.transfer.push(&buffer);
                }
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
    pub(crate) fn finish(self) -> (JsValue, Array) {
        (self.wire.into(), self.transfer)
    }
}

/// A message as it arrived: the batch's JSON bytes and each envelope's attachment.
#[derive(Debug)]
pub(crate) struct Incoming {
    /// Wiped when dropped (they may hold a key).
    pub(crate) envelopes: zeroize::Zeroizing<Vec<u8>>,
    /// The whole message: the attachments follow the envelopes.
    wire: Array,
}

impl Incoming {
    /// Reads `data`.
    ///
    /// # Errors
    /// `ValidationError` when it is not a message of this wire.
    pub(crate) fn read(data: &JsValue) -> Result<Incoming, Error> {
        let not_ours = || Error::validation("not a worker-bridge message");
        let wire = data.dyn_ref::<Array>().ok_or_else(not_ours)?;
        let envelopes = wire.get(0).dyn_into::<Uint8Array>().map_err(|_| not_ours())?;
        Ok(Incoming { envelopes: zeroize::Zeroizing::new(envelopes.to_vec()), wire: wire.clone() })
    }

    /// The attachment of the `i`-th envelope, sorted by what it is.
    pub(crate) fn attachment(&self, i: usize) -> Attached {
        let value = u32::try_from(i + 1).map(|i| self.wire.get(i)).unwrap_or(JsValue::UNDEFINED);
        if value.is_instance_of::<Uint8Array>() || value.is_instance_of::<Blob>() {
            Attached::Body(value)
        } else if value.is_object() {
            Attached::Fields(value)
        } else {
            Attached::None
        }
    }
}

/// One envelope's attachment, as it arrived: sorted once, since every look at a JS value is a
/// call into JavaScript (a request's attachment was asked for a field seven times).
#[derive(Debug, Clone, Default)]
pub(crate) enum Attached {
    /// Nothing.
    #[default]
    None,
    /// A body alone: a `Uint8Array` or a `Blob` (the common case).
    Body(JsValue),
    /// An object of fields: `{ body?, value?, stream?, sink?, progress?, cancel?, beat? }`.
    Fields(JsValue),
}

impl Attached {
    /// The body: a `Uint8Array` or a `Blob`.
    pub(crate) fn body(&self) -> Option<JsValue> {
        match self {
            Attached::Body(body) => Some(body.clone()),
            _ => self.field("body").filter(|v| v.is_instance_of::<Uint8Array>() || v.is_instance_of::<Blob>()),
        }
    }

    /// An app's task's value (`{ value }`; it may be `undefined`), if this attachment is one.
    pub(crate) fn value(&self) -> Option<JsValue> {
        let Attached::Fields(fields) = self else { return None };
        if Reflect::has(fields, &name("value")).unwrap_or(false) {
            return Reflect::get(fields, &name("value")).ok();
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
        let Attached::Fields(fields) = self else { return None };
        Reflect::get(fields, &name(key)).ok().filter(|v| !v.is_undefined())
    }
}
