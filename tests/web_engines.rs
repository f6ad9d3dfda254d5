//! The engines (`WorkerBridge.create({ engine })`): every crypto op gives the same bytes on the
//! platform's WebCrypto and on the Rust code, in workers and on the main thread, and fails the
//! same way; the page's own WebCrypto is the reference. `npm test` runs it cross-origin isolated
//! and not.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Uint8Array};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{AesGcmParams, CryptoKey, SubtleCrypto};
use worker_bridge::WorkerBridge;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{data, get, obj, webcrypto_sha256};

const ENGINES: [&str; 3] = ["auto", "rust", "webcrypto"];
const LENGTHS: [usize; 6] = [0, 1, 55, 64, 65_537, (1 << 20) + 3];

async fn bridge(engine: &str, fallback: &str) -> WorkerBridge {
    let options = obj(&[("engine", engine.into()), ("fallback", fallback.into()), ("poolSize", 1.into())]);
    let value = JsFuture::from(WorkerBridge::create(options)).await.expect("create() resolves");
    WorkerBridge::try_from_js_value(value).expect("a WorkerBridge")
}

async fn bytes(p: js_sys::Promise) -> Result<Vec<u8>, String> {
    match JsFuture::from(p).await {
        Ok(v) => Ok(Uint8Array::new(&v).to_vec()),
        Err(e) => Err(get(&e, "name").as_string().unwrap_or_default()),
    }
}

fn subtle() -> SubtleCrypto {
    let crypto: web_sys::Crypto = get(&js_sys::global(), "crypto").unchecked_into();
    crypto.subtle()
}

/// AES-256-GCM by the page's WebCrypto: ciphertext ‖ tag.
async fn reference_encrypt(key: &[u8], nonce: &[u8], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let usages = Array::of1(&"encrypt".into());
    let key = subtle().import_key_with_str("raw", &Uint8Array::from(key), "AES-GCM", false, &usages).unwrap();
    let key: CryptoKey = JsFuture::from(key).await.unwrap().unchecked_into();
    let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(nonce));
    if !aad.is_empty() {
        params.set_additional_data(&Uint8Array::from(aad));
    }
    let sealed = subtle().encrypt_with_object_and_buffer_source(&params, &key, &Uint8Array::from(plain)).unwrap();
    Uint8Array::new(&JsFuture::from(sealed).await.unwrap()).to_vec()
}

fn with_aad(aad: &[u8]) -> JsValue {
    if aad.is_empty() {
        JsValue::UNDEFINED
    } else {
        obj(&[("aad", Uint8Array::from(aad).into())])
    }
}

#[wasm_bindgen_test]
async fn every_engine_gives_the_platforms_bytes_in_workers_and_on_the_page() {
    let key: Vec<u8> = (1..=32).collect();
    for fallback in ["never", "always"] {
        for engine in ENGINES {
            let b = bridge(engine, fallback).await;
            for (i, len) in LENGTHS.into_iter().enumerate() {
                let input = data(len, 0x9e37_79b9 ^ i as u32);
                let what = format!("{engine} engine, fallback {fallback}, {len} bytes");
                let digest = bytes(b.crypto().sha256(Uint8Array::from(&input[..]).into(), JsValue::UNDEFINED)).await;
                assert_eq!(digest.unwrap(), webcrypto_sha256(&input).await, "sha256, {what}");
                // A Blob: in a worker read whole for WebCrypto (up to 16 MiB, not under `rust`), else streamed by the Rust code.
                let blob =
                    web_sys::Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(&input[..]))).unwrap();
                let digest = bytes(b.crypto().sha256(blob.into(), JsValue::UNDEFINED)).await;
                assert_eq!(digest.unwrap(), webcrypto_sha256(&input).await, "sha256 of a Blob, {what}");

                let nonce = data(12, 1001 + 2 * i as u32);
                let aad: &[u8] = if i % 2 == 0 { b"" } else { b"header" };
                let sealed = b.crypto().encrypt(
                    Uint8Array::from(&input[..]).into(),
                    Uint8Array::from(&key[..]).into(),
                    Uint8Array::from(&nonce[..]).into(),
                    with_aad(aad),
                );
                let sealed = bytes(sealed).await.unwrap();
                assert_eq!(sealed, reference_encrypt(&key, &nonce, aad, &input).await, "encrypt, {what}");
                let opened = b.crypto().decrypt(
                    Uint8Array::from(&sealed[..]).into(),
                    Uint8Array::from(&key[..]).into(),
                    Uint8Array::from(&nonce[..]).into(),
                    with_aad(aad),
                );
                assert_eq!(bytes(opened).await.unwrap(), input, "decrypt, {what}");
            }
            let engines = get(&b.status(), "engines");
            let expected = if engine == "rust" { "rust" } else { "webcrypto" };
            assert_eq!(get(&engines, "sha256").as_string().as_deref(), Some(expected), "{engine}");
            assert_eq!(get(&engines, "aesGcm").as_string().as_deref(), Some(expected), "{engine}");
            assert_eq!(get(&engines, "sha256Stream").as_string().as_deref(), Some("rust"), "{engine}");
            assert_eq!(get(&engines, "streamFormat").as_string().as_deref(), Some(expected), "{engine}");
            JsFuture::from(b.terminate()).await.unwrap();
        }
    }
}

