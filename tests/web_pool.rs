//! The pool contract in a real browser, with the test-only ops (`--features test-ops`): timeouts,
//! cancellation, crashes and retries, progress, shared memory, scheduling, resize, hostile
//! messages. `npm test` runs it cross-origin isolated and not.
#![cfg(all(target_arch = "wasm32", feature = "test-ops"))]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Uint8Array};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::AbortController;
use worker_bridge::{SharedCancellation, SharedProgress, WorkerBridge};

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{get, obj};

fn num(v: &JsValue, key: &str) -> f64 {
    get(v, key).as_f64().unwrap_or_else(|| panic!("{key} is not a number"))
}

async fn bridge(pairs: &[(&str, JsValue)]) -> WorkerBridge {
    let mut all = vec![("fallback", JsValue::from("never"))];
    all.extend(pairs.iter().cloned());
    let value = JsFuture::from(WorkerBridge::create(obj(&all))).await.expect("create() resolves");
    WorkerBridge::try_from_js_value(value).expect("a WorkerBridge")
}

fn op(kind: &str, pairs: &[(&str, JsValue)]) -> JsValue {
    let mut all = vec![("kind", JsValue::from(kind))];
    all.extend(pairs.iter().cloned());
    obj(&all)
}

fn sleep(b: &WorkerBridge, ms: u32, options: JsValue) -> Promise {
    b.test_op(op("sleep", &[("ms", ms.into())]), Uint8Array::new_with_length(0).into(), options)
}

fn echo(b: &WorkerBridge, bytes: &[u8], options: JsValue) -> Promise {
    b.test_op(op("echo", &[]), Uint8Array::from(bytes).into(), options)
}

async fn settle(p: Promise) -> Result<JsValue, String> {
    JsFuture::from(p).await.map_err(|e| get(&e, "name").as_string().unwrap_or_else(|| format!("{e:?}")))
}

async fn delay(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Whether `p` settles within `ms` (without consuming its result).
async fn settles_within(p: &Promise, ms: i32) -> bool {
    let timer = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_1(&resolve, ms, &"late".into())
            .unwrap();
    });
    let noop = Closure::<dyn FnMut(JsValue)>::new(|_| {});
    let settled = p.then2(&noop, &noop);
    let winner = JsFuture::from(Promise::race(&Array::of2(&settled, &timer))).await.unwrap();
    winner.as_string().as_deref() != Some("late")
}

fn workers(b: &WorkerBridge) -> Vec<JsValue> {
    Array::from(&get(&b.status(), "workers")).iter().collect()
}

fn counters(b: &WorkerBridge) -> JsValue {
    get(&b.status(), "counters")
}

/// Polls `status()` until `pred` holds (at most `ms`).
async fn until(b: &WorkerBridge, ms: i32, what: &str, pred: impl Fn(&[JsValue]) -> bool) {
    let mut waited = 0;
    while !pred(&workers(b)) {
        assert!(waited < ms, "timed out waiting for {what}: {:?}", js_sys::JSON::stringify(&b.status()));
        delay(20).await;
        waited += 20;
    }
}

/// Polls `status()` until the bridge runs on the main thread (at most 10 s); how long that took.
async fn until_main_thread(b: &WorkerBridge) -> i32 {
    let mut waited = 0;
    while get(&b.status(), "mode").as_string().as_deref() != Some("main-thread") {
        assert!(waited < 10_000, "no fallback: {:?}", js_sys::JSON::stringify(&b.status()));
        delay(50).await;
        waited += 50;
    }
    waited
}

fn all_idle(n: usize) -> impl Fn(&[JsValue]) -> bool {
    move |ws| ws.len() == n && ws.iter().all(|w| get(w, "state").as_string().as_deref() == Some("idle"))
}

