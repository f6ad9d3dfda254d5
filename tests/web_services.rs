//! Services in a real browser, for both placements with the same test bodies: context across
//! messages, FIFO under a burst, lifecycle and its events, timeouts, failures and restarts.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Uint8Array};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use worker_bridge::{SharedCancellation, WorkerBridge};

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{get, obj};

#[wasm_bindgen(module = "/tests/services/counter.service.js")]
extern "C" {
    #[wasm_bindgen(js_name = counterServiceUrl)]
    fn counter_service_url() -> String;
}

#[wasm_bindgen(module = "/tests/services/hang.service.js")]
extern "C" {
    #[wasm_bindgen(js_name = hangServiceUrl)]
    fn hang_service_url() -> String;
}

#[wasm_bindgen(module = "/tests/services/throw.service.js")]
extern "C" {
    #[wasm_bindgen(js_name = throwServiceUrl)]
    fn throw_service_url() -> String;
}

#[wasm_bindgen(module = "/tests/services/rogue.service.js")]
extern "C" {
    #[wasm_bindgen(js_name = rogueServiceUrl)]
    fn rogue_service_url() -> String;
}

/// A bridge created with `options`, or the error `create` rejected with.
async fn bridge_with(options: JsValue) -> Result<WorkerBridge, JsValue> {
    JsFuture::from(WorkerBridge::create(options)).await.map(|b| WorkerBridge::try_from_js_value(b).unwrap())
}

async fn bridge() -> WorkerBridge {
    let b = JsFuture::from(WorkerBridge::create(obj(&[("poolSize", 1.into())]))).await.unwrap();
    WorkerBridge::try_from_js_value(b).unwrap()
}

async fn ok(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| panic!("rejected: {:?}: {:?}", get(&e, "name"), get(&e, "message")))
}

async fn err(p: Promise) -> (String, String) {
    match JsFuture::from(p).await {
        Ok(v) => panic!("resolved with {v:?}"),
        Err(e) => (get(&e, "name").as_string().unwrap_or_default(), get(&e, "message").as_string().unwrap_or_default()),
    }
}

fn service_status(b: &WorkerBridge, name: &str) -> JsValue {
    Array::from(&b.services().status()).iter().find(|s| get(s, "name").as_string().as_deref() == Some(name)).unwrap()
}

