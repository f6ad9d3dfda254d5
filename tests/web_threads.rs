//! The threaded build (`--features threads`, run cross-origin isolated) and the single-threaded
//! one (run without isolation): `status()` says which runs and with how many threads, and large
//! calls that split across threads give the same bytes as the same calls on one thread and on
//! the main thread — the browser's DecompressionStream and WebCrypto being the references.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Reflect, Uint8Array};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::Blob;
use worker_bridge::WorkerBridge;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{data, get, obj, webcrypto_sha256};

const MIB: usize = 1 << 20;

async fn bridge(options: &[(&str, JsValue)]) -> WorkerBridge {
    let value = JsFuture::from(WorkerBridge::create(obj(options))).await.expect("create() resolves");
    WorkerBridge::try_from_js_value(value).expect("a WorkerBridge")
}

async fn bytes(p: js_sys::Promise) -> Vec<u8> {
    Uint8Array::new(&JsFuture::from(p).await.expect("the call succeeds")).to_vec()
}

fn cores() -> u32 {
    get(&get(&js_sys::global(), "navigator"), "hardwareConcurrency").as_f64().unwrap_or(2.0) as u32
}

/// Log-like text, compressible but not trivially.
fn text(len: usize) -> Vec<u8> {
    let words = ["GET ", "/api/v1/items/", "status=200 ", "status=404 ", "ms=", "alice ", "bob ", "\n"];
    let noise = data(len / 4 + 8, 77);
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(words[noise[i] as usize % words.len()].as_bytes());
        out.extend_from_slice(format!("{}", noise[i + 1]).as_bytes());
        i += 2;
    }
    out.truncate(len);
    out
}

async fn gunzip_by_the_browser(format: &str, input: &[u8]) -> Vec<u8> {
    let ctor: Function = get(&js_sys::global(), "DecompressionStream").unchecked_into();
    let transform = Reflect::construct(&ctor, &Array::of1(&format.into())).unwrap();
    let blob = Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(input))).unwrap();
    let stream = blob.stream();
    let pipe: Function = get(&stream, "pipeThrough").unchecked_into();
    let piped: web_sys::ReadableStream = pipe.call1(&stream, &transform).unwrap().unchecked_into();
    let response = web_sys::Response::new_with_opt_readable_stream(Some(&piped)).unwrap();
    Uint8Array::new(&JsFuture::from(response.array_buffer().unwrap()).await.unwrap()).to_vec()
}

