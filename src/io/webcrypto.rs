//! The platform's WebCrypto as an engine (`worker_bridge_core::ops::engine` decides when): one
//! `crypto.subtle` call runs a whole job, with the hardware's AES and SHA instructions, off
//! wasm. The bytes out are the Rust code's: standard SHA-256, and AES-256-GCM as ciphertext ‖
//! 16-byte tag.
//!
//! A WebCrypto call cannot be interrupted or report progress: cancellation is checked before and
//! after it, and progress jumps from 0 to done.

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, CryptoKey, SubtleCrypto};

use crate::error::{Error, ErrorKind};
use crate::io::source::Input;
use crate::ops::engine::PlatformJob;
use crate::ops::{Cancel, Progress};
use crate::protocol::OutputKind;
use crate::runtime::cancel::aborted;
use crate::runtime::js_error::describe;

/// This global's `crypto.subtle`, where there is one (secure contexts: https, localhost).
fn subtle() -> Option<SubtleCrypto> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok().filter(JsValue::is_object)?;
    Reflect::get(&crypto, &"subtle".into()).ok().filter(JsValue::is_object).map(JsCast::unchecked_into)
}

/// Whether WebCrypto is there to run jobs.
pub(crate) fn available() -> bool {
    subtle().is_some()
}

/// Runs `job` over `input` and returns its output as `output`.
///
/// # Errors
/// `AuthenticationError` when a tag does not verify; `AbortError` when cancelled before or
/// during the call; `NotSupportedError` without WebCrypto; `ValidationError` for what the
/// browser refuses.
pub(crate) async fn run(
    job: PlatformJob<'_>,
    input: &Input,
    output: OutputKind,
    cancel: &dyn Cancel,
    progress: &mut dyn Progress,
) -> Result<JsValue, Error> {
    let subtle = subtle().ok_or_else(|| Error::new(ErrorKind::Unsupported, "crypto.subtle is missing here"))?;
    if cancel.is_cancelled() {
        return Err(aborted());
    }
    let total = input.len();
    progress.report(0, total);
    let data: Object = match input {
        Input::Bytes(bytes) => bytes.clone().into(),
        Input::Blob(blob) => JsFuture::from(blob.array_buffer()).await.map_err(read_failed)?.unchecked_into(),
    };
    let result = match job {
        PlatformJob::Sha256 => call(subtle.digest_with_str_and_buffer_source("SHA-256", &data)).await,
        PlatformJob::Encrypt { key, nonce, aad } => {
            let (key, params) = (import(&subtle, &key.0, "encrypt").await?, params(nonce, aad));
            call(subtle.encrypt_with_object_and_buffer_source(&params, &key, &data)).await
        }
        PlatformJob::Decrypt { key, nonce, aad } => {
            let (key, params) = (import(&subtle, &key.0, "decrypt").await?, params(nonce, aad));
            call(subtle.decrypt_with_object_and_buffer_source(&params, &key, &data)).await.map_err(|e| {
                // WebCrypto says only `OperationError`: a tag that does not verify (or input
                // shorter than one), as the Rust code reports it.
                if e.kind() == ErrorKind::Validation {
                    Error::new(ErrorKind::Authentication, "the authentication tag did not verify")
                } else {
                    e
                }
            })
        }
    }?;
    if cancel.is_cancelled() {
        return Err(aborted());
    }
    progress.report(total, total);
    let bytes = Uint8Array::new(&result);
    match output {
        OutputKind::Bytes => Ok(bytes.into()),
        OutputKind::Blob => web_sys::Blob::new_with_u8_array_sequence(&Array::of1(&bytes))
            .map(JsValue::from)
            .map_err(|_| Error::validation("the browser could not build the output Blob")),
    }
}

/// Awaits a `crypto.subtle` promise for its `ArrayBuffer`.
async fn call(promise: Result<js_sys::Promise, JsValue>) -> Result<ArrayBuffer, Error> {
    let refused = |e: JsValue| Error::validation(format!("WebCrypto refused the job: {}", describe(&e)));
    let value = JsFuture::from(promise.map_err(refused)?).await.map_err(refused)?;
    value.dyn_into::<ArrayBuffer>().map_err(|_| Error::validation("WebCrypto returned no ArrayBuffer"))
}

/// A non-extractable AES-GCM key for `usage`. The key's bytes are copied into a JS buffer for
/// the import, which is zeroed right after.
async fn import(subtle: &SubtleCrypto, key: &[u8], usage: &str) -> Result<CryptoKey, Error> {
    let raw = Uint8Array::from(key);
    let usages = Array::of1(&usage.into());
    let promise = subtle.import_key_with_str("raw", &raw, "AES-GCM", false, &usages);
    let imported = match promise {
        Ok(p) => JsFuture::from(p).await,
        Err(e) => Err(e),
    };
    raw.fill(0, 0, raw.length());
    imported
        .map_err(|e| Error::validation(format!("WebCrypto refused the key: {}", describe(&e))))
        .map(JsCast::unchecked_into)
}

/// `{ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }`.
fn params(nonce: &[u8], aad: &[u8]) -> AesGcmParams {
    let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(nonce));
    if !aad.is_empty() {
        params.set_additional_data(&Uint8Array::from(aad));
    }
    params.set_tag_length(128);
    params
}

fn read_failed(e: JsValue) -> Error {
    Error::validation(format!("the Blob could not be read: {}", describe(&e)))
}