async fn delay(ms: i32) {
    let p = Promise::new(&mut |r, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&r, ms).unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

const PLACEMENTS: [&str; 2] = ["worker", "main"];

/// The same counter twice: a JavaScript handler module and its Rust twin (`test-counter`).
fn counters() -> [(&'static str, JsValue); 2] {
    [("js", counter_service_url().into()), ("rust", obj(&[("rust", "test-counter".into())]))]
}

/// Every (kind, placement) pair, for tests whose body holds for all four.
fn cases() -> Vec<(String, JsValue, &'static str)> {
    counters().into_iter().flat_map(|(kind, def)| PLACEMENTS.map(|p| (format!("{kind}/{p}"), def.clone(), p))).collect()
}

/// Polls `name`'s status (every 20 ms, at most 5 s) until `done` holds; returns that status.
async fn wait_for(b: &WorkerBridge, name: &str, what: &str, done: impl Fn(&JsValue) -> bool) -> JsValue {
    let mut waited = 0;
    loop {
        let st = service_status(b, name);
        if done(&st) {
            return st;
        }
        assert!(waited < 5000, "{what}: {:?}", js_sys::JSON::stringify(&st));
        delay(20).await;
        waited += 20;
    }
}

/// Waits until `name` has restarted at least `restarts` times and is running again.
async fn wait_for_restart(b: &WorkerBridge, name: &str, restarts: f64, label: &str) -> JsValue {
    wait_for(b, name, &format!("{label}: no restart"), |st| {
        get(st, "restarts").as_f64().unwrap() >= restarts && get(st, "state").as_string().as_deref() == Some("running")
    })
    .await
}

#[wasm_bindgen_test]
async fn context_persists_and_a_burst_is_handled_in_order() {
    for (label, definition, placement) in cases() {
        let b = bridge().await;
        let s = b.services();
        let definition = if label.starts_with("js") { obj(&[("module", definition)]) } else { definition };
        ok(s.register("counter".into(), definition, obj(&[("placement", placement.into())]))).await;
        ok(s.start("counter".into())).await;
        for i in 1..=3 {
            let reply = ok(s.send("counter".into(), obj(&[("n", i.into())]), JsValue::UNDEFINED)).await;
            assert_eq!(get(&reply, "count").as_f64(), Some(f64::from(i)), "{label}: the context persists");
            assert_eq!(get(&get(&reply, "echo"), "n").as_f64(), Some(f64::from(i)));
        }
        // 1,000 messages without awaiting: replies arrive in order.
        let burst: Vec<Promise> =
            (0..1000).map(|i| s.send("counter".into(), JsValue::from(i), JsValue::UNDEFINED)).collect();
        let replies = JsFuture::from(Promise::all(&burst.into_iter().collect::<Array>())).await.unwrap();
        for (i, reply) in Array::from(&replies).iter().enumerate() {
            assert_eq!(get(&reply, "count").as_f64(), Some(4.0 + i as f64), "{label}: FIFO at {i}");
            assert_eq!(get(&reply, "echo").as_f64(), Some(i as f64));
        }
        let st = service_status(&b, "counter");
        assert_eq!(get(&st, "state").as_string().unwrap(), "running");
        assert_eq!(get(&st, "placement").as_string().unwrap(), placement);
        assert_eq!(get(&st, "messagesHandled").as_f64(), Some(1003.0));
        assert_eq!(get(&st, "queueLength").as_f64(), Some(0.0));
        assert!(get(&st, "startedAt").as_f64().is_some());
        // Pool tasks run alongside.
        let digest = ok(b.crypto().sha256(Uint8Array::from(&b"abc"[..]).into(), JsValue::UNDEFINED)).await;
        assert_eq!(Uint8Array::new(&digest).length(), 32);
        ok(s.stop("counter".into())).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn lifecycle_rules_events_and_handler_errors() {
    for (label, definition, placement) in cases() {
        let b = bridge().await;
        let events: Rc<RefCell<Vec<(String, String, String)>>> = Rc::default();
        let log = events.clone();
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            assert_eq!(get(&e, "type").as_string().unwrap(), "event");
            let data = get(&e, "data");
            log.borrow_mut().push((
                get(&data, "name").as_string().unwrap(),
                get(&data, "from").as_string().unwrap(),
                get(&data, "to").as_string().unwrap(),
            ));
        });
        let f: Function = listener.as_ref().clone().unchecked_into();
        b.on("service_state_changed".into(), f.clone()).unwrap();
        let s = b.services();
        ok(s.register("c".into(), definition, obj(&[("placement", placement.into())]))).await;
        assert_eq!(
            err(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await.0,
            "ServiceStateError",
            "{label}: not started"
        );
        ok(s.start("c".into())).await;
        assert_eq!(err(s.start("c".into())).await.0, "ServiceStateError", "{label}: start twice");
        ok(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await;
        // A handler exception fails that message only, with its own name and message.
        let (name, message) = err(s.send("c".into(), obj(&[("op", "throw".into())]), JsValue::UNDEFINED)).await;
        assert_eq!(name, "RangeError", "{label}");
        assert!(message.contains("asked to throw at 1"), "{message}");
        assert_eq!(get(&ok(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(), Some(2.0));
        ok(s.stop("c".into())).await;
        assert_eq!(err(s.stop("c".into())).await.0, "ServiceStateError", "{label}: stop twice");
        assert_eq!(err(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await.0, "ServiceStateError");
        // Restart: a fresh context.
        ok(s.restart("c".into())).await;
        assert_eq!(
            get(&ok(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(),
            Some(1.0),
            "{label}"
        );
        assert_eq!(get(&service_status(&b, "c"), "restarts").as_f64(), Some(1.0));
        b.off("service_state_changed".into(), f);
        ok(s.stop("c".into())).await;
        let expected: Vec<(&str, &str)> = vec![
            ("uninitialized", "initializing"),
            ("initializing", "initialized"),
            ("initialized", "starting"),
            ("starting", "running"),
            ("running", "stopping"),
            ("stopping", "stopped"),
            ("stopped", "starting"),
            ("starting", "running"),
        ];
        let got: Vec<(String, String)> = events
            .borrow()
            .iter()
            .map(|(n, f, t)| {
                assert_eq!(n, "c");
                (f.clone(), t.clone())
            })
            .collect();
        assert_eq!(
            got,
            expected.iter().map(|(f, t)| (f.to_string(), t.to_string())).collect::<Vec<_>>(),
            "{label}: events in order, none after off()"
        );
        assert_eq!(Array::from(&s.list()).length(), 1);
        ok(s.unregister("c".into())).await;
        assert_eq!(Array::from(&s.list()).length(), 0);
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_service_that_does_not_start_in_time_fails() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        let options = obj(&[("placement", placement.into()), ("startTimeoutMs", 200.into())]);
        ok(s.register("hang".into(), hang_service_url().into(), options)).await;
        assert_eq!(err(s.start("hang".into())).await.0, "TimeoutError", "{placement}");
        let st = service_status(&b, "hang");
        assert_eq!(get(&st, "state").as_string().unwrap(), "failed");
        assert!(get(&st, "lastError").as_string().unwrap().contains("did not answer"));
        assert_eq!(
            err(s.register("hang".into(), hang_service_url().into(), JsValue::UNDEFINED)).await.0,
            "ValidationError",
            "duplicate name"
        );
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_service_that_does_not_stop_in_time_fails() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        let url = format!("{}?on=stop", hang_service_url());
        let options = obj(&[("placement", placement.into()), ("stopTimeoutMs", 200.into())]);
        ok(s.register("stuck".into(), url.into(), options)).await;
        ok(s.start("stuck".into())).await;
        assert_eq!(ok(s.send("stuck".into(), 7.into(), JsValue::UNDEFINED)).await.as_f64(), Some(7.0));
        let (name, message) = err(s.stop("stuck".into())).await;
        assert_eq!(name, "TimeoutError", "{placement}: {message}");
        let st = service_status(&b, "stuck");
        assert_eq!(get(&st, "state").as_string().unwrap(), "failed", "{placement}");
        assert!(get(&st, "lastError").as_string().unwrap().contains("did not answer"));
        assert_eq!(err(s.send("stuck".into(), 1.into(), JsValue::UNDEFINED)).await.0, "ServiceStateError");
        // Its host is gone (a worker is terminated); a restart starts it again in a new one.
        ok(s.restart("stuck".into())).await;
        assert_eq!(ok(s.send("stuck".into(), 8.into(), JsValue::UNDEFINED)).await.as_f64(), Some(8.0), "{placement}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_crashed_worker_service_restarts_with_fresh_state_on_failure() {
    let b = bridge().await;
    let s = b.services();
    let options = obj(&[("placement", "worker".into()), ("restart", "on-failure".into())]);
    ok(s.register("c".into(), counter_service_url().into(), options)).await;
    ok(s.register("other".into(), counter_service_url().into(), obj(&[("placement", "worker".into())]))).await;
    ok(s.start("c".into())).await;
    ok(s.start("other".into())).await;
    ok(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await;
    ok(s.send("c".into(), obj(&[("op", "crash".into())]), JsValue::UNDEFINED)).await;
    let st = wait_for_restart(&b, "c", 1.0, "worker").await;
    assert_eq!(get(&st, "restarts").as_f64(), Some(1.0));
    assert!(get(&st, "lastError").as_string().unwrap().contains("crashed"), "{:?}", get(&st, "lastError"));
    assert_eq!(
        get(&ok(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(),
        Some(1.0),
        "fresh context"
    );
    // The other service and the pool were not touched.
    assert_eq!(get(&ok(s.send("other".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(), Some(1.0));
    let digest = ok(b.crypto().sha256(Uint8Array::from(&b"abc"[..]).into(), JsValue::UNDEFINED)).await;
    assert_eq!(Uint8Array::new(&digest).length(), 32);
    ok(s.stop_all()).await;
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_json_envelope_drives_the_registry() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        ok(s.register("c".into(), counter_service_url().into(), obj(&[("placement", placement.into())]))).await;
        let request = |id: i32, action: &str, params: JsValue| {
            obj(&[("id", id.into()), ("type", "request".into()), ("action", action.into()), ("params", params)])
        };
        let data = |r: &JsValue| {
            assert_eq!(get(r, "type").as_string().unwrap(), "response");
            assert!(get(r, "error").is_undefined(), "unexpected error: {:?}", js_sys::JSON::stringify(r));
            get(r, "data")
        };
        let error_name = |r: &JsValue| get(&get(r, "error"), "name").as_string().unwrap_or_default();

        let events: Rc<RefCell<Vec<String>>> = Rc::default();
        let log = events.clone();
        let on_event = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            log.borrow_mut().push(get(&get(&e, "data"), "to").as_string().unwrap());
        });
        let on_event_fn: Function = on_event.as_ref().clone().unchecked_into();
        let sub = ok(s.handle(
            request(1, "subscribe", obj(&[("events", Array::of1(&"service_state_changed".into()).into())])),
            Some(on_event_fn.clone()),
        ))
        .await;
        assert_eq!(get(&sub, "id").as_f64(), Some(1.0));
        assert_eq!(Array::from(&get(&data(&sub), "subscribed")).length(), 1);

        let list = ok(s.handle(request(2, "list_services", JsValue::UNDEFINED), None)).await;
        assert_eq!(Array::from(&data(&list)).length(), 1);
        let started =
            ok(s.handle(request(3, "service_action", obj(&[("name", "c".into()), ("action", "start".into())])), None))
                .await;
        assert_eq!(get(&data(&started), "state").as_string().unwrap(), "running", "{placement}");
        let one = ok(s.handle(request(4, "get_service", obj(&[("name", "c".into())])), None)).await;
        assert_eq!(get(&data(&one), "placement").as_string().unwrap(), placement);
        let unsub = ok(s.handle(
            request(5, "unsubscribe", obj(&[("events", Array::of1(&"service_state_changed".into()).into())])),
            Some(on_event_fn),
        ))
        .await;
        data(&unsub);
        ok(s.handle(request(6, "service_action", obj(&[("name", "c".into()), ("action", "stop".into())])), None)).await;
        assert_eq!(
            *events.borrow(),
            ["initializing", "initialized", "starting", "running"],
            "{placement}: events until unsubscribe"
        );

        // Malformed requests get error responses, never exceptions, each with the error that names
        // what was wrong: the request's shape (ValidationError), or the service's state.
        let v = "ValidationError";
        for (bad, expected_id, expected_name) in [
            (JsValue::from("not an object"), JsValue::NULL, v),
            (
                obj(&[("id", 7.into()), ("type", "reply".into()), ("action", "list_services".into())]),
                JsValue::from(7),
                v,
            ),
            (obj(&[("id", 8.into()), ("type", "request".into())]), JsValue::from(8), v),
            (request(9, "reboot_universe", JsValue::UNDEFINED), JsValue::from(9), v),
            (request(10, "get_service", obj(&[("name", "nope".into())])), JsValue::from(10), v),
            (
                request(11, "service_action", obj(&[("name", "c".into()), ("action", "explode".into())])),
                JsValue::from(11),
                v,
            ),
            (
                request(12, "service_action", obj(&[("name", "c".into()), ("action", "stop".into())])),
                JsValue::from(12),
                "ServiceStateError",
            ),
            (
                request(13, "subscribe", obj(&[("events", Array::of1(&"everything".into()).into())])),
                JsValue::from(13),
                v,
            ),
            (
                request(14, "subscribe", obj(&[("events", Array::of1(&"service_state_changed".into()).into())])),
                JsValue::from(14),
                v,
            ),
        ] {
            let r = ok(s.handle(bad, None)).await;
            assert!(js_sys::Object::is(&get(&r, "id"), &expected_id), "{:?}", js_sys::JSON::stringify(&r));
            assert_eq!(error_name(&r), expected_name, "{placement}: {:?}", js_sys::JSON::stringify(&r));
        }
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn health_checks_report_and_an_unhealthy_service_restarts() {
    for (placement, definition, _) in cases() {
        let b = bridge().await;
        let results: Rc<RefCell<Vec<bool>>> = Rc::default();
        let log = results.clone();
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            log.borrow_mut().push(get(&get(&e, "data"), "healthy").as_bool().unwrap());
        });
        b.on("health_check_result".into(), listener.as_ref().clone().unchecked_into()).unwrap();
        let s = b.services();
        let where_ = if placement.ends_with("main") { "main" } else { "worker" };
        let options =
            obj(&[("placement", where_.into()), ("healthIntervalMs", 150.into()), ("restart", "on-failure".into())]);
        ok(s.register("c".into(), definition, options)).await;
        ok(s.start("c".into())).await;
        ok(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await;
        delay(500).await;
        assert!(results.borrow().iter().any(|&h| h), "{placement}: healthy reports arrive");
        assert!(get(&get(&service_status(&b, "c"), "lastHealth"), "healthy").as_bool().is_some());
        let restarts_before = get(&service_status(&b, "c"), "restarts").as_f64().unwrap();
        ok(s.send("c".into(), obj(&[("op", "sick".into())]), JsValue::UNDEFINED)).await;
        wait_for_restart(&b, "c", restarts_before + 1.0, &format!("{placement}, after an unhealthy check")).await;
        assert!(results.borrow().iter().any(|&h| !h), "{placement}: the unhealthy report was emitted");
        assert_eq!(
            get(&ok(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(),
            Some(1.0),
            "fresh context"
        );
        ok(s.stop("c".into())).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_panicking_rust_service_is_contained_and_restarts_with_fresh_state() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        let rust = || obj(&[("rust", "test-counter".into())]);
        let options = obj(&[("placement", placement.into()), ("restart", "on-failure".into())]);
        ok(s.register("r".into(), rust(), options)).await;
        ok(s.register("rust-other".into(), rust(), obj(&[("placement", placement.into())]))).await;
        ok(s.register("js-other".into(), counter_service_url().into(), obj(&[("placement", placement.into())]))).await;
        ok(s.start_all()).await;
        for _ in 0..2 {
            ok(s.send("r".into(), JsValue::NULL, JsValue::UNDEFINED)).await;
        }
        ok(s.send("rust-other".into(), JsValue::NULL, JsValue::UNDEFINED)).await;
        // The panicking message fails with the panic's text; a message queued behind it fails too.
        let panicking = s.send("r".into(), obj(&[("op", "panic".into())]), JsValue::UNDEFINED);
        let behind = s.send("r".into(), JsValue::NULL, JsValue::UNDEFINED);
        let (name, message) = err(panicking).await;
        assert_eq!(name, "WorkerCrashedError", "{placement}");
        assert!(message.contains("panicked at 2, as asked"), "{placement}: {message}");
        assert_eq!(err(behind).await.0, "WorkerCrashedError", "{placement}");
        let st = wait_for_restart(&b, "r", 1.0, placement).await;
        assert!(get(&st, "lastError").as_string().unwrap().contains("panicked"), "{:?}", get(&st, "lastError"));
        assert_eq!(
            get(&ok(s.send("r".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(),
            Some(1.0),
            "{placement}: fresh context"
        );
        let other = || s.send("rust-other".into(), JsValue::NULL, JsValue::UNDEFINED);
        if placement == "worker" {
            // In its own worker, the other Rust service is untouched.
            assert_eq!(get(&ok(other()).await, "count").as_f64(), Some(2.0), "the other Rust service kept its state");
        } else {
            // On the main thread, Rust services share one wasm instance of their own (never the
            // page's): the other one failed with it, and restarts in a fresh instance.
            let st = wait_for(&b, "rust-other", "the other main-placed Rust service did not fail", |st| {
                get(st, "state").as_string().as_deref() == Some("failed")
            })
            .await;
            let last_error = get(&st, "lastError").as_string().unwrap();
            assert!(last_error.contains("panicked at 2, as asked"), "{last_error}");
            ok(s.restart("rust-other".into())).await;
            assert_eq!(get(&ok(other()).await, "count").as_f64(), Some(1.0), "fresh instance, fresh context");
        }
        // The JS service beside them, the pool and the bridge's own instance are untouched.
        assert_eq!(
            get(&ok(s.send("js-other".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(),
            Some(1.0)
        );
        let digest = ok(b.crypto().sha256(Uint8Array::from(&b"abc"[..]).into(), JsValue::UNDEFINED)).await;
        assert_eq!(Uint8Array::new(&digest).to_vec()[..4], [0xba, 0x78, 0x16, 0xbf]);
        ok(s.stop_all()).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

/// Sends the test counter `op`, which fails its wasm instance without a panic; the service must
/// fail with a `WorkerCrashedError` whose message says one of `what`, and restart in a fresh
/// instance.
async fn a_fault_restarts_the_service_in_a_fresh_instance(op: &str, what: &[&str]) {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        let options = obj(&[("placement", placement.into()), ("restart", "on-failure".into())]);
        ok(s.register("a".into(), obj(&[("rust", "test-counter".into())]), options)).await;
        ok(s.start("a".into())).await;
        ok(s.send("a".into(), JsValue::NULL, JsValue::UNDEFINED)).await;
        let (name, message) = err(s.send("a".into(), obj(&[("op", op.into())]), JsValue::UNDEFINED)).await;
        assert_eq!(name, "WorkerCrashedError", "{placement}: {message}");
        assert!(what.iter().any(|w| message.contains(w)), "{placement}: {message}, expected one of {what:?}");
        wait_for_restart(&b, "a", 1.0, placement).await;
        assert_eq!(
            get(&ok(s.send("a".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(),
            Some(1.0),
            "{placement}: a fresh context"
        );
        let starts = ok(s.send("a".into(), obj(&[("op", "starts".into())]), JsValue::UNDEFINED)).await;
        assert_eq!(starts.as_f64(), Some(1.0), "{placement}: in a fresh instance");
        ok(s.stop("a".into())).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_rust_service_that_traps_without_a_panic_restarts_in_a_fresh_instance() {
    // An abort traps as an allocation failure does: no panic hook runs.
    a_fault_restarts_the_service_in_a_fresh_instance("abort", &["trapped"]).await;
}

#[wasm_bindgen_test]
async fn a_js_module_service_and_a_rust_service_side_by_side() {
    let b = bridge().await;
    let s = b.services();
    // The built-in Rust key-value store on the main thread, the JS counter in a worker, and the
    // other way round.
    ok(s.register("kv-main".into(), obj(&[("rust", "kv".into())]), obj(&[("placement", "main".into())]))).await;
    ok(s.register("kv-worker".into(), obj(&[("rust", "kv".into())]), JsValue::UNDEFINED)).await;
    ok(s.register("count-worker".into(), counter_service_url().into(), JsValue::UNDEFINED)).await;
    ok(s.register("count-main".into(), counter_service_url().into(), obj(&[("placement", "main".into())]))).await;
    ok(s.start_all()).await;
    let set = |key: &str, value: JsValue| obj(&[("op", "set".into()), ("key", key.into()), ("value", value)]);
    let get_ = |key: &str| obj(&[("op", "get".into()), ("key", key.into())]);
    for (i, kv) in ["kv-main", "kv-worker"].into_iter().enumerate() {
        let sends: Vec<Promise> = vec![
            s.send(
                kv.into(),
                set("a", obj(&[("deep", Array::of2(&1.into(), &"x".into()).into())])),
                JsValue::UNDEFINED,
            ),
            s.send("count-worker".into(), JsValue::NULL, JsValue::UNDEFINED),
            s.send(kv.into(), set("a", JsValue::from(i as u32)), JsValue::UNDEFINED),
            s.send("count-main".into(), JsValue::NULL, JsValue::UNDEFINED),
            s.send(kv.into(), get_("a"), JsValue::UNDEFINED),
            s.send(kv.into(), obj(&[("op", "keys".into())]), JsValue::UNDEFINED),
        ];
        let replies = Array::from(&JsFuture::from(Promise::all(&sends.into_iter().collect::<Array>())).await.unwrap());
        assert!(replies.get(0).is_null(), "{kv}: nothing was there");
        let previous = replies.get(2);
        assert_eq!(Array::from(&get(&previous, "deep")).get(1).as_string().unwrap(), "x", "{kv}: objects round-trip");
        assert_eq!(get(&replies.get(1), "count").as_f64(), Some(i as f64 + 1.0));
        assert_eq!(get(&replies.get(3), "count").as_f64(), Some(i as f64 + 1.0));
        assert_eq!(replies.get(4).as_f64(), Some(i as f64));
        assert_eq!(Array::from(&replies.get(5)).to_vec(), vec![JsValue::from("a")]);
        // A message the store does not understand fails alone, typed.
        let (name, message) = err(s.send(kv.into(), obj(&[("op", "explode".into())]), JsValue::UNDEFINED)).await;
        assert_eq!(name, "ValidationError", "{kv}: {message}");
        assert!(message.contains("explode"), "{message}");
        assert_eq!(ok(s.send(kv.into(), obj(&[("op", "size".into())]), JsValue::UNDEFINED)).await.as_f64(), Some(1.0));
    }
    let st = Array::from(&s.status());
    let placements: Vec<String> = st.iter().map(|x| get(&x, "placement").as_string().unwrap()).collect();
    assert_eq!(placements, ["main", "worker", "worker", "main"]);
    assert_eq!(
        err(s.register("nope".into(), obj(&[("rust", "no-such-service".into())]), JsValue::UNDEFINED)).await.0,
        "ValidationError"
    );
    // terminate() ends the services with the pool: a reply still owed fails, nothing restarts.
    let owed = s.send("count-worker".into(), JsValue::NULL, JsValue::UNDEFINED);
    JsFuture::from(b.terminate()).await.unwrap();
    assert_eq!(err(owed).await.0, "TerminatedError");
    assert_eq!(err(s.start("kv-main".into())).await.0, "TerminatedError");
    assert_eq!(err(s.send("kv-worker".into(), JsValue::NULL, JsValue::UNDEFINED)).await.0, "TerminatedError");
}

#[cfg(feature = "test-ops")]
#[wasm_bindgen_test]
async fn subscribe_returns_its_unsubscribe_and_the_bridge_reports_workers_and_the_registry() {
    let b = bridge().await;
    let seen: Rc<RefCell<Vec<(String, JsValue)>>> = Rc::default();
    let log = seen.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        assert_eq!(get(&e, "type").as_string().unwrap(), "event");
        log.borrow_mut().push((get(&e, "event").as_string().unwrap(), get(&e, "data")));
    });
    let f: Function = listener.as_ref().clone().unchecked_into();
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(b.subscribe(names(&["worker_state_changed", "nonsense"]), f.clone()).is_err(), "unknown names are refused");
    assert!(b.on("nonsense".into(), f.clone()).is_err());
    let unsubscribe =
        b.subscribe(names(&["worker_state_changed", "registry_loaded", "service_state_changed"]), f).unwrap();

    // A pool worker that panics: busy → crashed, then its replacement starts and becomes idle.
    let panic = obj(&[("kind", "panic".into())]);
    let _ = JsFuture::from(b.test_op(panic, Uint8Array::new_with_length(0).into(), JsValue::UNDEFINED)).await;
    let mut waited = 0;
    while !seen.borrow().iter().any(|(e, d)| e == "worker_state_changed" && get(d, "to").as_string().unwrap() == "idle")
    {
        assert!(waited < 5000, "no replacement worker became idle");
        delay(20).await;
        waited += 20;
    }
    let moves: Vec<(String, String)> = seen
        .borrow()
        .iter()
        .filter(|(e, _)| e == "worker_state_changed")
        .map(|(_, d)| {
            assert_eq!(get(d, "kind").as_string().unwrap(), "pool");
            assert!(get(d, "worker").as_f64().is_some());
            (get(d, "from").as_string().unwrap(), get(d, "to").as_string().unwrap())
        })
        .collect();
    let at = moves.iter().position(|m| m == &("busy".to_string(), "crashed".to_string())).expect("busy → crashed");
    assert!(moves[at..].contains(&("none".into(), "starting".into())), "{moves:?}");
    assert!(moves[at..].contains(&("starting".into(), "idle".into())), "{moves:?}");
    let crashed =
        seen.borrow().iter().find(|(_, d)| get(d, "to").as_string().as_deref() == Some("crashed")).unwrap().1.clone();
    assert!(get(&crashed, "reason").as_string().unwrap().contains("panic"), "{:?}", get(&crashed, "reason"));

    // A configuration loads all or nothing, then `registry_loaded`.
    let s = b.services();
    let entry = |name: &str, extra: (&str, JsValue)| obj(&[("name", name.into()), extra]);
    let bad = Array::of2(
        &entry("kv", ("rust", "kv".into())),
        &obj(&[("name", "c".into()), ("module", counter_service_url().into()), ("placement", "moon".into())]),
    );
    assert_eq!(err(s.load(bad.into())).await.0, "ValidationError");
    assert_eq!(Array::from(&s.list()).length(), 0, "nothing registered from a bad configuration");
    let good = Array::of2(
        &obj(&[("name", "kv".into()), ("rust", "kv".into()), ("placement", "main".into())]),
        &obj(&[("name", "c".into()), ("module", counter_service_url().into()), ("restart", "on-failure".into())]),
    );
    let loaded = ok(s.load(good.into())).await;
    assert_eq!(Array::from(&loaded).to_vec(), vec![JsValue::from("kv"), JsValue::from("c")]);
    // The first `registry_loaded` was the snapshot a new subscriber gets: the registry empty then.
    let loads: Vec<JsValue> =
        seen.borrow().iter().filter(|(e, _)| e == "registry_loaded").map(|(_, d)| d.clone()).collect();
    assert_eq!(loads.len(), 2, "the snapshot, then the load");
    assert_eq!(get(&loads[0], "initial"), JsValue::TRUE);
    assert_eq!(Array::from(&get(&loads[0], "services")).length(), 0);
    assert_eq!(Array::from(&get(&loads[1], "services")).length(), 2);
    assert!(get(&loads[1], "initial").is_undefined());
    assert_eq!(get(&service_status(&b, "kv"), "placement").as_string().unwrap(), "main");

    // After unsubscribing (twice is harmless), nothing more arrives.
    unsubscribe.call0(&JsValue::UNDEFINED).unwrap();
    unsubscribe.call0(&JsValue::UNDEFINED).unwrap();
    let count = seen.borrow().len();
    ok(s.start("kv".into())).await;
    ok(s.stop("kv".into())).await;
    assert_eq!(seen.borrow().len(), count, "no events after unsubscribe");
    JsFuture::from(b.terminate()).await.unwrap();
}

/// The page's origin, as the test runner serves it.
fn page_origin() -> String {
    get(&get(&js_sys::global(), "location"), "origin").as_string().unwrap()
}

/// The rejection of `p`, whole (name, message and stack are read from it).
async fn rejection(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => panic!("resolved with {v:?}"),
        Err(e) => e,
    }
}

fn text(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_default()
}

/// A listener that logs `service_state_changed` as (from, to, reason, time in ms).
type Moves = Rc<RefCell<Vec<(String, String, String, f64)>>>;

fn log_moves(b: &WorkerBridge) -> (Moves, Closure<dyn FnMut(JsValue)>) {
    let moves: Moves = Rc::default();
    let log = moves.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        let data = get(&e, "data");
        let (from, to, reason) = (text(&data, "from"), text(&data, "to"), text(&data, "reason"));
        log.borrow_mut().push((from, to, reason, js_sys::Date::now()));
    });
    b.on("service_state_changed".into(), listener.as_ref().clone().unchecked_into()).unwrap();
    (moves, listener)
}

// Issue "Hardening", 1: a handler module runs with the page's privileges (in a worker too), so
// only same-origin http(s) modules are accepted, plus the origins the app lists.
#[wasm_bindgen_test]
async fn module_urls_are_accepted_from_the_page_origin_and_the_listed_origins_only() {
    let b = bridge().await;
    let s = b.services();
    let origin = page_origin();
    for url in [
        "data:text/javascript,export function onMessage(m) { return m; }".to_string(),
        format!("blob:{origin}/6f1c2a9e-0000-4000-8000-000000000000"),
        "https://cdn.example.com/counter.service.js".to_string(),
        "javascript:void 0".to_string(),
    ] {
        let (name, message) =
            err(s.register("x".into(), obj(&[("module", url.as_str().into())]), JsValue::UNDEFINED)).await;
        assert_eq!(name, "ValidationError", "{url}: {message}");
    }
    assert_eq!(Array::from(&s.list()).length(), 0, "nothing registered");
    // The page's own origin, absolute or relative.
    ok(s.register("same".into(), counter_service_url().into(), JsValue::UNDEFINED)).await;
    ok(s.register("relative".into(), "./x.service.js".into(), JsValue::UNDEFINED)).await;
    // A configuration from a file or a remote: all or nothing.
    let config = Array::of2(
        &obj(&[("name", "a".into()), ("module", counter_service_url().into())]),
        &obj(&[("name", "b".into()), ("module", "https://cdn.example.com/b.js".into())]),
    );
    assert_eq!(err(s.load(config.into())).await.0, "ValidationError");
    assert_eq!(Array::from(&s.list()).length(), 2, "load added nothing");
    JsFuture::from(b.terminate()).await.unwrap();

    // Origins the app lists are accepted too; a different scheme or host is another origin.
    let listed =
        obj(&[("poolSize", 1.into()), ("serviceOrigins", Array::of1(&"https://cdn.example.com".into()).into())]);
    let b = bridge_with(listed).await.unwrap_or_else(|e| panic!("create: {:?}", get(&e, "message")));
    let s = b.services();
    ok(s.register("cdn".into(), "https://cdn.example.com/lib/counter.service.js".into(), JsValue::UNDEFINED)).await;
    ok(s.register("same".into(), counter_service_url().into(), JsValue::UNDEFINED)).await;
    for url in ["http://cdn.example.com/x.js", "https://evil.example.com/x.js", "https://cdn.example.com:8443/x.js"] {
        assert_eq!(err(s.register("x".into(), url.into(), JsValue::UNDEFINED)).await.0, "ValidationError", "{url}");
    }
    JsFuture::from(b.terminate()).await.unwrap();

    // An entry must be an origin.
    for bad in ["https://cdn.example.com/lib/", "cdn.example.com", "*", "ftp://cdn.example.com", "https://"] {
        let options = obj(&[("serviceOrigins", Array::of1(&bad.into()).into())]);
        let e = bridge_with(options).await.unwrap_err();
        assert_eq!(text(&e, "name"), "ValidationError", "{bad}: {}", text(&e, "message"));
    }
}

// Issue "Hardening", 2: a stop that fails (it times out, or onStop throws) is final.
#[wasm_bindgen_test]
async fn a_failed_stop_is_final_even_with_restart_on_failure() {
    for placement in PLACEMENTS {
        for url in [format!("{}?on=stop", hang_service_url()), format!("{}?on=stop", throw_service_url())] {
            let b = bridge().await;
            let s = b.services();
            let options = obj(&[
                ("placement", placement.into()),
                ("stopTimeoutMs", 200.into()),
                ("restart", "on-failure".into()),
            ]);
            ok(s.register("s".into(), url.as_str().into(), options)).await;
            ok(s.start("s".into())).await;
            err(s.stop("s".into())).await;
            delay(1000).await; // longer than the back-off before a first automatic restart
            let st = service_status(&b, "s");
            assert_eq!(text(&st, "state"), "failed", "{placement} {url}: a failed stop is not restarted");
            assert_eq!(get(&st, "restarts").as_f64(), Some(0.0), "{placement} {url}");
            JsFuture::from(b.terminate()).await.unwrap();
        }
    }
}

// Issue "Hardening", 2: manual restarts are counted apart from the automatic restart budget.
#[wasm_bindgen_test]
async fn manual_restarts_do_not_spend_the_automatic_restart_budget() {
    let b = bridge().await;
    let s = b.services();
    let options = obj(&[("placement", "worker".into()), ("restart", "on-failure".into()), ("maxRestarts", 1.into())]);
    ok(s.register("c".into(), counter_service_url().into(), options)).await;
    ok(s.start("c".into())).await;
    for _ in 0..3 {
        ok(s.restart("c".into())).await;
    }
    ok(s.send("c".into(), obj(&[("op", "crash".into())]), JsValue::UNDEFINED)).await;
    let st = wait_for_restart(&b, "c", 4.0, "a crash after three manual restarts").await;
    assert_eq!(get(&st, "restarts").as_f64(), Some(4.0), "manual and automatic");
    assert_eq!(get(&st, "autoRestarts").as_f64(), Some(1.0), "automatic only");
    ok(s.stop("c".into())).await;
    JsFuture::from(b.terminate()).await.unwrap();
}

// Issue "Hardening", 2: automatic restarts back off (250 ms, doubling), and a spent budget gives
// up: failed → stopped, announced.
#[wasm_bindgen_test]
async fn a_service_that_keeps_failing_backs_off_and_then_gives_up() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let (moves, _listener) = log_moves(&b);
        let s = b.services();
        let url = format!("{}?on=start", throw_service_url());
        let options =
            obj(&[("placement", placement.into()), ("restart", "on-failure".into()), ("maxRestarts", 2.into())]);
        ok(s.register("f".into(), url.into(), options)).await;
        err(s.start("f".into())).await;
        let st = wait_for(&b, "f", "the service never gave up", |st| text(st, "state") == "stopped").await;
        assert_eq!(get(&st, "autoRestarts").as_f64(), Some(2.0), "{placement}");
        let moves = moves.borrow().clone();
        let starts: Vec<f64> = moves.iter().filter(|m| m.1 == "starting").map(|m| m.3).collect();
        assert_eq!(starts.len(), 3, "{placement}: the start and two automatic restarts: {moves:?}");
        assert!(starts[1] - starts[0] >= 245.0, "{placement}: first back-off {}", starts[1] - starts[0]);
        assert!(starts[2] - starts[1] >= 495.0, "{placement}: second back-off {}", starts[2] - starts[1]);
        let last = moves.last().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str()), ("failed", "stopped"), "{placement}: {moves:?}");
        assert!(last.2.contains("gave up"), "{placement}: {}", last.2);
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

// Issue "Hardening", 3: a health check does not wait behind slow messages.
#[wasm_bindgen_test]
async fn a_busy_service_answers_health_checks_while_a_slow_message_runs() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let results: Rc<RefCell<Vec<bool>>> = Rc::default();
        let log = results.clone();
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            log.borrow_mut().push(get(&get(&e, "data"), "healthy").as_bool().unwrap());
        });
        b.on("health_check_result".into(), listener.as_ref().clone().unchecked_into()).unwrap();
        let s = b.services();
        let options =
            obj(&[("placement", placement.into()), ("healthIntervalMs", 100.into()), ("restart", "on-failure".into())]);
        ok(s.register("c".into(), counter_service_url().into(), options)).await;
        ok(s.start("c".into())).await;
        let slow: Array = (0..3)
            .map(|_| s.send("c".into(), obj(&[("op", "sleep".into()), ("ms", 400.into())]), JsValue::UNDEFINED))
            .collect();
        let replies = JsFuture::from(Promise::all(&slow))
            .await
            .unwrap_or_else(|e| panic!("{placement}: {:?}", text(&e, "message")));
        assert_eq!(Array::from(&replies).to_vec(), vec![JsValue::from("slept"); 3]);
        let st = service_status(&b, "c");
        assert_eq!(get(&st, "restarts").as_f64(), Some(0.0), "{placement}: {:?}", get(&st, "lastError"));
        assert!(
            results.borrow().len() >= 5,
            "{placement}: checks answered during the messages: {:?}",
            results.borrow()
        );
        assert!(results.borrow().iter().all(|&h| h), "{placement}: {:?}", results.borrow());
        ok(s.stop("c".into())).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

// Issue "Hardening", 4: a stack overflow is an exception, not a trap, but it leaves the instance
// unusable (its Rust object still borrowed, its stack pointer wherever the overflow left it). V8
// throws a `RangeError` ("Maximum call stack size exceeded"), SpiderMonkey (Firefox) an
// `InternalError` ("too much recursion").
#[wasm_bindgen_test]
async fn a_rust_service_whose_stack_overflows_fails_and_restarts_in_a_fresh_instance() {
    a_fault_restarts_the_service_in_a_fresh_instance("overflow", &["RangeError", "InternalError: too much recursion"])
        .await;
}

// Issue "Hardening", 5: one option parser for calls and services; 0 means no limit everywhere.
#[wasm_bindgen_test]
async fn service_options_share_the_call_options_and_zero_means_no_limit() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        let options =
            obj(&[("placement", placement.into()), ("startTimeoutMs", 0.into()), ("stopTimeoutMs", 0.into())]);
        ok(s.register("c".into(), counter_service_url().into(), options)).await;
        ok(s.start("c".into())).await;
        let sleep = || obj(&[("op", "sleep".into()), ("ms", 300.into())]);
        let reply = ok(s.send("c".into(), sleep(), obj(&[("timeoutMs", 0.into())]))).await;
        assert_eq!(reply.as_string().as_deref(), Some("slept"), "{placement}: timeoutMs 0 is no limit");
        let (name, message) = err(s.send("c".into(), JsValue::NULL, obj(&[("timeout", 5.into())]))).await;
        assert_eq!(name, "ValidationError", "{placement}: an unknown key: {message}");
        let token = JsValue::from(SharedCancellation::new());
        let call = s.send("c".into(), sleep(), obj(&[("signal", token.clone())]));
        delay(50).await;
        let cancel: Function = get(&token, "cancel").unchecked_into();
        cancel.call0(&token).unwrap();
        assert_eq!(err(call).await.0, "AbortError", "{placement}: a SharedCancellation aborts a send");
        assert_eq!(
            err(s.send("c".into(), JsValue::NULL, obj(&[("signal", token.clone())]))).await.0,
            "AbortError",
            "{placement}: already cancelled"
        );
        ok(s.stop("c".into())).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

// Issue "Hardening", 6: what a hook throws reaches the caller with its own name, message and stack.
#[wasm_bindgen_test]
async fn hook_errors_keep_their_name_message_and_stack() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        let at = || obj(&[("placement", placement.into())]);
        ok(s.register("a".into(), format!("{}?on=start", throw_service_url()).into(), at())).await;
        let e = rejection(s.start("a".into())).await;
        assert_eq!(text(&e, "name"), "TypeError", "{placement}: {}", text(&e, "message"));
        assert_eq!(text(&e, "message"), "onStart refused, as asked", "{placement}");
        assert!(text(&e, "stack").contains("throw.service.js"), "{placement}: {}", text(&e, "stack"));

        ok(s.register("b".into(), format!("{}?on=stop", throw_service_url()).into(), at())).await;
        ok(s.start("b".into())).await;
        let e = rejection(s.stop("b".into())).await;
        assert_eq!(text(&e, "name"), "TypeError", "{placement}: {}", text(&e, "message"));
        assert_eq!(text(&e, "message"), "onStop refused, as asked", "{placement}");
        assert!(text(&e, "stack").contains("throw.service.js"), "{placement}: {}", text(&e, "stack"));

        ok(s.register("c".into(), counter_service_url().into(), at())).await;
        ok(s.start("c".into())).await;
        let e = rejection(s.send("c".into(), obj(&[("op", "throw".into())]), JsValue::UNDEFINED)).await;
        assert_eq!(text(&e, "name"), "RangeError", "{placement}");
        assert!(text(&e, "stack").contains("counter.service.js"), "{placement}: {}", text(&e, "stack"));
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

// Issue "Hardening", 7: the same listener for the same event is added once, and an event takes a
// bounded number of listeners (a remote peer cannot grow the list without bound).
#[wasm_bindgen_test]
async fn listeners_are_a_set_and_each_event_takes_a_bounded_number() {
    let b = bridge().await;
    let s = b.services();
    let calls: Rc<RefCell<Vec<&str>>> = Rc::default();
    let (log_on, log_handle) = (calls.clone(), calls.clone());
    // The snapshot a new `registry_loaded` subscriber gets (`initial`) is not counted here.
    let initial = |e: &JsValue| get(&get(e, "data"), "initial") == JsValue::TRUE;
    let on = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        if !initial(&e) {
            log_on.borrow_mut().push("on")
        }
    });
    let handled = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        if !initial(&e) {
            log_handle.borrow_mut().push("handle")
        }
    });
    let on: Function = on.into_js_value().unchecked_into();
    let handled: Function = handled.into_js_value().unchecked_into();
    b.on("registry_loaded".into(), on.clone()).unwrap();
    b.on("registry_loaded".into(), on.clone()).unwrap();
    let subscribe = |id: i32, event: &str| {
        let params = obj(&[("events", Array::of1(&event.into()).into())]);
        obj(&[("id", id.into()), ("type", "request".into()), ("action", "subscribe".into()), ("params", params)])
    };
    for id in 0..2 {
        let r = ok(s.handle(subscribe(id, "registry_loaded"), Some(handled.clone()))).await;
        assert!(get(&r, "error").is_undefined(), "{:?}", js_sys::JSON::stringify(&r));
    }
    ok(s.load(Array::new().into())).await;
    assert_eq!(*calls.borrow(), ["on", "handle"], "each listener once");

    let max = 1000;
    for _ in 0..max {
        b.on("health_check_result".into(), Function::new_no_args("")).unwrap();
    }
    let e = b.on("health_check_result".into(), Function::new_no_args("")).unwrap_err();
    assert_eq!(text(&e, "name"), "LimitExceededError", "{}", text(&e, "message"));
    let r = ok(s.handle(subscribe(3, "health_check_result"), Some(Function::new_no_args("")))).await;
    assert_eq!(text(&get(&r, "error"), "name"), "LimitExceededError", "{:?}", js_sys::JSON::stringify(&r));
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn unregister_after_terminate_is_refused_like_register() {
    let b = bridge().await;
    let s = b.services();
    ok(s.register("c".into(), counter_service_url().into(), JsValue::UNDEFINED)).await;
    JsFuture::from(b.terminate()).await.unwrap();
    assert_eq!(err(s.unregister("c".into())).await.0, "TerminatedError");
    assert_eq!(
        err(s.register("d".into(), counter_service_url().into(), JsValue::UNDEFINED)).await.0,
        "TerminatedError"
    );
}

/// Sends every message of `msgs` in one task turn (one batch), then waits for them all to settle:
/// each outcome as `Ok(reply)` or `Err((name, message))`.
async fn burst(
    s: &worker_bridge::ServicesFacade,
    name: &str,
    msgs: Vec<JsValue>,
) -> Vec<Result<JsValue, (String, String)>> {
    let sent: Vec<Promise> = msgs.into_iter().map(|m| s.send(name.into(), m, JsValue::UNDEFINED)).collect();
    let mut out = Vec::new();
    for p in sent {
        out.push(match JsFuture::from(p).await {
            Ok(v) => Ok(v),
            Err(e) => Err((
                get(&e, "name").as_string().unwrap_or_default(),
                get(&e, "message").as_string().unwrap_or_default(),
            )),
        });
    }
    out
}

// Issue 13, 5: a burst travels in one batch each way; what cannot travel fails alone.
#[wasm_bindgen_test]
async fn in_a_burst_a_message_or_reply_that_cannot_be_cloned_fails_alone() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        ok(s.register("c".into(), counter_service_url().into(), obj(&[("placement", placement.into())]))).await;
        ok(s.start("c".into())).await;
        let n = |i: i32| obj(&[("n", i.into())]);
        let not_cloneable: JsValue = Function::new_no_args("return 1").into();
        let msgs = vec![n(0), not_cloneable, n(1), obj(&[("op", "uncloneable".into())]), n(2)];
        let out = burst(&s, "c", msgs).await;
        let counts: Vec<Option<f64>> =
            out.iter().map(|r| r.as_ref().ok().and_then(|v| get(v, "count").as_f64())).collect();
        assert_eq!(counts, [Some(1.0), None, Some(2.0), None, Some(3.0)], "{placement}: the others, in order");
        let (name, message) = out[1].as_ref().unwrap_err();
        assert_eq!(name, "ValidationError", "{placement}: a message that cannot be cloned: {message}");
        assert!(message.contains("structured-cloneable"), "{placement}: {message}");
        let (name, message) = out[3].as_ref().unwrap_err();
        assert_eq!(name, "DataCloneError", "{placement}: a reply that cannot be cloned: {message}");
        let st = service_status(&b, "c");
        assert_eq!(get(&st, "state").as_string().unwrap(), "running", "{placement}");
        assert_eq!(get(&st, "messagesHandled").as_f64(), Some(4.0), "{placement}: the refused one never arrived");
        assert_eq!(get(&st, "queueLength").as_f64(), Some(0.0), "{placement}");
        ok(s.stop("c".into())).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

// Replies are batched, but a slow message never holds back the replies before it; and a burst
// sent in one turn with a stop after it is answered before the stop (FIFO across both).
#[wasm_bindgen_test]
async fn a_slow_message_does_not_hold_back_the_replies_before_it() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        ok(s.register("c".into(), counter_service_url().into(), obj(&[("placement", placement.into())]))).await;
        ok(s.start("c".into())).await;
        let first = s.send("c".into(), obj(&[("n", 1.into())]), JsValue::UNDEFINED);
        let slow = s.send("c".into(), obj(&[("op", "sleep".into()), ("ms", 1000.into())]), JsValue::UNDEFINED);
        let after = s.send("c".into(), obj(&[("n", 2.into())]), JsValue::UNDEFINED);
        let slept = Rc::new(std::cell::Cell::new(false));
        let (flag, waiting) = (slept.clone(), slow.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(waiting).await;
            flag.set(true);
        });
        ok(first).await;
        assert!(!slept.get(), "{placement}: the first reply waited for the slow message");
        assert_eq!(ok(slow).await.as_string().as_deref(), Some("slept"), "{placement}");
        assert_eq!(get(&ok(after).await, "count").as_f64(), Some(2.0), "{placement}");
        // A burst and a stop in one turn: every message is answered, then the stop completes.
        let msgs: Vec<Promise> = (0..300).map(|i| s.send("c".into(), i.into(), JsValue::UNDEFINED)).collect();
        let stop = s.stop("c".into());
        for (i, p) in msgs.into_iter().enumerate() {
            assert_eq!(get(&ok(p).await, "count").as_f64(), Some(3.0 + i as f64), "{placement}: FIFO at {i}");
        }
        ok(stop).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

// An entry of a host's batch that does not decode fails its own message when it names one (the
// rest of the batch counts); one that names none fails the service, as a broken host does.
#[wasm_bindgen_test]
async fn a_malformed_entry_in_a_batch_from_the_host_fails_alone() {
    let b = bridge().await;
    let s = b.services();
    ok(s.register("r".into(), rogue_service_url().into(), obj(&[("placement", "worker".into())]))).await;
    ok(s.start("r".into())).await;
    let v = 2; // protocol::PROTOCOL_VERSION
    let entry = |msg: JsValue| obj(&[("v", v.into()), ("msg", msg)]);
    // Messages 0 and 1 in one turn; while handling 0 the service posts a broken reply to 1.
    let broken = entry(obj(&[("type", "reply".into()), ("seq", 1.into()), ("extra", true.into())]));
    let inject = obj(&[("inject", [broken].into_iter().collect::<Array>().into())]);
    let out = burst(&s, "r", vec![inject.clone(), "second".into()]).await;
    assert!(get(out[0].as_ref().unwrap(), "inject").is_object(), "message 0 answered: {:?}", out[0]);
    let (name, message) = out[1].as_ref().unwrap_err();
    assert_eq!(name, "WorkerCrashedError", "{message}");
    assert!(message.contains("broke protocol"), "{message}");
    assert_eq!(get(&service_status(&b, "r"), "state").as_string().unwrap(), "running");
    assert_eq!(
        ok(s.send("r".into(), "still here".into(), JsValue::UNDEFINED)).await.as_string().unwrap(),
        "still here"
    );
    // An entry that names no message: the service fails.
    let unreadable = entry(obj(&[("type", "nonsense".into())]));
    let inject = obj(&[("inject", [unreadable].into_iter().collect::<Array>().into())]);
    let (name, message) = err(s.send("r".into(), inject, JsValue::UNDEFINED)).await;
    assert_eq!(name, "WorkerCrashedError", "{message}");
    let st = service_status(&b, "r");
    assert_eq!(get(&st, "state").as_string().unwrap(), "failed");
    assert!(get(&st, "lastError").as_string().unwrap().contains("broke protocol"), "{st:?}");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_payload_whose_getter_calls_the_registry_is_sent_without_a_panic() {
    for (label, definition, placement) in cases() {
        let b = Rc::new(bridge().await);
        let s = b.services();
        let definition = if label.starts_with("js") { obj(&[("module", definition)]) } else { definition };
        ok(s.register("counter".into(), definition, obj(&[("placement", placement.into())]))).await;
        ok(s.start("counter".into())).await;
        // Cloning the payload runs its getter, which reads the registry: nothing may hold the
        // registry's state while the message is posted.
        let payload = js_sys::Object::new();
        let inner = b.clone();
        let getter = Closure::<dyn FnMut() -> JsValue>::new(move || JsValue::from(inner.services().list().length()));
        let descriptor = obj(&[("get", getter.as_ref().clone()), ("enumerable", true.into())]);
        js_sys::Reflect::define_property(&payload, &"n".into(), descriptor.unchecked_ref()).unwrap();
        let reply = ok(s.send("counter".into(), payload.into(), JsValue::UNDEFINED)).await;
        assert_eq!(get(&get(&reply, "echo"), "n").as_f64(), Some(1.0), "{label}: the getter ran and saw one service");
        ok(s.stop("counter".into())).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

/// `JSON.parse(text)`.
fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap()
}

/// A `services.load()` entry for `definition` (a module URL, or `{ rust }`) with `options`.
fn entry(name: &str, definition: &JsValue, options: &JsValue) -> JsValue {
    let e = js_sys::Object::new();
    js_sys::Reflect::set(&e, &"name".into(), &name.into()).unwrap();
    if definition.is_string() {
        js_sys::Reflect::set(&e, &"module".into(), definition).unwrap();
    } else {
        js_sys::Object::assign(&e, definition.unchecked_ref());
    }
    js_sys::Object::assign(&e, options.unchecked_ref()).into()
}

#[wasm_bindgen_test]
async fn config_reaches_every_hook_and_is_carried_by_load() {
    for (label, definition, placement) in cases() {
        let b = bridge().await;
        let s = b.services();
        let config = json(r#"{ "from": 10, "label": "ten", "stopFails": true }"#);
        let options =
            obj(&[("placement", placement.into()), ("config", config.clone()), ("healthIntervalMs", 20.into())]);
        ok(s.register("c".into(), definition.clone(), options)).await;
        // Copied at registration: a later change of the caller's object changes nothing.
        js_sys::Reflect::set(&config, &"from".into(), &99.into()).unwrap();
        ok(s.start("c".into())).await;
        let reply = ok(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await;
        assert_eq!(get(&reply, "count").as_f64(), Some(11.0), "{label}: onStart saw config.from");
        let seen = ok(s.send("c".into(), obj(&[("op", "config".into())]), JsValue::UNDEFINED)).await;
        assert_eq!(text(&seen, "label"), "ten", "{label}: onMessage sees ctx.config");
        assert_eq!(get(&seen, "from").as_f64(), Some(10.0), "{label}");
        wait_for(&b, "c", &format!("{label}: health(ctx) sees the config"), |st| {
            let health = get(st, "lastHealth");
            health.is_object() && text(&health, "detail") == "ten: count 11"
        })
        .await;
        let (name, message) = err(s.stop("c".into())).await;
        assert_eq!((name.as_str(), message.as_str()), ("RangeError", "ten: asked to fail the stop"), "{label}: onStop");

        // Through load(): JSON from a file or a remote carries the config too.
        let entries: Array = [entry(
            "l",
            &definition,
            &obj(&[("placement", placement.into()), ("config", json(r#"{ "from": 5, "label": "five" }"#))]),
        )]
        .into_iter()
        .collect();
        ok(s.load(entries.into())).await;
        ok(s.start("l".into())).await;
        assert_eq!(get(&ok(s.send("l".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(), Some(6.0));
        if label.starts_with("js") {
            // Each start gets a fresh copy: what a handler did to ctx.config does not outlive it.
            let mutated = ok(s.send("l".into(), obj(&[("op", "mutate-config".into())]), JsValue::UNDEFINED)).await;
            assert_eq!(text(&mutated, "label"), "mutated");
        }
        ok(s.restart("l".into())).await;
        let seen = ok(s.send("l".into(), obj(&[("op", "config".into())]), JsValue::UNDEFINED)).await;
        assert_eq!(text(&seen, "label"), "five", "{label}: a fresh copy at every start");
        assert_eq!(get(&ok(s.send("l".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(), Some(6.0));
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_config_that_is_not_json_or_does_not_fit_is_a_validation_error() {
    let b = bridge().await;
    let s = b.services();
    let cyclic = js_sys::Object::new();
    js_sys::Reflect::set(&cyclic, &"me".into(), &cyclic).unwrap();
    let not_json: [JsValue; 3] =
        [Function::new_no_args("return 1").into(), js_sys::BigInt::from(1u32).into(), cyclic.into()];
    for (i, config) in not_json.into_iter().enumerate() {
        let (name, message) =
            err(s.register(format!("bad{i}"), counter_service_url().into(), obj(&[("config", config)]))).await;
        assert_eq!(name, "ValidationError", "{message}");
        assert!(message.contains("config must be JSON"), "{message}");
    }
    assert_eq!(Array::from(&s.list()).length(), 0, "nothing was registered");
    // A Rust service reads its config into its own type: one that does not fit fails the start.
    for placement in PLACEMENTS {
        let name = format!("rust-{placement}");
        let options = obj(&[("placement", placement.into()), ("config", json(r#"{ "from": "ten" }"#))]);
        ok(s.register(name.clone(), obj(&[("rust", "test-counter".into())]), options)).await;
        let (error, message) = err(s.start(name.clone())).await;
        assert_eq!(error, "ValidationError", "{placement}: {message}");
        assert!(message.contains("does not fit"), "{placement}: {message}");
        assert_eq!(text(&service_status(&b, &name), "state"), "failed");
    }
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen(module = "/tests/services/inline.js")]
extern "C" {
    #[wasm_bindgen(js_name = inlineCounter)]
    fn inline_counter(calls: &Array) -> JsValue;
}

#[wasm_bindgen_test]
async fn an_inline_handler_runs_on_the_page_with_its_config_and_is_refused_in_a_worker() {
    let b = bridge().await;
    let s = b.services();
    let calls = Array::new();
    let handler = obj(&[("handler", inline_counter(&calls))]);
    let options =
        obj(&[("placement", "main".into()), ("config", json(r#"{ "from": 100 }"#)), ("healthIntervalMs", 20.into())]);
    ok(s.register("inline".into(), handler.clone(), options)).await;
    ok(s.start("inline".into())).await;
    for i in 1..=3 {
        let reply = ok(s.send("inline".into(), i.into(), JsValue::UNDEFINED)).await;
        assert_eq!(
            get(&reply, "count").as_f64(),
            Some(100.0 + f64::from(i)),
            "the context persists; `this` is the handler"
        );
    }
    // The same rules as a module's: FIFO under a burst, a throw fails that message only.
    let burst: Array = (0..200).map(|i| JsValue::from(s.send("inline".into(), i.into(), JsValue::UNDEFINED))).collect();
    let replies = Array::from(&JsFuture::from(Promise::all(&burst)).await.unwrap());
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(get(&reply, "count").as_f64(), Some(104.0 + i as f64), "FIFO at {i}");
    }
    let (name, message) = err(s.send("inline".into(), obj(&[("op", "throw".into())]), JsValue::UNDEFINED)).await;
    assert_eq!((name.as_str(), message.as_str()), ("RangeError", "asked to throw at 303"));
    wait_for(&b, "inline", "a health check", |st| get(st, "lastHealth").is_object()).await;
    ok(s.stop("inline".into())).await;
    let st = service_status(&b, "inline");
    assert_eq!((text(&st, "state"), text(&st, "placement")), ("stopped".to_owned(), "main".to_owned()));
    // Every hook ran, each seeing ctx.config.
    let hooks: Vec<String> = calls.iter().map(|c| Array::from(&c).get(0).as_string().unwrap()).collect();
    for hook in ["onStart", "onMessage", "onStop", "health"] {
        assert!(hooks.iter().any(|h| h == hook), "{hook} ran: {hooks:?}");
    }
    for call in calls.iter() {
        let call = Array::from(&call);
        assert_eq!(get(&call.get(1), "from").as_f64(), Some(100.0), "{:?} saw ctx.config", call.get(0));
    }
    // Restart: onStart again, with a fresh context.
    ok(s.restart("inline".into())).await;
    assert_eq!(
        get(&ok(s.send("inline".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64(),
        Some(101.0)
    );

    // Worker placement (also the default) cannot take an object of functions: use a module.
    for options in [obj(&[("placement", "worker".into())]), JsValue::UNDEFINED] {
        let (name, message) = err(s.register("w".into(), handler.clone(), options)).await;
        assert_eq!(name, "ValidationError");
        assert!(message.contains("placement: 'main'") && message.contains("module"), "{message}");
    }
    let entries: Array = [entry("w", &handler, &obj(&[("placement", "worker".into())]))].into_iter().collect();
    assert_eq!(err(s.load(entries.into())).await.0, "ValidationError", "load() refuses it too");
    // A handler must have an onMessage function; the other hooks, if present, are functions.
    for bad in [
        JsValue::from(1),
        obj(&[]),
        obj(&[("onMessage", 1.into())]),
        obj(&[("onMessage", Function::new_no_args("").into()), ("onStart", "x".into())]),
    ] {
        let (name, message) =
            err(s.register("bad".into(), obj(&[("handler", bad)]), obj(&[("placement", "main".into())]))).await;
        assert_eq!(name, "ValidationError", "{message}");
    }
    assert_eq!(Array::from(&s.list()).length(), 1, "only the good one is registered");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen(module = "/tests/services/hold-snapshots.js")]
extern "C" {
    #[wasm_bindgen(js_name = openSnapshots)]
    fn open_snapshots() -> Promise;
    #[wasm_bindgen(js_name = holdSnapshots)]
    fn hold_snapshots(db: &JsValue, ms: u32) -> Promise;
}

/// A replaced copy is out of service until it runs: between its load and its start (the registry
/// reads its snapshot there; held open here for 400 ms by a read-write transaction) health
/// checks, snapshot requests and messages skip it. A Rust service asked how it is before
/// `onStart` answers "not running" — which failed the new copy in the threaded CI run.
#[wasm_bindgen_test]
async fn a_replaced_copy_takes_no_check_or_message_before_it_runs() {
    for (label, definition, placement) in cases() {
        let name = unique(&label.replace('/', "-"));
        let b = bridge().await;
        let s = b.services();
        let options = obj(&[
            ("placement", placement.into()),
            ("instances", 2.into()),
            ("restart", "on-failure".into()),
            ("persist", true.into()),
            ("snapshotIntervalMs", 100.into()),
            ("healthIntervalMs", 50.into()),
        ]);
        ok(s.register(name.clone(), counter_of(&label, &definition), options)).await;
        ok(s.start(name.clone())).await;
        let db = JsFuture::from(open_snapshots()).await.unwrap();
        let moves: Rc<RefCell<Vec<(u32, String, String)>>> = Rc::default();
        let held: Rc<RefCell<Option<Promise>>> = Rc::default();
        let (log, hold) = (moves.clone(), held.clone());
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let data = get(&e, "data");
            if text(&data, "kind") == "service" {
                let instance = get(&data, "instance").as_f64().unwrap() as u32;
                let (from, to) = (text(&data, "from"), text(&data, "to"));
                if to == "starting" {
                    // Begun before the new host exists: its snapshot read waits for this.
                    hold.borrow_mut().replace(hold_snapshots(&db, 400));
                }
                log.borrow_mut().push((instance, from, to));
            }
        });
        b.on("worker_state_changed".into(), listener.as_ref().clone().unchecked_into()).unwrap();
        // Two messages each; then copy 0 (a tie: the first) turns unhealthy.
        for _ in 0..4 {
            next_count(&s, &name).await;
        }
        ok(s.send(name.clone(), obj(&[("op", "sick".into())]), JsValue::UNDEFINED)).await;
        // While copy 0 is replaced, every message goes to copy 1 and is answered.
        let mut counts = Vec::new();
        let mut waited = 0;
        while moves.borrow().len() < 3 {
            assert!(waited < 5000, "{label}: copy 0 was not replaced: {:?}", moves.borrow());
            if moves.borrow().len() == 2 {
                counts.push(next_count(&s, &name).await);
            }
            delay(20).await;
            waited += 20;
        }
        let expected = [(0, "running", "crashed"), (0, "crashed", "starting"), (0, "starting", "running")];
        assert_eq!(*moves.borrow(), expected.map(|(i, f, t)| (i, f.to_owned(), t.to_owned())), "{label}");
        assert!(!counts.is_empty(), "{label}: no message was sent during the replacement");
        assert_eq!(counts, (3..3 + counts.len()).map(|c| c as f64).collect::<Vec<_>>(), "{label}: all to copy 1");
        let hold = held.borrow_mut().take().expect("the hold began");
        JsFuture::from(hold).await.unwrap();
        // Checks go on for both copies; the new one stays.
        delay(200).await;
        let st = service_status(&b, &name);
        assert_eq!(get(&st, "instanceRestarts").as_f64(), Some(1.0), "{label}");
        assert_eq!(text(&st, "state"), "running", "{label}");
        assert_eq!(moves.borrow().len(), 3, "{label}: {:?}", moves.borrow());

        // Stopped while copy 0 is replaced again: its new host, which never ran, is dropped —
        // not asked for a snapshot or to stop (a Rust copy would answer "not running").
        moves.borrow_mut().clear();
        ok(s.send(name.clone(), obj(&[("op", "sick".into())]), JsValue::UNDEFINED)).await;
        let mut waited = 0;
        while moves.borrow().len() < 2 {
            assert!(waited < 5000, "{label}: copy 0 was not replaced again: {:?}", moves.borrow());
            delay(10).await;
            waited += 10;
        }
        ok(s.stop(name.clone())).await;
        assert_eq!(text(&service_status(&b, &name), "state"), "stopped", "{label}");
        let hold = held.borrow_mut().take().expect("the hold began");
        JsFuture::from(hold).await.unwrap();
        delay(200).await;
        let expected = [(0, "running", "crashed"), (0, "crashed", "starting")];
        assert_eq!(*moves.borrow(), expected.map(|(i, f, t)| (i, f.to_owned(), t.to_owned())), "{label}: no more");
        assert_eq!(text(&service_status(&b, &name), "state"), "stopped", "{label}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn instances_share_the_work_least_busy_first_and_a_failed_copy_restarts_alone() {
    for (label, definition, placement) in cases() {
        let b = bridge().await;
        let s = b.services();
        // The copies' own moves: worker_state_changed { kind: 'service', service, instance, from, to }.
        let moves: Rc<RefCell<Vec<(u32, String, String)>>> = Rc::default();
        let log = moves.clone();
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let data = get(&e, "data");
            if text(&data, "kind") == "service" {
                assert_eq!(text(&data, "service"), "c");
                let instance = get(&data, "instance").as_f64().unwrap() as u32;
                log.borrow_mut().push((instance, text(&data, "from"), text(&data, "to")));
            }
        });
        b.on("worker_state_changed".into(), listener.as_ref().clone().unchecked_into()).unwrap();
        let options = obj(&[
            ("placement", placement.into()),
            ("instances", 3.into()),
            ("restart", "on-failure".into()),
            // Not much shorter: a copy replaced in a worker instantiates the wasm module there,
            // which on two cores can hold the other copies' answers back for tens of ms.
            ("healthIntervalMs", 100.into()),
        ]);
        ok(s.register("c".into(), definition, options)).await;
        ok(s.start("c".into())).await;
        assert_eq!(get(&service_status(&b, "c"), "instances").as_f64(), Some(3.0), "{label}");
        // A burst from idle: message k goes to copy k % 3 (the least busy; ties to the first),
        // and each copy handles its share in order, with its own context.
        let burst: Array = (0..300).map(|i| JsValue::from(s.send("c".into(), i.into(), JsValue::UNDEFINED))).collect();
        let replies = Array::from(&JsFuture::from(Promise::all(&burst)).await.unwrap());
        for (k, reply) in replies.iter().enumerate() {
            assert_eq!(get(&reply, "count").as_f64(), Some((k / 3 + 1) as f64), "{label}: reply {k}");
        }
        // Copy 0 (idle, as all are; the first) turns unhealthy: it alone is replaced.
        ok(s.send("c".into(), obj(&[("op", "sick".into())]), JsValue::UNDEFINED)).await;
        wait_for(&b, "c", &format!("{label}: copy 0 replaced"), |st| {
            get(st, "instanceRestarts").as_f64() == Some(1.0) && moves.borrow().len() == 3
        })
        .await;
        let expected = [(0, "running", "crashed"), (0, "crashed", "starting"), (0, "starting", "running")];
        assert_eq!(
            *moves.borrow(),
            expected.map(|(i, f, t)| (i, f.to_owned(), t.to_owned())),
            "{label}: only copy 0 moved"
        );
        let st = service_status(&b, "c");
        assert_eq!(text(&st, "state"), "running", "{label}: the service kept running");
        assert_eq!(get(&st, "restarts").as_f64(), Some(0.0), "{label}");
        // The other two kept their contexts; the new copy starts afresh.
        let burst: Array = (0..30).map(|i| JsValue::from(s.send("c".into(), i.into(), JsValue::UNDEFINED))).collect();
        let replies = Array::from(&JsFuture::from(Promise::all(&burst)).await.unwrap());
        let mut counts: Vec<u32> = replies.iter().map(|r| get(&r, "count").as_f64().unwrap() as u32).collect();
        counts.sort_unstable();
        let mut expected: Vec<u32> = (1..=10).chain(101..=110).chain(101..=110).collect();
        expected.sort_unstable();
        assert_eq!(counts, expected, "{label}");
        assert_eq!(get(&service_status(&b, "c"), "messagesHandled").as_f64(), Some(331.0), "{label}: every copy's");
        ok(s.stop("c".into())).await;
        assert_eq!(text(&service_status(&b, "c"), "state"), "stopped");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn instances_is_a_whole_number_from_1_to_64() {
    let b = bridge().await;
    let s = b.services();
    for bad in [JsValue::from(0), JsValue::from(1.5), JsValue::from(65), JsValue::from("2")] {
        let (name, message) =
            err(s.register("c".into(), counter_service_url().into(), obj(&[("instances", bad)]))).await;
        assert_eq!(name, "ValidationError", "{message}");
    }
    ok(s.register("c".into(), counter_service_url().into(), obj(&[("instances", 1.into())]))).await;
    assert_eq!(get(&service_status(&b, "c"), "instances").as_f64(), Some(1.0));
    JsFuture::from(b.terminate()).await.unwrap();
}

/// A listener that logs `service_state_changed` as (name, to, reason).
type Changes = Rc<RefCell<Vec<(String, String, String)>>>;

fn log_changes(b: &WorkerBridge) -> (Changes, Closure<dyn FnMut(JsValue)>) {
    let changes: Changes = Rc::default();
    let log = changes.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        let data = get(&e, "data");
        log.borrow_mut().push((text(&data, "name"), text(&data, "to"), text(&data, "reason")));
    });
    b.on("service_state_changed".into(), listener.as_ref().clone().unchecked_into()).unwrap();
    (changes, listener)
}

/// The names that reached `to`, in order, since `from` entries.
fn reached(changes: &Changes, to: &str, from: usize) -> Vec<String> {
    changes.borrow()[from..].iter().filter(|(_, t, _)| t == to).map(|(n, _, _)| n.clone()).collect()
}

#[wasm_bindgen_test]
async fn dependencies_start_first_stop_last_and_a_failed_one_stops_its_dependents() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        let (changes, _listener) = log_changes(&b);
        let register = |name: &str, deps: &[&str], extra: &[(&str, JsValue)]| {
            let mut options = vec![("placement", JsValue::from(placement))];
            options.push(("dependsOn", deps.iter().map(|d| JsValue::from(*d)).collect::<Array>().into()));
            options.extend(extra.iter().cloned());
            s.register(name.into(), counter_service_url().into(), obj(&options))
        };
        // `app` names `db` before it is registered.
        ok(register("app", &["db"], &[])).await;
        let db_options = [("restart", "on-failure".into()), ("healthIntervalMs", 30.into())];
        ok(register("db", &[], &db_options)).await;
        ok(register("cache", &["db"], &[])).await;
        ok(register("web", &["app", "cache"], &[])).await;
        ok(register("lone", &[], &[])).await;
        assert_eq!(Array::from(&get(&service_status(&b, "web"), "dependsOn")).length(), 2);

        ok(s.start("web".into())).await;
        assert_eq!(reached(&changes, "running", 0), ["db", "app", "cache", "web"], "{placement}: dependencies first");
        assert_eq!(text(&service_status(&b, "lone"), "state"), "uninitialized");

        let mark = changes.borrow().len();
        ok(s.stop("db".into())).await;
        assert_eq!(reached(&changes, "stopped", mark), ["web", "cache", "app", "db"], "{placement}: dependents first");
        let reason = changes.borrow()[mark..].iter().find(|(n, t, _)| n == "web" && t == "stopping").unwrap().2.clone();
        assert_eq!(reason, "its dependency \"db\" is stopping");

        let mark = changes.borrow().len();
        ok(s.start_all()).await;
        assert_eq!(reached(&changes, "running", mark), ["db", "app", "cache", "web", "lone"], "{placement}: startAll");

        // db fails (an unhealthy check, restart: 'on-failure'): its dependents stop, with the reason.
        let mark = changes.borrow().len();
        ok(s.send("db".into(), obj(&[("op", "sick".into())]), JsValue::UNDEFINED)).await;
        wait_for(&b, "app", &format!("{placement}: app stopped after db failed"), |st| text(st, "state") == "stopped")
            .await;
        wait_for(&b, "db", &format!("{placement}: db restarted"), |st| text(st, "state") == "running").await;
        let after: Vec<(String, String, String)> = changes.borrow()[mark..].to_vec();
        for name in ["web", "app", "cache"] {
            let stopped =
                after.iter().find(|(n, t, _)| n == name && t == "stopped").unwrap_or_else(|| panic!("{name}"));
            assert!(stopped.2.starts_with("its dependency \"db\" failed: "), "{placement}: {name}: {}", stopped.2);
            assert!(stopped.2.contains("asked to be sick"), "{}", stopped.2);
            assert_eq!(text(&service_status(&b, name), "state"), "stopped", "they stay stopped");
        }
        let stopped: Vec<&str> = after.iter().filter(|(_, t, _)| t == "stopped").map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(stopped, ["web", "cache", "app"], "{placement}: dependents first");
        assert_eq!(text(&service_status(&b, "lone"), "state"), "running", "{placement}: an unrelated service runs on");

        let mark = changes.borrow().len();
        ok(s.start_all()).await;
        ok(s.stop_all()).await;
        assert_eq!(reached(&changes, "stopped", mark), ["lone", "web", "cache", "app", "db"], "{placement}: stopAll");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn an_unknown_dependency_or_a_cycle_is_a_validation_error_at_start_and_at_load() {
    let b = bridge().await;
    let s = b.services();
    let deps =
        |names: &[&str]| obj(&[("dependsOn", names.iter().map(|d| JsValue::from(*d)).collect::<Array>().into())]);
    ok(s.register("a".into(), counter_service_url().into(), deps(&["b"]))).await;
    ok(s.register("b".into(), counter_service_url().into(), deps(&["c"]))).await;
    ok(s.register("c".into(), counter_service_url().into(), deps(&["a"]))).await;
    ok(s.register("x".into(), counter_service_url().into(), deps(&["nope"]))).await;
    ok(s.register("free".into(), counter_service_url().into(), JsValue::UNDEFINED)).await;
    let (name, message) = err(s.start("a".into())).await;
    assert_eq!((name.as_str(), message.as_str()), ("ValidationError", "a dependency cycle: a → b → c → a"));
    let (name, message) = err(s.start("x".into())).await;
    assert_eq!(
        (name.as_str(), message.as_str()),
        ("ValidationError", "\"x\" depends on \"nope\", which is not registered")
    );
    assert_eq!(err(s.start_all()).await.0, "ValidationError", "startAll checks them all first");
    for service in ["a", "b", "c", "x", "free"] {
        assert_eq!(text(&service_status(&b, service), "state"), "uninitialized", "{service}: nothing started");
    }
    ok(s.start("free".into())).await;
    // load() sees the whole configuration: all or nothing.
    let cyclic: Array = [
        entry("p", &counter_service_url().into(), &deps(&["q"])),
        entry("q", &counter_service_url().into(), &deps(&["p"])),
    ]
    .into_iter()
    .collect();
    let (name, message) = err(s.load(cyclic.into())).await;
    assert_eq!(name, "ValidationError");
    assert!(message.contains("cycle"), "{message}");
    let unknown: Array = [entry("p", &counter_service_url().into(), &deps(&["later"]))].into_iter().collect();
    assert_eq!(err(s.load(unknown.into())).await.0, "ValidationError");
    let fine: Array = [
        entry("p", &counter_service_url().into(), &deps(&["free", "q"])),
        entry("q", &counter_service_url().into(), &deps(&[])),
    ]
    .into_iter()
    .collect();
    ok(s.load(fine.into())).await;
    assert_eq!(Array::from(&s.list()).length(), 7, "only the good configuration was registered");
    assert_eq!(
        err(s.register("bad".into(), counter_service_url().into(), obj(&[("dependsOn", "b".into())]))).await.0,
        "ValidationError"
    );
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_crashed_copy_is_replaced_alone_and_the_others_keep_their_state() {
    // Worker placement: a crash ends one copy's worker (JS: an error outside any handler; Rust: a
    // panic, which also rejects its message).
    for (kind, definition) in counters() {
        let b = bridge().await;
        let s = b.services();
        let running = Rc::new(RefCell::new(0));
        let count = running.clone();
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let data = get(&e, "data");
            if text(&data, "kind") == "service" && text(&data, "to") == "running" {
                *count.borrow_mut() += 1;
            }
        });
        b.on("worker_state_changed".into(), listener.as_ref().clone().unchecked_into()).unwrap();
        let options = obj(&[("instances", 2.into()), ("restart", "on-failure".into())]);
        ok(s.register("c".into(), definition, options)).await;
        ok(s.start("c".into())).await;
        // Awaited one by one, messages alternate (ties go to the copy that has answered fewest).
        for expected in [1.0, 1.0, 2.0, 2.0] {
            let reply = ok(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await;
            assert_eq!(get(&reply, "count").as_f64(), Some(expected), "{kind}");
        }
        // Copy 0 (a tie: the first) crashes.
        if kind == "js" {
            ok(s.send("c".into(), obj(&[("op", "crash".into())]), JsValue::UNDEFINED)).await;
        } else {
            let (name, _) = err(s.send("c".into(), obj(&[("op", "panic".into())]), JsValue::UNDEFINED)).await;
            assert_eq!(name, "WorkerCrashedError");
        }
        let st = wait_for(&b, "c", &format!("{kind}: copy 0 replaced"), |st| {
            get(st, "instanceRestarts").as_f64() == Some(1.0) && *running.borrow() == 1
        })
        .await;
        assert_eq!(text(&st, "state"), "running", "{kind}: the service never stopped");
        assert!(text(&st, "lastError").contains("WorkerCrashedError"), "{kind}: {}", text(&st, "lastError"));
        // A burst: copy 0 is new (it counts from 1), copy 1 kept its count (2).
        let burst: Array = (0..4).map(|i| JsValue::from(s.send("c".into(), i.into(), JsValue::UNDEFINED))).collect();
        let replies = Array::from(&JsFuture::from(Promise::all(&burst)).await.unwrap());
        let counts: Vec<f64> = replies.iter().map(|r| get(&r, "count").as_f64().unwrap()).collect();
        assert_eq!(counts, [1.0, 3.0, 2.0, 4.0], "{kind}: one copy kept its state, one is new");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn dependents_started_together_start_their_shared_dependency_once() {
    for placement in PLACEMENTS {
        let b = bridge().await;
        let s = b.services();
        let (changes, _listener) = log_changes(&b);
        let options = |deps: &[&str]| {
            obj(&[
                ("placement", placement.into()),
                ("dependsOn", deps.iter().map(|d| JsValue::from(*d)).collect::<Array>().into()),
            ])
        };
        ok(s.register("db".into(), counter_service_url().into(), options(&[]))).await;
        ok(s.register("app".into(), counter_service_url().into(), options(&["db"]))).await;
        ok(s.register("cache".into(), counter_service_url().into(), options(&["db"]))).await;
        let both: Array = [s.start("app".into()), s.start("cache".into())].into_iter().map(JsValue::from).collect();
        JsFuture::from(Promise::all(&both)).await.unwrap_or_else(|e| panic!("{placement}: {:?}", get(&e, "message")));
        let running = reached(&changes, "running", 0);
        assert_eq!(running.iter().filter(|n| *n == "db").count(), 1, "{placement}: db started once: {running:?}");
        assert_eq!(running.first().map(String::as_str), Some("db"), "{placement}: first");
        assert_eq!(running.len(), 3, "{placement}: {running:?}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn copies_of_an_inline_handler_share_the_object_and_without_restarts_one_failed_copy_fails_all() {
    let b = bridge().await;
    let s = b.services();
    // Inline, two copies: one handler object (`this`), a context each.
    let calls = Array::new();
    let options = obj(&[("placement", "main".into()), ("instances", 2.into())]);
    let handler = inline_counter(&calls);
    ok(s.register("inline".into(), obj(&[("handler", handler.clone())]), options)).await;
    ok(s.start("inline".into())).await;
    let starts = calls.iter().filter(|c| Array::from(c).get(0).as_string().as_deref() == Some("onStart")).count();
    assert_eq!(starts, 2, "onStart ran in each copy");
    let burst: Array = (0..4).map(|i| JsValue::from(s.send("inline".into(), i.into(), JsValue::UNDEFINED))).collect();
    let replies = Array::from(&JsFuture::from(Promise::all(&burst)).await.unwrap());
    let counts: Vec<f64> = replies.iter().map(|r| get(&r, "count").as_f64().unwrap()).collect();
    assert_eq!(counts, [1.0, 1.0, 2.0, 2.0], "a context per copy");
    // The copies' `this` is the one object the page holds.
    js_sys::Reflect::set(&handler, &"step".into(), &10.into()).unwrap();
    let burst: Array = (0..2).map(|i| JsValue::from(s.send("inline".into(), i.into(), JsValue::UNDEFINED))).collect();
    let replies = Array::from(&JsFuture::from(Promise::all(&burst)).await.unwrap());
    let counts: Vec<f64> = replies.iter().map(|r| get(&r, "count").as_f64().unwrap()).collect();
    assert_eq!(counts, [12.0, 12.0], "both copies see the page's change");

    // restart: 'never' (the default): one copy's crash fails the whole service.
    let options = obj(&[("instances", 2.into())]);
    ok(s.register("c".into(), counter_service_url().into(), options)).await;
    ok(s.start("c".into())).await;
    ok(s.send("c".into(), obj(&[("op", "crash".into())]), JsValue::UNDEFINED)).await;
    let st = wait_for(&b, "c", "the service fails", |st| text(st, "state") == "failed").await;
    assert_eq!(get(&st, "instanceRestarts").as_f64(), Some(0.0));
    assert_eq!(err(s.send("c".into(), JsValue::NULL, JsValue::UNDEFINED)).await.0, "ServiceStateError");
    JsFuture::from(b.terminate()).await.unwrap();
}

/// A service name no earlier run has used: snapshots stay in the browser profile's IndexedDB.
fn unique(label: &str) -> String {
    format!("persist-{label}-{}", js_sys::Math::random().to_bits())
}

/// The counter's `count` after one more message.
async fn next_count(s: &worker_bridge::ServicesFacade, name: &str) -> f64 {
    get(&ok(s.send(name.into(), JsValue::NULL, JsValue::UNDEFINED)).await, "count").as_f64().unwrap()
}

/// The counter definition of `label`'s kind (`js/…` or `rust/…`).
fn counter_of(label: &str, definition: &JsValue) -> JsValue {
    if label.starts_with("js") {
        obj(&[("module", definition.clone())])
    } else {
        definition.clone()
    }
}

#[wasm_bindgen_test]
async fn a_persisted_service_keeps_its_state_across_stops_restarts_and_a_new_bridge() {
    for (label, definition, placement) in cases() {
        let name = unique(&label.replace('/', "-"));
        let options = || obj(&[("placement", placement.into()), ("persist", true.into())]);
        let b = bridge().await;
        let s = b.services();
        ok(s.register(name.clone(), counter_of(&label, &definition), options())).await;
        ok(s.start(name.clone())).await;
        for i in 1..=3 {
            assert_eq!(next_count(&s, &name).await, f64::from(i), "{label}: a first start has no snapshot");
        }
        ok(s.stop(name.clone())).await;
        ok(s.start(name.clone())).await;
        assert_eq!(next_count(&s, &name).await, 4.0, "{label}: restored after a stop");
        ok(s.restart(name.clone())).await;
        assert_eq!(next_count(&s, &name).await, 5.0, "{label}: restored after a restart");
        ok(s.stop(name.clone())).await;
        JsFuture::from(b.terminate()).await.unwrap();

        // A new bridge (what a reload makes): the snapshot is still there.
        let b = bridge().await;
        let s = b.services();
        ok(s.register(name.clone(), counter_of(&label, &definition), options())).await;
        ok(s.start(name.clone())).await;
        assert_eq!(next_count(&s, &name).await, 6.0, "{label}: restored in a new bridge");
        // Without persist, the same name starts fresh (and leaves the snapshot alone).
        let plain = format!("{name}-plain");
        ok(s.register(plain.clone(), counter_of(&label, &definition), obj(&[("placement", placement.into())]))).await;
        ok(s.start(plain.clone())).await;
        assert_eq!(next_count(&s, &plain).await, 1.0, "{label}: not persisted");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_persisted_service_restores_the_interval_snapshot_after_no_stop() {
    for (label, definition, placement) in cases() {
        let name = unique(&label.replace('/', "-"));
        let options =
            || obj(&[("placement", placement.into()), ("persist", true.into()), ("snapshotIntervalMs", 100.into())]);
        let b = bridge().await;
        let s = b.services();
        ok(s.register(name.clone(), counter_of(&label, &definition), options())).await;
        ok(s.start(name.clone())).await;
        next_count(&s, &name).await;
        next_count(&s, &name).await;
        delay(400).await;
        // Terminated without a stop (as a crash or a closed tab): no snapshot at stop.
        JsFuture::from(b.terminate()).await.unwrap();
        let b = bridge().await;
        let s = b.services();
        ok(s.register(name.clone(), counter_of(&label, &definition), options())).await;
        ok(s.start(name.clone())).await;
        assert_eq!(next_count(&s, &name).await, 3.0, "{label}: the interval's snapshot was restored");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_persisted_service_fails_its_start_on_a_failed_restore_and_its_stop_on_a_failed_snapshot() {
    for (label, definition, placement) in cases() {
        let name = unique(&label.replace('/', "-"));
        let with =
            |config: &str| obj(&[("placement", placement.into()), ("persist", true.into()), ("config", json(config))]);
        let b = bridge().await;
        let s = b.services();
        ok(s.register(name.clone(), counter_of(&label, &definition), with(r#"{ "snapshotFails": true }"#))).await;
        ok(s.start(name.clone())).await;
        next_count(&s, &name).await;
        let (error, message) = err(s.stop(name.clone())).await;
        assert_eq!((error.as_str(), message.as_str()), ("RangeError", "asked to fail the snapshot"), "{label}");
        assert_eq!(text(&service_status(&b, &name), "state"), "failed", "{label}");
        // On the interval, a failed snapshot fails the running service.
        let every = format!("{name}-interval");
        let options = obj(&[
            ("placement", placement.into()),
            ("persist", true.into()),
            ("snapshotIntervalMs", 100.into()),
            ("config", json(r#"{ "snapshotFails": true }"#)),
        ]);
        ok(s.register(every.clone(), counter_of(&label, &definition), options)).await;
        ok(s.start(every.clone())).await;
        let st = wait_for(&b, &every, "the interval's snapshot fails it", |st| text(st, "state") == "failed").await;
        assert!(text(&st, "lastError").contains("asked to fail the snapshot"), "{label}");
        JsFuture::from(b.terminate()).await.unwrap();

        // A snapshot stored, then a start whose onRestore throws: the start fails with its error.
        let b = bridge().await;
        let s = b.services();
        ok(s.register(name.clone(), counter_of(&label, &definition), with("{}"))).await;
        ok(s.start(name.clone())).await;
        next_count(&s, &name).await;
        ok(s.stop(name.clone())).await;
        let failing = format!("{name}-restore");
        ok(s.unregister(name.clone())).await;
        ok(s.register(name.clone(), counter_of(&label, &definition), with(r#"{ "restoreFails": true }"#))).await;
        let (error, message) = err(s.start(name.clone())).await;
        assert_eq!((error.as_str(), message.as_str()), ("RangeError", "asked to fail the restore"), "{label}");
        let st = service_status(&b, &name);
        assert_eq!(text(&st, "state"), "failed", "{label}");
        assert!(text(&st, "lastError").contains("asked to fail the restore"), "{label}");
        // No snapshot stored: onRestore is not called, the start succeeds.
        ok(s.register(failing.clone(), counter_of(&label, &definition), with(r#"{ "restoreFails": true }"#))).await;
        ok(s.start(failing.clone())).await;
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_persisted_snapshot_over_the_limit_fails_the_stop() {
    for placement in PLACEMENTS {
        let name = unique(placement);
        let config = json(r#"{ "snapshotBytes": 4200000 }"#);
        let options = obj(&[("placement", placement.into()), ("persist", true.into()), ("config", config)]);
        let b = bridge().await;
        let s = b.services();
        ok(s.register(name.clone(), counter_service_url().into(), options)).await;
        ok(s.start(name.clone())).await;
        let (error, message) = err(s.stop(name.clone())).await;
        assert_eq!(error, "LimitExceededError", "{placement}: {message}");
        assert_eq!(text(&service_status(&b, &name), "state"), "failed", "{placement}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn each_persisted_copy_has_a_snapshot_of_its_own() {
    for placement in PLACEMENTS {
        let name = unique(placement);
        let options = || obj(&[("placement", placement.into()), ("persist", true.into()), ("instances", 2.into())]);
        let b = bridge().await;
        let s = b.services();
        ok(s.register(name.clone(), counter_service_url().into(), options())).await;
        ok(s.start(name.clone())).await;
        // One at a time: the least busy copy takes each, the copies in turn (1, 1, 2, 2, 3, 3).
        for i in 0..6 {
            assert_eq!(next_count(&s, &name).await, f64::from(i / 2 + 1), "{placement}: message {i}");
        }
        ok(s.stop(name.clone())).await;
        ok(s.start(name.clone())).await;
        assert_eq!(next_count(&s, &name).await, 4.0, "{placement}: copy 0 restored");
        assert_eq!(next_count(&s, &name).await, 4.0, "{placement}: copy 1 restored");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn persist_needs_both_hooks_and_a_sane_interval() {
    let b = bridge().await;
    let s = b.services();
    // A module without onSnapshot / onRestore: the start says what is missing.
    for placement in PLACEMENTS {
        let name = unique(placement);
        let options = obj(&[("placement", placement.into()), ("persist", true.into())]);
        ok(s.register(name.clone(), format!("{}?on=never", throw_service_url()).into(), options)).await;
        let (error, message) = err(s.start(name.clone())).await;
        assert_eq!(error, "TypeError", "{placement}");
        assert!(message.contains("onSnapshot") && message.contains("onRestore"), "{placement}: {message}");
        // A Rust service whose `Service` does not implement the hooks (the built-in kv store).
        let rust = format!("{name}-rust");
        let options = obj(&[("placement", placement.into()), ("persist", true.into())]);
        ok(s.register(rust.clone(), obj(&[("rust", "kv".into())]), options)).await;
        let (error, message) = err(s.start(rust)).await;
        assert_eq!(error, "NotSupportedError", "{placement}: {message}");
        assert!(message.contains("on_snapshot"), "{placement}: {message}");
    }
    for options in [
        obj(&[("snapshotIntervalMs", 1000.into())]),
        obj(&[("persist", true.into()), ("snapshotIntervalMs", 10.into())]),
        obj(&[("persist", "yes".into())]),
    ] {
        let (error, _) = err(s.register(unique("bad"), counter_service_url().into(), options)).await;
        assert_eq!(error, "ValidationError");
    }
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen(module = "/tests/services/relay.service.js")]
extern "C" {
    #[wasm_bindgen(js_name = relayServiceUrl)]
    fn relay_service_url() -> String;
}

/// `ctx.send` from the relay to `to`: `{ op, to, ...rest }`.
fn relay(op: &str, to: &str, rest: &[(&str, JsValue)]) -> JsValue {
    let mut fields = vec![("op", JsValue::from(op)), ("to", JsValue::from(to))];
    fields.extend(rest.iter().cloned());
    obj(&fields)
}

#[wasm_bindgen_test]
async fn a_service_sends_to_another_with_the_same_order_and_errors_as_services_send() {
    // Every pair of placements, and a Rust receiver.
    let pairs = [("worker", "worker"), ("worker", "main"), ("main", "worker"), ("main", "main")];
    for (from, to) in pairs {
        for (kind, definition) in counters() {
            let label = format!("{from} → {kind}/{to}");
            let b = bridge().await;
            let s = b.services();
            ok(s.register("counter".into(), counter_of(kind, &definition), obj(&[("placement", to.into())]))).await;
            ok(s.register("relay".into(), relay_service_url().into(), obj(&[("placement", from.into())]))).await;
            ok(s.start("counter".into())).await;
            ok(s.start("relay".into())).await;
            // A reply is the promise's value.
            let reply =
                ok(s.send("relay".into(), relay("forward", "counter", &[("message", 5.into())]), JsValue::UNDEFINED))
                    .await;
            assert_eq!(get(&reply, "count").as_f64(), Some(1.0), "{label}");
            assert_eq!(get(&reply, "echo").as_f64(), Some(5.0), "{label}");
            // FIFO from a sender to a receiver.
            let replies =
                ok(s.send("relay".into(), relay("burst", "counter", &[("n", 200.into())]), JsValue::UNDEFINED)).await;
            for (i, reply) in Array::from(&replies).iter().enumerate() {
                assert_eq!(get(&reply, "count").as_f64(), Some(2.0 + i as f64), "{label}: FIFO at {i}");
                assert_eq!(get(&reply, "echo").as_f64(), Some(i as f64), "{label}");
            }
            // The receiver's own error, and the bridge's typed ones.
            let caught = |rest: &[(&str, JsValue)], to: &str| {
                s.send("relay".into(), relay("catch", to, rest), JsValue::UNDEFINED)
            };
            let thrown = ok(caught(&[("message", obj(&[("op", "throw".into())]))], "counter")).await;
            assert_eq!(text(&thrown, "name"), "RangeError", "{label}");
            assert_eq!(text(&thrown, "message"), "asked to throw at 201", "{label}");
            let unknown = ok(caught(&[("message", 1.into())], "nobody")).await;
            assert_eq!(text(&unknown, "name"), "ValidationError", "{label}");
            let uncloneable =
                ok(s.send("relay".into(), relay("uncloneable", "counter", &[]), JsValue::UNDEFINED)).await;
            assert_eq!(text(&uncloneable, "name"), "ValidationError", "{label}: {}", text(&uncloneable, "message"));
            let slow = obj(&[("op", "sleep".into()), ("ms", 300.into())]);
            if kind == "js" {
                let late =
                    ok(caught(&[("message", slow), ("options", obj(&[("timeoutMs", 30.into())]))], "counter")).await;
                assert_eq!(text(&late, "name"), "TimeoutError", "{label}");
            }
            ok(s.stop("counter".into())).await;
            let stopped = ok(caught(&[("message", 1.into())], "counter")).await;
            assert_eq!(text(&stopped, "name"), "ServiceStateError", "{label}");
            // Restarted: sends reach the new host.
            ok(s.start("counter".into())).await;
            let reply =
                ok(s.send("relay".into(), relay("forward", "counter", &[("message", 1.into())]), JsValue::UNDEFINED))
                    .await;
            assert_eq!(get(&reply, "count").as_f64(), Some(1.0), "{label}: a fresh start");
            // A handler awaiting its own send to itself waits behind itself: only its timeout ends it.
            let own = ok(s.send(
                "relay".into(),
                relay("catch", "relay", &[("message", 1.into()), ("options", obj(&[("timeoutMs", 50.into())]))]),
                JsValue::UNDEFINED,
            ))
            .await;
            assert_eq!(text(&own, "name"), "TimeoutError", "{label}");
            // `send` is not part of the context's own keys (nor of a snapshot of it).
            let keys = ok(s.send("relay".into(), relay("keys", "", &[]), JsValue::UNDEFINED)).await;
            assert_eq!(Array::from(&keys).length(), 0, "{label}");
            // Between two workers the messages take a direct channel: the page's link to the
            // receiver carried none of them.
            let handled = get(&service_status(&b, "counter"), "messagesHandled").as_f64().unwrap();
            if (from, to) == ("worker", "worker") {
                assert_eq!(handled, 0.0, "{label}: no hop through the page");
            } else {
                assert!(handled >= 202.0, "{label}: through the page ({handled})");
            }
            if to == "worker" && kind == "js" {
                // The receiver's worker dies while a reply is awaited: the send fails at once.
                let sleep = obj(&[("op", "sleep".into()), ("ms", 3000.into())]);
                let crash = relay("crash-then", "counter", &[("message", sleep)]);
                let crashed = ok(s.send("relay".into(), crash, JsValue::UNDEFINED)).await;
                assert_eq!(text(&crashed, "name"), "WorkerCrashedError", "{label}: {}", text(&crashed, "message"));
                wait_for(&b, "counter", "the receiver fails", |st| text(st, "state") == "failed").await;
                let failed = ok(caught(&[("message", 1.into())], "counter")).await;
                assert_eq!(text(&failed, "name"), "ServiceStateError", "{label}");
            }
            JsFuture::from(b.terminate()).await.unwrap();
        }
    }
}

/// `{ op: 'heard' }` of the Rust counter `name` once it has heard `n` replies (at most 5 s).
async fn heard(s: &worker_bridge::ServicesFacade, name: &str, n: u32, label: &str) -> Array {
    let mut waited = 0;
    loop {
        let heard = Array::from(&ok(s.send(name.into(), obj(&[("op", "heard".into())]), JsValue::UNDEFINED)).await);
        if heard.length() >= n {
            assert_eq!(heard.length(), n, "{label}: {:?}", js_sys::JSON::stringify(&heard));
            return heard;
        }
        assert!(waited < 5000, "{label}: {} of {n} replies heard", heard.length());
        delay(20).await;
        waited += 20;
    }
}

/// A Rust service sends through its `Outbox` (the Rust `ctx.send`): from `on_start` and from a
/// message, to a JavaScript and to a Rust service, in every pair of placements; replies come back
/// to `on_reply` in order, errors with the names `ctx.send` rejects with, and a reply to a send
/// of an earlier start is dropped.
#[wasm_bindgen_test]
async fn a_rust_service_sends_through_its_outbox_as_ctx_send_does() {
    let pairs = [("worker", "worker"), ("worker", "main"), ("main", "worker"), ("main", "main")];
    for (from, to) in pairs {
        for (kind, definition) in counters() {
            let label = format!("rust/{from} → {kind}/{to}");
            let b = bridge().await;
            let s = b.services();
            ok(s.register("counter".into(), counter_of(kind, &definition), obj(&[("placement", to.into())]))).await;
            let talker = obj(&[("rust", "test-counter".into())]);
            let config = obj(&[("greet", "counter".into())]);
            ok(s.register("talker".into(), talker, obj(&[("placement", from.into()), ("config", config)]))).await;
            ok(s.start("counter".into())).await;
            ok(s.start("talker".into())).await;
            // on_start's greeting.
            let first = heard(&s, "talker", 1, &label).await.get(0);
            assert_eq!(get(&first, "ticket").as_f64(), Some(0.0), "{label}");
            assert_eq!(get(&get(&first, "value"), "count").as_f64(), Some(1.0), "{label}");
            assert_eq!(text(&get(&first, "value"), "echo"), "hello", "{label}");
            // Fifty sends from fifty messages: FIFO to the receiver, replies in the same order.
            let sends: Array = (0..50)
                .map(|i| {
                    let m = obj(&[("op", "send".into()), ("to", "counter".into()), ("message", i.into())]);
                    JsValue::from(s.send("talker".into(), m, JsValue::UNDEFINED))
                })
                .collect();
            let tickets = Array::from(&JsFuture::from(Promise::all(&sends)).await.unwrap());
            let replies = heard(&s, "talker", 51, &label).await;
            for i in 0..50u32 {
                assert_eq!(tickets.get(i).as_f64(), Some(f64::from(i + 1)), "{label}");
                let reply = replies.get(i + 1);
                assert_eq!(get(&reply, "ticket").as_f64(), Some(f64::from(i + 1)), "{label}: in order");
                assert_eq!(get(&get(&reply, "value"), "count").as_f64(), Some(f64::from(i + 2)), "{label}");
                assert_eq!(get(&get(&reply, "value"), "echo").as_f64(), Some(f64::from(i)), "{label}");
            }
            // Errors: the receiver's own, and the bridge's typed ones.
            let send = |to: &str, message: JsValue, timeout: Option<u32>| {
                let mut fields = vec![("op", "send".into()), ("to", to.into()), ("message", message)];
                if let Some(ms) = timeout {
                    fields.push(("timeoutMs", ms.into()));
                }
                s.send("talker".into(), obj(&fields), JsValue::UNDEFINED)
            };
            // (Replies to different receivers, or that fail on the way, come in any order.)
            let mut expected = vec![
                (ok(send("counter", obj(&[("op", "throw".into())]), None)).await, "RangeError", "asked to throw at 51"),
                (ok(send("nobody", 1.into(), None)).await, "ValidationError", "nobody"),
            ];
            if kind == "js" {
                let slow = ok(send("counter", obj(&[("op", "sleep".into()), ("ms", 300.into())]), Some(30))).await;
                expected.push((slow, "TimeoutError", "30 ms"));
            }
            let n = 51 + expected.len() as u32;
            let errors = heard(&s, "talker", n, &label).await;
            for (ticket, name, message) in &expected {
                let entry = errors.iter().find(|e| get(e, "ticket") == *ticket).expect("every send is answered");
                let error = get(&entry, "error");
                assert_eq!(text(&error, "name"), *name, "{label}: {:?}", js_sys::JSON::stringify(&error));
                assert!(text(&error, "message").contains(message), "{label}: {}", text(&error, "message"));
            }
            ok(s.stop("counter".into())).await;
            ok(send("counter", 1.into(), None)).await;
            let stopped = heard(&s, "talker", n + 1, &label).await.get(n);
            assert_eq!(text(&get(&stopped, "error"), "name"), "ServiceStateError", "{label}");
            // Between two workers the sends took a direct channel: none went through the page.
            let handled = get(&service_status(&b, "counter"), "messagesHandled").as_f64().unwrap();
            if (from, to) == ("worker", "worker") {
                assert_eq!(handled, 0.0, "{label}: no hop through the page");
            } else {
                assert!(handled >= 52.0, "{label}: through the page ({handled})");
            }
            ok(s.start("counter".into())).await;
            if kind == "js" {
                // A reply to a send of the start before is dropped: the new start hears its own
                // only. The receiver is still asleep on the old send when the talker restarts,
                // and has answered it once it answers a later message (FIFO).
                ok(send("counter", obj(&[("op", "sleep".into()), ("ms", 600.into())]), None)).await;
                ok(s.restart("talker".into())).await;
                ok(s.send("counter".into(), 1.into(), JsValue::UNDEFINED)).await;
                delay(100).await;
                let fresh = heard(&s, "talker", 1, &label).await.get(0);
                assert_eq!(text(&get(&fresh, "value"), "echo"), "hello", "{label}: only the new greeting");
            }
            JsFuture::from(b.terminate()).await.unwrap();
        }
    }
}
