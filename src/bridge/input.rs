//! Call inputs from JavaScript: bytes in any common shape, and per-call options.

use std::ops::Range;

use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array};
use serde::Deserialize;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AbortSignal;

use crate::defaults;
use crate::error::Error;
use crate::io::copy;
use crate::io::source::Input;
use crate::ops::Secret;
use crate::protocol::OutputKind;
use crate::scheduler::{Priority, TimeoutFrom};
use crate::services::origin;
use crate::shared::{as_words, CancelBlock, ProgressBlock};

/// The serde-readable part of a call's options.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Plain {
    output: Option<OutputKind>,
    transfer: bool,
    priority: Priority,
    deadline: Option<f64>,
    timeout_ms: Option<f64>,
    timeout_from: Option<TimeoutFrom>,
    retries: Option<u32>,
}

/// Options every call takes.
#[derive(Debug, Default)]
pub(crate) struct CallOptions {
    /// `'bytes'` (a `Uint8Array`) or `'blob'`; each facade method has its own default.
    pub(crate) output: Option<OutputKind>,
    /// Move the caller's buffer to the worker instead of copying it (the caller's `ArrayBuffer`,
    /// all of it, is detached).
    pub(crate) transfer: bool,
    pub(crate) priority: Priority,
    /// Within a priority, calls with an earlier deadline (a `Date.now()` timestamp) run first; a
    /// call not started by then fails with `TimeoutError`.
    pub(crate) deadline: Option<f64>,
    /// `Some(0)` disables the bridge's default.
    pub(crate) timeout_ms: Option<u32>,
    /// Where `timeout_ms` counts from (else the bridge's default).
    pub(crate) timeout_from: Option<TimeoutFrom>,
    pub(crate) retries: Option<u32>,
    /// An `AbortSignal` to watch (a `SharedCancellation` contributes one via `toAbortSignal()`).
    pub(crate) signal: Option<AbortSignal>,
    /// The caller's shared cancellation flag, which workers can watch directly.
    pub(crate) cancel: Option<CancelBlock>,
    pub(crate) on_progress: Option<Function>,
    /// The caller's `SharedProgress`, which workers write directly.
    pub(crate) progress: Option<ProgressBlock>,
    /// `output` as a place to write to: a `WritableStream` (a `FileSystemWritableFileStream`
    /// among them) or a `FileSystemFileHandle` (`io::stream::open_sink`).
    pub(crate) sink: Option<JsValue>,
}

const CALL_KEYS: &[&str] = &[
    "output",
    "transfer",
    "priority",
    "deadline",
    "timeoutMs",
    "timeoutFrom",
    "retries",
    "signal",
    "onProgress",
    "progress",
];

/// The call options `services.send` takes: `timeoutMs` (0 = no limit, as for calls) and `signal`.
pub(crate) const SEND_KEYS: &[&str] = &["timeoutMs", "signal"];

impl CallOptions {
    /// Parses the common options; `extra` names the op-specific keys the facade reads itself.
    pub(crate) fn from_js(value: &JsValue, extra: &[&str]) -> Result<Self, Error> {
        let known: Vec<&str> = CALL_KEYS.iter().chain(extra).copied().collect();
        Self::parse(value, &known, extra)
    }

