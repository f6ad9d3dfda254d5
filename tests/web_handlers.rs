//! The handlers in a real browser, checked against the browser's own implementations: AES-GCM
//! against WebCrypto and gzip/zlib/deflate against CompressionStream, both directions; the stream
//! format on large Blobs with progress, in parallel and cancelled; files. Every check runs on a
//! worker pool and on the main-thread fallback.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{AbortController, Blob};
use worker_bridge::WorkerBridge;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{data, get, obj, webcrypto_sha256};

fn bytes(v: &[u8]) -> JsValue {
    Uint8Array::from(v).into()
}

async fn bridges() -> Vec<(&'static str, WorkerBridge)> {
    let mut out = Vec::new();
    for (name, options) in [
        ("pool", obj(&[("poolSize", 2.into()), ("fallback", "never".into())])),
        ("main-thread", obj(&[("fallback", "always".into())])),
    ] {
        let b = JsFuture::from(WorkerBridge::create(options)).await.unwrap();
        out.push((name, WorkerBridge::try_from_js_value(b).unwrap()));
    }
    out
}

async fn terminate(all: Vec<(&'static str, WorkerBridge)>) {
    for (_, b) in all {
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

async fn value(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| panic!("rejected: {:?} {:?}", get(&e, "name"), get(&e, "message")))
}

async fn to_vec(v: JsValue) -> Vec<u8> {
    if let Some(blob) = v.dyn_ref::<Blob>() {
        return Uint8Array::new(&JsFuture::from(blob.array_buffer()).await.unwrap()).to_vec();
    }
    Uint8Array::new(&v).to_vec()
}

async fn error_name(p: Promise) -> String {
    match JsFuture::from(p).await {
        Ok(v) => panic!("resolved with {v:?} instead of rejecting"),
        Err(e) => get(&e, "name").as_string().unwrap(),
    }
}

fn subtle() -> web_sys::SubtleCrypto {
    let crypto: web_sys::Crypto = get(&js_sys::global(), "crypto").unchecked_into();
    crypto.subtle()
}

async fn webcrypto_key(key: &[u8]) -> web_sys::CryptoKey {
    let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
    let p = subtle().import_key_with_str("raw", &Uint8Array::from(key), "AES-GCM", false, &usages).unwrap();
    JsFuture::from(p).await.unwrap().unchecked_into()
}

fn gcm_params(nonce: &[u8], aad: &[u8]) -> web_sys::AesGcmParams {
    let params = web_sys::AesGcmParams::new("AES-GCM", &Uint8Array::from(nonce));
    params.set_additional_data(&Uint8Array::from(aad));
    params
}

async fn webcrypto_encrypt(key: &[u8], nonce: &[u8], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let k = webcrypto_key(key).await;
    let p =
        subtle().encrypt_with_object_and_buffer_source(&gcm_params(nonce, aad), &k, &Uint8Array::from(plain)).unwrap();
    Uint8Array::new(&JsFuture::from(p).await.unwrap()).to_vec()
}

async fn webcrypto_decrypt(key: &[u8], nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Vec<u8> {
    let k = webcrypto_key(key).await;
    let p =
        subtle().decrypt_with_object_and_buffer_source(&gcm_params(nonce, aad), &k, &Uint8Array::from(sealed)).unwrap();
    Uint8Array::new(&JsFuture::from(p).await.unwrap()).to_vec()
}

#[wasm_bindgen_test]
async fn aes_gcm_interoperates_with_webcrypto_both_ways() {
    let all = bridges().await;
    for (name, b) in &all {
        let c = b.crypto();
        for (len, aad) in [(0usize, &b""[..]), (1, b"x"), (4096 + 3, b"header"), (100_000, b"")] {
            let key = c.generate_key().unwrap().to_vec();
            let nonce = c.generate_nonce().unwrap().to_vec();
            let plain = data(len, len as u32 + 7);
            let options = obj(&[("aad", bytes(aad))]);
            let ours = to_vec(value(c.encrypt(bytes(&plain), bytes(&key), bytes(&nonce), options.clone())).await).await;
            assert_eq!(ours, webcrypto_encrypt(&key, &nonce, aad, &plain).await, "{name}: encrypt {len} bytes");
            assert_eq!(webcrypto_decrypt(&key, &nonce, aad, &ours).await, plain, "{name}: WebCrypto opens ours");
            let opened = to_vec(value(c.decrypt(bytes(&ours), bytes(&key), bytes(&nonce), options)).await).await;
            assert_eq!(opened, plain, "{name}: we open WebCrypto's");
        }
    }
    terminate(all).await;
}

#[wasm_bindgen_test]
async fn aes_gcm_rejects_bad_input_with_typed_errors() {
    let all = bridges().await;
    for (_, b) in &all {
        let c = b.crypto();
        let key = c.generate_key().unwrap().to_vec();
        let nonce = c.generate_nonce().unwrap().to_vec();
        let msg = bytes(b"attack at dawn");
        let u = JsValue::UNDEFINED;
        assert_eq!(
            error_name(c.encrypt(msg.clone(), bytes(&key[..16]), bytes(&nonce), u.clone())).await,
            "ValidationError"
        );
        assert_eq!(
            error_name(c.encrypt(msg.clone(), bytes(&key), bytes(&nonce[..8]), u.clone())).await,
            "ValidationError"
        );
        assert_eq!(
            error_name(c.encrypt(msg.clone(), "a string key".into(), bytes(&nonce), u.clone())).await,
            "ValidationError"
        );
        assert_eq!(
            error_name(c.encrypt(msg.clone(), bytes(&key), bytes(&[0; 12]), u.clone())).await,
            "NonceReuseError"
        );
        let sealed = to_vec(value(c.encrypt(msg.clone(), bytes(&key), bytes(&nonce), u.clone())).await).await;
        assert_eq!(
            error_name(c.encrypt(bytes(b"other"), bytes(&key), bytes(&nonce), u.clone())).await,
            "NonceReuseError"
        );
        let mut tampered = sealed.clone();
        tampered[3] ^= 1;
        assert_eq!(
            error_name(c.decrypt(bytes(&tampered), bytes(&key), bytes(&nonce), u.clone())).await,
            "AuthenticationError"
        );
        let wrong_key = c.generate_key().unwrap().to_vec();
        assert_eq!(
            error_name(c.decrypt(bytes(&sealed), bytes(&wrong_key), bytes(&nonce), u.clone())).await,
            "AuthenticationError"
        );
        let with_aad = obj(&[("aad", bytes(b"nope"))]);
        assert_eq!(
            error_name(c.decrypt(bytes(&sealed), bytes(&key), bytes(&nonce), with_aad)).await,
            "AuthenticationError"
        );
        // The bridge is unharmed.
        assert_eq!(
            to_vec(value(c.decrypt(bytes(&sealed), bytes(&key), bytes(&nonce), u)).await).await,
            b"attack at dawn"
        );
    }
    terminate(all).await;
}

/// Runs `data` through the browser's CompressionStream or DecompressionStream.
async fn browser_stream(kind: &str, format: &str, input: &[u8]) -> Result<Vec<u8>, JsValue> {
    let global = js_sys::global();
    let ctor: Function = get(&global, kind).unchecked_into();
    let transform = Reflect::construct(&ctor, &Array::of1(&format.into()))?;
    let blob = Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(input)))?;
    let stream = blob.stream();
    let pipe: Function = get(&stream, "pipeThrough").unchecked_into();
    let piped: web_sys::ReadableStream = pipe.call1(&stream, &transform)?.unchecked_into();
    let response = web_sys::Response::new_with_opt_readable_stream(Some(&piped))?;
    Ok(Uint8Array::new(&JsFuture::from(response.array_buffer()?).await?).to_vec())
}

#[wasm_bindgen_test]
async fn compression_interoperates_with_compression_streams_both_ways() {
    let text: Vec<u8> =
        (0..200_000u32).map(|i| b"worker-bridge compresses "[(i % 25) as usize] ^ (i / 5000) as u8).collect();
    let all = bridges().await;
    for (name, b) in &all {
        let z = b.compression();
        // (ours, theirs, browser format name)
        use worker_bridge::CompressionFacade as Z;
        let pairs: [(Codec, Codec, &str); 3] =
            [(Z::gzip, Z::gunzip, "gzip"), (Z::zlib, Z::unzlib, "deflate"), (Z::deflate, Z::inflate, "deflate-raw")];
        for (pack, unpack, format) in pairs {
            for level in [1u32, 6, 9] {
                let packed = to_vec(value(pack(&z, bytes(&text), obj(&[("level", level.into())]))).await).await;
                assert!(packed.len() < text.len() / 3, "{name} {format} level {level} compresses");
                let theirs = browser_stream("DecompressionStream", format, &packed).await.unwrap();
                assert_eq!(theirs, text, "{name}: DecompressionStream('{format}') reads ours (level {level})");
            }
            let browser_packed = browser_stream("CompressionStream", format, &text).await.unwrap();
            let ours = to_vec(value(unpack(&z, bytes(&browser_packed), JsValue::UNDEFINED)).await).await;
            assert_eq!(ours, text, "{name}: we read CompressionStream('{format}')");
            // Truncated input and bombs are typed errors.
            let cut = &browser_packed[..browser_packed.len() / 2];
            assert_eq!(
                error_name(unpack(&z, bytes(cut), JsValue::UNDEFINED)).await,
                "DecompressionError",
                "{name} {format}"
            );
            let limit = obj(&[("maxOutputBytes", 1000.into())]);
            assert_eq!(
                error_name(unpack(&z, bytes(&browser_packed), limit)).await,
                "LimitExceededError",
                "{name} {format}"
            );
        }
        // Multi-member gzip (two CompressionStream outputs back to back).
        let mut two = browser_stream("CompressionStream", "gzip", b"hello, ").await.unwrap();
        two.extend(browser_stream("CompressionStream", "gzip", b"world").await.unwrap());
        assert_eq!(to_vec(value(z.gunzip(bytes(&two), JsValue::UNDEFINED)).await).await, b"hello, world");
        assert_eq!(error_name(z.gzip(bytes(b"x"), obj(&[("level", 10.into())]))).await, "ValidationError");
    }
    terminate(all).await;
}

/// Tasks each worker of `b` has done.
fn tasks_done(b: &WorkerBridge) -> Vec<f64> {
    Array::from(&get(&b.status(), "workers")).iter().map(|w| get(&w, "tasksDone").as_f64().unwrap()).collect()
}

#[wasm_bindgen_test]
async fn a_large_input_is_compressed_across_the_pool_into_the_bytes_one_worker_writes() {
    // 9 MiB of text: above the split threshold, in ranges of whole 128 KiB blocks.
    let text: Vec<u8> = (0..9 * (1u32 << 20) + 12_345)
        .map(|i| b"worker-bridge splits gzip across its pool "[(i % 42) as usize] ^ ((i / 7919) % 3) as u8)
        .collect();
    let create = |size: u32| async move {
        let options = obj(&[("poolSize", size.into()), ("fallback", "never".into())]);
        WorkerBridge::try_from_js_value(JsFuture::from(WorkerBridge::create(options)).await.unwrap()).unwrap()
    };
    let (one, two) = (create(1).await, create(2).await);
    use worker_bridge::CompressionFacade as Z;
    let codecs: [(Codec, &str); 3] = [(Z::gzip, "gzip"), (Z::zlib, "deflate"), (Z::deflate, "deflate-raw")];
    for (pack, format) in codecs {
        let whole = to_vec(value(pack(&one.compression(), bytes(&text), obj(&[("level", 6.into())]))).await).await;
        let before = tasks_done(&two);
        let (events, cb) = recorder();
        let options = obj(&[("level", 6.into()), ("onProgress", cb.as_ref().clone())]);
        let split = to_vec(value(pack(&two.compression(), bytes(&text), options)).await).await;
        let after = tasks_done(&two);
        assert!(
            before.iter().zip(&after).all(|(b, a)| a > b),
            "{format}: every worker took a range ({before:?} → {after:?})"
        );
        assert!(
            split == whole,
            "{format}: the pool's bytes are one worker's ({} vs {} bytes)",
            split.len(),
            whole.len()
        );
        check_progress(&events.borrow());
        let theirs = browser_stream("DecompressionStream", format, &split).await.unwrap();
        assert!(theirs == text, "{format}: DecompressionStream reads the joined stream");
    }
    // A Blob in, a Blob out (output: 'blob'); a level of 1 (another header).
    let blob = Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(&text[..]))).unwrap();
    let options = obj(&[("level", 1.into()), ("output", "blob".into())]);
    let packed = value(two.compression().gzip(blob.into(), options)).await;
    assert!(packed.is_instance_of::<Blob>());
    let whole = to_vec(value(one.compression().gzip(bytes(&text), obj(&[("level", 1.into())]))).await).await;
    assert!(to_vec(packed).await == whole, "level 1, from a Blob");
    // An abort stops every range; the pool carries on.
    let controller = AbortController::new().unwrap();
    let call = two.compression().gzip(bytes(&text), obj(&[("signal", controller.signal().into())]));
    controller.abort();
    assert_eq!(error_name(call).await, "AbortError");
    let again = to_vec(value(two.compression().gzip(bytes(&text), JsValue::UNDEFINED)).await).await;
    assert_eq!(browser_stream("DecompressionStream", "gzip", &again).await.unwrap().len(), text.len());
    for b in [one, two] {
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

/// A compression facade method.
type Codec = fn(&worker_bridge::CompressionFacade, JsValue, JsValue) -> Promise;

type Events = Rc<RefCell<Vec<f64>>>;

fn recorder() -> (Events, Closure<dyn FnMut(JsValue)>) {
    let events: Events = Rc::default();
    let sink = events.clone();
    let cb = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        sink.borrow_mut().push(get(&e, "progress").as_f64().unwrap())
    });
    (events, cb)
}