/// Blocks pool worker `index`'s thread for `ms` while the pool thinks it idle: a raw `stall`
/// message (a test-only op), posted past the pool's own queue.
fn stall(b: &WorkerBridge, index: u32, ms: u32) {
    let msg = format!(r#"[{{"v":2,"msg":{{"type":"stall","ms":{ms}}}}}]"#);
    b.post_raw(index, Array::of1(&Uint8Array::from(msg.as_bytes())).into()).unwrap();
}

fn ids(b: &WorkerBridge) -> Vec<u32> {
    workers(b).iter().map(|w| num(w, "id") as u32).collect()
}

#[wasm_bindgen_test]
async fn timeout_rejects_and_the_pool_returns_to_full_size_with_a_new_worker() {
    let b = bridge(&[("poolSize", 2.into())]).await;
    let before = ids(&b);
    let spin = b.test_op(
        op("spin", &[("ms", 10_000.into())]),
        Uint8Array::new_with_length(0).into(),
        obj(&[("timeoutMs", 200.into())]),
    );
    assert_eq!(settle(spin).await.unwrap_err(), "TimeoutError");
    until(&b, 10_000, "a replacement worker", all_idle(2)).await;
    let after = ids(&b);
    assert_eq!(after.len(), 2);
    assert!(after.iter().any(|id| !before.contains(id)), "a new worker id: {before:?} → {after:?}");
    assert_eq!(workers(&b).iter().map(|w| num(w, "restarts")).sum::<f64>(), 1.0);
    assert_eq!(num(&counters(&b), "timedOut"), 1.0);
    // The pool still works.
    assert_eq!(Uint8Array::new(&settle(echo(&b, b"ok", JsValue::UNDEFINED)).await.unwrap()).to_vec(), b"ok");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn abort_of_queued_and_running_calls() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let running_ctl = AbortController::new().unwrap();
    let queued_ctl = AbortController::new().unwrap();
    let running = sleep(&b, 5_000, obj(&[("signal", running_ctl.signal().into())]));
    let queued = sleep(&b, 5_000, obj(&[("signal", queued_ctl.signal().into())]));
    delay(50).await;
    assert_eq!(num(&b.status(), "queued"), 1.0);

    queued_ctl.abort();
    assert!(settles_within(&queued, 100).await, "a queued call rejects at once");
    assert_eq!(settle(queued).await.unwrap_err(), "AbortError");
    assert_eq!(num(&b.status(), "queued"), 0.0);

    let worker = ids(&b);
    running_ctl.abort();
    assert!(settles_within(&running, 250).await, "a running call rejects within the grace period");
    assert_eq!(settle(running).await.unwrap_err(), "AbortError");
    // `sleep` checks for cancellation: it stops by itself and its worker is kept.
    until(&b, 2_000, "the worker to be idle again", all_idle(1)).await;
    assert_eq!(ids(&b), worker, "a cooperative cancel does not replace the worker");
    assert_eq!(num(&counters(&b), "cancelled"), 2.0);

    // An already-aborted signal rejects before anything is queued.
    let ctl = AbortController::new().unwrap();
    ctl.abort();
    assert_eq!(settle(sleep(&b, 10, obj(&[("signal", ctl.signal().into())]))).await.unwrap_err(), "AbortError");
    assert_eq!(num(&counters(&b), "submitted"), 2.0, "the pre-aborted call was never submitted");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_spin_that_ignores_cancel_is_killed_after_the_grace_period() {
    let b = bridge(&[("poolSize", 1.into()), ("cancelGraceMs", 100.into())]).await;
    let worker = ids(&b);
    let ctl = AbortController::new().unwrap();
    let spin = b.test_op(
        op("spin", &[("ms", 20_000.into())]),
        Uint8Array::new_with_length(0).into(),
        obj(&[("signal", ctl.signal().into())]),
    );
    delay(50).await;
    ctl.abort();
    assert_eq!(settle(spin).await.unwrap_err(), "AbortError");
    until(&b, 10_000, "the spinning worker to be replaced", all_idle(1)).await;
    assert_ne!(ids(&b), worker);
    let w = &workers(&b)[0];
    assert_eq!(num(w, "restarts"), 1.0);
    assert!(get(w, "lastError").as_string().unwrap().contains("did not stop"));
    assert_eq!(Uint8Array::new(&settle(echo(&b, b"alive", JsValue::UNDEFINED)).await.unwrap()).to_vec(), b"alive");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_panic_is_retried_once_then_rejects_and_other_calls_are_unaffected() {
    let b = bridge(&[("poolSize", 2.into())]).await;
    let panic = b.test_op(op("panic", &[]), Uint8Array::new_with_length(0).into(), JsValue::UNDEFINED);
    let others: Vec<(Vec<u8>, Promise)> = (0..20u8)
        .map(|i| {
            let bytes = vec![i; 1000 + usize::from(i)];
            let p = echo(&b, &bytes, JsValue::UNDEFINED);
            (bytes, p)
        })
        .collect();
    assert_eq!(settle(panic).await.unwrap_err(), "WorkerCrashedError");
    for (bytes, p) in others {
        assert_eq!(Uint8Array::new(&settle(p).await.unwrap()).to_vec(), bytes);
    }
    let c = counters(&b);
    assert_eq!(num(&c, "retried"), 1.0);
    assert_eq!(num(&c, "failed"), 1.0);
    assert_eq!(num(&c, "completed"), 20.0);
    until(&b, 10_000, "both workers back", all_idle(2)).await;
    assert_eq!(workers(&b).iter().map(|w| num(w, "restarts")).sum::<f64>(), 2.0);
    assert!(workers(&b).iter().any(|w| get(w, "lastError").as_string().is_some_and(|e| e.contains("panic"))));

    // With retries: 0 the first crash rejects.
    let once = b.test_op(op("panic", &[]), Uint8Array::new_with_length(0).into(), obj(&[("retries", 0.into())]));
    assert_eq!(settle(once).await.unwrap_err(), "WorkerCrashedError");
    assert_eq!(num(&counters(&b), "retried"), 1.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

type Events = Rc<RefCell<Vec<(f64, f64, f64)>>>;

fn recorder() -> (Events, Closure<dyn FnMut(JsValue)>) {
    let events: Events = Rc::default();
    let sink = events.clone();
    let callback = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        sink.borrow_mut().push((num(&e, "progress"), num(&e, "done"), num(&e, "total")));
    });
    (events, callback)
}

fn check_progress(events: &[(f64, f64, f64)], min_events: usize) {
    assert!(events.len() >= min_events, "at least {min_events} events: {events:?}");
    assert!(events.windows(2).all(|w| w[0].0 <= w[1].0), "monotonic: {events:?}");
    assert!(events.iter().all(|e| (0.0..=100.0).contains(&e.0)));
    assert_eq!(events.iter().filter(|e| e.0 == 100.0).count(), 1, "exactly one 100: {events:?}");
    assert_eq!(events.last().unwrap().0, 100.0, "ends at 100");
}

#[wasm_bindgen_test]
async fn progress_is_monotonic_and_ends_with_one_100() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let (events, callback) = recorder();
    let options = obj(&[("onProgress", callback.as_ref().clone())]);
    settle(b.test_op(op("progress", &[("steps", 40.into())]), Uint8Array::new_with_length(0).into(), options))
        .await
        .unwrap();
    check_progress(&events.borrow(), 2);
    assert_eq!(events.borrow().last().unwrap().1, 40.0);

    // A byte-stream op reports bytes: 8 MiB hashed in 1 MiB chunks.
    let (events, callback) = recorder();
    let data = Uint8Array::new_with_length(8 << 20);
    settle(b.crypto().sha256(data.into(), obj(&[("onProgress", callback.as_ref().clone())]))).await.unwrap();
    // How many frames a hash spans depends on the machine; the contract does not.
    check_progress(&events.borrow(), 1);
    assert_eq!(events.borrow().last().unwrap().2, f64::from(8u32 << 20));

    // Main-thread placement keeps the same contract.
    let inline = JsFuture::from(WorkerBridge::create(obj(&[("fallback", "always".into())]))).await.unwrap();
    let inline = WorkerBridge::try_from_js_value(inline).unwrap();
    let (events, callback) = recorder();
    let options = obj(&[("onProgress", callback.as_ref().clone())]);
    settle(inline.test_op(op("progress", &[("steps", 20.into())]), Uint8Array::new_with_length(0).into(), options))
        .await
        .unwrap();
    check_progress(&events.borrow(), 2);
    JsFuture::from(inline.terminate()).await.unwrap();
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn shared_progress_is_readable_while_a_worker_runs() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let progress = SharedProgress::new(None);
    let isolated = get(&js_sys::global(), "crossOriginIsolated").is_truthy();
    assert_eq!(progress.is_shared(), isolated, "shared memory exactly when cross-origin isolated");
    let handle = JsValue::from(progress);
    let call = b.test_op(
        op("progress", &[("steps", 60.into())]),
        Uint8Array::new_with_length(0).into(),
        obj(&[("progress", handle.clone())]),
    );
    let mut seen = Vec::new();
    for _ in 0..100 {
        delay(10).await;
        let percent = num(&handle, "percent");
        seen.push(percent);
        if percent >= 100.0 {
            break;
        }
    }
    settle(call).await.unwrap();
    assert!(seen.iter().any(|&p| p > 0.0 && p < 100.0), "an intermediate value was read from the page: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "monotonic: {seen:?}");
    assert_eq!(num(&handle, "percent"), 100.0);
    assert_eq!(num(&handle, "current"), 60.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn shared_cancellation_stops_a_call() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let token = JsValue::from(SharedCancellation::new());
    let call = sleep(&b, 10_000, obj(&[("signal", token.clone())]));
    delay(50).await;
    let cancel: Function = get(&token, "cancel").unchecked_into();
    cancel.call0(&token).unwrap();
    assert_eq!(settle(call).await.unwrap_err(), "AbortError");
    assert!(get(&token, "isCancelled").as_bool().unwrap());
    let to_signal: Function = get(&token, "toAbortSignal").unchecked_into();
    let signal = to_signal.call0(&token).unwrap();
    assert!(get(&signal, "aborted").as_bool().unwrap(), "toAbortSignal of a cancelled token is aborted");
    until(&b, 2_000, "the worker idle", all_idle(1)).await;
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn five_thousand_mixed_calls_with_random_aborts_all_settle_correctly() {
    let b = bridge(&[("poolSize", 2.into())]).await;
    let mut x = 0x1234_5678u32;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let mut calls = Vec::new();
    let mut controllers = Vec::new();
    for i in 0..5_000u32 {
        let len = (rand() % 2048) as usize;
        let bytes: Vec<u8> = (0..len).map(|j| (i as usize + j) as u8).collect();
        let ctl = AbortController::new().unwrap();
        let options = obj(&[("signal", ctl.signal().into())]);
        let (p, expected) = if i % 3 == 0 {
            (b.crypto().sha256(Uint8Array::from(bytes.as_slice()).into(), options), None)
        } else {
            (echo(&b, &bytes, options), Some(bytes.clone()))
        };
        if rand() % 5 == 0 {
            controllers.push(ctl);
        }
        calls.push((bytes, expected, p));
    }
    // Abort a fifth of them, while they are queued or running.
    for ctl in &controllers {
        ctl.abort();
        if rand() % 50 == 0 {
            delay(1).await;
        }
    }
    let (mut ok, mut aborted) = (0, 0);
    for (bytes, expected, p) in calls {
        match settle(p).await {
            Ok(v) => {
                let got = Uint8Array::new(&v).to_vec();
                match expected {
                    Some(expected) => assert_eq!(got, expected),
                    None => {
                        let digest = worker_bridge::ops::run(
                            &worker_bridge::ops::Op::Sha256,
                            &bytes,
                            &FixedEnv,
                            &mut worker_bridge::ops::NoProgress,
                            &worker_bridge::ops::NeverCancel,
                        )
                        .unwrap();
                        assert_eq!(got, digest);
                    }
                }
                ok += 1;
            }
            Err(name) => {
                assert_eq!(name, "AbortError");
                aborted += 1;
            }
        }
    }
    assert_eq!(ok + aborted, 5_000);
    assert!(aborted > 0, "some aborts landed before completion");
    let c = counters(&b);
    assert_eq!(num(&c, "completed") as usize, ok);
    assert_eq!(num(&c, "cancelled") as usize, aborted);
    JsFuture::from(b.terminate()).await.unwrap();
}

/// A clock for running an op synchronously in the test itself (SHA-256 does not read it).
struct FixedEnv;

impl worker_bridge::ops::Env for FixedEnv {
    fn now_ms(&self) -> f64 {
        0.0
    }
}

#[wasm_bindgen_test]
async fn terminate_settles_running_and_queued_calls() {
    let b = bridge(&[("poolSize", 2.into())]).await;
    let calls: Vec<Promise> = (0..10).map(|_| sleep(&b, 5_000, JsValue::UNDEFINED)).collect();
    delay(50).await;
    JsFuture::from(b.terminate()).await.unwrap();
    for p in calls {
        assert_eq!(settle(p).await.unwrap_err(), "TerminatedError");
    }
    let c = counters(&b);
    assert_eq!(num(&c, "failed"), 10.0);
}

#[wasm_bindgen_test]
async fn malformed_messages_to_a_worker_are_rejected_and_it_keeps_serving() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let worker = ids(&b);
    let id = "0b9f3c1e-5a4d-4f7e-9c2b-8d1e6f0a7b3c";
    let m = |text: &str| Array::of1(&Uint8Array::from(text.as_bytes())).into();
    let garbage = [
        JsValue::NULL,
        JsValue::from(42),
        JsValue::from("request"),
        // Version 1's shape (an envelope object), and the JSON as a string: not the wire.
        obj(&[("v", 1.into()), ("msg", obj(&[("type", "ping".into()), ("seq", 1.into())]))]),
        Array::of1(&r#"[{"v":2,"msg":{"type":"ping","seq":1}}]"#.into()).into(),
        m("not json"),
        m(r#"{"v":2,"msg":{"type":"ping","seq":1}}"#),
        m(r#"[{"v":1,"msg":{"type":"ping","seq":1}}]"#),
        m(r#"[{"v":2,"msg":{"type":"request"}}]"#),
        m(&format!(r#"[{{"v":2,"msg":{{"type":"request","id":"{id}","op":{{"kind":"rm -rf"}}}}}}]"#)),
        // Well formed, but without the body it needs.
        m(&format!(r#"[{{"v":2,"msg":{{"type":"request","id":"{id}","op":{{"kind":"sha256"}}}}}}]"#)),
    ];
    for g in &garbage {
        b.post_raw(0, g.clone()).unwrap();
        let ok = settle(echo(&b, b"still here", JsValue::UNDEFINED)).await.unwrap();
        assert_eq!(Uint8Array::new(&ok).to_vec(), b"still here");
    }
    let w = &workers(&b)[0];
    assert_eq!(ids(&b), worker, "the same worker served throughout");
    assert_eq!(num(w, "restarts"), 0.0);
    let last = get(w, "lastError").as_string().unwrap_or_default();
    assert!(
        last.contains("ValidationError"),
        "the worker answered with a ValidationError: {:?}",
        js_sys::JSON::stringify(&b.status())
    );
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn priorities_and_deadlines_order_the_queue() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let order: Rc<RefCell<Vec<String>>> = Rc::default();
    let blocker = sleep(&b, 200, JsValue::UNDEFINED);
    let mut calls = Vec::new();
    let mut callbacks = Vec::new();
    for (name, options) in [
        ("low", obj(&[("priority", "low".into())])),
        ("normal", JsValue::UNDEFINED),
        ("normal-late", obj(&[("deadline", (js_sys::Date::now() + 120_000.0).into())])),
        ("normal-early", obj(&[("deadline", (js_sys::Date::now() + 60_000.0).into())])),
        ("high", obj(&[("priority", "high".into())])),
    ] {
        let log = order.clone();
        let done = Closure::<dyn FnMut(JsValue)>::new(move |_| log.borrow_mut().push(name.to_owned()));
        calls.push(echo(&b, name.as_bytes(), options).then(&done));
        callbacks.push(done);
    }
    settle(blocker).await.unwrap();
    JsFuture::from(Promise::all(&calls.into_iter().collect::<Array>())).await.unwrap();
    assert_eq!(*order.borrow(), ["high", "normal-early", "normal-late", "normal", "low"]);
    JsFuture::from(b.terminate()).await.unwrap();
}

/// A queued call whose deadline (or time limit counted from submission) passes while the page is
/// busy is not started when a worker frees up before its timer gets to run: it fails with
/// `TimeoutError`, and no worker is replaced for a time limit it was sent with already spent.
#[wasm_bindgen_test]
async fn a_call_whose_time_passed_while_the_page_was_busy_does_not_start() {
    for limit in ["deadline", "timeoutFrom"] {
        let b = bridge(&[("poolSize", 1.into())]).await;
        let worker = ids(&b);
        let first = sleep(&b, 100, JsValue::UNDEFINED);
        let options = match limit {
            "deadline" => obj(&[("deadline", (js_sys::Date::now() + 150.0).into())]),
            _ => obj(&[("timeoutMs", 150.into()), ("timeoutFrom", "submit".into())]),
        };
        let late = echo(&b, b"late", options);
        delay(30).await;
        // The page is busy past the time limit; meanwhile the first call's answer arrives,
        // queued before the limit's timer.
        let until = js_sys::Date::now() + 300.0;
        while js_sys::Date::now() < until {}
        assert_eq!(settle(late).await.unwrap_err(), "TimeoutError", "{limit}");
        assert!(settle(first).await.is_ok(), "{limit}");
        kept_its_worker(&b, worker.clone(), limit).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

/// A deadline only says when a call must start: one that started in time and whose worker then
/// crashed is retried after its deadline, not failed as if it never started.
#[wasm_bindgen_test]
async fn a_call_that_started_in_time_is_retried_after_its_deadline() {
    let b = bridge(&[("poolSize", 1.into()), ("retries", 1.into())]).await;
    let deadline = js_sys::Date::now() + 50.0;
    let panic = op("panic", &[("after_ms", 150.into())]);
    let call = b.test_op(panic, Uint8Array::new_with_length(0).into(), obj(&[("deadline", deadline.into())]));
    assert_eq!(settle(call).await.unwrap_err(), "WorkerCrashedError", "run twice, crashed twice");
    assert_eq!(num(&counters(&b), "retried"), 1.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

/// The pool still has its worker, which was never given a call it could not finish in time.
async fn kept_its_worker(b: &WorkerBridge, worker: Vec<u32>, what: &str) {
    delay(50).await;
    assert_eq!(ids(b), worker, "{what}: the worker was not replaced");
    assert_eq!(num(&workers(b)[0], "restarts"), 0.0, "{what}");
}

#[wasm_bindgen_test]
async fn a_full_queue_rejects_at_once() {
    let b = bridge(&[("poolSize", 1.into()), ("maxQueue", 2.into())]).await;
    let running = sleep(&b, 300, JsValue::UNDEFINED);
    delay(30).await;
    let queued: Vec<Promise> = (0..2).map(|_| echo(&b, b"q", JsValue::UNDEFINED)).collect();
    // The refused call's promise rejects with the reason, and nothing else rejects unseen (a
    // call's promise is settled by the pool; the refused call's is dropped unsettled).
    let unhandled = Rc::new(RefCell::new(Vec::<String>::new()));
    let seen = unhandled.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        seen.borrow_mut().push(format!("{:?}", get(&e, "reason")));
    });
    let global: web_sys::EventTarget = js_sys::global().unchecked_into();
    global.add_event_listener_with_callback("unhandledrejection", listener.as_ref().unchecked_ref()).unwrap();
    assert_eq!(settle(echo(&b, b"one too many", JsValue::UNDEFINED)).await.unwrap_err(), "QueueFullError");
    settle(running).await.unwrap();
    for p in queued {
        settle(p).await.unwrap();
    }
    delay(20).await;
    global.remove_event_listener_with_callback("unhandledrejection", listener.as_ref().unchecked_ref()).unwrap();
    assert!(unhandled.borrow().is_empty(), "unhandled rejections: {:?}", unhandled.borrow());
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn resize_grows_and_shrinks_without_losing_queued_work() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let calls: Vec<Promise> = (0..30).map(|i| sleep(&b, 20 + i, JsValue::UNDEFINED)).collect();
    JsFuture::from(b.resize(3)).await.unwrap();
    until(&b, 10_000, "three workers", |ws| ws.len() == 3).await;
    delay(100).await;
    JsFuture::from(b.resize(1)).await.unwrap();
    for p in calls {
        settle(p).await.unwrap();
    }
    until(&b, 5_000, "one idle worker", all_idle(1)).await;
    assert_eq!(num(&counters(&b), "completed"), 30.0);
    assert_eq!(settle(b.resize(0)).await.unwrap_err(), "ValidationError");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_64_mib_transfer_moves_buffers_both_ways() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let size = 64u32 << 20;
    let input = Uint8Array::new_with_length(size);
    input.fill(7, 0, size);
    let result = settle(echo_js(&b, &input, obj(&[("transfer", true.into())]))).await.unwrap();
    assert_eq!(input.byte_length(), 0, "the input was moved out, not cloned");
    let out = Uint8Array::new(&result);
    assert_eq!(out.byte_length(), size);
    assert_eq!(out.buffer().byte_length(), size, "the result owns exactly its bytes");
    assert_eq!(out.get_index(size - 1), 7);
    JsFuture::from(b.terminate()).await.unwrap();
}

fn echo_js(b: &WorkerBridge, input: &Uint8Array, options: JsValue) -> Promise {
    b.test_op(op("echo", &[]), input.clone().into(), options)
}

#[wasm_bindgen_test]
async fn health_pings_do_not_disturb_idle_workers() {
    let b = bridge(&[("poolSize", 2.into()), ("healthIntervalMs", 100.into())]).await;
    delay(600).await;
    for i in 0..20u8 {
        settle(echo(&b, &[i], JsValue::UNDEFINED)).await.unwrap();
    }
    delay(100).await;
    assert!(workers(&b).iter().all(|w| num(w, "restarts") == 0.0), "{:?}", js_sys::JSON::stringify(&b.status()));
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn seed_api_progress_tracker_and_cancellation_token() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let tracker = worker_bridge::create_progress_tracker(Some(10.0)).unwrap();
    let progress = get(&tracker, "progress");
    assert_eq!(num(&progress, "total"), 10.0);
    assert_eq!(num(&progress, "percent"), 0.0);
    let call = b.test_op(
        op("progress", &[("steps", 10.into())]),
        Uint8Array::new_with_length(0).into(),
        obj(&[("progress", progress.clone())]),
    );
    settle(call).await.unwrap();
    assert_eq!(num(&progress, "current"), 10.0);
    assert_eq!(num(&progress, "percent"), 100.0);
    let cleanup: Function = get(&tracker, "cleanup").unchecked_into();
    cleanup.call0(&JsValue::NULL).unwrap();

    let token = worker_bridge::create_cancellation_token().unwrap();
    let cancellation = get(&token, "cancellation");
    let to_signal: Function = get(&cancellation, "toAbortSignal").unchecked_into();
    let signal = to_signal.call0(&cancellation).unwrap();
    let call = sleep(&b, 10_000, obj(&[("signal", signal.clone())]));
    delay(30).await;
    let cancel: Function = get(&token, "cancel").unchecked_into();
    cancel.call0(&JsValue::NULL).unwrap();
    assert!(get(&signal, "aborted").as_bool().unwrap());
    assert_eq!(settle(call).await.unwrap_err(), "AbortError");

    let counter = worker_bridge::SharedCounter::new(Some(5));
    assert_eq!(counter.increment(None), 6);
    assert_eq!(counter.increment(Some(-2)), 4);
    assert_eq!(counter.value(), 4);
    JsFuture::from(b.terminate()).await.unwrap();
}

/// The page's `SharedArrayBuffer`, hidden until this is dropped (so a bridge made meanwhile runs
/// in message mode), and put back then even when the test fails.
struct HiddenSharedArrayBuffer(JsValue);

impl HiddenSharedArrayBuffer {
    fn hide() -> Self {
        let global: js_sys::Object = js_sys::global().unchecked_into();
        let sab = get(&global, "SharedArrayBuffer");
        assert!(js_sys::Reflect::delete_property(&global, &"SharedArrayBuffer".into()).unwrap());
        HiddenSharedArrayBuffer(sab)
    }
}

impl Drop for HiddenSharedArrayBuffer {
    fn drop(&mut self) {
        js_sys::Reflect::set(&js_sys::global(), &"SharedArrayBuffer".into(), &self.0).unwrap();
    }
}

// WebKitGTK 2.50 reports `crossOriginIsolated` under COOP/COEP and has no `SharedArrayBuffer`:
// the bridge once took the one for the other, threw allocating shared memory, and `create()`
// never settled there. Here the page's `SharedArrayBuffer` is hidden for the length of the test
// (on an isolated page, that is WebKit's case; on a plain page, the usual one).
#[wasm_bindgen_test]
async fn without_shared_array_buffer_progress_and_cancellation_are_relayed_even_if_isolated() {
    let global: js_sys::Object = js_sys::global().unchecked_into();
    let isolated = get(&global, "crossOriginIsolated").is_truthy();
    let _hidden = HiddenSharedArrayBuffer::hide();

    let b = bridge(&[("poolSize", 1.into())]).await;
    assert_eq!(get(&b.status(), "crossOriginIsolated").as_bool(), Some(isolated), "the page's own flag");
    let tracker = worker_bridge::create_progress_tracker(Some(10.0)).unwrap();
    let progress = get(&tracker, "progress");
    let call = b.test_op(
        op("progress", &[("steps", 10.into())]),
        Uint8Array::new_with_length(0).into(),
        obj(&[("progress", progress.clone())]),
    );
    settle(call).await.unwrap();
    assert_eq!(num(&progress, "current"), 10.0);
    assert_eq!(num(&progress, "percent"), 100.0);

    let token = worker_bridge::create_cancellation_token().unwrap();
    let cancellation = get(&token, "cancellation");
    let to_signal: Function = get(&cancellation, "toAbortSignal").unchecked_into();
    let signal = to_signal.call0(&cancellation).unwrap();
    let call = sleep(&b, 10_000, obj(&[("signal", signal)]));
    delay(30).await;
    let cancel: Function = get(&token, "cancel").unchecked_into();
    cancel.call0(&JsValue::NULL).unwrap();
    assert_eq!(settle(call).await.unwrap_err(), "AbortError");
    JsFuture::from(b.terminate()).await.unwrap();
}

// A long op in message mode (no shared cancel flag: `SharedArrayBuffer` hidden) lets a `Cancel`
// in at its turns (every `driver::YIELD_EVERY_MS`, taken with `scheduler.postTask` where there is
// one) and stops by itself, so its worker is kept. Were the turns lost, the Rust engine's SHA-256
// of 160 MiB (~500 ms here) would outrun the 200 ms grace and its worker be ended and replaced
// (checked by taking the turns out).
#[wasm_bindgen_test]
async fn a_long_op_in_message_mode_stops_at_its_next_turn_when_aborted() {
    let _hidden = HiddenSharedArrayBuffer::hide();

    let b = bridge(&[("poolSize", 1.into()), ("cancelGraceMs", 200.into()), ("engine", "rust".into())]).await;
    let ctl = AbortController::new().unwrap();
    let input = Uint8Array::new_with_length(160 << 20);
    let call = b.crypto().sha256(input.into(), obj(&[("signal", ctl.signal().into()), ("transfer", true.into())]));
    let busy = |ws: &[JsValue]| ws.iter().any(|w| get(w, "state").as_string().as_deref() == Some("busy"));
    until(&b, 5_000, "the hash to run", busy).await;
    let worker = ids(&b);
    delay(30).await;
    ctl.abort();
    assert_eq!(settle(call).await.unwrap_err(), "AbortError");
    until(&b, 2_000, "the worker to be idle again", all_idle(1)).await;
    assert_eq!(ids(&b), worker, "the op stopped at a turn: its worker was not ended after the grace period");
    assert_eq!(num(&counters(&b), "cancelled"), 1.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn workers_that_keep_failing_to_boot_back_off_then_fall_back_to_the_main_thread() {
    let b = bridge(&[("poolSize", 1.into()), ("fallback", "auto".into()), ("retries", 0.into())]).await;
    WorkerBridge::break_worker_boots(100);
    // Crash the only worker: every replacement now fails to boot.
    let crash = b.test_op(op("panic", &[]), Uint8Array::new_with_length(0).into(), JsValue::UNDEFINED);
    assert_eq!(settle(crash).await.unwrap_err(), "WorkerCrashedError");
    // A call made during the outage waits, then runs once the pool hands over to the main thread.
    let waiting = echo(&b, b"patience", JsValue::UNDEFINED);
    let waited = until_main_thread(&b).await;
    WorkerBridge::break_worker_boots(0);
    // Three attempts with 250 ms and 500 ms of backoff between them: it did not spin.
    assert!(waited >= 700, "gave up after {waited} ms: backoff was skipped");
    let status = b.status();
    let reason = get(&status, "fallbackReason").as_string().unwrap();
    assert!(reason.contains("failed to start"), "{reason}");
    assert_eq!(get(&Array::from(&get(&status, "workers")).get(0), "state").as_string().unwrap(), "crashed");
    assert_eq!(Uint8Array::new(&settle(waiting).await.unwrap()).to_vec(), b"patience");
    assert_eq!(Uint8Array::new(&settle(echo(&b, b"after", JsValue::UNDEFINED)).await.unwrap()).to_vec(), b"after");
    assert_eq!(num(&get(&b.status(), "counters"), "completed"), 2.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

/// The setup of the "leaving worker" tests: worker 0 runs a call that times out after 1 s, worker
/// 1 runs `second()` and, after `resize(1)`, leaves once it is done; from now on no worker boots,
/// so worker 0 is given up after its timeout. Returns the two calls' promises; the caller restores
/// `break_worker_boots(0)`.
async fn worker_0_given_up_while_worker_1_leaves(
    b: &WorkerBridge,
    second: impl FnOnce() -> Promise,
) -> (Promise, Promise) {
    until(b, 10_000, "two idle workers", all_idle(2)).await;
    // Least-busy on an idle pool: the first call goes to worker 0, the second to worker 1.
    let stuck = b.test_op(
        op("spin", &[("ms", 10_000.into())]),
        Uint8Array::new_with_length(0).into(),
        obj(&[("timeoutMs", 1_000.into())]),
    );
    let second = second();
    until(b, 5_000, "both workers busy", |ws| {
        ws.len() == 2 && ws.iter().all(|w| get(w, "busy").as_bool() == Some(true))
    })
    .await;
    // Both are busy: the newest retires after its call.
    JsFuture::from(b.resize(1)).await.unwrap();
    WorkerBridge::break_worker_boots(100);
    (stuck, second)
}

/// A worker that leaves after its call (resize) takes no queued call: when every other worker is
/// given up meanwhile, the queue must move on — here to the main thread — instead of waiting for
/// ever once the leaving worker is gone (the "no live worker" rule runs on every slot change).
#[wasm_bindgen_test]
async fn a_queue_behind_a_retiring_worker_and_given_up_ones_falls_back() {
    let b = bridge(&[("poolSize", 2.into()), ("fallback", "auto".into()), ("retries", 0.into())]).await;
    let (stuck, long) = worker_0_given_up_while_worker_1_leaves(&b, || sleep(&b, 6_000, JsValue::UNDEFINED)).await;
    let queued = echo(&b, b"queued", JsValue::UNDEFINED);
    assert_eq!(settle(stuck).await.unwrap_err(), "TimeoutError");
    settle(long).await.expect("the retiring worker finishes its call");
    let settled = settles_within(&queued, 5_000).await;
    WorkerBridge::break_worker_boots(0);
    assert!(settled, "the queued call was left behind: {:?}", js_sys::JSON::stringify(&b.status()));
    assert_eq!(Uint8Array::new(&settle(queued).await.unwrap()).to_vec(), b"queued");
    assert_eq!(get(&b.status(), "mode").as_string().as_deref(), Some("main-thread"));
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn an_idle_worker_that_stops_answering_pings_is_replaced() {
    let b = bridge(&[("poolSize", 1.into()), ("healthIntervalMs", 100.into())]).await;
    until(&b, 10_000, "an idle worker", all_idle(1)).await;
    let before = ids(&b);
    // The worker's thread blocks while the pool thinks it idle: pings go unanswered.
    stall(&b, 0, 4000);
    until(&b, 3_000, "a replacement for the silent worker", |ws| {
        ws.len() == 1
            && !before.contains(&(num(&ws[0], "id") as u32))
            && get(&ws[0], "state").as_string().as_deref() == Some("idle")
    })
    .await;
    let w = &workers(&b)[0];
    assert_eq!(num(w, "restarts"), 1.0);
    assert!(get(w, "lastError").as_string().unwrap_or_default().contains("ping"), "{:?}", js_sys::JSON::stringify(w));
    assert_eq!(Uint8Array::new(&settle(echo(&b, b"alive", JsValue::UNDEFINED)).await.unwrap()).to_vec(), b"alive");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_call_on_a_leaving_worker_can_still_be_aborted_after_the_fallback() {
    let b = bridge(&[("poolSize", 2.into()), ("fallback", "auto".into()), ("retries", 0.into())]).await;
    let controller = AbortController::new().unwrap();
    let signal = obj(&[("signal", controller.signal().into())]);
    let (stuck, long) = worker_0_given_up_while_worker_1_leaves(&b, || sleep(&b, 8_000, signal)).await;
    assert_eq!(settle(stuck).await.unwrap_err(), "TimeoutError");
    until_main_thread(&b).await;
    WorkerBridge::break_worker_boots(0);
    // The long call still runs on the leaving worker: aborting it must reach that worker.
    controller.abort();
    assert!(settles_within(&long, 1_000).await, "the abort did not reach the leaving worker's call");
    assert_eq!(settle(long).await.unwrap_err(), "AbortError");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_retried_call_of_a_leaving_worker_settles_when_no_worker_is_left() {
    let b = bridge(&[("poolSize", 2.into()), ("fallback", "never".into()), ("retries", 1.into())]).await;
    // Worker 1 dies mid-call, after worker 0 was given up: the call is retried, and with no
    // worker left that can take it, it must fail rather than wait for ever.
    let dying = || {
        b.test_op(op("panic", &[("after_ms", 4_000.into())]), Uint8Array::new_with_length(0).into(), JsValue::UNDEFINED)
    };
    let (stuck, dying) = worker_0_given_up_while_worker_1_leaves(&b, dying).await;
    assert_eq!(settle(stuck).await.unwrap_err(), "TimeoutError");
    let settled = settles_within(&dying, 10_000).await;
    WorkerBridge::break_worker_boots(0);
    assert!(settled, "the retried call was left in the queue: {:?}", js_sys::JSON::stringify(&b.status()));
    assert_eq!(settle(dying).await.unwrap_err(), "WorkerCrashedError");
    JsFuture::from(b.terminate()).await.unwrap();
}

/// Each call's name, pushed to `order` when it settles (either way).
fn tracked(
    order: &Rc<RefCell<Vec<String>>>,
    name: String,
    p: Promise,
    keep: &mut Vec<Closure<dyn FnMut(JsValue)>>,
) -> Promise {
    let (ok, err) = (order.clone(), order.clone());
    let n = name.clone();
    let on_ok = Closure::<dyn FnMut(JsValue)>::new(move |_| ok.borrow_mut().push(n.clone()));
    let on_err = Closure::<dyn FnMut(JsValue)>::new(move |_| err.borrow_mut().push(format!("{name}!")));
    let p = p.then2(&on_ok, &on_err);
    keep.extend([on_ok, on_err]);
    p
}

#[wasm_bindgen_test]
async fn pipelined_calls_keep_their_order_and_priority_still_decides_what_is_sent_next() {
    let b = bridge(&[("poolSize", 1.into()), ("maxInFlightPerWorker", 4.into())]).await;
    let order: Rc<RefCell<Vec<String>>> = Rc::default();
    let mut keep = Vec::new();
    // One task turn: the first four go to the worker at once (one message); the rest wait in
    // the queue, where the high-priority call goes first.
    let mut calls: Vec<Promise> = (0..12)
        .map(|i| tracked(&order, format!("n{i}"), echo(&b, &[i as u8; 8], JsValue::UNDEFINED), &mut keep))
        .collect();
    calls.push(tracked(&order, "high".into(), echo(&b, b"h", obj(&[("priority", "high".into())])), &mut keep));
    JsFuture::from(Promise::all(&calls.into_iter().collect::<Array>())).await.unwrap();
    let expected: Vec<String> = ["n0", "n1", "n2", "n3", "high"]
        .into_iter()
        .map(String::from)
        .chain((4..12).map(|i| format!("n{i}")))
        .collect();
    assert_eq!(*order.borrow(), expected);
    assert_eq!(num(&workers(&b)[0], "restarts"), 0.0);
    assert_eq!(num(&counters(&b), "completed"), 13.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn aborting_one_of_several_calls_in_flight_spares_its_siblings_and_the_worker() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let worker = ids(&b);
    let controller = AbortController::new().unwrap();
    let signal = obj(&[("signal", controller.signal().into())]);
    let before: Vec<Promise> = (0..5u8).map(|i| echo(&b, &[i; 4], JsValue::UNDEFINED)).collect();
    let doomed = echo(&b, b"doomed", signal);
    let after: Vec<Promise> = (5..10u8).map(|i| echo(&b, &[i; 4], JsValue::UNDEFINED)).collect();
    // Still in this task turn: the call is in flight (in the message about to be posted).
    controller.abort();
    assert_eq!(settle(doomed).await.unwrap_err(), "AbortError");
    for (i, p) in before.into_iter().chain(after).enumerate() {
        assert_eq!(Uint8Array::new(&settle(p).await.unwrap()).to_vec(), vec![i as u8; 4]);
    }
    until(&b, 5_000, "an idle worker", all_idle(1)).await;
    assert_eq!(ids(&b), worker, "the worker was not replaced");
    assert_eq!(num(&workers(&b)[0], "restarts"), 0.0);
    let c = counters(&b);
    assert_eq!((num(&c, "completed"), num(&c, "cancelled")), (10.0, 1.0));
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_crash_with_calls_in_flight_fails_the_culprit_and_runs_the_calls_behind_it_elsewhere() {
    let b = bridge(&[("poolSize", 1.into()), ("retries", 1.into())]).await;
    let panic = op("panic", &[("after_ms", 50.into()), ("short", true.into())]);
    let crash = b.test_op(panic, Uint8Array::new_with_length(0).into(), obj(&[("retries", 0.into())]));
    // Sent ahead behind the call that will crash; one even with its buffer moved in and no
    // retries: a call sent ahead is copied, not moved, and had not started.
    let behind = echo(&b, b"again", JsValue::UNDEFINED);
    let moved = Uint8Array::from(&b"moved"[..]);
    let moved = b.test_op(op("echo", &[]), moved.into(), obj(&[("transfer", true.into()), ("retries", 0.into())]));
    assert_eq!(get(&b.status(), "queued").as_f64(), Some(0.0), "every call was sent ahead");
    assert_eq!(settle(crash).await.unwrap_err(), "WorkerCrashedError");
    assert_eq!(Uint8Array::new(&settle(behind).await.unwrap()).to_vec(), b"again");
    assert_eq!(Uint8Array::new(&settle(moved).await.unwrap()).to_vec(), b"moved");
    let c = counters(&b);
    assert_eq!((num(&c, "retried"), num(&c, "failed"), num(&c, "completed")), (0.0, 1.0, 2.0), "no attempt spent");
    JsFuture::from(b.terminate()).await.unwrap();
}

/// A short call keeping the worker busy, so that the calls after it travel in one message and
/// the worker runs them back to back.
fn busy_for_100_ms(b: &WorkerBridge) -> Promise {
    let first = op("sleep", &[("ms", 100.into()), ("short", true.into())]);
    b.test_op(first, Uint8Array::new_with_length(0).into(), obj(&[("retries", 0.into())]))
}

/// A call's answer may wait in its worker for the next call's when that one is short; when the
/// next one crashes, the answers still reach the page first: the finished calls resolve and the
/// crash fails only its culprit.
#[wasm_bindgen_test]
async fn a_call_done_before_a_short_neighbour_crashed_resolves() {
    for after_ms in [0, 50] {
        let b = bridge(&[("poolSize", 1.into())]).await;
        let first = busy_for_100_ms(&b);
        let done = echo(&b, b"done", obj(&[("retries", 0.into())]));
        let panic = op("panic", &[("after_ms", after_ms.into()), ("short", true.into())]);
        let crash = b.test_op(panic, Uint8Array::new_with_length(0).into(), obj(&[("retries", 0.into())]));
        assert_eq!(get(&b.status(), "queued").as_f64(), Some(0.0), "sent ahead");
        assert!(settle(first).await.is_ok(), "{after_ms} ms");
        assert_eq!(settle(done).await.map(|v| Uint8Array::new(&v).to_vec()), Ok(b"done".to_vec()), "{after_ms} ms");
        assert_eq!(settle(crash).await.unwrap_err(), "WorkerCrashedError");
        let c = counters(&b);
        assert_eq!((num(&c, "completed"), num(&c, "failed"), num(&c, "retried")), (2.0, 1.0, 0.0), "{after_ms} ms");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

/// A call weighed short that runs long (here 1.5 s) does not hold the answer of the call before
/// it, which it would otherwise find young in the outbox: that call resolves within its own time
/// limit and the worker is left alone.
#[wasm_bindgen_test]
async fn a_short_call_that_runs_long_does_not_hold_the_answer_before_it() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let worker = ids(&b);
    let first = op("sleep", &[("ms", 100.into()), ("short", true.into())]);
    let first = b.test_op(first, Uint8Array::new_with_length(0).into(), obj(&[("timeoutMs", 400.into())]));
    let long = op("sleep", &[("ms", 1_500.into()), ("short", true.into())]);
    let long = b.test_op(long, Uint8Array::new_with_length(0).into(), obj(&[("timeoutMs", 0.into())]));
    assert_eq!(get(&b.status(), "queued").as_f64(), Some(0.0), "sent ahead");
    assert_eq!(settle(first).await.map(|_| ()), Ok(()));
    assert!(settle(long).await.is_ok());
    assert_eq!(ids(&b), worker, "the worker was not replaced");
    assert_eq!(num(&counters(&b), "completed"), 2.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_timeout_of_the_running_call_reruns_the_calls_waiting_behind_it() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let spin = op("spin", &[("ms", 5_000.into()), ("short", true.into())]);
    let stuck = b.test_op(spin, Uint8Array::new_with_length(0).into(), obj(&[("timeoutMs", 200.into())]));
    let waiting: Vec<Promise> = (0..3u8).map(|i| echo(&b, &[i; 3], JsValue::UNDEFINED)).collect();
    assert_eq!(get(&b.status(), "queued").as_f64(), Some(0.0), "every call was sent ahead");
    assert_eq!(settle(stuck).await.unwrap_err(), "TimeoutError");
    for (i, p) in waiting.into_iter().enumerate() {
        assert_eq!(Uint8Array::new(&settle(p).await.unwrap()).to_vec(), vec![i as u8; 3]);
    }
    assert_eq!(num(&counters(&b), "retried"), 0.0, "calls that never ran spend no attempt");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_busy_worker_that_hangs_is_found_without_a_timeout() {
    let b = bridge(&[("poolSize", 1.into()), ("healthIntervalMs", 100.into()), ("retries", 0.into())]).await;
    let before = ids(&b);
    // A busy loop that never yields nor steps: no pong, no heartbeat.
    let hung = b.test_op(
        op("spin", &[("ms", 20_000.into())]),
        Uint8Array::new_with_length(0).into(),
        obj(&[("timeoutMs", 0.into())]),
    );
    assert!(settles_within(&hung, 5_000).await, "the hung call was left pending");
    assert_eq!(settle(hung).await.unwrap_err(), "WorkerCrashedError");
    until(&b, 5_000, "a fresh idle worker", |ws| {
        ws.len() == 1
            && !before.contains(&(num(&ws[0], "id") as u32))
            && get(&ws[0], "state").as_string().as_deref() == Some("idle")
    })
    .await;
    assert!(get(&workers(&b)[0], "lastError").as_string().unwrap_or_default().contains("heartbeat"));
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_busy_worker_that_keeps_stepping_is_left_alone() {
    let b = bridge(&[("poolSize", 1.into()), ("healthIntervalMs", 100.into())]).await;
    let worker = ids(&b);
    // Three seconds (past the 2 s a busy worker may stay silent) of waiting in 5 ms steps, cancellable through shared memory when the page is
    // isolated (the worker parks on the flag between steps and cannot answer pings).
    let controller = AbortController::new().unwrap();
    let long = sleep(&b, 3_000, obj(&[("signal", controller.signal().into()), ("timeoutMs", 0.into())]));
    settle(long).await.expect("the busy worker was not taken for hung");
    assert_eq!(ids(&b), worker);
    assert_eq!(num(&workers(&b)[0], "restarts"), 0.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_deadline_that_passes_while_queued_rejects_without_running() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let blocker = sleep(&b, 600, JsValue::UNDEFINED);
    let now = js_sys::Date::now();
    let late = echo(&b, b"late", obj(&[("deadline", (now + 150.0).into())]));
    let in_time = echo(&b, b"in time", obj(&[("deadline", (now + 60_000.0).into())]));
    assert_eq!(settle(echo(&b, b"past", obj(&[("deadline", (now - 1.0).into())]))).await.unwrap_err(), "TimeoutError");
    assert!(settles_within(&late, 450).await, "the deadline did not expire the queued call on time");
    assert_eq!(settle(late).await.unwrap_err(), "TimeoutError");
    assert_eq!(get(&b.status(), "queued").as_f64(), Some(1.0), "the expired call left the queue");
    settle(blocker).await.unwrap();
    assert_eq!(Uint8Array::new(&settle(in_time).await.unwrap()).to_vec(), b"in time");
    // A call that started before its deadline is not stopped by it.
    let started = sleep(&b, 300, obj(&[("deadline", (js_sys::Date::now() + 100.0).into())]));
    settle(started).await.expect("a running call carries on past its deadline");
    assert_eq!(num(&workers(&b)[0], "restarts"), 0.0);
    let c = counters(&b);
    assert_eq!((num(&c, "timedOut"), num(&c, "completed")), (1.0, 3.0));
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn an_end_to_end_limit_counts_queued_time_and_the_default_does_not() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let blocker = sleep(&b, 500, JsValue::UNDEFINED);
    let from_submit = obj(&[("timeoutMs", 200.into()), ("timeoutFrom", "submit".into())]);
    let queued_too_long = echo(&b, b"x", from_submit);
    let from_start = echo(&b, b"y", obj(&[("timeoutMs", 200.into())]));
    assert!(settles_within(&queued_too_long, 450).await, "the end-to-end limit did not fire while queued");
    assert_eq!(settle(queued_too_long).await.unwrap_err(), "TimeoutError");
    settle(blocker).await.unwrap();
    assert_eq!(
        Uint8Array::new(&settle(from_start).await.unwrap()).to_vec(),
        b"y",
        "queued time is not counted by default"
    );
    assert_eq!(num(&workers(&b)[0], "restarts"), 0.0, "a call that never ran replaces no worker");
    // Running past an end-to-end limit replaces the worker, as any time limit does.
    let running = sleep(&b, 5_000, obj(&[("timeoutMs", 150.into()), ("timeoutFrom", "submit".into())]));
    assert_eq!(settle(running).await.unwrap_err(), "TimeoutError");
    until(&b, 5_000, "the replacement", |ws| ws.len() == 1 && num(&ws[0], "restarts") == 1.0).await;
    assert_eq!(settle(echo(&b, b"z", obj(&[("timeoutFrom", "later".into())]))).await.unwrap_err(), "ValidationError");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn deadlines_and_end_to_end_limits_on_the_main_thread() {
    let b = bridge(&[("fallback", "always".into())]).await;
    let blocker = sleep(&b, 500, JsValue::UNDEFINED);
    // Let it start: queued, the calls with a deadline would go first.
    delay(50).await;
    let late = echo(&b, b"late", obj(&[("deadline", (js_sys::Date::now() + 100.0).into())]));
    let limited = echo(&b, b"x", obj(&[("timeoutMs", 150.into()), ("timeoutFrom", "submit".into())]));
    assert_eq!(settle(late).await.unwrap_err(), "TimeoutError");
    assert_eq!(settle(limited).await.unwrap_err(), "TimeoutError");
    settle(blocker).await.unwrap();
    let running = sleep(&b, 3_000, obj(&[("timeoutMs", 200.into()), ("timeoutFrom", "submit".into())]));
    assert_eq!(settle(running).await.unwrap_err(), "TimeoutError");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_far_deadline_does_not_expire_a_call_at_once() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    let blocker = sleep(&b, 300, JsValue::UNDEFINED);
    // Thirty days, and 2033: past what `setTimeout` keeps (it would fire at once).
    let month = obj(&[("deadline", (js_sys::Date::now() + 30.0 * 86_400_000.0).into())]);
    let far = echo(&b, b"month", month);
    let later = echo(&b, b"2033", obj(&[("deadline", 2e12.into())]));
    settle(blocker).await.unwrap();
    assert_eq!(Uint8Array::new(&settle(far).await.unwrap()).to_vec(), b"month");
    assert_eq!(Uint8Array::new(&settle(later).await.unwrap()).to_vec(), b"2033");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_small_max_queue_refuses_no_call_a_workers_mailbox_has_room_for() {
    // 64 callers, each calling again as soon as it is answered, on one worker that holds 64:
    // the worker always has room, so `maxQueue: 2` must never refuse a call — although a busy
    // worker is topped up in bulk, its new calls waiting in the queue meanwhile.
    let b = bridge(&[("poolSize", 1.into()), ("maxQueue", 2.into()), ("maxInFlightPerWorker", 64.into())]).await;
    let run = Function::new_with_args(
        "b, lanes, calls",
        "const bytes = new Uint8Array(16);
         const refused = [];
         let issued = 0;
         const lane = async () => {
           while (issued < calls) {
             issued++;
             try { await b.__testOp({ kind: 'echo' }, bytes); } catch (e) { refused.push(e.name); }
           }
         };
         return Promise.all(Array.from({ length: lanes }, lane))
           .then(() => ({ refused, failed: b.status().counters.failed }))
           .finally(() => b.terminate());",
    );
    let b: JsValue = b.into();
    let outcome =
        JsFuture::from(Promise::from(run.call3(&JsValue::NULL, &b, &64.into(), &3000.into()).unwrap())).await.unwrap();
    let refused = Array::from(&get(&outcome, "refused"));
    assert_eq!(refused.length(), 0, "refused: {:?}", refused.slice(0, 5).to_vec());
    assert_eq!(num(&outcome, "failed"), 0.0);
}

/// The page's busy polling for this bridge's answers: `(turns so far, polling now)`.
fn awake(b: &WorkerBridge) -> (f64, bool) {
    let probe = b.awake();
    (probe.get(0).as_f64().expect("turns"), probe.get(1).as_bool().expect("polling"))
}

#[wasm_bindgen_test]
async fn the_page_polls_for_short_answers_only_and_then_sleeps() {
    let b = bridge(&[("poolSize", 1.into())]).await;
    for i in 0..50u8 {
        let out = settle(echo(&b, &[i; 16], JsValue::UNDEFINED)).await.expect("echo");
        assert_eq!(Uint8Array::new(&out).to_vec(), vec![i; 16]);
    }
    let (turns, _) = awake(&b);
    assert!(turns > 0.0, "the page polled while its calls were out");
    // Nothing is out any more: the polling stops (it may take its last queued turn).
    delay(20).await;
    let (settled, polling) = awake(&b);
    assert!(!polling, "still polling with nothing out");
    delay(50).await;
    assert_eq!(awake(&b).0, settled, "turns went on with nothing out");

    JsFuture::from(b.terminate()).await.expect("terminate");

    // A long call: polled for at most the window (200 µs), then the page sleeps until it ends.
    // A fresh bridge, whose window is whole: the echoes above may have shrunk theirs on a
    // loaded machine (a round trip past the window).
    let b = bridge(&[("poolSize", 1.into())]).await;
    let long = sleep(&b, 300, JsValue::UNDEFINED);
    delay(100).await;
    let (during, polling) = awake(&b);
    assert!(during > 0.0, "the page did not poll when the long call went out");
    assert!(!polling, "still polling 100 ms into a 300 ms call");
    delay(100).await;
    assert_eq!(awake(&b).0, during, "turns went on during a long call");
    settle(long).await.expect("sleep");
    JsFuture::from(b.terminate()).await.expect("terminate");
}

#[wasm_bindgen_test]
async fn busy_poll_us_zero_never_polls_and_the_option_is_checked() {
    let b = bridge(&[("poolSize", 1.into()), ("busyPollUs", 0.into())]).await;
    for i in 0..20u8 {
        settle(echo(&b, &[i; 16], JsValue::UNDEFINED)).await.expect("echo");
    }
    assert_eq!(awake(&b), (0.0, false));
    JsFuture::from(b.terminate()).await.expect("terminate");

    for bad in [JsValue::from(10_001), JsValue::from(-1), JsValue::from(1.5), JsValue::from("200")] {
        let created = JsFuture::from(WorkerBridge::create(obj(&[("busyPollUs", bad.clone())]))).await;
        let error = created.err().unwrap_or_else(|| panic!("busyPollUs {bad:?} accepted"));
        assert_eq!(get(&error, "name").as_string().as_deref(), Some("ValidationError"), "busyPollUs {bad:?}");
    }
}

/// The bytes of `blob`.
async fn blob_bytes(blob: &JsValue) -> Vec<u8> {
    let blob: web_sys::Blob = blob.clone().dyn_into().expect("a Blob");
    Uint8Array::new(&JsFuture::from(blob.array_buffer()).await.unwrap()).to_vec()
}

/// `ab`, a `Blob` of `cd`, `ef`: parts as a split call's output has them (a head of bytes, then
/// the workers' outputs).
fn three_parts() -> Array {
    let blob = web_sys::Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(&b"cd"[..]))).unwrap();
    Array::of3(&Uint8Array::from(&b"ab"[..]), &blob, &Uint8Array::from(&b"ef"[..]))
}

#[wasm_bindgen_test]
async fn a_split_calls_blob_output_is_joined_by_an_idle_worker() {
    let b = bridge(&[("poolSize", 2.into())]).await;
    until(&b, 10_000, "two idle workers", all_idle(2)).await;
    let joined = settle(b.join_blobs(three_parts())).await.unwrap();
    assert_eq!(blob_bytes(&joined).await, b"abcdef");
    assert_eq!(b.worker_joins(), 1, "an idle worker joined the parts");
    // A split encryptFile's Blob (header, then each worker's part) and decryptFile's.
    let c = b.crypto();
    let key = c.generate_key().unwrap();
    let plain = common::data((4 << 20) + 777, 9);
    let chunked = || obj(&[("chunkSize", 65_536.into())]);
    let sealed =
        settle(c.encrypt_file(Uint8Array::from(&plain[..]).into(), key.clone().into(), chunked())).await.unwrap();
    assert_eq!(b.worker_joins(), 2, "encryptFile's parts were joined in a worker");
    let opened = settle(c.decrypt_file(sealed, key.into(), JsValue::UNDEFINED)).await.unwrap();
    assert!(blob_bytes(&opened).await == plain, "the joined outputs round-trip");
    assert_eq!(b.worker_joins(), 3, "decryptFile's parts were joined in a worker");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_join_is_made_on_the_page_when_no_worker_is_idle_or_its_worker_hangs() {
    let b = bridge(&[("poolSize", 1.into()), ("healthIntervalMs", 100.into())]).await;
    until(&b, 10_000, "an idle worker", all_idle(1)).await;
    // Busy: the page joins at once rather than wait behind the call.
    let busy = sleep(&b, 400, JsValue::UNDEFINED);
    let joined = b.join_blobs(three_parts());
    assert!(settles_within(&joined, 200).await, "a join does not wait for a busy worker");
    assert_eq!(blob_bytes(&settle(joined).await.unwrap()).await, b"abcdef");
    settle(busy).await.unwrap();
    assert_eq!(b.worker_joins(), 0);
    until(&b, 3_000, "an idle worker", all_idle(1)).await;
    // Idle but hung: its join is dropped with the worker, and the page joins the same parts
    // (cloned, not moved, to the worker).
    let before = ids(&b);
    stall(&b, 0, 4000);
    let parts = three_parts();
    let joined = b.join_blobs(parts.clone());
    // Within the join's own time limit (2 s): the replacement, ~200 ms in, drops it.
    assert!(settles_within(&joined, 1_000).await, "the join settles once the hung worker is replaced");
    assert_eq!(blob_bytes(&settle(joined).await.unwrap()).await, b"abcdef");
    assert_eq!(Uint8Array::new(&parts.get(0)).to_vec(), b"ab", "the parts stay the caller's");
    assert_eq!(b.worker_joins(), 0, "no worker answered");
    assert_ne!(ids(&b), before, "the hung worker was replaced");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_join_its_worker_does_not_answer_in_time_is_made_on_the_page_without_health_checks() {
    let b = bridge(&[("poolSize", 1.into()), ("healthIntervalMs", 0.into())]).await;
    until(&b, 10_000, "an idle worker", all_idle(1)).await;
    // Hung while the pool thinks it idle, and no health check to replace it: the join's own
    // time limit hands the parts back to the page.
    stall(&b, 0, 5000);
    let joined = b.join_blobs(three_parts());
    assert!(!settles_within(&joined, 1_500).await, "the worker has its time");
    assert!(settles_within(&joined, 1_500).await, "then the page joins");
    assert_eq!(blob_bytes(&settle(joined).await.unwrap()).await, b"abcdef");
    // Meanwhile it gets no more joins: the next is made on the page at once.
    let next = b.join_blobs(three_parts());
    assert!(settles_within(&next, 300).await, "no join waits on a worker that let one pass its limit");
    assert_eq!(blob_bytes(&settle(next).await.unwrap()).await, b"abcdef");
    // Once its thread is free (~5 s in) the worker joins and answers, too late: nothing counts it,
    // but it has spoken, and gets joins again.
    delay(3_000).await;
    assert_eq!(b.worker_joins(), 0, "no join answered in time");
    assert_eq!(blob_bytes(&settle(b.join_blobs(three_parts())).await.unwrap()).await, b"abcdef");
    assert_eq!(b.worker_joins(), 1, "the worker joins again once it has spoken");
    assert_eq!(Uint8Array::new(&settle(echo(&b, b"alive", JsValue::UNDEFINED)).await.unwrap()).to_vec(), b"alive");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn resize_retires_a_joining_worker_after_its_join_and_sends_it_no_more() {
    let b = bridge(&[("poolSize", 2.into())]).await;
    until(&b, 10_000, "two idle workers", all_idle(2)).await;
    // Worker 1 sleeps; worker 0, idle again, is sent the join. Shrinking to one worker used to
    // stop the joining one at once, and the page joined the parts again. Now it leaves after its
    // join, before the busy one (though older) would.
    let first = sleep(&b, 20, JsValue::UNDEFINED);
    let busy = sleep(&b, 3_000, JsValue::UNDEFINED);
    settle(first).await.unwrap();
    let before = ids(&b);
    let joined = b.join_blobs(three_parts());
    JsFuture::from(b.resize(1)).await.unwrap();
    assert_eq!(ids(&b), before[1..], "the joining worker 0 is the one marked to leave");
    // It leaves: a join now is made on the page (the other worker is busy).
    let on_page = b.join_blobs(three_parts());
    assert_eq!(blob_bytes(&settle(joined).await.unwrap()).await, b"abcdef");
    assert_eq!(blob_bytes(&settle(on_page).await.unwrap()).await, b"abcdef");
    assert_eq!(b.worker_joins(), 1, "the leaving worker answered its join, and was sent no other");
    let mut waited = 0;
    while b.slot_count() > 1 {
        assert!(waited < 300, "the joining worker did not leave after its join");
        delay(10).await;
        waited += 10;
    }
    assert!(!settles_within(&busy, 0).await, "the worker that left was the joining one, not the busy one");
    settle(busy).await.unwrap();
    until(&b, 3_000, "one idle worker", all_idle(1)).await;
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_retiring_worker_whose_join_passes_its_time_limit_leaves() {
    let b = bridge(&[("poolSize", 2.into()), ("healthIntervalMs", 0.into())]).await;
    until(&b, 10_000, "two idle workers", all_idle(2)).await;
    // Least-busy on an idle pool: the sleep goes to worker 0. Worker 1 hangs while the pool
    // thinks it idle, and is sent the join.
    let busy = sleep(&b, 300, JsValue::UNDEFINED);
    stall(&b, 1, 6000);
    let before = ids(&b);
    let joined = b.join_blobs(three_parts());
    JsFuture::from(b.resize(1)).await.unwrap();
    assert_eq!(ids(&b), before[..1], "the hung joining worker 1 is the one marked to leave");
    assert_eq!(b.slot_count(), 2, "the joining worker stays for its join");
    // The join's time limit (2 s) hands the parts to the page, and the worker leaves then.
    assert!(settles_within(&joined, 3_000).await, "the page joins once the limit passes");
    assert_eq!(blob_bytes(&settle(joined).await.unwrap()).await, b"abcdef");
    assert_eq!(b.slot_count(), 1, "the hung worker left when its join's limit passed");
    assert_eq!(b.worker_joins(), 0);
    settle(busy).await.unwrap();
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_lone_blob_part_and_a_split_compress_are_not_sent_to_a_worker_to_join() {
    let one = bridge(&[("poolSize", 1.into())]).await;
    until(&one, 10_000, "an idle worker", all_idle(1)).await;
    let c = one.crypto();
    let key = c.generate_key().unwrap();
    let plain = common::data((1 << 20) + 5, 3);
    let sealed = settle(c.encrypt_file(Uint8Array::from(&plain[..]).into(), key.clone().into(), JsValue::UNDEFINED))
        .await
        .unwrap();
    assert_eq!(one.worker_joins(), 1, "the header and the one part were joined in the worker");
    let opened = settle(c.decrypt_file(sealed, key.into(), JsValue::UNDEFINED)).await.unwrap();
    assert!(blob_bytes(&opened).await == plain);
    assert_eq!(one.worker_joins(), 1, "decryptFile's one part is its output as it is");
    JsFuture::from(one.terminate()).await.unwrap();
    // A split compress's parts are bytes: cloning them to a worker would copy them on the page.
    let two = bridge(&[("poolSize", 2.into())]).await;
    until(&two, 10_000, "two idle workers", all_idle(2)).await;
    // Random bytes: their gzip is as large as they are, far over what a worker is sent to join.
    let text = common::data(9 << 20, 17);
    let blob = obj(&[("output", "blob".into())]);
    let packed = settle(two.compression().gzip(Uint8Array::from(&text[..]).into(), blob)).await.unwrap();
    assert_eq!(two.worker_joins(), 0, "a split compress is joined on the page");
    let bytes = Uint8Array::from(&blob_bytes(&packed).await[..]);
    let unpacked = settle(two.compression().gunzip(bytes.into(), JsValue::UNDEFINED)).await.unwrap();
    assert!(Uint8Array::new(&unpacked).to_vec() == text, "the joined gzip round-trips");
    JsFuture::from(two.terminate()).await.unwrap();
}