    /// Parses the options named in `known` — call keys, and the `extra` keys the caller reads
    /// itself; any other key is refused. `services.send` reads [`SEND_KEYS`] this way, so a
    /// message's options mean what a call's do.
    pub(crate) fn parse(value: &JsValue, known: &[&str], extra: &[&str]) -> Result<Self, Error> {
        if value.is_undefined() || value.is_null() {
            return Ok(CallOptions::default()); // the common call, without a look at the rest
        }
        let mut skip = vec!["signal", "onProgress", "progress"];
        skip.extend_from_slice(extra);
        let sink = known.contains(&"output").then(|| output_sink(value)).transpose()?.flatten();
        if sink.is_some() {
            skip.push("output");
        }
        let plain: Plain = parse_options(value, "call options", known, &skip)?;
        let mut options = CallOptions {
            output: plain.output,
            transfer: plain.transfer,
            priority: plain.priority,
            deadline: plain.deadline,
            timeout_ms: plain.timeout_ms.map(|ms| milliseconds(ms, "timeoutMs")).transpose()?,
            timeout_from: plain.timeout_from,
            retries: plain.retries,
            sink,
            ..CallOptions::default()
        };
        if let Some(d) = options.deadline {
            if !d.is_finite() || d < 0.0 {
                return Err(Error::validation("deadline must be a timestamp in milliseconds"));
            }
        }
        if options.retries.is_some_and(|r| r > defaults::MAX_RETRIES) {
            return Err(Error::validation(format!("retries must be at most {}", defaults::MAX_RETRIES)));
        }
        let field = |key: &str| Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED);

        let signal = field("signal");
        if let Some(words) = as_words(&Reflect::get(&signal, &"__cancelWords".into()).unwrap_or(JsValue::UNDEFINED)) {
            // A SharedCancellation: workers watch its flag; its AbortSignal tells the executor.
            options.cancel = CancelBlock::from_words(words);
            let to_signal =
                Reflect::get(&signal, &"toAbortSignal".into()).ok().and_then(|f| f.dyn_into::<Function>().ok());
            options.signal = to_signal.and_then(|f| f.call0(&signal).ok()).and_then(|s| s.dyn_into().ok());
        } else if let Some(s) = signal.dyn_ref::<AbortSignal>() {
            options.signal = Some(s.clone());
        } else if !signal.is_undefined() && !signal.is_null() {
            return Err(Error::validation("signal must be an AbortSignal or a SharedCancellation"));
        }

        let on_progress = field("onProgress");
        if let Some(f) = on_progress.dyn_ref::<Function>() {
            options.on_progress = Some(f.clone());
        } else if !on_progress.is_undefined() && !on_progress.is_null() {
            return Err(Error::validation("onProgress must be a function"));
        }

        let progress = field("progress");
        if let Some(words) = as_words(&Reflect::get(&progress, &"__progressWords".into()).unwrap_or(JsValue::UNDEFINED))
        {
            options.progress = ProgressBlock::from_words(words);
        } else if !progress.is_undefined() && !progress.is_null() {
            return Err(Error::validation("progress must be a SharedProgress"));
        }
        Ok(options)
    }
}

