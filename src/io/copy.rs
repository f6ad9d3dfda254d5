//! Copies of large byte arrays on the page without a long task. Copying 64 MiB in one go blocks
//! the page for 70–110 ms (measured, `npm run bench:responsiveness`); here the work is cut into
//! blocks of [`BLOCK`] bytes, and the page gets a turn whenever a slice of
//! [`SLICE_MS`](crate::runtime::yielding::SLICE_MS) is used up.
//!
//! Used for the private copy of a call's input passed without `transfer` (and for the pieces of
//! a call split across workers), and for joining an output's pieces into one `Uint8Array` or
//! `Blob`. A small copy is cheaper made at once: [`at_once`] says when, within a budget no task
//! can exceed.

use std::cell::{Cell, RefCell};
use std::ops::Range;

use js_sys::{Array, ArrayBuffer, Uint8Array, WeakSet};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;
use worker_bridge_core::spares::{Spares, IDLE_MS, MIN_BYTES};

use crate::error::{Error, ErrorKind};
use crate::runtime::timer::Timer;
use crate::runtime::yielding::{now_ms, yield_to_event_loop, Slices};

/// Bytes copied between two looks at the clock: about half a millisecond of work.
const BLOCK: u32 = 1 << 20;

/// Bytes a task may copy at once, summed over every call it makes: about 2–3 ms of work.
/// Beyond it, copies are made in slices in the tasks that follow.
pub(crate) const AT_ONCE_BUDGET: u64 = 2 << 20;

thread_local! {
    /// Bytes copied at once since the budget was last reset (by a task after the one that passed
    /// [`RESET_AFTER`]).
    static SPENT: Cell<u64> = const { Cell::new(0) };
}

/// Whether a copy of `len` bytes may be made now, inside the caller's task: it fits what is
/// left of this task's [`AT_ONCE_BUDGET`] (then it is counted against it). A task that calls
/// in a loop gets its first few MiB copied at once and the rest in slices, instead of one
/// long task.
pub(crate) fn at_once(len: u64) -> bool {
    let spent = SPENT.with(Cell::get);
    let now = spent.saturating_add(len);
    if now > AT_ONCE_BUDGET {
        return false;
    }
    if spent < RESET_AFTER && now >= RESET_AFTER {
        // A later task starts with the whole budget again. Small copies only add up until they
        // pass RESET_AFTER: a task per small call (a 32-byte hash) cost more than the call.
        wasm_bindgen_futures::spawn_local(async {
            yield_to_event_loop().await;
            SPENT.with(|s| s.set(0));
        });
    }
    SPENT.with(|s| s.set(now));
    true
}

/// What copies add up to before a reset of the budget is scheduled. Until a reset runs, copies
/// count against the budget across tasks too, which only makes it stricter: any one task still
/// copies at most [`AT_ONCE_BUDGET`] at once.
const RESET_AFTER: u64 = 64 << 10;

thread_local! {
    /// Buffers workers gave back (`FromWorker::Spare`), for the next large copies.
    static SPARES: RefCell<Spares<ArrayBuffer>> = RefCell::new(Spares::default());
    /// Lets the spares go once they sat unused for `IDLE_MS` (while any are kept).
    static SPARES_TIMER: RefCell<Option<Timer>> = const { RefCell::new(None) };
    /// The buffers this module copied into: on the page, only these may become spares (a
    /// caller's buffer passed with `transfer: true` may still be the caller's, or a wasm
    /// module's memory, which cannot be detached).
    static COPIES: WeakSet = WeakSet::new();
}

/// A `Uint8Array` of `len` bytes (at least `MIN_BYTES`) to copy into: over a spare buffer's
/// memory when one fits (the bytes past `len` are an earlier input's: see [`exact`]), else new.
fn destination(len: u32) -> Uint8Array {
    let spare = SPARES.with(|s| s.borrow_mut().take(u64::from(len), now_ms()));
    let view = match spare.filter(|buffer| buffer.byte_length() >= len) {
        Some(buffer) => Uint8Array::new_with_byte_offset_and_length(&buffer, 0, len),
        None => Uint8Array::new_with_length(len),
    };
    COPIES.with(|c| c.add(&view.buffer()));
    view
}

