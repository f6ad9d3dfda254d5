//! Copies of large byte arrays on the page without a long task. Copying 64 MiB in one go blocks
//! the page for 70–110 ms (measured, `npm run bench:responsiveness`); here the work is cut into
//! blocks of [`BLOCK`] bytes, and the page gets a turn whenever a slice of
//! [`SLICE_MS`](crate::runtime::yielding::SLICE_MS) is used up.
//!
//! Used for joining an output's pieces into one `Uint8Array` or `Blob`.

use js_sys::{Array, Uint8Array};
use web_sys::Blob;

use crate::error::{Error, ErrorKind};
use crate::runtime::yielding::Slices;

/// Bytes copied between two looks at the clock: about half a millisecond of work.
const BLOCK: u32 = 1 << 20;

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