/// An optional byte-string option (`aad`): a `Uint8Array`, `ArrayBuffer` or view, or a string
/// (UTF-8).
pub(crate) fn opt_bytes(options: &JsValue, key: &str) -> Result<Option<Vec<u8>>, Error> {
    let value = field(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if let Some(s) = value.as_string() {
        return Ok(Some(s.into_bytes()));
    }
    owned_bytes(&value, false)
        .map(|b| Some(b.to_vec()))
        .map_err(|_| Error::validation(format!("{key} must be bytes or a string")))
}

/// An optional whole-number option.
pub(crate) fn opt_u64(options: &JsValue, key: &str) -> Result<Option<u64>, Error> {
    let value = field(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 => Ok(Some(n as u64)),
        _ => Err(Error::validation(format!("{key} must be a whole number ≥ 0"))),
    }
}

/// `options[key]`, or `undefined` when `options` is not an object.
pub(crate) fn field(options: &JsValue, key: &str) -> JsValue {
    if options.is_object() {
        Reflect::get(options, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// `url` resolved against the page, so a worker (whose own location differs) sees the same URL.
pub(crate) fn absolute_url(url: &str) -> Result<String, Error> {
    let base = Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|l| Reflect::get(&l, &"href".into()))
        .ok()
        .and_then(|h| h.as_string());
    let parsed = match base {
        Some(base) => web_sys::Url::new_with_base(url, &base),
        None => web_sys::Url::new(url),
    };
    parsed.map(|u| u.href()).map_err(|_| Error::validation(format!("invalid URL {url:?}")))
}

/// The origin of this page (or worker), for the same-origin rule of service modules; `None` when
/// it is opaque (a sandboxed frame, a `file:` page). `self.origin` is what the platform says the
/// origin is (a `blob:` worker or an `about:blank` frame inherits its creator's, whatever their
/// `location` says); without it, the origin of `location.href`.
pub(crate) fn page_origin() -> Option<String> {
    let global = js_sys::global();
    let reported = Reflect::get(&global, &"origin".into()).ok().and_then(|o| o.as_string());
    let from_location = || {
        Reflect::get(&global, &"location".into())
            .and_then(|l| Reflect::get(&l, &"href".into()))
            .ok()
            .and_then(|h| h.as_string())
            .and_then(|href| origin::http_origin(&href))
    };
    match reported {
        Some(o) if o != "null" => origin::parse_origin(&o).ok(),
        Some(_) => None,
        None => from_location(),
    }
}

/// Key (or nonce) bytes from a `Uint8Array`, `ArrayBuffer` or view, never a string.
pub(crate) fn secret_bytes(value: &JsValue, what: &str) -> Result<Secret, Error> {
    if value.as_string().is_some() {
        return Err(Error::validation(format!("the {what} must be bytes (a Uint8Array), not a string")));
    }
    let copy = owned_bytes(value, false).map_err(|_| Error::validation(format!("the {what} must be a Uint8Array")))?;
    let secret = Secret(copy.to_vec());
    // Our private JS copy is wiped too; the caller's own buffer is theirs to manage.
    copy.fill(0, 0, copy.length());
    Ok(secret)
}

/// A whole number of milliseconds, 0 ..= 2^31 − 1 (about 24.8 days: the browser's timer limit;
/// a longer delay would wrap and fire at once).
pub(crate) fn milliseconds(ms: f64, what: &str) -> Result<u32, Error> {
    if ms.is_finite() && ms >= 0.0 && ms <= f64::from(i32::MAX) {
        Ok(ms.ceil() as u32)
    } else {
        Err(Error::validation(format!("{what} must be a number of milliseconds, 0 ..= {}", i32::MAX)))
    }
}

/// Reads an options object with serde; `undefined`/`null` mean all defaults. A key outside
/// `known` is rejected (a typo like `tranfser` must not silently mean "default"):
/// serde-wasm-bindgen reads only the fields it knows, so `deny_unknown_fields` cannot see it.
pub(crate) fn parse_options<T: Default + for<'de> Deserialize<'de>>(
    value: &JsValue,
    what: &str,
    known: &[&str],
    skip: &[&str],
) -> Result<T, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    if !value.is_object() || Array::is_array(value) {
        return Err(Error::validation(format!("{what} must be an object")));
    }
    let object: &Object = value.unchecked_ref();
    for key in Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            return Err(Error::validation(format!("unknown {what} key {key:?} (expected one of {known:?})")));
        }
    }
    // The `skip` keys (functions, signals) are read by the caller, not by serde.
    let plain = Object::new();
    for key in Object::keys(object).iter() {
        if !skip.iter().any(|s| key.as_string().as_deref() == Some(s)) {
            let _ = Reflect::set(&plain, &key, &Reflect::get(value, &key).unwrap_or(JsValue::UNDEFINED));
        }
    }
    serde_wasm_bindgen::from_value(plain.into()).map_err(|e| Error::validation(format!("invalid {what}: {e}")))
}

/// A call's `output` when it names a place to write to rather than a container: a
/// `WritableStream` (not locked) or a `FileSystemFileHandle` (anything with `createWritable`).
///
/// # Errors
/// `ValidationError` for a locked stream or another object.
fn output_sink(options: &JsValue) -> Result<Option<JsValue>, Error> {
    if !options.is_object() {
        return Ok(None);
    }
    let output = Reflect::get(options, &"output".into()).unwrap_or(JsValue::UNDEFINED);
    if !output.is_object() {
        return Ok(None);
    }
    if let Some(stream) = output.dyn_ref::<web_sys::WritableStream>() {
        if stream.locked() {
            return Err(Error::validation("the output stream is locked (another writer holds it)"));
        }
        return Ok(Some(output));
    }
    if Reflect::get(&output, &"createWritable".into()).is_ok_and(|f| f.is_function()) {
        return Ok(Some(output));
    }
    Err(Error::validation("output must be 'bytes', 'blob', a WritableStream or a FileSystemFileHandle"))
}