/// `body` as it may be cloned whole: a copy of its own bytes when it is a view over a larger
/// buffer (a copy made in a spare), since `postMessage` clones a view's whole buffer. `None`
/// when it is fine as it is.
pub(crate) fn exact(body: &JsValue) -> Option<Uint8Array> {
    let view = body.dyn_ref::<Uint8Array>()?;
    (view.byte_length() < view.buffer().byte_length()).then(|| view.slice(0, view.length()))
}

/// Whether a view of `len` bytes that is not a caller's own (moved in with `transfer: true`) is
/// over a buffer of exactly its length, so nobody need look at the buffer (each look is a call
/// into JavaScript): the bridge's copies and outputs shorter than a spare are (`slice`,
/// `new_with_length`, outputs built whole); only its copies into spares, at least
/// `spares::MIN_BYTES` long, sit in longer buffers.
pub(crate) fn owns_its_buffer(len: u64) -> bool {
    len < MIN_BYTES
}

/// Whether `buffer` is one this module copied into (see `COPIES`).
pub(crate) fn is_copy(buffer: &ArrayBuffer) -> bool {
    COPIES.with(|c| c.has(buffer))
}

/// Lets every spare go (the bridge was terminated).
pub(crate) fn drop_spares() {
    SPARES.with(|s| s.borrow_mut().clear());
    SPARES_TIMER.with(|t| t.borrow_mut().take());
}

/// Keeps `buffer` — one a worker gave back, or a call on the page is done with — for later
/// copies, if it is of a size worth keeping.
pub(crate) fn keep_spare(buffer: ArrayBuffer) {
    let size = u64::from(buffer.byte_length());
    if !SPARES.with(|s| s.borrow_mut().keep(buffer, size, now_ms())) {
        return;
    }
    SPARES_TIMER.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_none() {
            *t = Some(expiry_timer(IDLE_MS));
        }
    });
}

/// The buffer of a call's input (`Input::Bytes`), which the call no longer reads, if it is worth
/// keeping as a spare: a plain `ArrayBuffer` of at least `spares::MIN_BYTES`, not holding the
/// call's `output`. A worker gives it back to the page (`FromWorker::Spare`); the page keeps it.
/// A shorter input is not looked at further ([`owns_its_buffer`]; a caller's short view of a
/// longer buffer is not kept).
pub(crate) fn spare_of(input: &JsValue, output: Option<&JsValue>) -> Option<ArrayBuffer> {
    let view = input.dyn_ref::<Uint8Array>()?;
    if owns_its_buffer(u64::from(view.byte_length())) {
        return None;
    }
    let buffer = view.buffer().dyn_into::<ArrayBuffer>().ok()?;
    let holds_output = output
        .and_then(|out| out.dyn_ref::<Uint8Array>())
        .is_some_and(|out| js_sys::Object::is(&out.buffer(), &buffer));
    (!holds_output).then_some(buffer)
}

/// Bytes of spare buffers kept, all let go after with `drop_them` (for tests).
#[cfg(feature = "test-ops")]
pub(crate) fn spare_bytes(drop_them: bool) -> u64 {
    SPARES.with(|s| {
        let bytes = s.borrow().bytes();
        if drop_them {
            s.borrow_mut().clear();
        }
        bytes
    })
}

/// A timer that lets the spares go when they sat idle, or looks again when they would have.
fn expiry_timer(after_ms: f64) -> Timer {
    Timer::new(after_ms.clamp(0.0, IDLE_MS) as u32, || {
        let again = SPARES.with(|s| s.borrow_mut().expire(now_ms()));
        SPARES_TIMER.with(|t| *t.borrow_mut() = again.map(expiry_timer));
    })
}

