//! Web Streams: the TransformStream factories (`gzipStream`, …, `encryptStream`,
//! `decryptStream`), `ReadableStream` inputs, output written to a `WritableStream` or a file
//! handle, errors in-band, cancellation and backpressure — in a pool worker (through the chunk
//! relay, and the stream transferred where the browser can) and on the main thread. The platform's
//! Compression Streams and our own one-shot calls are the references.
#![cfg(target_arch = "wasm32")]

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use worker_bridge::WorkerBridge;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{data, get, obj, webcrypto_sha256};

#[wasm_bindgen(module = "/tests/web/streams.js")]
extern "C" {
    fn chunked(bytes: &Uint8Array, max: u32) -> JsValue;
    fn counted(total: f64, chunk: u32) -> JsValue;
    fn of(chunks: &js_sys::Array) -> JsValue;
    fn collect(readable: &JsValue) -> Promise;
    fn sink() -> JsValue;
    fn through(transform: &JsValue, bytes: &Uint8Array) -> Promise;
    fn platform(format: &str, bytes: &Uint8Array, compress: bool) -> Promise;
    fn failure(promise: &Promise) -> Promise;
    #[wasm_bindgen(js_name = bothSides)]
    fn both_sides(transform: &JsValue, bytes: &Uint8Array) -> Promise;
    #[wasm_bindgen(js_name = opfsFile)]
    fn opfs_file(name: &str) -> Promise;
    #[wasm_bindgen(js_name = fileBytes)]
    fn file_bytes(handle: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = fileStream)]
    fn file_stream(handle: &JsValue) -> Promise;
    fn sleep(ms: u32) -> Promise;
    fn slow(count: u32, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = blockPage)]
    fn block_page(ms: u32);
    fn stalled() -> JsValue;
    fn failing(name: &str) -> JsValue;
    #[wasm_bindgen(js_name = detachedWhileRead)]
    fn detached_while_read(bytes: &Uint8Array) -> JsValue;
    #[wasm_bindgen(js_name = grownWhileRead)]
    fn grown_while_read(bytes: &Uint8Array) -> JsValue;
}

/// Where the calls run: a pool worker with the stream relayed over a `MessagePort` (the
/// default), a pool worker with the stream transferred where the browser can (test builds only;
/// WebKit cannot, and relays), and the main thread.
const PLACEMENTS: [&str; 3] = ["worker", "worker-transfer", "main-thread"];

async fn bridge(placement: &str) -> WorkerBridge {
    WorkerBridge::transfer_streams(placement == "worker-transfer");
    let fallback = if placement == "main-thread" { "always" } else { "never" };
    let options = obj(&[("poolSize", 1.into()), ("fallback", fallback.into())]);
    let value = JsFuture::from(WorkerBridge::create(options)).await.expect("create() resolves");
    WorkerBridge::try_from_js_value(value).expect("a WorkerBridge")
}

async fn done(bridge: WorkerBridge) {
    JsFuture::from(bridge.terminate()).await.unwrap();
    WorkerBridge::transfer_streams(false);
}

async fn value(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| panic!("rejected: {e:?}"))
}

async fn bytes_of(p: Promise) -> Vec<u8> {
    Uint8Array::new(&value(p).await).to_vec()
}

/// How `p` failed: its error's name (panics if it resolved).
async fn failed(p: &Promise) -> String {
    let outcome = value(failure(p)).await;
    assert!(!outcome.is_null(), "resolved instead of failing");
    get(&outcome, "name").as_string().unwrap()
}

fn u8s(v: &[u8]) -> Uint8Array {
    Uint8Array::from(v)
}

/// Text-like data that compresses (so gzip's output differs much from its input).
fn text(len: usize) -> Vec<u8> {
    let words = ["stream ", "worker ", "bridge ", "chunk ", "gzip ", "pool ", "\n"];
    let mut out = Vec::with_capacity(len + 8);
    let mut x = 1u32;
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
    }
    out.truncate(len);
    out
}

