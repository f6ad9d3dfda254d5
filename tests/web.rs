//! The bridge in a real browser: real module workers, real WebCrypto to check against.
//! `npm test` runs this file twice: cross-origin isolated (the runner's default COOP/COEP
//! headers) and not (`WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION=1`).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Object, Promise, Uint8Array};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use worker_bridge::WorkerBridge;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{data, get, obj, webcrypto_sha256};

async fn bridge(options: JsValue) -> WorkerBridge {
    let value = JsFuture::from(WorkerBridge::create(options)).await.expect("create() resolves");
    WorkerBridge::try_from_js_value(value).expect("a WorkerBridge")
}

async fn pool(size: u32) -> WorkerBridge {
    bridge(obj(&[("poolSize", size.into()), ("fallback", "never".into())])).await
}

async fn ours(bridge: &WorkerBridge, bytes: &[u8]) -> Vec<u8> {
    let out = JsFuture::from(bridge.crypto().sha256(Uint8Array::from(bytes).into(), JsValue::UNDEFINED))
        .await
        .expect("sha256 resolves");
    let out: Uint8Array = out.dyn_into().expect("a Uint8Array");
    assert_eq!(out.length(), 32);
    out.to_vec()
}

async fn error_name(promise: Promise) -> String {
    let err = match JsFuture::from(promise).await {
        Ok(v) => panic!("the call resolved with {v:?} instead of rejecting"),
        Err(err) => err,
    };
    assert!(err.is_instance_of::<js_sys::Error>(), "rejects with an Error, not {err:?}");
    get(&err, "name").as_string().unwrap()
}

fn tasks_done(bridge: &WorkerBridge) -> u32 {
    let workers: Array = get(&bridge.status(), "workers").unchecked_into();
    workers.iter().map(|w| get(&w, "tasksDone").as_f64().unwrap() as u32).sum()
}

const LENGTHS: [usize; 8] = [0, 1, 55, 56, 63, 64, 65, (1 << 20) + 3];