/// A new `Uint8Array` holding a copy of `src[range]`, made at once. A small copy — every short
/// call's — is one `slice`: it never becomes a spare, so it needs neither one nor the mark.
pub(crate) fn copy_now(src: &Uint8Array, range: Range<u32>) -> Uint8Array {
    if u64::from(range.len() as u32) < MIN_BYTES {
        return src.slice(range.start, range.end);
    }
    let copy = destination(range.len() as u32);
    copy.set(&src.subarray(range.start, range.end), 0);
    copy
}

/// New `Uint8Array`s holding copies of `src[range]` for each of `ranges` (each owns exactly its
/// bytes, so it can be transferred alone), made in slices. `check` is asked before the copy and
/// after every yield whether to go on (the call was aborted, the bridge terminated).
///
/// # Errors
/// Whatever `check` returns.
pub(crate) async fn copy_sliced(
    src: &Uint8Array,
    ranges: &[Range<u32>],
    check: &dyn Fn() -> Result<(), Error>,
) -> Result<Vec<Uint8Array>, Error> {
    check()?;
    let mut slices = Slices::default();
    let mut copies = Vec::with_capacity(ranges.len());
    for range in ranges {
        let len = range.len() as u32;
        let copy = if u64::from(len) < MIN_BYTES { Uint8Array::new_with_length(len) } else { destination(len) };
        let mut at = range.start;
        while at < range.end {
            let end = at.saturating_add(BLOCK).min(range.end);
            copy.set(&src.subarray(at, end), at - range.start);
            at = end;
            if slices.pace().await {
                check()?;
            }
        }
        copies.push(copy);
    }
    Ok(copies)
}

/// `parts` joined into one `Uint8Array` (a single part is returned as is), in slices.
///
/// # Errors
/// `LimitExceededError` beyond 4 GiB, the largest `Uint8Array` the bridge makes.
pub(crate) async fn concat_sliced(parts: &[Uint8Array]) -> Result<Uint8Array, Error> {
    if let [one] = parts {
        return Ok(one.clone());
    }
    let all = Uint8Array::new_with_length(total_len(parts)?);
    let mut slices = Slices::default();
    let mut at = 0;
    for part in parts {
        // An output's pieces are about a block each; a split call's parts are larger.
        let mut from = 0;
        while from < part.length() {
            let end = from.saturating_add(BLOCK).min(part.length());
            all.set(&part.subarray(from, end), at + from);
            from = end;
            slices.pace().await;
        }
        at += part.length();
    }
    Ok(all)
}

/// The length of `parts` joined, if a `Uint8Array` can hold it.
///
/// # Errors
/// `LimitExceededError` beyond 4 GiB.
pub(crate) fn total_len(parts: &[Uint8Array]) -> Result<u32, Error> {
    let total: u64 = parts.iter().map(|p| u64::from(p.length())).sum();
    u32::try_from(total)
        .map_err(|_| Error::new(ErrorKind::LimitExceeded, "the output exceeds 4 GiB; ask for a Blob instead"))
}

/// `parts` (`Uint8Array`s) as one `Blob`, in slices. Building a `Blob` copies the bytes it is
/// given, but a `Blob` made of `Blob`s copies nothing: so the parts become `Blob`s of about a
/// [`BLOCK`] each, a slice at a time, and then one `Blob` of those.
///
/// # Errors
/// `ValidationError` when the browser refuses to build a `Blob`.
pub(crate) async fn blob_sliced(parts: &[Uint8Array]) -> Result<Blob, Error> {
    let refused = |_| Error::validation("the browser could not build the output Blob");
    let mut slices = Slices::default();
    let blobs = Array::new();
    let mut group = Array::new();
    let mut group_len = 0u32;
    for (k, part) in parts.iter().enumerate() {
        group.push(part);
        group_len = group_len.saturating_add(part.length());
        if group_len >= BLOCK || k + 1 == parts.len() {
            let blob = Blob::new_with_u8_array_sequence(&group).map_err(refused)?;
            blobs.push(&blob);
            (group, group_len) = (Array::new(), 0);
            slices.pace().await;
        }
    }
    Blob::new_with_blob_sequence(&blobs).map_err(refused)
}
