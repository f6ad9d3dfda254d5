//! Which engine runs an op: the platform's WebCrypto where it exists and can do the job — whole,
//! or (the stream format of `encryptFile`/`decryptFile`) one call per chunk — with AES-NI and SHA
//! extensions, which wasm cannot use; and the Rust code everywhere else: in
//! insecure contexts (no `crypto.subtle`), for SHA-256 of a `Blob` (WebCrypto has no streaming
//! digest, and reading the whole Blob into memory is what streaming avoids), and for every other
//! op. The bytes out are the same whatever the engine: standard SHA-256 and AES-256-GCM
//! (ciphertext ‖ 16-byte tag), checked against each other by the browser tests.

use serde::{Deserialize, Serialize};

use super::aead::{check_one_shot_len, check_params, TAG_LEN};
use super::stream_format::{plan_run, Cutter, Header, RunPlan};
use super::{Op, Secret};
use crate::error::{Error, ErrorKind};
use crate::status::Engines;

/// `WorkerBridge.create({ engine })`: which engine may run the crypto ops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// WebCrypto where it exists and fits the job, else Rust.
    #[default]
    Auto,
    /// Always the Rust code.
    Rust,
    /// WebCrypto for every job it can do; a call where `crypto.subtle` is missing fails with
    /// `NotSupportedError` rather than running elsewhere.
    WebCrypto,
}

impl EngineChoice {
    /// `auto`, the default (kept off the wire).
    pub fn is_auto(&self) -> bool {
        *self == EngineChoice::Auto
    }
}

/// A job WebCrypto runs, with its parameters checked: one call, or one call per chunk.
#[derive(Debug)]
pub enum PlatformJob<'a> {
    /// `digest('SHA-256', input)`.
    Sha256,
    /// `encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, key, input)`.
    Encrypt {
        /// The 32-byte key.
        key: &'a Secret,
        /// The 12-byte nonce.
        nonce: &'a [u8],
        /// Additional authenticated data.
        aad: &'a [u8],
    },
    /// `decrypt(...)` of ciphertext ‖ tag: fails unless the tag verifies.
    Decrypt {
        /// The 32-byte key.
        key: &'a Secret,
        /// The 12-byte nonce.
        nonce: &'a [u8],
        /// Additional authenticated data.
        aad: &'a [u8],
    },
    /// A run of the stream format, sealed (`open` false) or opened chunk by chunk: one AES-GCM
    /// call per chunk, as the plan cuts them.
    Chunks {
        /// The file key, the chunks' associated data, each chunk's bytes and nonce.
        plan: RunPlan,
        /// Opening (each chunk must verify) rather than sealing.
        open: bool,
    },
}