#[wasm_bindgen_test]
async fn every_engine_refuses_what_does_not_verify_with_the_same_error() {
    let key: Vec<u8> = (1..=32).collect();
    let nonce = data(12, 99);
    let sealed = reference_encrypt(&key, &nonce, b"", b"attack at dawn").await;
    for engine in ENGINES {
        let b = bridge(engine, "never").await;
        let open = |ciphertext: &[u8], key: &[u8], aad: &[u8]| {
            bytes(b.crypto().decrypt(
                Uint8Array::from(ciphertext).into(),
                Uint8Array::from(key).into(),
                Uint8Array::from(&nonce[..]).into(),
                with_aad(aad),
            ))
        };
        assert_eq!(open(&sealed, &key, b"").await.unwrap(), b"attack at dawn", "{engine}");
        let mut tampered = sealed.clone();
        tampered[3] ^= 1;
        assert_eq!(open(&tampered, &key, b"").await.unwrap_err(), "AuthenticationError", "{engine}: tampered");
        let mut wrong_key = key.clone();
        wrong_key[0] ^= 1;
        assert_eq!(open(&sealed, &wrong_key, b"").await.unwrap_err(), "AuthenticationError", "{engine}: wrong key");
        assert_eq!(open(&sealed, &key, b"aad").await.unwrap_err(), "AuthenticationError", "{engine}: wrong aad");
        assert_eq!(open(&sealed[..10], &key, b"").await.unwrap_err(), "AuthenticationError", "{engine}: short");
        assert_eq!(open(&sealed, &key[..16], b"").await.unwrap_err(), "ValidationError", "{engine}: short key");
        // The pool survives every refusal.
        let digest = bytes(b.crypto().sha256(Uint8Array::from(&b"ok"[..]).into(), JsValue::UNDEFINED)).await;
        assert_eq!(digest.unwrap(), webcrypto_sha256(b"ok").await, "{engine}");
        // The short key was refused before the call was queued: it is not counted.
        assert_eq!(get(&get(&b.status(), "counters"), "failed").as_f64(), Some(4.0), "{engine}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_stream_sealed_by_one_engine_opens_on_every_other_and_refuses_tampering_alike() {
    let c = 64 * 1024;
    let plain = data(5 * c + 123, 4242);
    let options =
        |output: &str| obj(&[("chunkSize", (c as u32).into()), ("aad", "meta".into()), ("output", output.into())]);
    let open_options = || obj(&[("aad", "meta".into()), ("output", "bytes".into())]);
    let mut bridges = Vec::new();
    for fallback in ["never", "always"] {
        for engine in ENGINES {
            bridges.push((format!("{engine}, fallback {fallback}"), bridge(engine, fallback).await));
        }
    }
    let key: JsValue = Uint8Array::from(&(1..=32).collect::<Vec<u8>>()[..]).into();
    for (sealer, s) in &bridges {
        // A Blob input is read chunk by chunk; bytes out, to tamper with.
        let blob = web_sys::Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(&plain[..]))).unwrap();
        let sealed = bytes(s.crypto().encrypt_file(blob.into(), key.clone(), options("bytes"))).await.unwrap();
        assert_eq!(sealed.len(), 32 + plain.len() + 6 * 16, "{sealer}: header, six chunks and their tags");
        for (opener, o) in &bridges {
            let opened = o.crypto().decrypt_file(Uint8Array::from(&sealed[..]).into(), key.clone(), open_options());
            assert_eq!(bytes(opened).await.unwrap(), plain, "sealed by {sealer}, opened by {opener}");
        }
        let (_, o) = &bridges[(sealer.len() + 1) % bridges.len()];
        let mut tampered = sealed.clone();
        tampered[32 + 3 * c + 9] ^= 1;
        let refused = o.crypto().decrypt_file(Uint8Array::from(&tampered[..]).into(), key.clone(), open_options());
        assert_eq!(bytes(refused).await.unwrap_err(), "AuthenticationError", "sealed by {sealer}: tampered");
        let truncated =
            o.crypto().decrypt_file(Uint8Array::from(&sealed[..sealed.len() - c]).into(), key.clone(), open_options());
        assert_eq!(bytes(truncated).await.unwrap_err(), "AuthenticationError", "sealed by {sealer}: truncated");
    }
    for (_, b) in bridges {
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

/// WebCrypto reads a `Blob`'s chunks through the Blob's byte stream into one buffer it reuses
/// (`io::blob_stream`), or in slices where the browser has no BYOB reader (forced here, in a
/// worker and on the page): chunks smaller and larger than that buffer's 1 MiB, and inputs
/// that end inside a read, seal and open as the Rust code does with the same bytes in memory.
/// (On the page WebCrypto takes chunks of up to 1 MiB: the larger ones run on the Rust code.)
#[wasm_bindgen_test]
async fn blobs_read_through_their_stream_seal_and_open_as_bytes_do() {
    let key: JsValue = Uint8Array::from(&[5u8; 32][..]).into();
    let blob_of = |bytes: &[u8]| {
        JsValue::from(web_sys::Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(bytes))).unwrap())
    };
    let bytes_out = || obj(&[("output", "bytes".into())]);
    for (fallback, slices) in [("never", false), ("never", true), ("always", false), ("always", true)] {
        WorkerBridge::blob_slices(slices);
        let (web, rust) = (bridge("webcrypto", fallback).await, bridge("rust", fallback).await);
        if fallback == "never" {
            web.worker_blob_slices(slices).unwrap();
        }
        // Slices are read a segment at a time: 32 MiB in a worker, 4 MiB on the page.
        let segment = if fallback == "never" { 32 << 20 } else { 4 << 20 };
        for chunk in [64 * 1024, 700_001, (1 << 20) + 5] {
            let past_a_segment = (chunk == 700_001).then_some(segment + 2 * chunk + 3);
            for len in [0, chunk - 1, 2 * chunk + 1, 3 * chunk + 70_001].into_iter().chain(past_a_segment) {
                let plain = data(len, (len + chunk) as u32);
                let what = format!("fallback {fallback}, slices {slices}, chunks of {chunk}, {len} bytes");
                let options = || obj(&[("chunkSize", (chunk as u32).into()), ("output", "bytes".into())]);
                let sealed = bytes(web.crypto().encrypt_file(blob_of(&plain), key.clone(), options())).await;
                let sealed = sealed.unwrap_or_else(|e| panic!("{what}: sealing a Blob failed: {e}"));
                let opened = rust.crypto().decrypt_file(Uint8Array::from(&sealed[..]).into(), key.clone(), bytes_out());
                assert_eq!(bytes(opened).await.as_deref(), Ok(&plain[..]), "{what}: sealed from a Blob");
                let sealed =
                    bytes(rust.crypto().encrypt_file(Uint8Array::from(&plain[..]).into(), key.clone(), options()));
                let sealed = sealed.await.unwrap();
                let opened = web.crypto().decrypt_file(blob_of(&sealed), key.clone(), bytes_out());
                assert_eq!(bytes(opened).await.as_deref(), Ok(&plain[..]), "{what}: opened from a Blob");
                // A sealed Blob cut short fails as the Rust code says it does.
                if len > 0 {
                    let cut = web.crypto().decrypt_file(blob_of(&sealed[..sealed.len() - 1]), key.clone(), bytes_out());
                    assert_eq!(bytes(cut).await, Err("AuthenticationError".into()), "{what}: cut short");
                }
            }
        }
        for b in [web, rust] {
            JsFuture::from(b.terminate()).await.unwrap();
        }
    }
    WorkerBridge::blob_slices(false);
}