/// Whether the call's options name a place to write the output to (so it is never split).
pub(crate) fn writes_out(options: &JsValue) -> bool {
    output_sink(options).is_ok_and(|sink| sink.is_some())
}

/// Takes a call's input: a `Blob` or `File` as is (immutable: shared, never copied); the bytes
/// of a `Uint8Array`, any other `ArrayBuffer` view, an `ArrayBuffer` or a `SharedArrayBuffer`
/// moved in when `transfer` is set (the caller's buffer detached now), else borrowed: a view of
/// just the viewed bytes, which the pipeline copies before the call is queued — at once when
/// small, else in slices over the next tasks (see [`Taken`]).
///
/// # Errors
/// `ValidationError` for any other value or a detached buffer.
pub(crate) fn take_input(value: &JsValue, transfer: bool) -> Result<Taken, Error> {
    let view = match value.dyn_ref::<Uint8Array>() {
        Some(view) => bytes_view(view)?,
        None => {
            if let Some(blob) = value.dyn_ref::<web_sys::Blob>() {
                return Ok(Taken::Owned(Input::Blob(blob.clone())));
            }
            if let Some(stream) = value.dyn_ref::<web_sys::ReadableStream>() {
                if stream.locked() {
                    return Err(Error::validation("the input stream is locked (another reader holds it)"));
                }
                return Ok(Taken::Owned(Input::Stream(stream.clone())));
            }
            byte_view(value)?
        }
    };
    // A `SharedArrayBuffer` cannot be moved: it is copied like any borrowed input.
    if transfer && view.buffer().is_instance_of::<ArrayBuffer>() {
        return Ok(Taken::Owned(Input::Bytes(moved(&view))));
    }
    Ok(Taken::Borrowed(view))
}

/// A call's input as taken during the call.
#[derive(Debug, Clone)]
pub(crate) enum Taken {
    /// The bridge's already: a `Blob`, or the caller's buffer moved in (`transfer: true`).
    Owned(Input),
    /// A view of the caller's bytes, still to be copied. A copy that fits the task's budget
    /// (`io::copy::at_once`) is made during the call; a larger one in slices during the tasks
    /// after it, before the call is queued: the caller must leave the bytes unchanged until the
    /// promise settles (or pass `transfer: true`).
    Borrowed(Uint8Array),
}

impl Taken {
    /// Length in bytes.
    pub(crate) fn len(&self) -> u64 {
        match self {
            Taken::Owned(input) => input.len(),
            Taken::Borrowed(view) => u64::from(view.length()),
        }
    }

    /// The first `n` bytes (fewer if the input is shorter), if they can be read now: not from a
    /// `Blob`.
    pub(crate) fn head(&self, n: u64) -> Option<Vec<u8>> {
        let bytes = match self {
            Taken::Owned(Input::Bytes(b)) | Taken::Borrowed(b) => b,
            Taken::Owned(Input::Blob(_) | Input::Value(_) | Input::Stream(_)) => return None,
        };
        Some(bytes.subarray(0, n.min(u64::from(bytes.length())) as u32).to_vec())
    }

    /// `ranges` of the input as inputs the bridge owns, if they cost little to make now: slices
    /// of a `Blob` (no copy), the owned buffer itself when one range covers it, or copies that fit
    /// this task's budget. `None` when copies must be made in slices ([`Taken::pieces_sliced`]).
    pub(crate) fn pieces_now(&self, ranges: &[Range<u64>]) -> Option<Vec<Input>> {
        let bytes = match self {
            Taken::Owned(input @ (Input::Value(_) | Input::Stream(_))) => return Some(vec![input.clone()]),
            Taken::Owned(input @ Input::Blob(_)) => {
                return ranges.iter().map(|r| input.slice(r.start, r.end).ok()).collect();
            }
            Taken::Owned(Input::Bytes(b)) if self.is_whole(ranges) => return Some(vec![Input::Bytes(b.clone())]),
            Taken::Owned(Input::Bytes(b)) | Taken::Borrowed(b) => b,
        };
        let len: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        copy::at_once(len).then(|| ranges.iter().map(|r| Input::Bytes(copy::copy_now(bytes, to_u32(r)))).collect())
    }