/// The job WebCrypto should run for `op` over an input of `len` bytes (`blob`: a `Blob`, read
/// chunk by chunk otherwise), or `None` for the Rust code. `webcrypto` says whether
/// `crypto.subtle` exists here; `on_page`, that this is the page's own thread, where one
/// WebCrypto call may take at most
/// [`PAGE_WEBCRYPTO_MAX_BYTES`](crate::defaults::PAGE_WEBCRYPTO_MAX_BYTES) (it cannot be
/// sliced, and it blocks the page for its length): a one-shot job up to that size, the stream
/// format's chunks when none is larger (the default chunk size is half that MiB).
///
/// # Errors
/// The op's own parameter errors (key and nonce lengths, the one-shot size limit), exactly as
/// the Rust code reports them; `NotSupportedError` when `choice` demands WebCrypto and it is
/// missing.
pub fn platform_job(
    op: &Op,
    choice: EngineChoice,
    webcrypto: bool,
    len: u64,
    blob: bool,
    on_page: bool,
) -> Result<Option<PlatformJob<'_>>, Error> {
    use crate::defaults::{
        PAGE_WEBCRYPTO_MAX_BYTES, WEBCRYPTO_MAX_BLOB_DIGEST_BYTES, WEBCRYPTO_MIN_AEAD_BYTES, WEBCRYPTO_MIN_DIGEST_BYTES,
    };
    let within = !on_page || len <= PAGE_WEBCRYPTO_MAX_BYTES;
    // Under `auto`, a small input is done sooner by the Rust code than WebCrypto's asynchronous
    // call returns; `webcrypto` asked for by name runs every size.
    let worth = |min: u64| choice != EngineChoice::Auto || len >= min;
    let fits = match op {
        Op::Encrypt { .. } | Op::Decrypt { .. } => within && worth(WEBCRYPTO_MIN_AEAD_BYTES),
        // A Blob read whole only in a worker, and only up to what streaming it would hold.
        Op::Sha256 => {
            let whole = !blob || (!on_page && len <= WEBCRYPTO_MAX_BLOB_DIGEST_BYTES);
            whole && within && worth(WEBCRYPTO_MIN_DIGEST_BYTES)
        }
        // One call per chunk: on the page too, where a chunk is at most a MiB (twice the
        // default chunk size; the placement joins the output in slices there). A sealed chunk carries
        // its 16-byte tag beyond the plaintext's MiB.
        Op::SealChunks(run) | Op::OpenChunks(run) => {
            let tag = if matches!(op, Op::OpenChunks(_)) { TAG_LEN as u64 } else { 0 };
            !on_page
                || len <= PAGE_WEBCRYPTO_MAX_BYTES + tag
                || Header::decode(&run.header).is_ok_and(|h| u64::from(h.chunk_size) <= PAGE_WEBCRYPTO_MAX_BYTES)
        }
        _ => false,
    };
    if !uses_webcrypto(choice, webcrypto, fits)? {
        return Ok(None);
    }
    if let Op::SealChunks(run) | Op::OpenChunks(run) = op {
        let open = matches!(op, Op::OpenChunks(_));
        return Ok(Some(PlatformJob::Chunks { plan: plan_run(run, len, open)?, open }));
    }
    Ok(Some(match op {
        Op::Encrypt { key, nonce, aad } => {
            check_params(&key.0, nonce, false)?;
            check_one_shot_len(len, false)?;
            PlatformJob::Encrypt { key, nonce, aad }
        }
        Op::Decrypt { key, nonce, aad } => {
            check_params(&key.0, nonce, true)?;
            check_one_shot_len(len, true)?;
            PlatformJob::Decrypt { key, nonce, aad }
        }
        _ => PlatformJob::Sha256,
    }))
}

/// The stream format run one WebCrypto call per chunk as its bytes arrive.
#[derive(Debug)]
pub struct PlatformStream {
    /// Cuts the input into the format's chunks.
    pub cutter: Cutter,
    /// Sealing: the header to write before the first chunk.
    pub header: Option<Vec<u8>>,
}

/// The stream format written or read as it comes (a stream input, or output written to a
/// stream: `Op::Seal` / `Op::Open` over a length not planned up front), one WebCrypto call per
/// chunk as the [`Cutter`] cuts them.
/// `None` for the Rust code: any other op, the page's thread (the Rust code runs there in
/// slices), no WebCrypto under `auto`, or `choice` `rust`.
///
/// # Errors
/// A bad key or header, as the Rust code reports them; `NotSupportedError` when `choice`
/// demands WebCrypto and it is missing.
pub fn platform_stream(
    op: &Op,
    choice: EngineChoice,
    webcrypto: bool,
    on_page: bool,
) -> Result<Option<PlatformStream>, Error> {
    let fits = matches!(op, Op::Seal { .. } | Op::Open { .. }) && !on_page;
    if !uses_webcrypto(choice, webcrypto, fits)? {
        return Ok(None);
    }
    Ok(match op {
        Op::Seal { key, header, aad } => {
            let decoded = Header::decode(header).map_err(|e| Error::validation(e.message()))?;
            Some(PlatformStream { cutter: Cutter::seal(decoded, &key.0, aad)?, header: Some(header.clone()) })
        }
        Op::Open { key, aad } => Some(PlatformStream { cutter: Cutter::open(&key.0, aad)?, header: None }),
        _ => None,
    })
}