#[wasm_bindgen_test]
async fn sha256_in_workers_matches_webcrypto() {
    let b = pool(2).await;
    for len in LENGTHS {
        let input = data(len, 0x2545_f491);
        assert_eq!(ours(&b, &input).await, webcrypto_sha256(&input).await, "length {len}");
    }
    let status = b.status();
    assert_eq!(get(&status, "mode").as_string().unwrap(), "workers");
    assert_eq!(tasks_done(&b), LENGTHS.len() as u32, "every call ran in a worker");
    let isolated = get(&js_sys::global(), "crossOriginIsolated").is_truthy();
    assert_eq!(get(&status, "crossOriginIsolated").as_bool().unwrap(), isolated);
    let workers: Array = get(&status, "workers").unchecked_into();
    assert_eq!(workers.length(), 2);
    for w in workers.iter() {
        assert_eq!(get(&w, "state").as_string().unwrap(), "idle");
        assert_eq!(get(&w, "busy").as_bool(), Some(false));
    }
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn two_hundred_concurrent_calls_on_two_workers() {
    let b = pool(2).await;
    let inputs: Vec<Vec<u8>> = (0..200).map(|i| data(i * 37 + 1, 0x2545_f491)).collect();
    let calls = Array::new();
    for input in &inputs {
        calls.push(&b.crypto().sha256(Uint8Array::from(input.as_slice()).into(), JsValue::UNDEFINED));
    }
    // Each worker holds at most `maxInFlightPerWorker` (64 by default) small calls — here ~150 KB
    // each, under the 256 KiB a worker may hold ahead; the rest wait in the queue.
    let queued = get(&b.status(), "queued").as_f64().unwrap();
    assert_eq!(queued, 200.0 - 2.0 * 64.0, "calls beyond what the workers hold wait in the queue");
    let results: Array = JsFuture::from(Promise::all(&calls)).await.unwrap().unchecked_into();
    for (i, input) in inputs.iter().enumerate() {
        let got = Uint8Array::new(&results.get(i as u32)).to_vec();
        assert_eq!(got, webcrypto_sha256(input).await, "call {i}");
    }
    assert_eq!(tasks_done(&b), 200);
    let workers: Array = get(&b.status(), "workers").unchecked_into();
    for w in workers.iter() {
        assert!(get(&w, "tasksDone").as_f64().unwrap() > 0.0, "both workers took calls");
    }
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn main_thread_fallback_gives_identical_digests() {
    let b = bridge(obj(&[("fallback", "always".into())])).await;
    for len in LENGTHS {
        let input = data(len, 0x2545_f491);
        assert_eq!(ours(&b, &input).await, webcrypto_sha256(&input).await, "length {len}");
    }
    let status = b.status();
    assert_eq!(get(&status, "mode").as_string().unwrap(), "main-thread");
    assert_eq!(Array::from(&get(&status, "workers")).length(), 0);
    assert_eq!(get(&status, "mainThreadTasksDone").as_f64().unwrap() as usize, LENGTHS.len());
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn terminate_rejects_pending_and_later_calls() {
    for options in [obj(&[("poolSize", 1.into()), ("fallback", "never".into())]), obj(&[("fallback", "always".into())])]
    {
        let b = bridge(options).await;
        let big = Uint8Array::from(data(8 << 20, 0x2545_f491).as_slice());
        let pending: Vec<Promise> = (0..5).map(|_| b.crypto().sha256(big.clone().into(), JsValue::UNDEFINED)).collect();
        JsFuture::from(b.terminate()).await.unwrap();
        for p in pending {
            assert_eq!(error_name(p).await, "TerminatedError");
        }
        assert_eq!(error_name(b.crypto().sha256(big.into(), JsValue::UNDEFINED)).await, "TerminatedError");
        assert_eq!(get(&b.status(), "mode").as_string().unwrap(), "terminated");
    }
}

#[wasm_bindgen_test]
async fn transfer_moves_the_callers_buffer() {
    let b = pool(1).await;
    let input = data(4096, 0x2545_f491);
    let expected = webcrypto_sha256(&input).await;

    let kept = Uint8Array::from(input.as_slice());
    let out = JsFuture::from(b.crypto().sha256(kept.clone().into(), JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(Uint8Array::new(&out).to_vec(), expected);
    assert_eq!(kept.length(), 4096, "without transfer the caller keeps its buffer");

    let moved = Uint8Array::from(input.as_slice());
    let call = b.crypto().sha256(moved.clone().into(), obj(&[("transfer", true.into())]));
    assert_eq!(moved.length(), 0, "with transfer the caller's buffer is detached at once");
    assert_eq!(Uint8Array::new(&JsFuture::from(call).await.unwrap()).to_vec(), expected);

    // A view into a larger buffer hashes only the viewed bytes.
    let backing = Uint8Array::from(data(10_000, 0x2545_f491).as_slice());
    let view = backing.subarray(100, 100 + 4096);
    view.copy_from(&input);
    let out = JsFuture::from(b.crypto().sha256(view.into(), JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(Uint8Array::new(&out).to_vec(), expected);
    // An ArrayBuffer works as well as a view.
    let out = JsFuture::from(b.crypto().sha256(Uint8Array::from(input.as_slice()).buffer().into(), JsValue::UNDEFINED))
        .await
        .unwrap();
    assert_eq!(Uint8Array::new(&out).to_vec(), expected);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn bad_input_and_options_are_validation_errors() {
    let b = pool(1).await;
    for bad in [JsValue::from_str("text"), JsValue::NULL, JsValue::from(3), Object::new().into()] {
        assert_eq!(error_name(b.crypto().sha256(bad, JsValue::UNDEFINED)).await, "ValidationError");
    }
    let ok = Uint8Array::from(&b"abc"[..]);
    let typo = obj(&[("tranfser", true.into())]);
    assert_eq!(error_name(b.crypto().sha256(ok.clone().into(), typo)).await, "ValidationError");
    let bad_priority = obj(&[("priority", "urgent".into())]);
    assert_eq!(error_name(b.crypto().sha256(ok.clone().into(), bad_priority)).await, "ValidationError");
    // A detached buffer, seen through a typed array or a DataView (whose byteOffset then
    // throws): the promise rejects, nothing throws through the facade.
    let gone = Uint8Array::from(&b"secret"[..]);
    let (buffer, dead_view): (JsValue, JsValue) =
        (gone.buffer().into(), js_sys::DataView::new(&gone.buffer(), 0, 6).into());
    let _ = b.crypto().sha256(gone.clone().into(), obj(&[("transfer", true.into())]));
    for bad in [gone.clone().into(), dead_view.clone(), buffer] {
        assert_eq!(error_name(b.crypto().sha256(bad, JsValue::UNDEFINED)).await, "ValidationError");
    }
    // The refused input does not spend the key's nonce: the same key and nonce then work.
    let (key, nonce) = (Uint8Array::from(&[7u8; 32][..]), Uint8Array::from(&[9u8; 12][..]));
    let refused = b.crypto().encrypt(dead_view, key.clone().into(), nonce.clone().into(), JsValue::UNDEFINED);
    assert_eq!(error_name(refused).await, "ValidationError");
    let sealed = b.crypto().encrypt(ok.clone().into(), key.into(), nonce.into(), JsValue::UNDEFINED);
    assert_eq!(Uint8Array::new(&JsFuture::from(sealed).await.unwrap()).length(), 3 + 16);
    // The pool is unharmed.
    assert_eq!(ours(&b, b"abc").await, webcrypto_sha256(b"abc").await);
    JsFuture::from(b.terminate()).await.unwrap();

    for options in [
        obj(&[("poolSize", 0.into())]),
        obj(&[("poolSize", 1.5.into())]),
        obj(&[("fallback", "sometimes".into())]),
        obj(&[("pool_size", 2.into())]),
    ] {
        assert_eq!(error_name(WorkerBridge::create(options)).await, "ValidationError");
    }
}

#[wasm_bindgen_test]
async fn shared_is_one_bridge_until_terminated() {
    let a = JsFuture::from(WorkerBridge::shared()).await.unwrap();
    let b = JsFuture::from(WorkerBridge::shared()).await.unwrap();
    assert!(Object::is(&a, &b), "shared() returns the same bridge");
    let terminate: js_sys::Function = get(&a, "terminate").unchecked_into();
    JsFuture::from(Promise::from(terminate.call0(&a).unwrap())).await.unwrap();
    let c = JsFuture::from(WorkerBridge::shared()).await.unwrap();
    assert!(!Object::is(&a, &c), "a terminated shared bridge is replaced");
    let status: js_sys::Function = get(&c, "status").unchecked_into();
    assert_eq!(get(&status.call0(&c).unwrap(), "mode").as_string().unwrap(), "workers");
    let terminate: js_sys::Function = get(&c, "terminate").unchecked_into();
    JsFuture::from(Promise::from(terminate.call0(&c).unwrap())).await.unwrap();
}

/// Where `scheduler.postTask` is missing (Safari), turns go through a `MessageChannel`
/// (`runtime::yielding`): timers still run between turns taken back to back (not starved, as
/// `scheduler.yield()`'s prioritised continuations starved them), and callers waiting at once
/// are each resumed.
#[wasm_bindgen_test]
async fn channel_turns_let_timers_and_other_callers_run() {
    use std::cell::Cell;
    use std::rc::Rc;
    let fired = Rc::new(Cell::new(false));
    let set = fired.clone();
    let on_timer = Closure::once_into_js(move || set.set(true));
    let set_timeout: js_sys::Function =
        js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into()).unwrap().unchecked_into();
    set_timeout.call2(&JsValue::UNDEFINED, &on_timer, &0.into()).unwrap();
    let seen = fired.clone();
    let until = Closure::<dyn FnMut() -> bool>::new(move || seen.get());
    let turns = JsFuture::from(WorkerBridge::channel_turns(until.as_ref().clone().unchecked_into(), 100_000)).await;
    let turns = turns.expect("turns resolve").as_f64().unwrap();
    assert!(fired.get(), "the timer ran while turns were taken");
    assert!((1.0..100_000.0).contains(&turns), "it ran after {turns} turns");

    // Two callers taking turns at once are resumed in the order they asked: they alternate.
    let log: Rc<std::cell::RefCell<Vec<char>>> = Rc::default();
    let asks = |who: char| {
        let log = log.clone();
        Closure::<dyn FnMut() -> bool>::new(move || {
            log.borrow_mut().push(who);
            false
        })
    };
    let (a, b) = (asks('a'), asks('b'));
    let both = Array::of2(
        &WorkerBridge::channel_turns(a.as_ref().clone().unchecked_into(), 50),
        &WorkerBridge::channel_turns(b.as_ref().clone().unchecked_into(), 50),
    );
    let both: Array = JsFuture::from(Promise::all(&both)).await.expect("both resolve").unchecked_into();
    assert_eq!(both.iter().map(|t| t.as_f64().unwrap()).collect::<Vec<_>>(), [50.0, 50.0]);
    let alternating: String = "ab".repeat(50);
    assert_eq!(log.borrow().iter().collect::<String>(), alternating);
}