#[wasm_bindgen_test]
async fn compression_streams_round_trip_with_the_platform() {
    let plain = text(3 * 1024 * 1024 + 17);
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let z = b.compression();
        for (format, ours, theirs) in [("gzip", 0, "gzip"), ("deflate-raw", 1, "deflate-raw"), ("zlib", 2, "deflate")] {
            let (compress, decompress) = match ours {
                0 => (z.gzip_stream(JsValue::UNDEFINED), z.gunzip_stream(JsValue::UNDEFINED)),
                1 => (z.deflate_stream(JsValue::UNDEFINED), z.inflate_stream(JsValue::UNDEFINED)),
                _ => (z.zlib_stream(JsValue::UNDEFINED), z.unzlib_stream(JsValue::UNDEFINED)),
            };
            let packed = bytes_of(through(&compress.unwrap(), &u8s(&plain))).await;
            assert!(packed.len() < plain.len() / 2, "{placement} {format}: compressed");
            let back = bytes_of(platform(theirs, &u8s(&packed), false)).await;
            assert!(back == plain, "{placement} {format}: the platform reads our stream");
            let theirs_packed = bytes_of(platform(theirs, &u8s(&plain), true)).await;
            let back = bytes_of(through(&decompress.unwrap(), &u8s(&theirs_packed))).await;
            assert!(back == plain, "{placement} {format}: we read the platform's stream");
        }
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn compression_streams_interoperate_with_the_one_shot_calls() {
    let plain = text(2 * 1024 * 1024 + 5);
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let z = b.compression();
        let options = obj(&[("level", 9.into())]);
        let streamed = bytes_of(through(&z.gzip_stream(options.clone()).unwrap(), &u8s(&plain))).await;
        assert!(bytes_of(z.gunzip(u8s(&streamed).into(), JsValue::UNDEFINED)).await == plain, "{placement}: gunzip()");
        let whole = bytes_of(z.gzip(u8s(&plain).into(), options)).await;
        let back = bytes_of(through(&z.gunzip_stream(JsValue::UNDEFINED).unwrap(), &u8s(&whole))).await;
        assert!(back == plain, "{placement}: gunzipStream of gzip()'s output");
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn encrypt_and_decrypt_streams_interoperate_with_the_file_calls() {
    let plain = data(1024 * 1024 + 333, 5);
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let c = b.crypto();
        let key = c.generate_key().unwrap();
        let options = obj(&[("chunkSize", 65_536.into()), ("aad", u8s(b"label").into())]);
        // encryptStream → decryptFile
        let sealed =
            bytes_of(through(&c.encrypt_stream(key.clone().into(), options.clone()).unwrap(), &u8s(&plain))).await;
        assert_eq!(
            sealed.len(),
            32 + plain.len() + 16 * plain.len().div_ceil(65_536),
            "{placement}: header + chunks + tags"
        );
        let opened = value(c.decrypt_file(
            u8s(&sealed).into(),
            key.clone().into(),
            obj(&[("aad", u8s(b"label").into()), ("output", "bytes".into())]),
        ))
        .await;
        assert!(Uint8Array::new(&opened).to_vec() == plain, "{placement}: decryptFile opens encryptStream's output");
        // encryptFile → decryptStream
        let sealed = value(c.encrypt_file(
            u8s(&plain).into(),
            key.clone().into(),
            obj(&[("aad", u8s(b"label").into()), ("output", "bytes".into())]),
        ))
        .await;
        let sealed = Uint8Array::new(&sealed);
        let opened = bytes_of(through(
            &c.decrypt_stream(key.clone().into(), obj(&[("aad", u8s(b"label").into())])).unwrap(),
            &sealed,
        ))
        .await;
        assert!(opened == plain, "{placement}: decryptStream opens encryptFile's output");
        // An empty stream seals to a header and one empty chunk, and opens to nothing.
        let sealed =
            bytes_of(through(&c.encrypt_stream(key.clone().into(), JsValue::UNDEFINED).unwrap(), &u8s(&[]))).await;
        assert_eq!(sealed.len(), 32 + 16, "{placement}: an empty stream");
        let opened = bytes_of(through(&c.decrypt_stream(key.into(), JsValue::UNDEFINED).unwrap(), &u8s(&sealed))).await;
        assert!(opened.is_empty());
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn the_stream_format_is_the_same_on_every_engine() {
    let plain = data(3 * 65_536 + 100, 21);
    let mut bridges = Vec::new();
    for engine in ["rust", "webcrypto"] {
        let options = obj(&[("poolSize", 1.into()), ("fallback", "never".into()), ("engine", engine.into())]);
        let value = JsFuture::from(WorkerBridge::create(options)).await.unwrap();
        bridges.push((engine, WorkerBridge::try_from_js_value(value).unwrap()));
    }
    let key = bridges[0].1.crypto().generate_key().unwrap();
    let options = || obj(&[("chunkSize", 65_536.into()), ("aad", u8s(b"x").into())]);
    for (sealer, a) in &bridges {
        let sealed =
            bytes_of(through(&a.crypto().encrypt_stream(key.clone().into(), options()).unwrap(), &u8s(&plain))).await;
        for (opener, b) in &bridges {
            let opened = bytes_of(through(
                &b.crypto().decrypt_stream(key.clone().into(), obj(&[("aad", u8s(b"x").into())])).unwrap(),
                &u8s(&sealed),
            ))
            .await;
            assert!(opened == plain, "sealed by {sealer}, opened by {opener}");
            let mut tampered = sealed.clone();
            tampered[40] ^= 4;
            let ends = value(both_sides(
                &b.crypto().decrypt_stream(key.clone().into(), obj(&[("aad", u8s(b"x").into())])).unwrap(),
                &u8s(&tampered),
            ))
            .await;
            assert_eq!(
                get(&get(&ends, "readable"), "name").as_string().as_deref(),
                Some("AuthenticationError"),
                "{opener}"
            );
        }
    }
    for (_, b) in bridges {
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_tampered_or_truncated_stream_errors_both_sides_and_the_bridge_carries_on() {
    let plain = data(300_000, 9);
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let c = b.crypto();
        let key = c.generate_key().unwrap();
        let options = || obj(&[("chunkSize", 65_536.into()), ("output", "bytes".into())]);
        let sealed =
            Uint8Array::new(&value(c.encrypt_file(u8s(&plain).into(), key.clone().into(), options())).await).to_vec();
        let mut tampered = sealed.clone();
        tampered[32 + 70_000] ^= 1; // in the second chunk
        let truncated = &sealed[..sealed.len() - 1000];
        for (what, bad) in [("tampered", &tampered[..]), ("truncated", truncated)] {
            let decrypt = c.decrypt_stream(key.clone().into(), JsValue::UNDEFINED).unwrap();
            let readable = get(&decrypt, "readable");
            // Read what comes out: only verified chunks, and then the error.
            let ends = value(both_sides(&decrypt, &u8s(bad))).await;
            assert_eq!(
                get(&get(&ends, "readable"), "name").as_string().as_deref(),
                Some("AuthenticationError"),
                "{placement} {what}: readable"
            );
            // The writable side errors too, unless all its input was taken before the failure
            // (a stream found short only at its end; a small input read ahead).
            let writable = get(&ends, "writable");
            assert!(
                writable.is_null() || get(&writable, "name").as_string().as_deref() == Some("AuthenticationError"),
                "{placement} {what}: the writable side ended well or with the call's error"
            );
            let _ = readable;
        }
        // A wrong key fails at the first chunk.
        let other = c.generate_key().unwrap();
        let ends = value(both_sides(&c.decrypt_stream(other.into(), JsValue::UNDEFINED).unwrap(), &u8s(&sealed))).await;
        assert_eq!(get(&get(&ends, "readable"), "name").as_string().as_deref(), Some("AuthenticationError"));
        // The same bridge still works.
        let digest = bytes_of(c.sha256(u8s(b"after").into(), JsValue::UNDEFINED)).await;
        assert_eq!(digest, webcrypto_sha256(b"after").await, "{placement}: the bridge carries on");
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn a_tampered_stream_releases_no_plaintext_of_the_chunk_that_fails() {
    let plain = data(4 * 65_536, 3);
    let b = bridge("worker").await;
    let c = b.crypto();
    let key = c.generate_key().unwrap();
    let sealed = value(c.encrypt_file(
        u8s(&plain).into(),
        key.clone().into(),
        obj(&[("chunkSize", 65_536.into()), ("output", "bytes".into())]),
    ))
    .await;
    let mut sealed = Uint8Array::new(&sealed).to_vec();
    let third = 32 + 2 * (65_536 + 16) + 10;
    sealed[third] ^= 0x80;
    let out = sink();
    let call = c.decrypt_file(chunked(&u8s(&sealed), 30_000), key.into(), obj(&[("output", get(&out, "writable"))]));
    assert_eq!(failed(&call).await, "AuthenticationError");
    let written = Uint8Array::new(&js_sys::Function::from(get(&out, "bytes")).call0(&out).unwrap()).to_vec();
    assert!(written.len() <= 2 * 65_536, "no byte of the third chunk: {} written", written.len());
    assert!(written == plain[..written.len()], "what was released is the verified plaintext");
    done(b).await;
}

#[wasm_bindgen_test]
async fn corrupt_compressed_input_errors_with_decompression_error() {
    let plain = text(200_000);
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let mut packed = bytes_of(b.compression().gzip(u8s(&plain).into(), JsValue::UNDEFINED)).await;
        let middle = packed.len() / 2;
        packed[middle] ^= 0xff;
        packed[middle + 1] ^= 0x55;
        let ends = value(both_sides(&b.compression().gunzip_stream(JsValue::UNDEFINED).unwrap(), &u8s(&packed))).await;
        assert_eq!(
            get(&get(&ends, "readable"), "name").as_string().as_deref(),
            Some("DecompressionError"),
            "{placement}"
        );
        // maxOutputBytes holds for streams too.
        let good = bytes_of(b.compression().gzip(u8s(&plain).into(), JsValue::UNDEFINED)).await;
        let limited = b.compression().gunzip_stream(obj(&[("maxOutputBytes", 1000.into())])).unwrap();
        let ends = value(both_sides(&limited, &u8s(&good))).await;
        assert_eq!(
            get(&get(&ends, "readable"), "name").as_string().as_deref(),
            Some("LimitExceededError"),
            "{placement}"
        );
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn every_op_takes_a_readable_stream() {
    let plain = data(1_500_000, 11);
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let digest = bytes_of(b.crypto().sha256(chunked(&u8s(&plain), 200_000), JsValue::UNDEFINED)).await;
        assert_eq!(digest, webcrypto_sha256(&plain).await, "{placement}: sha256 of a stream");
        let digest = bytes_of(b.file().sha256(chunked(&u8s(&plain), 70_000), JsValue::UNDEFINED)).await;
        assert_eq!(digest, webcrypto_sha256(&plain).await, "{placement}: file.sha256 of a stream");
        let packed = bytes_of(b.compression().gzip(chunked(&u8s(&plain), 300_000), JsValue::UNDEFINED)).await;
        let back = bytes_of(b.compression().gunzip(chunked(&u8s(&packed), 1000), JsValue::UNDEFINED)).await;
        assert!(back == plain, "{placement}: gzip and gunzip of streams");
        let key = b.crypto().generate_key().unwrap();
        let sealed = value(b.crypto().encrypt_file(
            chunked(&u8s(&plain), 90_000),
            key.clone().into(),
            obj(&[("output", "blob".into())]),
        ))
        .await;
        assert!(sealed.is_instance_of::<web_sys::Blob>(), "{placement}: output 'blob' from a stream");
        let opened = value(b.crypto().decrypt_file(sealed, key.into(), obj(&[("output", "bytes".into())]))).await;
        assert!(Uint8Array::new(&opened).to_vec() == plain, "{placement}: encryptFile of a stream opens");
        // Chunks may be any bytes: ArrayBuffers and other views.
        let parts = js_sys::Array::of3(&u8s(b"ab").buffer(), &js_sys::Int16Array::new_with_length(2), &u8s(b"c"));
        let digest = bytes_of(b.crypto().sha256(of(&parts), JsValue::UNDEFINED)).await;
        assert_eq!(digest, webcrypto_sha256(&[b'a', b'b', 0, 0, 0, 0, b'c']).await);
        // An empty stream.
        let digest = bytes_of(b.crypto().sha256(of(&js_sys::Array::new()), JsValue::UNDEFINED)).await;
        assert_eq!(digest, webcrypto_sha256(&[]).await);
        done(b).await;
    }
}

/// On the main thread a stream's chunk is the caller's own object: one whose buffer the caller
/// detaches while it is being hashed fails the call with `ValidationError` (it was hashed short
/// before, or threw through the wasm), and the bridge carries on.
#[wasm_bindgen_test]
async fn a_chunk_detached_while_it_is_read_fails_the_call() {
    let b = bridge("main-thread").await;
    let source = detached_while_read(&u8s(&data(32 << 20, 5)));
    let options = obj(&[("onProgress", get(&source, "onProgress"))]);
    let call = b.crypto().sha256(get(&source, "stream"), options);
    assert_eq!(failed(&call).await, "ValidationError");
    let digest = bytes_of(b.crypto().sha256(u8s(b"after").into(), JsValue::UNDEFINED)).await;
    assert_eq!(digest, webcrypto_sha256(b"after").await, "the bridge carries on");
    done(b).await;
}

/// A chunk that follows a resizable buffer which the caller grows while the main thread hashes
/// it is read as it came: its bytes then, no more (growing it loses nothing, unlike detaching).
#[wasm_bindgen_test]
async fn a_chunk_grown_while_it_is_read_is_read_as_it_came() {
    let b = bridge("main-thread").await;
    let input = data(32 << 20, 6);
    let source = grown_while_read(&u8s(&input));
    let options = obj(&[("onProgress", get(&source, "onProgress"))]);
    let digest = bytes_of(b.crypto().sha256(get(&source, "stream"), options)).await;
    let grown_at = get(&source, "grownAt").unchecked_into::<js_sys::Function>().call0(&JsValue::NULL).unwrap();
    let grown_at = grown_at.as_f64().expect("the buffer grew during the call");
    assert!(grown_at > 0.0 && grown_at < input.len() as f64, "grown at {grown_at}: during the read");
    assert_eq!(digest, webcrypto_sha256(&input).await);
    done(b).await;
}

#[wasm_bindgen_test]
async fn bad_streams_are_refused_with_a_validation_error() {
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let bad_chunk = of(&js_sys::Array::of2(&u8s(b"fine").into(), &"not bytes".into()));
        assert_eq!(failed(&b.crypto().sha256(bad_chunk, JsValue::UNDEFINED)).await, "ValidationError", "{placement}");
        let locked = chunked(&u8s(b"x"), 1);
        let _reader = locked.unchecked_ref::<web_sys::ReadableStream>().get_reader();
        assert_eq!(failed(&b.crypto().sha256(locked, JsValue::UNDEFINED)).await, "ValidationError");
        let plan = b.file().chunk_plan(chunked(&u8s(b"x"), 1), JsValue::UNDEFINED);
        assert_eq!(failed(&plan).await, "ValidationError", "chunkPlan needs lengths");
        let slice = b.file().read_slice(chunked(&u8s(b"x"), 1), 0.0, 1.0, JsValue::UNDEFINED);
        assert_eq!(failed(&slice).await, "ValidationError", "readSlice needs an offset");
        let bad_output = b.compression().gzip(u8s(b"x").into(), obj(&[("output", js_sys::Object::new().into())]));
        assert_eq!(failed(&bad_output).await, "ValidationError", "output must be a container or a stream");
        let digest = bytes_of(b.crypto().sha256(u8s(b"after").into(), JsValue::UNDEFINED)).await;
        assert_eq!(digest, webcrypto_sha256(b"after").await, "{placement}: the bridge carries on");
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn output_goes_to_a_writable_stream() {
    let plain = text(2_500_000);
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let out = sink();
        let result = value(b.compression().gzip(u8s(&plain).into(), obj(&[("output", get(&out, "writable"))]))).await;
        assert!(result.is_undefined(), "{placement}: a call that writes out resolves with nothing");
        let packed = Uint8Array::new(&js_sys::Function::from(get(&out, "bytes")).call0(&out).unwrap());
        let back = bytes_of(platform("gzip", &packed, false)).await;
        assert!(back == plain, "{placement}: the written stream is the gzip of the input");
        // A locked output stream is refused.
        let locked = sink();
        let _writer = get(&locked, "writable").unchecked_into::<web_sys::WritableStream>().get_writer().unwrap();
        let call = b.compression().gzip(u8s(&plain).into(), obj(&[("output", get(&locked, "writable"))]));
        assert_eq!(failed(&call).await, "ValidationError");
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn output_goes_to_a_file_in_the_origin_private_file_system() {
    let plain = text(3_000_000);
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let handle = value(opfs_file(&format!("web-streams-{placement}.gz"))).await;
        assert!(!handle.is_null(), "this browser has the origin private file system");
        let result = value(b.compression().gzip(u8s(&plain).into(), obj(&[("output", handle.clone())]))).await;
        assert!(result.is_undefined());
        let packed = Uint8Array::new(&value(file_bytes(&handle)).await);
        assert!(bytes_of(platform("gzip", &packed, false)).await == plain, "{placement}: the file holds the gzip");
        // Sealed to a file, then opened from that file's stream.
        let key = b.crypto().generate_key().unwrap();
        let sealed_handle = value(opfs_file(&format!("web-streams-{placement}.sealed"))).await;
        value(b.crypto().encrypt_file(
            u8s(&plain).into(),
            key.clone().into(),
            obj(&[("output", sealed_handle.clone())]),
        ))
        .await;
        let stream = value(file_stream(&sealed_handle)).await;
        let opened = value(b.crypto().decrypt_file(stream, key.into(), obj(&[("output", "bytes".into())]))).await;
        assert!(Uint8Array::new(&opened).to_vec() == plain, "{placement}: sealed to a file, opened from its stream");
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn aborting_stops_both_sides_and_frees_the_worker() {
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let controller = web_sys::AbortController::new().unwrap();
        let gzip = b.compression().gzip_stream(obj(&[("signal", controller.signal().into())])).unwrap();
        // A source that never ends; nobody reads the output either.
        let source = counted(f64::INFINITY, 65_536);
        let piped =
            js_sys::Reflect::get(&source, &"stream".into()).unwrap().unchecked_into::<web_sys::ReadableStream>();
        let pipe = piped.pipe_to(&get(&gzip, "writable").unchecked_into());
        let read = collect(&get(&gzip, "readable"));
        JsFuture::from(sleep(200)).await.unwrap();
        controller.abort();
        assert_eq!(failed(&pipe).await, "AbortError", "{placement}: the writable side");
        assert_eq!(failed(&read).await, "AbortError", "{placement}: the readable side");
        // Cancelling the readable aborts the call too.
        let gzip = b.compression().gzip_stream(JsValue::UNDEFINED).unwrap();
        let source = counted(f64::INFINITY, 65_536);
        let piped =
            js_sys::Reflect::get(&source, &"stream".into()).unwrap().unchecked_into::<web_sys::ReadableStream>();
        let pipe = piped.pipe_to(&get(&gzip, "writable").unchecked_into());
        JsFuture::from(sleep(100)).await.unwrap();
        let _ = get(&gzip, "readable").unchecked_into::<web_sys::ReadableStream>().cancel();
        assert_eq!(failed(&pipe).await, "AbortError", "{placement}: cancelling the readable aborts");
        // The worker is free again: a call runs at once.
        let digest = bytes_of(b.crypto().sha256(u8s(b"after").into(), JsValue::UNDEFINED)).await;
        assert_eq!(digest, webcrypto_sha256(b"after").await, "{placement}: the bridge carries on");
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn backpressure_holds_the_producer_while_nobody_reads() {
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let gzip = b.compression().gzip_stream(obj(&[("level", 0.into())])).unwrap();
        let source = counted(256.0 * 1024.0 * 1024.0, 65_536);
        let stream =
            js_sys::Reflect::get(&source, &"stream".into()).unwrap().unchecked_into::<web_sys::ReadableStream>();
        let _pipe = stream.pipe_to(&get(&gzip, "writable").unchecked_into());
        JsFuture::from(sleep(1500)).await.unwrap();
        let pulled = js_sys::Function::from(get(&source, "pulled")).call0(&source).unwrap().as_f64().unwrap();
        // Stored (level 0), so output ≈ input: a few chunks in flight, nowhere near 256 MiB.
        assert!(pulled <= 16.0 * 1024.0 * 1024.0, "{placement}: {pulled} bytes pulled while nobody read");
        assert!(pulled > 0.0, "{placement}: it started");
        // Reading resumes it; cancel to end.
        let _ = get(&gzip, "readable").unchecked_into::<web_sys::ReadableStream>().cancel();
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn progress_counts_the_bytes_of_a_stream_of_unknown_length() {
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let events = js_sys::Array::new();
        let on_progress = {
            let events = events.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                events.push(&e);
            })
        };
        let source = counted(24.0 * 1024.0 * 1024.0, 65_536);
        let stream = get(&source, "stream");
        let options = obj(&[("level", 1.into()), ("onProgress", on_progress.as_ref().clone())]);
        value(b.compression().gzip(stream, options)).await;
        let events: Vec<(f64, f64, f64)> = events
            .iter()
            .map(|e| {
                (
                    get(&e, "progress").as_f64().unwrap(),
                    get(&e, "done").as_f64().unwrap(),
                    get(&e, "total").as_f64().unwrap(),
                )
            })
            .collect();
        let before_end: Vec<_> = events.iter().filter(|(p, _, _)| *p < 100.0).collect();
        assert!(
            before_end.iter().any(|(_, done, _)| *done > 0.0),
            "{placement}: bytes counted while it ran: {events:?}"
        );
        assert!(
            before_end.iter().all(|(p, _, total)| *p == 0.0 && *total == 0.0),
            "{placement}: no percentage without a total"
        );
        assert!(before_end.windows(2).all(|w| w[0].1 <= w[1].1), "{placement}: done never goes back");
        assert_eq!(events.last().map(|e| e.0), Some(100.0), "{placement}: one 100 at the end");
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn chained_streams_run_on_a_pool_of_one_and_on_the_main_thread() {
    // Each factory is a call that waits on the next one: with one worker (or the page) they
    // must all run at once, beside each other and beside ordinary calls.
    let plain = data(16 * 1024 * 1024 + 3, 31);
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        let (z, c) = (b.compression(), b.crypto());
        let key = c.generate_key().unwrap();
        let chain = js_sys::Array::of4(
            &z.gzip_stream(obj(&[("level", 1.into())])).unwrap(),
            &c.encrypt_stream(key.clone().into(), JsValue::UNDEFINED).unwrap(),
            &c.decrypt_stream(key.into(), JsValue::UNDEFINED).unwrap(),
            &z.gunzip_stream(JsValue::UNDEFINED).unwrap(),
        );
        let mut stream: web_sys::ReadableStream = chunked(&u8s(&plain), 1 << 20).unchecked_into();
        for stage in chain.iter() {
            stream = stream.pipe_through(&stage.unchecked_into());
        }
        let ordinary = c.sha256(u8s(b"meanwhile").into(), JsValue::UNDEFINED);
        let digest = bytes_of(c.sha256(stream.into(), JsValue::UNDEFINED)).await;
        assert_eq!(digest, webcrypto_sha256(&plain).await, "{placement}: four stages and a hash, at once");
        assert_eq!(
            bytes_of(ordinary).await,
            webcrypto_sha256(b"meanwhile").await,
            "{placement}: an ordinary call beside them"
        );
        // A call that post-processes its output takes no output stream.
        let out = sink();
        let many = c.sha256_many(js_sys::Array::of1(&u8s(b"a")).into(), obj(&[("output", get(&out, "writable"))]));
        assert_eq!(failed(&many).await, "ValidationError", "{placement}");
        done(b).await;
    }
}

#[wasm_bindgen_test]
async fn a_stalled_reader_keeps_its_worker_and_other_calls_run_meanwhile() {
    // A reader that stops for longer than the health interval, and an ordinary call meanwhile:
    // the worker waits on the stream with its thread free, answers its pings and runs the call.
    let options = obj(&[("poolSize", 1.into()), ("fallback", "never".into()), ("healthIntervalMs", 300.into())]);
    let b = WorkerBridge::try_from_js_value(JsFuture::from(WorkerBridge::create(options)).await.unwrap()).unwrap();
    let plain = text(24 * 1024 * 1024);
    let gzip = b.compression().gzip_stream(JsValue::UNDEFINED).unwrap();
    let readable: web_sys::ReadableStream = get(&gzip, "readable").unchecked_into();
    let _pipe = chunked(&u8s(&plain), 1 << 20)
        .unchecked_into::<web_sys::ReadableStream>()
        .pipe_to(&get(&gzip, "writable").unchecked_into());
    JsFuture::from(sleep(200)).await.unwrap();
    let digest = bytes_of(b.crypto().sha256(u8s(b"meanwhile").into(), JsValue::UNDEFINED)).await;
    assert_eq!(digest, webcrypto_sha256(b"meanwhile").await);
    JsFuture::from(sleep(1500)).await.unwrap();
    let packed = bytes_of(collect(&readable.into())).await;
    assert!(bytes_of(platform("gzip", &u8s(&packed), false)).await == plain, "the stream finished whole");
    let status = b.status();
    let restarts = get(&get(&status, "workers"), "0");
    assert_eq!(get(&restarts, "restarts").as_f64(), Some(0.0), "its worker was never replaced");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_long_task_of_the_page_does_not_make_a_worker_look_hung() {
    // A worker idle through a long task of the page last answered a ping before it; a stream
    // call given to it right after counted its silence from that answer, and the next health
    // tick replaced it, failing the call with WorkerCrashedError (found by `bench:streams`,
    // whose page blocks for seconds in CompressionStream). A worker busy through the stall was
    // replaced the same way (found by review): the tick after a stall decides nothing.
    let options = obj(&[("poolSize", 1.into()), ("fallback", "never".into()), ("healthIntervalMs", 200.into())]);
    let b = WorkerBridge::try_from_js_value(JsFuture::from(WorkerBridge::create(options)).await.unwrap()).unwrap();
    for round in 0..2 {
        JsFuture::from(sleep(450)).await.unwrap();
        // Past the 2 s a busy worker may stay silent, then at once a call over a stream.
        block_page(2_300);
        let hashed = b.crypto().sha256(slow(12, 40), JsValue::UNDEFINED);
        let digest = JsFuture::from(hashed).await;
        assert!(digest.is_ok(), "idle, round {round}: {:?}", digest.map_err(|e| get(&e, "message")));
        // And while a worker runs a call: the page's stall is no silence of the worker's.
        let hashed = b.crypto().sha256(slow(20, 40), JsValue::UNDEFINED);
        JsFuture::from(sleep(300)).await.unwrap();
        block_page(2_300);
        let digest = JsFuture::from(hashed).await;
        assert!(digest.is_ok(), "busy, round {round}: {:?}", digest.map_err(|e| get(&e, "message")));
    }
    let worker = js_sys::Array::from(&get(&b.status(), "workers")).get(0);
    assert_eq!(get(&worker, "restarts").as_f64(), Some(0.0), "{:?}", js_sys::JSON::stringify(&b.status()));
    JsFuture::from(b.terminate()).await.unwrap();
}

/// A cancel still stops a call whose output's consumer stalled with the last chunks on their way
/// (sent within the relay's window, not yet taken): the call rejects with `AbortError` and the
/// output is never closed as if complete, even once its consumer moves again (review: the close
/// waited for them out of the cancel's reach).
#[wasm_bindgen_test]
async fn a_cancel_reaches_a_call_whose_consumer_stalled_near_the_end() {
    for placement in ["worker", "main-thread"] {
        let b = bridge(placement).await;
        let c = b.crypto();
        let out = stalled();
        let controller = web_sys::AbortController::new().unwrap();
        let options = obj(&[("output", get(&out, "writable")), ("signal", controller.signal().into())]);
        let key: JsValue = c.generate_key().unwrap().into();
        let call = c.encrypt_file(u8s(&data(2 << 20, 5)).into(), key, options);
        JsFuture::from(get(&out, "firstWrite").unchecked_into::<Promise>()).await.unwrap();
        JsFuture::from(sleep(200)).await.unwrap();
        controller.abort();
        let error = JsFuture::from(call).await.expect_err("the cancelled call rejects");
        assert_eq!(get(&error, "name").as_string().as_deref(), Some("AbortError"), "{placement}");
        get(&out, "release").unchecked_into::<js_sys::Function>().call0(&JsValue::UNDEFINED).unwrap();
        JsFuture::from(sleep(300)).await.unwrap();
        let events: Vec<String> =
            js_sys::Array::from(&get(&out, "events")).iter().filter_map(|e| e.as_string()).collect();
        assert!(!events.contains(&"close".to_owned()), "{placement}: a cancelled call's output was closed: {events:?}");
        done(b).await;
    }
}

/// A call over streams is not placed on a worker whose running call was aborted and ignores the
/// abort (its grace period runs, then that worker is replaced with everything on it; a stream,
/// read once, could not be retried): it waits for the worker that follows, and completes.
#[wasm_bindgen_test]
async fn a_stream_call_waits_out_a_worker_about_to_be_replaced() {
    let options = obj(&[("poolSize", 1.into()), ("fallback", "never".into()), ("cancelGraceMs", 300.into())]);
    let b = WorkerBridge::try_from_js_value(JsFuture::from(WorkerBridge::create(options)).await.unwrap()).unwrap();
    let ctl = web_sys::AbortController::new().unwrap();
    let spin = obj(&[("kind", "spin".into()), ("ms", 20_000.into())]);
    let spin = b.test_op(spin, Uint8Array::new_with_length(0).into(), obj(&[("signal", ctl.signal().into())]));
    JsFuture::from(Promise::new(&mut |r, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&r, 50).unwrap();
    }))
    .await
    .unwrap();
    ctl.abort();
    assert_eq!(failed(&spin).await, "AbortError");
    // Within the grace period: the worker still spins.
    let plain = data(300_000, 5);
    let digest = bytes_of(b.crypto().sha256(chunked(&u8s(&plain), 50_000), JsValue::UNDEFINED)).await;
    assert_eq!(digest, webcrypto_sha256(&plain).await);
    let workers: js_sys::Array = get(&b.status(), "workers").unchecked_into();
    assert_eq!(get(&workers.get(0), "restarts").as_f64(), Some(1.0), "the spinning worker was replaced");
    done(b).await;
}

/// An input stream that errors fails its call: with `NotReadableError` when its error says a file
/// could not be read (as a `Blob` input would), in every placement — the relay to a worker keeps
/// the error's name; with `ValidationError` for any other failure.
#[wasm_bindgen_test]
async fn a_failing_input_stream_fails_its_call_by_what_broke() {
    for placement in PLACEMENTS {
        let b = bridge(placement).await;
        for (name, expected) in [("NotReadableError", "NotReadableError"), ("Error", "ValidationError")] {
            let call = b.compression().gzip(failing(name), JsValue::UNDEFINED);
            assert_eq!(failed(&call).await, expected, "{placement}: {name}");
        }
        let digest = bytes_of(b.crypto().sha256(u8s(b"after").into(), JsValue::UNDEFINED)).await;
        assert_eq!(digest, webcrypto_sha256(b"after").await, "{placement}: the bridge carries on");
        done(b).await;
    }
}