fn check_progress(events: &[f64]) {
    assert!(!events.is_empty());
    assert!(events.windows(2).all(|w| w[0] <= w[1]), "monotonic: {events:?}");
    assert_eq!(events.iter().filter(|&&p| p == 100.0).count(), 1, "one 100: {events:?}");
    assert_eq!(*events.last().unwrap(), 100.0);
}

#[wasm_bindgen_test]
async fn a_64_mib_blob_is_hashed_and_sealed_and_opened_with_progress() {
    let size = 64usize << 20;
    let plain = data(size, 99);
    let expected = webcrypto_sha256(&plain).await;
    let blob = Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(plain.as_slice()))).unwrap();
    let all = bridges().await;
    for (name, b) in &all {
        let (events, cb) = recorder();
        let digest = value(b.file().sha256(blob.clone().into(), obj(&[("onProgress", cb.as_ref().clone())]))).await;
        assert_eq!(to_vec(digest).await, expected, "{name}: sha256 of the Blob");
        check_progress(&events.borrow());

        let key = b.crypto().generate_key().unwrap();
        let (events, cb) = recorder();
        let sealed = value(b.crypto().encrypt_file(
            blob.clone().into(),
            key.clone().into(),
            obj(&[("onProgress", cb.as_ref().clone())]),
        ))
        .await;
        check_progress(&events.borrow());
        let sealed: Blob = sealed.dyn_into().expect("a Blob by default");
        assert_eq!(sealed.size() as usize, 32 + size + 128 * 16, "{name}: 128 chunks of 512 KiB (the default)");
        let (events, cb) = recorder();
        let opened =
            value(b.crypto().decrypt_file(sealed.into(), key.into(), obj(&[("onProgress", cb.as_ref().clone())])))
                .await;
        check_progress(&events.borrow());
        let opened: Blob = opened.dyn_into().unwrap();
        assert_eq!(opened.size() as usize, size);
        let digest = value(b.crypto().sha256(opened.into(), JsValue::UNDEFINED)).await;
        assert_eq!(to_vec(digest).await, expected, "{name}: round trip");
    }
    // The pool's workers read the Blob chunk by chunk: their wasm memory stays far below 64 MiB.
    // One worker takes the whole run: on WebCrypto it reads the Blob in several pieces (up to 32
    // MiB each; sealed chunks do not divide them evenly), which the round trip checks.
    let pool = &all[0].1;
    JsFuture::from(pool.terminate()).await.unwrap();
    let probe = JsFuture::from(WorkerBridge::create(obj(&[("poolSize", 1.into()), ("healthIntervalMs", 50.into())])))
        .await
        .unwrap();
    let probe = WorkerBridge::try_from_js_value(probe).unwrap();
    value(probe.file().sha256(blob.clone().into(), JsValue::UNDEFINED)).await;
    let key = probe.crypto().generate_key().unwrap();
    let sealed = value(probe.crypto().encrypt_file(blob.into(), key.clone().into(), JsValue::UNDEFINED)).await;
    let opened = value(probe.crypto().decrypt_file(sealed, key.into(), JsValue::UNDEFINED)).await;
    let opened: Blob = opened.dyn_into().unwrap();
    assert_eq!(opened.size() as usize, size);
    let digest = value(probe.crypto().sha256(opened.into(), JsValue::UNDEFINED)).await;
    assert_eq!(to_vec(digest).await, expected, "one worker: round trip");
    let mut memory = 0.0;
    for _ in 0..100 {
        let w = Array::from(&get(&probe.status(), "workers")).get(0);
        memory = get(&w, "memoryBytes").as_f64().unwrap();
        if memory > 0.0 {
            break;
        }
        JsFuture::from(Promise::new(&mut |r, _| {
            web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&r, 20).unwrap();
        }))
        .await
        .unwrap();
    }
    web_sys::console::log_1(
        &format!("worker wasm memory after hashing, sealing and opening 64 MiB: {:.1} MiB", memory / 1048576.0).into(),
    );
    assert!(memory > 0.0 && memory < 24.0 * 1048576.0, "bounded worker memory: {memory} bytes");
    // One-shot decrypt holds the whole message until its tag verifies (hence its 256 MiB cap), and
    // no more: 16 MiB opened grows the worker's memory by well under three times that.
    let (key, nonce) = (probe.crypto().generate_key().unwrap(), probe.crypto().generate_nonce().unwrap());
    let message = bytes(&data(16 << 20, 7));
    let sealed =
        value(probe.crypto().encrypt(message, key.clone().into(), nonce.clone().into(), JsValue::UNDEFINED)).await;
    let opened = value(probe.crypto().decrypt(sealed, key.into(), nonce.into(), JsValue::UNDEFINED)).await;
    assert_eq!(Uint8Array::new(&opened).length(), 16 << 20);
    JsFuture::from(Promise::new(&mut |r, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&r, 300).unwrap();
    }))
    .await
    .unwrap();
    let after = get(&Array::from(&get(&probe.status(), "workers")).get(0), "memoryBytes").as_f64().unwrap();
    web_sys::console::log_1(
        &format!("worker wasm memory after a one-shot 16 MiB decrypt: {:.1} MiB", after / 1048576.0).into(),
    );
    assert!(after - memory < 48.0 * 1048576.0, "one-shot decrypt memory: {memory} → {after} bytes");
    JsFuture::from(probe.terminate()).await.unwrap();
    JsFuture::from(all[1].1.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn file_streams_are_sealed_in_parallel_and_tampering_is_rejected() {
    let all = bridges().await;
    for (name, b) in &all {
        let c = b.crypto();
        let key = c.generate_key().unwrap();
        let plain = data((8 << 20) + 12_345, 5);
        let options = obj(&[("chunkSize", 65_536.into()), ("aad", "file-1".into()), ("output", "bytes".into())]);
        let sealed = to_vec(value(c.encrypt_file(bytes(&plain), key.clone().into(), options)).await).await;
        assert_eq!(sealed.len(), 32 + plain.len() + 129 * 16);
        let open = |s: &[u8], aad: &str| {
            c.decrypt_file(bytes(s), key.clone().into(), obj(&[("aad", aad.into()), ("output", "bytes".into())]))
        };
        assert_eq!(to_vec(value(open(&sealed, "file-1")).await).await, plain, "{name}: round trip");
        assert_eq!(error_name(open(&sealed, "file-2")).await, "AuthenticationError", "{name}: other aad");
        for at in [0usize, 10, 40, sealed.len() / 2, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 4;
            assert_eq!(error_name(open(&bad, "file-1")).await, "AuthenticationError", "{name}: flipped byte {at}");
        }
        assert_eq!(
            error_name(open(&sealed[..sealed.len() - 65_552], "file-1")).await,
            "AuthenticationError",
            "{name}: truncated"
        );
        assert_eq!(error_name(open(&sealed[..20], "file-1")).await, "AuthenticationError", "{name}: header only");
        let bad_chunk = obj(&[("chunkSize", 1000.into())]);
        assert_eq!(error_name(c.encrypt_file(bytes(&plain), key.into(), bad_chunk)).await, "ValidationError");
    }
    terminate(all).await;
}

#[wasm_bindgen_test]
async fn a_long_encrypt_file_can_be_cancelled_midway() {
    let all = bridges().await;
    for (name, b) in &all {
        let c = b.crypto();
        let key = c.generate_key().unwrap();
        let blob =
            Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(data(48 << 20, 3).as_slice()))).unwrap();
        let controller = AbortController::new().unwrap();
        let ctl = controller.clone();
        let cb = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            if get(&e, "progress").as_f64().unwrap() > 0.0 {
                ctl.abort();
            }
        });
        let options = obj(&[
            ("onProgress", cb.as_ref().clone()),
            ("signal", controller.signal().into()),
            ("chunkSize", 65_536.into()),
        ]);
        assert_eq!(error_name(c.encrypt_file(blob.into(), key.into(), options)).await, "AbortError", "{name}");
        let counters = get(&b.status(), "counters");
        assert!(get(&counters, "cancelled").as_f64().unwrap() >= 1.0, "{name}");
        // Still serving.
        assert_eq!(to_vec(value(c.sha256(bytes(b""), JsValue::UNDEFINED)).await).await.len(), 32);
    }
    terminate(all).await;
}