    /// `ranges` of the input as inputs the bridge owns, the copies made in slices that yield to
    /// the page; `check` is asked between slices whether to go on.
    ///
    /// # Errors
    /// Whatever `check` returns (the call was aborted, the bridge terminated).
    pub(crate) async fn pieces_sliced(
        &self,
        ranges: &[Range<u64>],
        check: &dyn Fn() -> Result<(), Error>,
    ) -> Result<Vec<Input>, Error> {
        let bytes = match self {
            Taken::Owned(Input::Blob(_) | Input::Value(_) | Input::Stream(_)) => {
                return self.pieces_now(ranges).ok_or_else(blob_slice_error)
            }
            Taken::Owned(Input::Bytes(b)) if self.is_whole(ranges) => return Ok(vec![Input::Bytes(b.clone())]),
            Taken::Owned(Input::Bytes(b)) | Taken::Borrowed(b) => b,
        };
        let ranges: Vec<Range<u32>> = ranges.iter().map(to_u32).collect();
        Ok(copy::copy_sliced(bytes, &ranges, check).await?.into_iter().map(Input::Bytes).collect())
    }

    fn is_whole(&self, ranges: &[Range<u64>]) -> bool {
        matches!(ranges, [r] if r.start == 0 && r.end == self.len())
    }
}

fn blob_slice_error() -> Error {
    Error::validation("cannot slice the input Blob")
}

/// A byte range of an input held in a `Uint8Array` (at most 4 GiB, checked when it was taken).
fn to_u32(range: &Range<u64>) -> Range<u32> {
    range.start as u32..range.end as u32
}

/// The length in bytes of an input [`take_input`] would take (`None` for a value it refuses),
/// read without taking it.
pub(crate) fn input_len(value: &JsValue) -> Option<u64> {
    if let Some(blob) = value.dyn_ref::<web_sys::Blob>() {
        return Some(blob.size() as u64);
    }
    let is_bytes = ArrayBuffer::is_view(value)
        || value.is_instance_of::<ArrayBuffer>()
        || value.is_instance_of::<js_sys::SharedArrayBuffer>();
    is_bytes
        .then(|| Reflect::get(value, &"byteLength".into()).ok().and_then(|n| n.as_f64()))
        .flatten()
        .map(|n| n as u64)
}

/// A copy of the bytes of a `Uint8Array`, `ArrayBuffer`, view or `SharedArrayBuffer`, or, with
/// `transfer`, the caller's `ArrayBuffer` moved (small values: options, keys).
///
/// # Errors
/// `ValidationError` for any other value or a detached buffer.
pub(crate) fn owned_bytes(value: &JsValue, transfer: bool) -> Result<Uint8Array, Error> {
    let view = match value.dyn_ref::<Uint8Array>() {
        Some(view) => bytes_view(view)?,
        None => byte_view(value)?,
    };
    // A `SharedArrayBuffer` cannot be moved: it is copied like any borrowed input.
    if transfer && view.buffer().is_instance_of::<ArrayBuffer>() {
        return Ok(moved(&view));
    }
    Ok(view.slice(0, view.length()))
}

/// `view` itself when it is not empty — then it views bytes that are there (a detached or
/// out-of-bounds view reads length 0) —, read with one call into JavaScript (its length) where
/// [`byte_view`], which looks closer, makes nine.
fn bytes_view(view: &Uint8Array) -> Result<Uint8Array, Error> {
    if size(view.unchecked_ref::<Bytes>().length())? > 0 {
        return Ok(view.clone());
    }
    byte_view(view)
}