#[wasm_bindgen_test]
async fn status_says_which_build_runs_with_how_many_threads_and_whether_with_simd() {
    let b = bridge(&[("fallback", "never".into())]).await;
    let status = b.status();
    let workers = Array::from(&get(&status, "workers"));
    if cfg!(feature = "threads") {
        assert_eq!(get(&status, "build").as_string().unwrap(), "threads");
        // Compiled with SIMD (threads.toml): the entry loads it only where SIMD validates.
        assert_eq!(get(&status, "simd").as_bool(), Some(true));
        let threads = get(&status, "threads").as_f64().unwrap() as u32;
        // Two per worker by default, never more workers × threads than cores.
        assert_eq!(threads, 2.min(cores()), "threads per worker");
        assert!(workers.length() * threads <= cores().max(1), "{} workers × {threads} threads", workers.length());
        // `threads: false`: the same module, no thread pools, a core kept for the page.
        let off = bridge(&[("threads", false.into()), ("fallback", "never".into())]).await;
        assert_eq!(get(&off.status(), "threads").as_f64().unwrap(), 1.0);
        JsFuture::from(off.terminate()).await.unwrap();
    } else {
        assert_eq!(get(&status, "build").as_string().unwrap(), "single");
        assert_eq!(get(&status, "threads").as_f64().unwrap(), 1.0);
        // The test builds are the plain ones; the package's SIMD variant is checked end to end.
        assert_eq!(get(&status, "simd").as_bool(), Some(false));
    }
    for w in workers.iter() {
        assert_eq!(get(&w, "threads").as_f64().unwrap(), get(&status, "threads").as_f64().unwrap());
    }
    let bad = JsFuture::from(WorkerBridge::create(obj(&[("threads", 0.into())]))).await.unwrap_err();
    assert_eq!(get(&bad, "name").as_string().unwrap(), "ValidationError");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn large_compression_gives_the_same_standard_stream_on_any_number_of_threads() {
    let input = text(5 * MIB + 12_345);
    let split = bridge(&[("fallback", "never".into())]).await;
    let one = bridge(&[("fallback", "never".into()), ("threads", false.into())]).await;
    let page = bridge(&[("fallback", "always".into())]).await;
    for (format, browser) in [("gzip", "gzip"), ("zlib", "deflate"), ("deflate", "deflate-raw")] {
        for level in [1u32, 6] {
            let options = obj(&[("level", level.into())]);
            let call = |b: &WorkerBridge| {
                let z = b.compression();
                let input: JsValue = Uint8Array::from(&input[..]).into();
                match format {
                    "gzip" => z.gzip(input, options.clone()),
                    "zlib" => z.zlib(input, options.clone()),
                    _ => z.deflate(input, options.clone()),
                }
            };
            let packed = bytes(call(&split)).await;
            assert!(packed.len() < input.len() / 2, "{format} level {level} compresses");
            assert_eq!(bytes(call(&one)).await, packed, "{format} level {level}: one thread, same bytes");
            assert_eq!(bytes(call(&page)).await, packed, "{format} level {level}: the main thread, same bytes");
            assert_eq!(
                gunzip_by_the_browser(browser, &packed).await,
                input,
                "DecompressionStream('{browser}') reads it"
            );
            let back = match format {
                "gzip" => split.compression().gunzip(Uint8Array::from(&packed[..]).into(), JsValue::UNDEFINED),
                "zlib" => split.compression().unzlib(Uint8Array::from(&packed[..]).into(), JsValue::UNDEFINED),
                _ => split.compression().inflate(Uint8Array::from(&packed[..]).into(), JsValue::UNDEFINED),
            };
            assert_eq!(bytes(back).await, input, "{format}: we read it back");
        }
    }
    for b in [split, one, page] {
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn chunk_plans_are_the_same_on_any_number_of_threads() {
    let input = data(9 * MIB + 777, 4242);
    let blob = Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(&input[..]))).unwrap();
    let split = bridge(&[("fallback", "never".into())]).await;
    let one = bridge(&[("fallback", "never".into()), ("threads", false.into())]).await;
    for chunk in [MIB, 3 * MIB + 1, 64 * 1024] {
        let options = obj(&[("chunkSize", (chunk as u32).into())]);
        let plan = |b: &WorkerBridge| JsFuture::from(b.file().chunk_plan(blob.clone().into(), options.clone()));
        let digests = |plan: JsValue| -> Vec<Vec<u8>> {
            Array::from(&plan).iter().map(|c| Uint8Array::new(&get(&c, "sha256")).to_vec()).collect()
        };
        let ours = digests(plan(&split).await.unwrap());
        assert_eq!(ours.len(), input.len().div_ceil(chunk), "{chunk}-byte chunks");
        assert_eq!(digests(plan(&one).await.unwrap()), ours, "{chunk}-byte chunks: one thread, same plan");
        for i in [0, ours.len() / 2, ours.len() - 1] {
            let piece = &input[i * chunk..((i + 1) * chunk).min(input.len())];
            assert_eq!(ours[i], webcrypto_sha256(piece).await, "chunk {i} of {chunk} bytes: WebCrypto's digest");
        }
    }
    for b in [split, one] {
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_grown_pool_gives_new_workers_only_the_threads_that_fit() {
    if !cfg!(feature = "threads") || cores() < 2 {
        return; // nothing to fit: one thread per worker already
    }
    let b = bridge(&[("fallback", "never".into()), ("poolSize", 1.into()), ("threads", cores().into())]).await;
    let threads = |b: &WorkerBridge| -> Vec<u32> {
        Array::from(&get(&b.status(), "workers")).iter().map(|w| get(&w, "threads").as_f64().unwrap() as u32).collect()
    };
    assert_eq!(threads(&b), vec![cores()], "one worker with every core");
    JsFuture::from(b.resize(2)).await.expect("resize(2)");
    for _ in 0..200 {
        if Array::from(&get(&b.status(), "workers")).iter().all(|w| get(&w, "state").as_string().unwrap() != "starting")
        {
            break;
        }
        JsFuture::from(js_sys::Promise::new(&mut |r, _| {
            web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&r, 50).unwrap();
        }))
        .await
        .unwrap();
    }
    // The cores are taken: the new worker runs on its own thread only.
    assert_eq!(threads(&b), vec![cores(), 1]);
    let packed = bytes(b.compression().gzip(Uint8Array::from(&text(2 * MIB)[..]).into(), JsValue::UNDEFINED)).await;
    assert_eq!(gunzip_by_the_browser("gzip", &packed).await, text(2 * MIB));
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn many_inputs_are_hashed_in_one_call_each_to_its_own_digest() {
    let inputs: Vec<Vec<u8>> = [0usize, 3, 70_000, 1, 2 * MIB + 5, 0, 12_345]
        .iter()
        .enumerate()
        .map(|(i, &n)| data(n, 99 + i as u32))
        .collect();
    let parts = Array::new();
    for (i, bytes) in inputs.iter().enumerate() {
        let view = Uint8Array::from(&bytes[..]);
        // Bytes and Blobs mixed.
        if i % 2 == 1 {
            parts.push(&Blob::new_with_u8_array_sequence(&Array::of1(&view)).unwrap());
        } else {
            parts.push(&view);
        }
    }
    let mut expected = Vec::new();
    for bytes in &inputs {
        expected.push(webcrypto_sha256(bytes).await);
    }
    for options in [
        vec![("fallback", JsValue::from("never"))],
        vec![("threads", false.into())],
        vec![("fallback", "always".into())],
    ] {
        let b = bridge(&options).await;
        let got = JsFuture::from(b.crypto().sha256_many(parts.clone().into(), JsValue::UNDEFINED)).await.unwrap();
        let got: Vec<Vec<u8>> = Array::from(&got).iter().map(|d| Uint8Array::new(&d).to_vec()).collect();
        assert_eq!(got, expected, "{options:?}");
        let empty = JsFuture::from(b.crypto().sha256_many(Array::new().into(), JsValue::UNDEFINED)).await.unwrap();
        assert_eq!(Array::from(&empty).length(), 0);
        for bad in [JsValue::from(5), Array::of1(&"text".into()).into()] {
            let e = JsFuture::from(b.crypto().sha256_many(bad, JsValue::UNDEFINED)).await.unwrap_err();
            assert_eq!(get(&e, "name").as_string().unwrap(), "ValidationError");
        }
        JsFuture::from(b.terminate()).await.unwrap();
    }
}