/// A worker reads a `Blob` for the Rust code through the Blob's byte stream, one read under way
/// into one of two 4 MiB buffers while the steps work on the other's bytes
/// (`io::source::BlobReadAhead`), or, where the browser has no BYOB reader (forced here), in 8
/// MiB slices asked for ahead (`BlobAheadSource`): lengths around those sizes hash and compress
/// as the bytes do.
#[wasm_bindgen_test]
async fn a_worker_reads_a_blob_ahead_through_its_stream_exactly() {
    for slices in [false, true] {
        let b = bridge("rust", "never").await;
        b.worker_blob_slices(slices).unwrap();
        for len in [0, 1, (4 << 20) - 1, (4 << 20) + 1, (8 << 20) + 1, (9 << 20) + 12_345, (17 << 20) + 3] {
            blob_hashes_and_compresses_as_its_bytes(&b, len, &format!("slices {slices}")).await;
        }
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

/// SHA-256 (against WebCrypto's) and a gzip round trip of a `Blob` of `len` bytes on `b`.
async fn blob_hashes_and_compresses_as_its_bytes(b: &WorkerBridge, len: usize, what: &str) {
    let input = data(len, len as u32 + 7);
    let blob = || {
        JsValue::from(web_sys::Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(&input[..]))).unwrap())
    };
    let digest = bytes(b.crypto().sha256(blob(), JsValue::UNDEFINED)).await;
    assert_eq!(digest, Ok(webcrypto_sha256(&input).await), "{what}: sha256 of a Blob of {len} bytes");
    let packed = bytes(b.compression().gzip(blob(), JsValue::UNDEFINED)).await.unwrap();
    let unpacked = bytes(b.compression().gunzip(Uint8Array::from(&packed[..]).into(), JsValue::UNDEFINED)).await;
    assert!(unpacked.as_deref() == Ok(&input[..]), "{what}: gzip of a Blob of {len} bytes");
}