/// A view of just the bytes `value` views.
fn byte_view(value: &JsValue) -> Result<Uint8Array, Error> {
    let bytes: &Bytes = value.unchecked_ref();
    // A `DataView` over a detached (or shrunk) buffer throws where a typed array reads 0.
    let unreadable = |_| Error::validation("the input's ArrayBuffer is detached or its view out of bounds");
    let (buffer, offset, length) = if ArrayBuffer::is_view(value) {
        let offset = size(bytes.byte_offset().map_err(unreadable)?)?;
        (bytes.buffer(), offset, size(bytes.byte_length().map_err(unreadable)?)?)
    } else if value.is_instance_of::<ArrayBuffer>() || value.is_instance_of::<js_sys::SharedArrayBuffer>() {
        (value.clone(), 0, size(bytes.byte_length().map_err(unreadable)?)?)
    } else {
        return Err(Error::validation(format!(
            "expected a Uint8Array, an ArrayBuffer, an ArrayBuffer view, a Blob or a File, got {}",
            type_name(value)
        )));
    };
    if buffer.unchecked_ref::<Bytes>().detached().is_truthy() {
        return Err(Error::validation("the input's ArrayBuffer is detached (was it transferred already?)"));
    }
    Ok(Uint8Array::new_with_byte_offset_and_length(&buffer, offset, length))
}

#[wasm_bindgen]
extern "C" {
    /// An `ArrayBuffer`, `SharedArrayBuffer` or view, read through getters bound once: every
    /// call reads these, and a `Reflect::get` by name decodes the name's string each time.
    type Bytes;
    #[wasm_bindgen(method, getter)]
    fn buffer(this: &Bytes) -> JsValue;
    #[wasm_bindgen(method, getter, catch, js_name = byteOffset)]
    fn byte_offset(this: &Bytes) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, getter, catch, js_name = byteLength)]
    fn byte_length(this: &Bytes) -> Result<JsValue, JsValue>;
    /// A typed array's length, as a number (js-sys reads it as a `u32`, which would wrap past
    /// 4 GiB).
    #[wasm_bindgen(method, getter)]
    fn length(this: &Bytes) -> JsValue;
    /// `undefined` where the browser has no `ArrayBuffer.prototype.detached`, and on a
    /// `SharedArrayBuffer`.
    #[wasm_bindgen(method, getter)]
    fn detached(this: &Bytes) -> JsValue;
}

/// The bytes of `view` in the caller's buffer, moved to a new buffer without a copy:
/// `ArrayBuffer.prototype.transfer()` detaches the caller's now, in every placement (without it,
/// `postMessage` detaches it later).
fn moved(view: &Uint8Array) -> Uint8Array {
    // Read before the move: a view of a detached buffer has length 0.
    let (offset, length) = (view.byte_offset(), view.length());
    let buffer: JsValue = view.buffer().into();
    let moved = Reflect::get(&buffer, &"transfer".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|f| f.call0(&buffer).ok())
        .unwrap_or(buffer);
    Uint8Array::new_with_byte_offset_and_length(&moved, offset, length)
}

/// A byte count or offset read from JavaScript (anything else counts as 0).
fn size(n: JsValue) -> Result<u32, Error> {
    let n = n.as_f64().unwrap_or(0.0);
    if n > f64::from(u32::MAX) {
        return Err(Error::new(
            crate::ErrorKind::LimitExceeded,
            "inputs over 4 GiB must be passed as a Blob or File (read in chunks)",
        ));
    }
    Ok(n as u32)
}

fn type_name(value: &JsValue) -> String {
    if value.is_null() {
        return "null".into();
    }
    let ty = value.js_typeof().as_string().unwrap_or_default();
    if ty == "object" {
        if let Some(ctor) = Reflect::get(value, &"constructor".into()).ok().and_then(|c| c.dyn_into::<Function>().ok())
        {
            return String::from(ctor.name());
        }
    }
    ty
}