#[wasm_bindgen_test]
async fn chunk_plans_and_slices_of_files() {
    let plain = data(1_000_000, 11);
    let file = Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(plain.as_slice()))).unwrap();
    let all = bridges().await;
    for (name, b) in &all {
        let plan =
            Array::from(&value(b.file().chunk_plan(file.clone().into(), obj(&[("chunkSize", 300_000.into())]))).await);
        assert_eq!(plan.length(), 4, "{name}");
        for (i, entry) in plan.iter().enumerate() {
            let offset = get(&entry, "offset").as_f64().unwrap() as usize;
            let length = get(&entry, "length").as_f64().unwrap() as usize;
            assert_eq!(get(&entry, "index").as_f64().unwrap() as usize, i);
            assert_eq!(offset, i * 300_000);
            assert_eq!(length, 300_000.min(1_000_000 - offset));
            let expected = webcrypto_sha256(&plain[offset..offset + length]).await;
            assert_eq!(Uint8Array::new(&get(&entry, "sha256")).to_vec(), expected, "{name}: piece {i}");
        }
        let slice =
            to_vec(value(b.file().read_slice(file.clone().into(), 999_990.0, 100.0, JsValue::UNDEFINED)).await).await;
        assert_eq!(slice, &plain[999_990..], "{name}: clamped to the end");
        let slice =
            to_vec(value(b.file().read_slice(file.clone().into(), 12_345.0, 1000.0, JsValue::UNDEFINED)).await).await;
        assert_eq!(slice, &plain[12_345..13_345]);
        assert_eq!(
            error_name(b.file().read_slice(file.clone().into(), -1.0, 10.0, JsValue::UNDEFINED)).await,
            "ValidationError"
        );
        assert_eq!(
            error_name(b.file().chunk_plan(file.clone().into(), obj(&[("chunkSize", 0.into())]))).await,
            "ValidationError"
        );
    }
    terminate(all).await;
}

/// A file the test runner serves from its own origin.
const SERVED: &str = "wasm-bindgen-test_bg.wasm";