/// Whether WebCrypto runs a job it `fits` under `choice`, where `webcrypto` says whether
/// `crypto.subtle` exists.
///
/// # Errors
/// `NotSupportedError` when `choice` demands WebCrypto, the job fits it, and it is missing.
fn uses_webcrypto(choice: EngineChoice, webcrypto: bool, fits: bool) -> Result<bool, Error> {
    match choice {
        EngineChoice::Rust => Ok(false),
        _ if !fits => Ok(false),
        EngineChoice::WebCrypto if !webcrypto => Err(Error::new(
            ErrorKind::Unsupported,
            "engine 'webcrypto' was asked for, but crypto.subtle is missing here",
        )),
        _ => Ok(webcrypto),
    }
}

/// What `status().engines` reports for `choice` where `webcrypto` says whether `crypto.subtle`
/// exists.
pub fn engines(choice: EngineChoice, webcrypto: bool) -> Engines {
    let platform = match choice {
        EngineChoice::Rust => "rust",
        EngineChoice::WebCrypto => "webcrypto",
        EngineChoice::Auto if webcrypto => "webcrypto",
        EngineChoice::Auto => "rust",
    };
    Engines { sha256: platform, sha256_stream: "rust", aes_gcm: platform, stream_format: platform }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Secret {
        Secret(vec![7; 32])
    }

    #[test]
    fn webcrypto_runs_what_it_can_do_whole_and_rust_the_rest() {
        const BIG: u64 = 64 * 1024;
        let enc = Op::Encrypt { key: key(), nonce: vec![1; 12], aad: vec![] };
        assert!(matches!(
            platform_job(&Op::Sha256, EngineChoice::Auto, true, BIG, false, false).unwrap(),
            Some(PlatformJob::Sha256)
        ));
        let max_whole = crate::defaults::WEBCRYPTO_MAX_BLOB_DIGEST_BYTES;
        assert!(
            platform_job(&Op::Sha256, EngineChoice::Auto, true, max_whole, true, false).unwrap().is_some(),
            "a Blob within the bound is read whole in a worker"
        );
        assert!(
            platform_job(&Op::Sha256, EngineChoice::Auto, true, max_whole + 1, true, false).unwrap().is_none(),
            "a larger Blob is streamed"
        );
        assert!(
            platform_job(&Op::Sha256, EngineChoice::Auto, true, BIG, true, true).unwrap().is_none(),
            "on the page a Blob is streamed, in slices"
        );
        assert!(
            platform_job(&Op::Sha256, EngineChoice::Auto, false, BIG, false, false).unwrap().is_none(),
            "no crypto.subtle"
        );
        assert!(platform_job(&Op::Sha256, EngineChoice::Rust, true, BIG, false, false).unwrap().is_none());
        assert!(matches!(
            platform_job(&enc, EngineChoice::Auto, true, BIG, true, false).unwrap(),
            Some(PlatformJob::Encrypt { .. })
        ));
        let gzip = Op::Compress { format: super::super::Format::Gzip, level: 6 };
        assert!(platform_job(&gzip, EngineChoice::WebCrypto, false, 1, false, false).unwrap().is_none());
        let e = platform_job(&Op::Sha256, EngineChoice::WebCrypto, false, BIG, false, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
    }

    #[test]
    fn under_auto_small_inputs_run_on_the_rust_code() {
        use crate::defaults::{WEBCRYPTO_MIN_AEAD_BYTES as AEAD, WEBCRYPTO_MIN_DIGEST_BYTES as DIGEST};
        let enc = Op::Encrypt { key: key(), nonce: vec![1; 12], aad: vec![] };
        let dec = Op::Decrypt { key: key(), nonce: vec![1; 12], aad: vec![] };
        for (op, min) in [(&Op::Sha256, DIGEST), (&enc, AEAD), (&dec, AEAD)] {
            assert!(platform_job(op, EngineChoice::Auto, true, min - 1, false, false).unwrap().is_none());
            assert!(platform_job(op, EngineChoice::Auto, true, min, false, false).unwrap().is_some());
            assert!(
                platform_job(op, EngineChoice::WebCrypto, true, 0, false, false).unwrap().is_some(),
                "asked for by name, WebCrypto runs every size"
            );
        }
    }

    #[test]
    fn on_the_page_one_webcrypto_call_is_at_most_a_mib() {
        let mib = crate::defaults::PAGE_WEBCRYPTO_MAX_BYTES;
        let enc = Op::Encrypt { key: key(), nonce: vec![1; 12], aad: vec![] };
        assert!(matches!(
            platform_job(&Op::Sha256, EngineChoice::Auto, true, mib, false, true).unwrap(),
            Some(PlatformJob::Sha256)
        ));
        assert!(platform_job(&Op::Sha256, EngineChoice::Auto, true, mib + 1, false, true).unwrap().is_none());
        assert!(platform_job(&Op::Sha256, EngineChoice::WebCrypto, true, mib + 1, false, true).unwrap().is_none());
        assert!(
            platform_job(&enc, EngineChoice::Auto, true, mib + 1, false, false).unwrap().is_some(),
            "a worker has no limit"
        );
    }

    #[test]
    fn on_the_page_the_stream_formats_chunks_run_on_webcrypto_up_to_a_mib_each() {
        let mib = crate::defaults::PAGE_WEBCRYPTO_MAX_BYTES;
        let run = |chunk_size: u64, open: bool| {
            let header = Header::new(chunk_size as u32, [3; 16], [4; 7]).unwrap().encode().to_vec();
            let run = super::super::ChunkRun { key: key(), header, aad: vec![], first_chunk: 0, final_part: true };
            if open {
                Op::OpenChunks(run)
            } else {
                Op::SealChunks(run)
            }
        };
        fn on_page(op: &Op, len: u64) -> Option<PlatformJob<'_>> {
            platform_job(op, EngineChoice::Auto, true, len, true, true).unwrap()
        }
        assert!(matches!(on_page(&run(mib, false), 8 * mib), Some(PlatformJob::Chunks { open: false, .. })));
        // Sealed chunks are a MiB and a tag each.
        assert!(matches!(on_page(&run(mib, true), 4 * (mib + 16)), Some(PlatformJob::Chunks { open: true, .. })));
        assert!(on_page(&run(2 * mib, false), 8 * mib).is_none(), "a 2 MiB chunk runs on the Rust code on the page");
        assert!(on_page(&run(2 * mib, false), mib).is_some(), "one short chunk is within the MiB");
        assert!(platform_job(&run(2 * mib, false), EngineChoice::Auto, true, 8 * mib, true, false).unwrap().is_some());
        assert!(platform_job(&run(mib, false), EngineChoice::Rust, true, 8 * mib, true, true).unwrap().is_none());
        // Chunks the page leaves to the Rust code are not refused for want of WebCrypto.
        assert!(platform_job(&run(2 * mib, false), EngineChoice::WebCrypto, false, 8 * mib, true, true)
            .unwrap()
            .is_none());
    }

    #[test]
    fn parameters_are_checked_as_the_rust_code_checks_them() {
        let short_key = Op::Encrypt { key: Secret(vec![1; 16]), nonce: vec![1; 12], aad: vec![] };
        assert_eq!(
            platform_job(&short_key, EngineChoice::Auto, true, 4096, false, false).unwrap_err().kind(),
            ErrorKind::Validation
        );
        let zero_nonce = Op::Encrypt { key: key(), nonce: vec![0; 12], aad: vec![] };
        assert_eq!(
            platform_job(&zero_nonce, EngineChoice::Auto, true, 4096, false, false).unwrap_err().kind(),
            ErrorKind::NonceReuse
        );
        let opens_zero = Op::Decrypt { key: key(), nonce: vec![0; 12], aad: vec![] };
        assert!(platform_job(&opens_zero, EngineChoice::Auto, true, 4096, false, false).unwrap().is_some());
        let huge = Op::Encrypt { key: key(), nonce: vec![1; 12], aad: vec![] };
        let len = crate::defaults::MAX_ONE_SHOT_AEAD_BYTES + 1;
        assert_eq!(
            platform_job(&huge, EngineChoice::Auto, true, len, false, false).unwrap_err().kind(),
            ErrorKind::LimitExceeded
        );
    }

    #[test]
    fn status_names_the_engines() {
        let e = engines(EngineChoice::Auto, true);
        assert_eq!((e.sha256, e.sha256_stream, e.aes_gcm), ("webcrypto", "rust", "webcrypto"));
        assert_eq!(engines(EngineChoice::Auto, false).aes_gcm, "rust");
        assert_eq!(engines(EngineChoice::Rust, true).sha256, "rust");
    }
}