#[wasm_bindgen_test]
async fn an_unknown_engine_is_a_validation_error() {
    let created = JsFuture::from(WorkerBridge::create(obj(&[("engine", "gpu".into())]))).await;
    assert_eq!(get(&created.unwrap_err(), "name").as_string().as_deref(), Some("ValidationError"));
}

/// A `Blob` whose reads come back shorter than its `size` — a file that shrank after it was
/// picked, in a browser that reads it short rather than failing — fails with
/// `NotReadableError` on every engine and every read path on the page (a subclass's lying `size`
/// survives only there: a worker gets a clone), never a result of part of its bytes.
#[wasm_bindgen_test]
async fn a_blob_that_reads_shorter_than_its_size_fails_with_not_readable_on_every_engine() {
    // Its slices lie the same way, so the bridge's own slices of it (a call's parts, each read)
    // read short too.
    let lying = js_sys::Function::new_no_args(
        "return class Lying extends Blob { \
           get size() { return super.size + 1000; } \
           slice(start, end) { return new Lying([super.slice(start, end)]); } }",
    )
    .call0(&JsValue::UNDEFINED)
    .unwrap();
    let make = |len: usize| {
        let parts = Array::of1(&Uint8Array::from(data(len, 9).as_slice()));
        js_sys::Reflect::construct(lying.unchecked_ref::<js_sys::Function>(), &Array::of1(&parts)).unwrap()
    };
    // Read whole for a digest, read a MiB at a time (and for WebCrypto's chunks, 4 MiB).
    for len in [10_000, (5 << 20) + 3] {
        for engine in ENGINES {
            let b = bridge(engine, "always").await;
            let (c, key) = (b.crypto(), Uint8Array::from([7u8; 32].as_slice()));
            let what = format!("{engine} engine, {len} bytes");
            assert_eq!(
                bytes(c.sha256(make(len), JsValue::UNDEFINED)).await,
                Err("NotReadableError".into()),
                "sha256, {what}"
            );
            assert_eq!(
                bytes(b.file().sha256(make(len), JsValue::UNDEFINED)).await,
                Err("NotReadableError".into()),
                "file.sha256, {what}"
            );
            let sealed = JsFuture::from(c.encrypt_file(make(len), key.into(), JsValue::UNDEFINED)).await;
            let name = sealed.map_or_else(|e| get(&e, "name").as_string(), |_| None);
            assert_eq!(name.as_deref(), Some("NotReadableError"), "encryptFile, {what}");
            let packed = bytes(b.compression().gzip(make(len), JsValue::UNDEFINED)).await;
            assert_eq!(packed, Err("NotReadableError".into()), "gzip, {what}");
            // The same bridge goes on.
            let fine = Uint8Array::from(data(len, 9).as_slice());
            assert_eq!(
                bytes(c.sha256(fine.into(), JsValue::UNDEFINED)).await,
                Ok(webcrypto_sha256(&data(len, 9)).await)
            );
            JsFuture::from(b.terminate()).await.unwrap();
        }
    }
}