#[wasm_bindgen_test]
async fn network_fetch_with_progress_hashing_errors_and_abort() {
    let window = web_sys::window().unwrap();
    let direct: web_sys::Response = JsFuture::from(window.fetch_with_str(SERVED)).await.unwrap().unchecked_into();
    let expected = Uint8Array::new(&JsFuture::from(direct.array_buffer().unwrap()).await.unwrap()).to_vec();
    let digest = webcrypto_sha256(&expected).await;
    let all = bridges().await;
    for (name, b) in &all {
        let n = b.network();
        let (events, cb) = recorder();
        let options = obj(&[("sha256", true.into()), ("onProgress", cb.as_ref().clone())]);
        let res = value(n.fetch(SERVED.into(), options)).await;
        assert_eq!(get(&res, "status").as_f64(), Some(200.0), "{name}");
        assert_eq!(Uint8Array::new(&get(&res, "body")).to_vec(), expected, "{name}: body");
        assert_eq!(Uint8Array::new(&get(&res, "sha256")).to_vec(), digest, "{name}: hashed while downloading");
        assert!(get(&res, "url").as_string().unwrap().ends_with(SERVED));
        assert!(get(&res, "headers").is_object());
        check_progress(&events.borrow());

        let missing = n.fetch("no-such-file-here".into(), JsValue::UNDEFINED);
        let err = JsFuture::from(missing).await.expect_err("a 404 rejects");
        assert_eq!(get(&err, "name").as_string().unwrap(), "NetworkError", "{name}");
        assert_eq!(get(&err, "status").as_f64(), Some(404.0), "{name}: the error carries the status");
        let kept = value(n.fetch("no-such-file-here".into(), obj(&[("throwHttpErrors", false.into())]))).await;
        assert_eq!(get(&kept, "status").as_f64(), Some(404.0));
        let posted = obj(&[("method", "post".into()), ("body", "hello".into()), ("throwHttpErrors", false.into())]);
        assert!(get(&value(n.fetch("no-such-file-here".into(), posted)).await, "status").as_f64().unwrap() >= 400.0);

        let controller = AbortController::new().unwrap();
        let call = n.fetch(SERVED.into(), obj(&[("signal", controller.signal().into())]));
        controller.abort();
        assert_eq!(error_name(call).await, "AbortError", "{name}");
        assert_eq!(error_name(n.fetch("http://[".into(), JsValue::UNDEFINED)).await, "ValidationError");
        // maxBytes: exactly the body is fine, one byte less stops the download.
        let exact = obj(&[("maxBytes", (expected.len() as f64).into())]);
        assert_eq!(Uint8Array::new(&get(&value(n.fetch(SERVED.into(), exact)).await, "body")).to_vec(), expected);
        let short = obj(&[("maxBytes", (expected.len() as f64 - 1.0).into())]);
        let err = JsFuture::from(n.fetch(SERVED.into(), short)).await.expect_err("too long");
        assert_eq!(get(&err, "name").as_string().unwrap(), "LimitExceededError", "{name}");
        assert!(get(&err, "message").as_string().unwrap().contains("maxBytes"), "{name}");
        // A HEAD announces the length of a body it does not send: that is not over the limit.
        let head = value(n.fetch(SERVED.into(), obj(&[("method", "HEAD".into()), ("maxBytes", 10.into())]))).await;
        assert_eq!(get(&head, "status").as_f64(), Some(200.0), "{name}: HEAD");
        assert_eq!(Uint8Array::new(&get(&head, "body")).length(), 0, "{name}: HEAD has no body");
        assert_eq!(error_name(n.fetch(SERVED.into(), obj(&[("method", "GE T".into())]))).await, "ValidationError");
    }
    terminate(all).await;
}

#[wasm_bindgen_test]
async fn a_refused_encrypt_does_not_burn_its_nonce() {
    let all = bridges().await;
    for (name, b) in &all {
        let c = b.crypto();
        let (key, nonce) = (c.generate_key().unwrap(), c.generate_nonce().unwrap());
        let encrypt =
            |options: JsValue| c.encrypt(bytes(b"attack at dawn"), key.clone().into(), nonce.clone().into(), options);
        // Refused before it could run: a typo in an option, an already-aborted signal.
        assert_eq!(error_name(encrypt(obj(&[("aadd", "x".into())]))).await, "ValidationError", "{name}");
        let controller = AbortController::new().unwrap();
        controller.abort();
        assert_eq!(error_name(encrypt(obj(&[("signal", controller.signal().into())]))).await, "AbortError", "{name}");
        // The honest retry with the same pair goes through, once.
        let sealed = to_vec(value(encrypt(JsValue::UNDEFINED)).await).await;
        let expected = webcrypto_encrypt(&key.to_vec(), &nonce.to_vec(), b"", b"attack at dawn").await;
        assert_eq!(sealed, expected, "{name}");
        assert_eq!(error_name(encrypt(JsValue::UNDEFINED)).await, "NonceReuseError", "{name}");
    }
    terminate(all).await;
}

/// A `Blob` of `mib` MiB and `extra` bytes, made of references to one 1 MiB Blob (cheap).
fn big_blob(mib: u32, extra: u32) -> Blob {
    let one = Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::new_with_length(1 << 20))).unwrap();
    let parts = Array::new();
    for _ in 0..mib {
        parts.push(&one);
    }
    parts.push(&Uint8Array::new_with_length(extra));
    Blob::new_with_blob_sequence(&parts).unwrap()
}

#[wasm_bindgen_test]
async fn one_shot_encrypt_and_decrypt_refuse_inputs_above_their_limit_up_front() {
    let all = bridges().await;
    for (name, b) in &all {
        let c = b.crypto();
        let (key, nonce) = (c.generate_key().unwrap(), c.generate_nonce().unwrap());
        let too_big = big_blob(256, 1);
        let call = c.encrypt(too_big.clone().into(), key.clone().into(), nonce.clone().into(), JsValue::UNDEFINED);
        let err = JsFuture::from(call).await.expect_err("refused");
        assert_eq!(get(&err, "name").as_string().unwrap(), "LimitExceededError", "{name}");
        assert!(get(&err, "message").as_string().unwrap().contains("encryptFile"), "{name}: names the way out");
        // Ciphertext ‖ tag: the message inside is what counts.
        let sealed = big_blob(256, 17);
        let call = c.decrypt(sealed.into(), key.clone().into(), nonce.clone().into(), JsValue::UNDEFINED);
        assert_eq!(error_name(call).await, "LimitExceededError", "{name}");
        // Nothing was used up: the pair still encrypts.
        value(c.encrypt(bytes(b"small"), key.into(), nonce.into(), JsValue::UNDEFINED)).await;
        assert_eq!(
            get(&get(&b.status(), "counters"), "submitted").as_f64(),
            Some(1.0),
            "{name}: refused before queueing"
        );
    }
    terminate(all).await;
}

#[wasm_bindgen_test]
async fn a_split_encrypt_file_fills_the_callers_shared_progress() {
    let all = bridges().await;
    for (name, b) in &all {
        let c = b.crypto();
        let key = c.generate_key().unwrap();
        let plain = data(8 << 20, 11);
        let progress = worker_bridge::SharedProgress::new(None);
        let handle = JsValue::from(progress);
        let options = obj(&[("chunkSize", 65_536.into()), ("progress", handle.clone()), ("output", "bytes".into())]);
        value(c.encrypt_file(bytes(&plain), key.into(), options)).await;
        assert_eq!(get(&handle, "percent").as_f64(), Some(100.0), "{name}");
        assert_eq!(get(&handle, "current").as_f64(), Some(plain.len() as f64), "{name}");
    }
    terminate(all).await;
}

#[wasm_bindgen_test]
async fn a_failed_part_of_decrypt_file_stops_its_siblings_at_once() {
    // The defect needs shared memory: a worker reading a shared cancel flag runs without yielding
    // to messages, so only its flag can stop it. Without shared memory the bridge's `Cancel`
    // message reaches it within a yield; the grace period there only absorbs a loaded machine.
    let isolated = get(&js_sys::global(), "crossOriginIsolated").is_truthy();
    let grace = if isolated { 300 } else { 2_000 };
    let options = obj(&[("poolSize", 2.into()), ("fallback", "never".into()), ("cancelGraceMs", grace.into())]);
    let b = WorkerBridge::try_from_js_value(JsFuture::from(WorkerBridge::create(options)).await.unwrap()).unwrap();
    let c = b.crypto();
    let key = c.generate_key().unwrap();
    let plain = data(96 << 20, 13);
    let sealed_options = obj(&[("output", "bytes".into())]);
    let mut sealed = to_vec(value(c.encrypt_file(bytes(&plain), key.clone().into(), sealed_options)).await).await;
    drop(plain);
    // The first part fails on its first chunk; the second has 48 MiB to open, longer than the
    // grace period: left running, its worker would be replaced.
    sealed[40] ^= 1;
    let token = worker_bridge::SharedCancellation::new();
    let options = obj(&[("signal", JsValue::from(token)), ("output", "bytes".into())]);
    assert_eq!(error_name(c.decrypt_file(bytes(&sealed), key.into(), options)).await, "AuthenticationError");
    let p = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 2 * grace + 200)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
    let workers: Vec<JsValue> = Array::from(&get(&b.status(), "workers")).iter().collect();
    let restarts: f64 = workers.iter().map(|w| get(w, "restarts").as_f64().unwrap()).sum();
    assert_eq!(restarts, 0.0, "{:?}", js_sys::JSON::stringify(&b.status()));
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn decrypt_file_rejects_streams_cut_or_shuffled_at_a_run_boundary() {
    // Two workers: the sealed chunks are opened in two runs. Cut or shuffle exactly where the
    // runs meet, and where whole chunks end, so every chunk on its own still looks well formed.
    let options = obj(&[("poolSize", 2.into()), ("fallback", "never".into())]);
    let b = WorkerBridge::try_from_js_value(JsFuture::from(WorkerBridge::create(options)).await.unwrap()).unwrap();
    let c = b.crypto();
    let key = c.generate_key().unwrap();
    let (chunk, chunks) = (65_536usize, 8usize);
    let plain = data(chunk * chunks, 21);
    let seal = obj(&[("chunkSize", (chunk as u32).into()), ("output", "bytes".into())]);
    let sealed = to_vec(value(c.encrypt_file(bytes(&plain), key.clone().into(), seal)).await).await;
    let sealed_chunk = chunk + 16;
    assert_eq!(sealed.len(), 32 + chunks * sealed_chunk);
    let at = |i: usize| 32 + i * sealed_chunk;
    let open = |s: &[u8]| c.decrypt_file(bytes(s), key.clone().into(), obj(&[("output", "bytes".into())]));
    assert_eq!(to_vec(value(open(&sealed)).await).await, plain, "intact");
    let half = chunks / 2;
    let cut = sealed[..at(half)].to_vec();
    let mut swapped = sealed[..at(half - 1)].to_vec();
    swapped.extend_from_slice(&sealed[at(half)..at(half + 1)]);
    swapped.extend_from_slice(&sealed[at(half - 1)..at(half)]);
    swapped.extend_from_slice(&sealed[at(half + 1)..]);
    let mut doubled = sealed[..at(half)].to_vec();
    doubled.extend_from_slice(&sealed[at(half - 1)..]);
    let mut dropped = sealed[..at(half)].to_vec();
    dropped.extend_from_slice(&sealed[at(half + 1)..]);
    for (what, bad) in [
        ("cut at the boundary", cut),
        ("swapped across it", swapped),
        ("duplicated", doubled),
        ("one dropped", dropped),
    ] {
        assert_eq!(error_name(open(&bad)).await, "AuthenticationError", "{what}");
    }
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_refused_encrypt_leaves_a_transferred_buffer_with_its_caller() {
    let all = bridges().await;
    for (name, b) in &all {
        let c = b.crypto();
        let (key, nonce) = (c.generate_key().unwrap(), c.generate_nonce().unwrap());
        value(c.encrypt(bytes(b"first"), key.clone().into(), nonce.clone().into(), JsValue::UNDEFINED)).await;
        let plain = Uint8Array::from(&b"second"[..]);
        let call = c.encrypt(plain.clone().into(), key.into(), nonce.into(), obj(&[("transfer", true.into())]));
        assert_eq!(error_name(call).await, "NonceReuseError", "{name}");
        assert_eq!(plain.to_vec(), b"second", "{name}: the refused call did not take the caller's buffer");
    }
    terminate(all).await;
}

/// A call made with the caller's buffer.
type Refusal<'a> = Box<dyn Fn(&Uint8Array) -> Promise + 'a>;

/// Every refusal comes before a call takes its input: a buffer passed with `transfer: true`
/// stays its caller's when the call is refused — a deadline already past, `output: 'value'`, a
/// sealed stream whose header is bad, a fetch's bad URL or flag, `chunkPlan` with an output
/// stream, a full queue. (Before, each of these detached the buffer and then refused.)
#[wasm_bindgen_test]
async fn every_refused_call_leaves_a_transferred_buffer_with_its_caller() {
    let moved = |extra: &[(&str, JsValue)]| {
        let mut all = vec![("transfer", JsValue::TRUE)];
        all.extend(extra.iter().cloned());
        obj(&all)
    };
    let all = bridges().await;
    for (name, b) in &all {
        let (c, key) = (b.crypto(), b.crypto().generate_key().unwrap());
        let past = ("deadline", JsValue::from(js_sys::Date::now() - 1.0));
        let sink = ("output", web_sys::WritableStream::new().unwrap().into());
        let refusals: Vec<(&str, Refusal<'_>, &str)> = vec![
            ("deadline past", Box::new(|u| c.sha256(u.into(), moved(std::slice::from_ref(&past)))), "TimeoutError"),
            ("output value", Box::new(|u| c.sha256(u.into(), moved(&[("output", "value".into())]))), "ValidationError"),
            (
                "gzip output value",
                Box::new(|u| b.compression().gzip(u.into(), moved(&[("output", "value".into())]))),
                "ValidationError",
            ),
            (
                "bad header",
                Box::new(|u| c.decrypt_file(u.into(), key.clone().into(), moved(&[]))),
                "AuthenticationError",
            ),
            (
                "fetch bad URL",
                Box::new(|u| {
                    b.network().fetch("http://[".into(), moved(&[("method", "POST".into()), ("body", u.into())]))
                }),
                "ValidationError",
            ),
            (
                "fetch bad flag",
                Box::new(|u| {
                    b.network().fetch(
                        SERVED.into(),
                        moved(&[("method", "POST".into()), ("body", u.into()), ("sha256", "yes".into())]),
                    )
                }),
                "ValidationError",
            ),
            (
                "chunkPlan to a stream",
                Box::new(|u| b.file().chunk_plan(u.into(), moved(std::slice::from_ref(&sink)))),
                "ValidationError",
            ),
        ];
        for (what, call, expected) in refusals {
            let mine = Uint8Array::from(data(40, 3).as_slice());
            assert_eq!(error_name(call(&mine)).await, expected, "{name}: {what}");
            assert_eq!(mine.to_vec(), data(40, 3), "{name}: {what}: the refused call did not take the caller's buffer");
        }
    }
    terminate(all).await;

    // A full queue: one call running, one waiting (maxQueue 1).
    for options in [
        obj(&[("poolSize", 1.into()), ("fallback", "never".into()), ("maxQueue", 1.into())]),
        obj(&[("fallback", "always".into()), ("maxQueue", 1.into())]),
    ] {
        let b = WorkerBridge::try_from_js_value(JsFuture::from(WorkerBridge::create(options)).await.unwrap()).unwrap();
        let sleep = || obj(&[("kind", "sleep".into()), ("ms", 300.into())]);
        let running = b.test_op(sleep(), Uint8Array::new_with_length(0).into(), JsValue::UNDEFINED);
        delay(30).await;
        let waiting = b.test_op(sleep(), Uint8Array::new_with_length(0).into(), JsValue::UNDEFINED);
        let mine = Uint8Array::from(data(40, 3).as_slice());
        assert_eq!(error_name(b.crypto().sha256(mine.clone().into(), moved(&[]))).await, "QueueFullError");
        assert_eq!(
            mine.to_vec(),
            data(40, 3),
            "{:?}: a full queue did not take the caller's buffer",
            get(&b.status(), "mode")
        );
        value(running).await;
        value(waiting).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

// ---- large inputs passed without `transfer`: copied in slices, in call order; the page stays free ----

#[wasm_bindgen(module = "/tests/web/long-tasks.js")]
extern "C" {
    /// Whether the browser reports long tasks.
    #[wasm_bindgen(js_name = longTasksReported)]
    fn long_tasks_reported() -> bool;

    /// `{ stop() }` → the durations (ms) of the long tasks seen since.
    #[wasm_bindgen(js_name = watchLongTasks)]
    fn watch_long_tasks() -> JsValue;
}

async fn delay(ms: i32) {
    JsFuture::from(Promise::new(&mut |r, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&r, ms).unwrap();
    }))
    .await
    .unwrap();
}

/// `len` bytes of test data as a view that starts 1 byte into its buffer (so the bridge must
/// copy exactly the viewed bytes), and the plain bytes.
fn offset_view(len: usize, seed: u32) -> (Uint8Array, Vec<u8>) {
    let plain = data(len, seed);
    let buffer = Uint8Array::new_with_length(len as u32 + 2);
    buffer.subarray(1, len as u32 + 1).copy_from(&plain);
    (buffer.subarray(1, len as u32 + 1), plain)
}

#[wasm_bindgen_test]
async fn a_64_mib_input_passed_without_transfer_is_copied_exactly() {
    let size = 64usize << 20;
    let (input, plain) = offset_view(size, 21);
    let expected = webcrypto_sha256(&plain).await;
    drop(plain);
    let all = bridges().await;
    for (name, b) in &all {
        let digest = value(b.crypto().sha256(input.clone().into(), JsValue::UNDEFINED)).await;
        assert_eq!(to_vec(digest).await, expected, "{name}: sha256 = WebCrypto's");
        // A split call: each worker's range is copied straight into a buffer of its own.
        let key = b.crypto().generate_key().unwrap();
        let options = obj(&[("output", "bytes".into()), ("chunkSize", (1 << 20).into())]);
        let sealed = value(b.crypto().encrypt_file(input.clone().into(), key.clone().into(), options)).await;
        let opened = value(b.crypto().decrypt_file(sealed, key.into(), obj(&[("output", "bytes".into())]))).await;
        let digest = value(b.crypto().sha256(opened, JsValue::UNDEFINED)).await;
        assert_eq!(to_vec(digest).await, expected, "{name}: sealed and opened");
        // An output made from the input is the bridge's own: changing the input after the call
        // settled changes nothing in it.
        let copy = value(b.file().read_slice(input.clone().into(), 0.0, size as f64, JsValue::UNDEFINED)).await;
        input.fill(0xff, 0, size as u32);
        let digest = value(b.crypto().sha256(copy, JsValue::UNDEFINED)).await;
        assert_eq!(to_vec(digest).await, expected, "{name}: the output does not share the caller's buffer");
        input.subarray(0, size as u32).copy_from(&data(size, 21));
    }
    terminate(all).await;
}

/// Short inputs take the fast path (a `Uint8Array` used as it is, with no look at its buffer):
/// a view into the middle of a larger buffer is hashed as the bytes it views, an empty one as no
/// bytes, a detached one is refused (it reads length 0, like an empty one) — and a small call sent
/// while others are in flight, and a caller's small buffer moved in, still give the right bytes.
#[wasm_bindgen_test]
async fn short_inputs_views_empty_and_detached_ones_are_read_exactly() {
    let all = bridges().await;
    for (name, b) in &all {
        let sha = |input: JsValue, options: JsValue| b.crypto().sha256(input, options);
        for len in [1usize, 16, 32, 4096] {
            let (view, plain) = offset_view(len, len as u32);
            let expected = webcrypto_sha256(&plain).await;
            // Several at once: the later ones travel beside the first, in one message.
            let calls: Vec<Promise> = (0..8).map(|_| sha(view.clone().into(), JsValue::UNDEFINED)).collect();
            for call in calls {
                assert_eq!(to_vec(value(call).await).await, expected, "{name}: {len} B viewed at offset 1");
            }
            let moved = Uint8Array::from(plain.as_slice());
            let digest = value(sha(moved.clone().into(), obj(&[("transfer", true.into())]))).await;
            assert_eq!(to_vec(digest).await, expected, "{name}: {len} B moved in");
            assert_eq!(moved.length(), 0, "{name}: a moved buffer leaves its caller");
        }
        // A short view into a buffer longer than a spare: read exactly, with or without retries,
        // and the caller's buffer moved only when asked.
        let big = Uint8Array::new_with_length(2 << 20);
        let plain = data(32, 7);
        big.subarray(1000, 1032).copy_from(&plain);
        let expected = webcrypto_sha256(&plain).await;
        for options in [JsValue::UNDEFINED, obj(&[("retries", 2.into())])] {
            let digest = value(sha(big.subarray(1000, 1032).into(), options)).await;
            assert_eq!(to_vec(digest).await, expected, "{name}: 32 B viewed in 2 MiB");
            assert_eq!(big.length(), 2 << 20, "{name}: a buffer not passed with transfer stays its caller's");
        }
        let digest = value(sha(big.subarray(1000, 1032).into(), obj(&[("transfer", true.into())]))).await;
        assert_eq!(to_vec(digest).await, expected, "{name}: 32 B viewed in 2 MiB, moved in");
        assert_eq!(big.length(), 0, "{name}: the buffer passed with transfer left its caller");
        let empty = value(sha(Uint8Array::new_with_length(0).into(), JsValue::UNDEFINED)).await;
        assert_eq!(to_vec(empty).await, webcrypto_sha256(&[]).await, "{name}: the empty input");
        let gone = Uint8Array::from(&b"moved away"[..]);
        let transfer = Array::of1(&gone.buffer());
        let options = js_sys::Object::new();
        Reflect::set(&options, &"transfer".into(), &transfer).unwrap();
        let clone = get(&js_sys::global(), "structuredClone").unchecked_into::<Function>();
        clone.call2(&JsValue::NULL, &gone.buffer(), &options).unwrap();
        assert_eq!(gone.length(), 0, "the view's buffer is detached");
        let (error, message) = match JsFuture::from(sha(gone.into(), JsValue::UNDEFINED)).await {
            Ok(v) => panic!("{name}: a detached input resolved with {v:?}"),
            Err(e) => (get(&e, "name").as_string().unwrap(), get(&e, "message").as_string().unwrap()),
        };
        assert_eq!(error, "ValidationError", "{name}: {message}");
        assert!(message.contains("detached"), "{name}: {message}");
    }
    terminate(all).await;
}

/// On the main-thread fallback a call reads the caller's buffer it was given with `transfer:
/// true` where `ArrayBuffer.prototype.transfer` is missing (the caller still holds it then): if
/// the caller detaches it while the page steps through it, the call fails with a typed error —
/// neither a hash of the part read nor a trap.
#[wasm_bindgen_test]
async fn an_input_detached_while_the_page_reads_it_fails_with_a_validation_error() {
    let prototype = get(&get(&js_sys::global(), "ArrayBuffer"), "prototype");
    let transfer = get(&prototype, "transfer");
    Reflect::delete_property(prototype.unchecked_ref::<js_sys::Object>(), &"transfer".into()).unwrap();
    let b = JsFuture::from(WorkerBridge::create(obj(&[("fallback", "always".into())]))).await.unwrap();
    let b = WorkerBridge::try_from_js_value(b).unwrap();
    let input = Uint8Array::new_with_length(64 << 20);
    // Detached at the call's first progress report: it has begun its slices.
    let detach = Closure::<dyn FnMut(JsValue)>::new({
        let input = input.clone();
        move |_| {
            let buffer = input.buffer();
            if buffer.byte_length() > 0 {
                let options = js_sys::Object::new();
                Reflect::set(&options, &"transfer".into(), &Array::of1(&buffer)).unwrap();
                let clone = get(&js_sys::global(), "structuredClone").unchecked_into::<Function>();
                clone.call2(&JsValue::NULL, &buffer, &options).unwrap();
            }
        }
    });
    let options = obj(&[("transfer", true.into()), ("onProgress", detach.as_ref().clone())]);
    let outcome = JsFuture::from(b.crypto().sha256(input.clone().into(), options)).await;
    assert_eq!(input.length(), 0, "detached during the call");
    Reflect::set(&prototype, &"transfer".into(), &transfer).unwrap();
    let e = match outcome {
        Ok(v) => panic!("resolved with {v:?}"),
        Err(e) => e,
    };
    let (name, message) = (get(&e, "name").as_string().unwrap(), get(&e, "message").as_string().unwrap());
    assert_eq!(name, "ValidationError", "{message}");
    assert!(message.contains("detached"), "{message}");
    // The bridge carries on.
    let digest = value(b.crypto().sha256(bytes(b"abc"), JsValue::UNDEFINED)).await;
    assert_eq!(to_vec(digest).await, webcrypto_sha256(b"abc").await);
    JsFuture::from(b.terminate()).await.unwrap();
}

/// Settles `calls`, returning the order in which they resolved.
async fn resolution_order(calls: Vec<Promise>) -> Vec<usize> {
    let order: Rc<RefCell<Vec<usize>>> = Rc::default();
    let mut chained = Vec::new();
    for (i, call) in calls.into_iter().enumerate() {
        let order = order.clone();
        let done = Closure::<dyn FnMut(JsValue)>::new(move |_| order.borrow_mut().push(i));
        chained.push((call.then(&done), done));
    }
    for (i, (p, _done)) in chained.into_iter().enumerate() {
        JsFuture::from(p).await.unwrap_or_else(|e| panic!("call {i} rejected: {:?}", get(&e, "message")));
    }
    Rc::try_unwrap(order).unwrap().into_inner()
}

#[wasm_bindgen_test]
async fn calls_are_queued_in_call_order_while_a_large_input_is_copied() {
    let (big, _) = offset_view(64 << 20, 5);
    let blob = big_blob(1, 7);
    for options in [obj(&[("poolSize", 1.into()), ("fallback", "never".into())]), obj(&[("fallback", "always".into())])]
    {
        // One worker (or the page) runs calls in queue order: the order they resolve in.
        let b = WorkerBridge::try_from_js_value(JsFuture::from(WorkerBridge::create(options)).await.unwrap()).unwrap();
        let (c, f) = (b.crypto(), b.file());
        let (key, nonce) = (c.generate_key().unwrap(), c.generate_nonce().unwrap());
        let moved = Uint8Array::from(data(8 << 20, 6).as_slice());
        let calls = vec![
            c.sha256(big.clone().into(), JsValue::UNDEFINED), // copied in slices
            c.sha256(bytes(b"small"), JsValue::UNDEFINED),    // copied at once, queued after
            f.read_slice(blob.clone().into(), 3.0, 10.0, JsValue::UNDEFINED), // a Blob: no copy
            c.encrypt(big.clone().into(), key.into(), nonce.into(), JsValue::UNDEFINED), // slices again
            c.sha256(moved.into(), obj(&[("transfer", true.into())])), // moved: no copy
            c.sha256(bytes(b"last"), JsValue::UNDEFINED),
        ];
        assert_eq!(resolution_order(calls).await, [0, 1, 2, 3, 4, 5], "{:?}", get(&b.status(), "mode"));
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_call_aborted_or_terminated_while_its_input_is_copied_settles() {
    let (big, _) = offset_view(64 << 20, 8);
    let all = bridges().await;
    for (name, b) in &all {
        let c = b.crypto();
        let submitted = || get(&get(&b.status(), "counters"), "submitted").as_f64().unwrap();
        let before = submitted();
        let controller = AbortController::new().unwrap();
        let call = c.sha256(big.clone().into(), obj(&[("signal", controller.signal().into())]));
        let behind = c.sha256(bytes(b"behind"), JsValue::UNDEFINED);
        controller.abort();
        assert_eq!(error_name(call).await, "AbortError", "{name}");
        assert_eq!(to_vec(value(behind).await).await.len(), 32, "{name}: the call behind it runs");
        assert_eq!(submitted(), before + 1.0, "{name}: the aborted call was never queued");
        // An encryption aborted before it was queued leaves its (key, nonce) pair unused.
        let (key, nonce) = (c.generate_key().unwrap(), c.generate_nonce().unwrap());
        let controller = AbortController::new().unwrap();
        let call = c.encrypt(
            big.clone().into(),
            key.clone().into(),
            nonce.clone().into(),
            obj(&[("signal", controller.signal().into())]),
        );
        controller.abort();
        assert_eq!(error_name(call).await, "AbortError", "{name}");
        value(c.encrypt(bytes(b"the retry"), key.into(), nonce.into(), JsValue::UNDEFINED)).await;
        // Terminated while the input is copied.
        let call = c.sha256(big.clone().into(), JsValue::UNDEFINED);
        JsFuture::from(b.terminate()).await.unwrap();
        assert_eq!(error_name(call).await, "TerminatedError", "{name}");
    }
}

/// Runs `call` with long tasks watched, up to five times until one run has none; the long tasks
/// (ms) of the last run. A task the bridge makes too long recurs every run; a task stretched by a
/// loaded machine (two cores, two busy workers, the test runner, other processes) does not, or
/// not every time.
async fn long_tasks(what: &str, call: impl Fn() -> Promise) -> Vec<f64> {
    let mut seen = Vec::new();
    for run in 1..=5 {
        delay(200).await; // the test's own preparation ends first
        let watch = watch_long_tasks();
        value(call()).await;
        delay(100).await; // a long task is reported after it ends
        let stop: Function = get(&watch, "stop").unchecked_into();
        seen = Array::from(&stop.call0(&watch).unwrap()).iter().map(|d| d.as_f64().unwrap()).collect();
        if seen.is_empty() {
            break;
        }
        web_sys::console::log_1(&format!("{what}, run {run}: long tasks of {seen:?} ms").into());
    }
    seen
}

/// A call to watch, and what it is.
type Case<'a> = (&'static str, Box<dyn Fn() -> Promise + 'a>);

#[wasm_bindgen_test]
async fn the_page_has_no_long_task_while_large_inputs_are_copied_hashed_or_sealed() {
    // A responsiveness property, not a speed: each of these made tasks of 50–500 ms. The
    // worker-mode copy is checked on 128 MiB: 64 MiB copied at once took 45–75 ms, too close to
    // the 50 ms a long task must exceed to be reported.
    let size = 64usize << 20;
    let (input, plain) = offset_view(size, 13);
    if !long_tasks_reported() {
        web_sys::console::log_1(&"PerformanceObserver reports no long tasks here: not checked".into());
        return;
    }
    let (huge, huge_plain) = offset_view(2 * size, 14);
    drop((plain, huge_plain));
    let all = bridges().await;
    let key = all[0].1.crypto().generate_key().unwrap();
    let bytes_out = || obj(&[("output", "bytes".into())]);
    let sealed = value(all[0].1.crypto().encrypt_file(input.clone().into(), key.clone().into(), bytes_out())).await;
    let nonce = all[0].1.crypto().generate_nonce().unwrap();
    let one_shot = value(all[0].1.crypto().encrypt(
        input.clone().into(),
        key.clone().into(),
        nonce.clone().into(),
        JsValue::UNDEFINED,
    ))
    .await;
    // 32 MiB of one repeated line: a 64 KiB step inflates to far more than a slice's worth.
    let text = Uint8Array::from(b"the page stays free. ".repeat((32 << 20) / 21).as_slice());
    let packed = value(all[0].1.compression().gzip(text.into(), JsValue::UNDEFINED)).await;
    let mut failed = Vec::new();
    for (name, b) in &all {
        let c = b.crypto();
        let cases: Vec<Case<'_>> = if *name == "pool" {
            vec![
                (
                    "sha256 of 128 MiB (the input copied)",
                    Box::new(|| c.sha256(huge.clone().into(), JsValue::UNDEFINED)),
                ),
                (
                    "encryptFile → bytes",
                    Box::new(|| c.encrypt_file(input.clone().into(), key.clone().into(), bytes_out())),
                ),
            ]
        } else {
            vec![
                ("sha256", Box::new(|| c.sha256(input.clone().into(), JsValue::UNDEFINED))),
                (
                    "encryptFile → Blob",
                    Box::new(|| c.encrypt_file(input.clone().into(), key.clone().into(), JsValue::UNDEFINED)),
                ),
                ("decryptFile → bytes", Box::new(|| c.decrypt_file(sealed.clone(), key.clone().into(), bytes_out()))),
                (
                    "decrypt, one-shot",
                    Box::new(|| {
                        c.decrypt(one_shot.clone(), key.clone().into(), nonce.clone().into(), JsValue::UNDEFINED)
                    }),
                ),
                ("gunzip → 32 MiB", Box::new(|| b.compression().gunzip(packed.clone(), JsValue::UNDEFINED))),
            ]
        };
        for (what, call) in cases {
            let seen = long_tasks(&format!("{name}, {what}"), call).await;
            if !seen.is_empty() {
                failed.push(format!("{name}, {what}: long tasks of {seen:?} ms in each of five runs"));
            }
        }
    }
    terminate(all).await;
    assert!(failed.is_empty(), "{failed:#?}");
}

/// A large input's private copy goes back to the page once its call is done with it (from a
/// worker as `FromWorker::Spare`, on the main thread at once), and later copies are made into
/// it: every result stays intact and right — a copy shorter than the spare is read as its own
/// bytes only, and no result lies in memory a later copy writes to.
#[wasm_bindgen_test]
async fn copies_reuse_the_buffers_of_inputs_done_with_and_every_result_stays_intact() {
    const MIB: usize = 1 << 20;
    let all = bridges().await;
    for (name, b) in &all {
        let c = b.crypto();
        let echo = |input: &[u8]| b.test_op(obj(&[("kind", "echo".into())]), bytes(input), JsValue::UNDEFINED);
        let (a, small, other) = (data(3 * MIB, 1), data(2 * MIB, 2), data(MIB + MIB / 2, 3));
        WorkerBridge::spare_bytes(true);
        let a_out = Uint8Array::new(&value(echo(&a)).await);
        let kept = WorkerBridge::spare_bytes(false);
        assert!(kept >= (3 * MIB) as f64, "{name}: the 3 MiB input's buffer was kept ({kept} bytes)");

        // 2 MiB copied into the 3 MiB spare: hashed as 2 MiB, echoed as itself.
        let digest = to_vec(value(c.sha256(bytes(&small), JsValue::UNDEFINED)).await).await;
        assert_eq!(digest, webcrypto_sha256(&small).await, "{name}: sha256 of 2 MiB copied into a spare");
        let small_out = Uint8Array::new(&value(echo(&small)).await);
        let key = c.generate_key().unwrap().to_vec();
        let nonce = c.generate_nonce().unwrap().to_vec();
        let sealed = value(c.encrypt(bytes(&other), bytes(&key), bytes(&nonce), JsValue::UNDEFINED)).await;
        let sealed = to_vec(sealed).await;
        assert_eq!(webcrypto_decrypt(&key, &nonce, b"", &sealed).await, other, "{name}: encrypt of a copy in a spare");
        for _ in 0..3 {
            value(echo(&other)).await;
        }
        assert!(a_out.to_vec() == a, "{name}: the first result was written over by a later copy");
        assert!(small_out.to_vec() == small, "{name}: a later result was written over");
        let kept = WorkerBridge::spare_bytes(false);
        assert!(kept <= f64::from(256u32 << 20), "{name}: {kept} bytes kept");
    }
    terminate(all).await;
}

/// A call split across the pool keeps a copy for a retry exactly when the same call on one
/// worker would: by the whole input's length (up to 8 MiB), not by each part's. A 12 MiB gzip
/// split in two moves its parts' copies (the first goes in a 10 MiB spare, which comes back
/// whole); a 6 MiB one posts a copy of each part of its own bytes, keeping its copies for a
/// retry (the spare stays with the call). Before, the 12 MiB call's 6 MiB parts were copied
/// again as they were posted, which the one-worker call of 12 MiB never is.
#[wasm_bindgen_test]
async fn a_split_call_keeps_copies_for_a_retry_by_its_whole_inputs_length() {
    const MIB: usize = 1 << 20;
    const WINDOW: usize = 32 << 10; // the dictionary a compressed range starts with
    let b = JsFuture::from(WorkerBridge::create(obj(&[("poolSize", 2.into()), ("fallback", "never".into())])));
    let b = WorkerBridge::try_from_js_value(b.await.unwrap()).unwrap();
    let text = |len: usize| -> Vec<u8> {
        b"worker-bridge splits gzip across the pool. ".iter().copied().cycle().take(len).collect()
    };
    for (whole, spare, want) in [
        // Moved: the 10 MiB spare and the second part's own buffer come back.
        (12 * MIB, 10 * MIB, 10 * MIB + 6 * MIB + WINDOW),
        // Copied: each part's own bytes come back; the 5 MiB spare held the first part's copy.
        (6 * MIB, 5 * MIB, 3 * MIB + 3 * MIB + WINDOW),
        // 8 MiB is still kept, though its parts with the second's dictionary add up to more.
        (8 * MIB, 6 * MIB, 4 * MIB + 4 * MIB + WINDOW),
    ] {
        WorkerBridge::spare_bytes(true);
        // A copy of `spare` bytes, hashed: the worker gives its buffer back.
        value(b.crypto().sha256(bytes(&data(spare, 3)), JsValue::UNDEFINED)).await;
        assert_eq!(WorkerBridge::spare_bytes(false), spare as f64, "{whole} bytes: the spare to copy into");
        let input = text(whole);
        let packed = to_vec(value(b.compression().gzip(bytes(&input), JsValue::UNDEFINED)).await).await;
        let unpacked = value(b.compression().gunzip(bytes(&packed), obj(&[("transfer", true.into())])));
        assert!(to_vec(unpacked.await).await == input, "{whole} bytes: the split gzip round-trips");
        assert_eq!(WorkerBridge::spare_bytes(true), want as f64, "{whole} bytes: the buffers the parts came back in");
    }
    JsFuture::from(b.terminate()).await.unwrap();
}

/// Review findings: a buffer that is not the bridge's own copy never becomes a spare on the
/// page (a caller's moved buffer, or a wasm module's memory, which `transfer()` cannot detach),
/// and a copy in a larger spare travels as its own bytes when it is posted for a retry (a clone
/// copies a view's whole buffer).
#[wasm_bindgen_test]
async fn only_the_bridges_own_copies_become_spares_and_a_retryable_copy_travels_alone() {
    const MIB: usize = 1 << 20;
    let all = bridges().await;
    for (name, b) in &all {
        let c = b.crypto();
        // A wasm memory's buffer, passed with `transfer: true` on the page: it stays the memory's.
        let descriptor = obj(&[("initial", 32.into())]); // 32 pages of 64 KiB: 2 MiB
        let memory = js_sys::WebAssembly::Memory::new(descriptor.unchecked_ref()).unwrap();
        let in_memory = Uint8Array::new(&memory.buffer());
        let pattern = data(2 * MIB, 7);
        in_memory.copy_from(&pattern);
        WorkerBridge::spare_bytes(true);
        let moved = c.sha256(in_memory.clone().into(), obj(&[("transfer", true.into())]));
        let digest = JsFuture::from(moved).await;
        if name == &"main-thread" {
            assert_eq!(
                to_vec(digest.unwrap()).await,
                webcrypto_sha256(&pattern).await,
                "{name}: sha256 of wasm memory"
            );
            assert_eq!(WorkerBridge::spare_bytes(false), 0.0, "{name}: a buffer that is not a copy is not kept");
        }
        // Whatever happened to it, a later copy must not land in the memory.
        let other = data(2 * MIB, 8);
        value(c.sha256(bytes(&other), JsValue::UNDEFINED)).await;
        let now = Uint8Array::new(&memory.buffer());
        if now.length() as usize == 2 * MIB {
            assert!(now.to_vec() == pattern, "{name}: a later copy was written into the wasm memory");
        }

        if name == &"pool" {
            // sha256 is retried once by default, so inputs up to 8 MiB are posted by copy.
            WorkerBridge::spare_bytes(true);
            value(c.sha256(bytes(&data(3 * MIB, 9)), JsValue::UNDEFINED)).await;
            assert_eq!(WorkerBridge::spare_bytes(false), (3 * MIB) as f64, "{name}: the worker's copy came back");
            let two = data(2 * MIB, 10);
            let digest = to_vec(value(c.sha256(bytes(&two), JsValue::UNDEFINED)).await).await;
            assert_eq!(digest, webcrypto_sha256(&two).await, "{name}: 2 MiB copied into the 3 MiB spare");
            assert_eq!(
                WorkerBridge::spare_bytes(false),
                (2 * MIB) as f64,
                "{name}: the worker got the 2 MiB alone, not the spare's 3 MiB"
            );
        }
    }
    terminate(all).await;
}
