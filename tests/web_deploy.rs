//! Deployment: a bridge whose workers start from an explicit `workerUrl` (the package's files
//! served from a custom location) works — its pool, a task, a worker-placed JavaScript service —
//! and a `workerUrl` that does not serve the worker fails `create()` with a named error, soon.
#![cfg(target_arch = "wasm32")]

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use worker_bridge::WorkerBridge;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{get, obj};

#[wasm_bindgen(module = "/tests/services/counter.service.js")]
extern "C" {
    #[wasm_bindgen(js_name = counterServiceUrl)]
    fn counter_service_url() -> String;
}

#[wasm_bindgen(module = "/tests/tasks/basic.task.js")]
extern "C" {
    #[wasm_bindgen(js_name = basicTaskUrl)]
    fn basic_task_url() -> String;
}

async fn create(options: JsValue) -> Result<WorkerBridge, JsValue> {
    JsFuture::from(WorkerBridge::create(options)).await.map(|b| WorkerBridge::try_from_js_value(b).unwrap())
}

async fn ok(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| panic!("rejected: {:?}: {:?}", get(&e, "name"), get(&e, "message")))
}

#[wasm_bindgen_test]
async fn a_bridge_with_an_explicit_worker_url_runs_ops_and_tasks_in_workers() {
    let url = WorkerBridge::default_worker_url();
    // As a string, and as a URL object.
    let as_url: JsValue = web_sys::Url::new(&url).unwrap().into();
    for worker_url in [JsValue::from(url.as_str()), as_url] {
        let options = obj(&[("poolSize", 1.into()), ("fallback", "never".into()), ("workerUrl", worker_url)]);
        let b = create(options).await.unwrap_or_else(|e| panic!("create failed from {url}: {:?}", get(&e, "message")));
        assert_eq!(get(&b.status(), "mode"), "workers");
        let digest = ok(b.crypto().sha256(Uint8Array::from(&b"abc"[..]).into(), JsValue::UNDEFINED)).await;
        assert_eq!(Uint8Array::new(&digest).to_vec()[..4], [0xba, 0x78, 0x16, 0xbf]);
        let def = obj(&[("module", basic_task_url().into()), ("export", "where".into())]);
        ok(b.tasks().register("where".into(), def)).await;
        assert_eq!(ok(b.tasks().run("where".into(), JsValue::NULL, JsValue::UNDEFINED)).await, "worker");
        // A worker-placed JavaScript service starts beside it too (service-host.js).
        let services = b.services();
        let placement = obj(&[("placement", "worker".into())]);
        ok(services.register("counter".into(), counter_service_url().into(), placement)).await;
        ok(services.start("counter".into())).await;
        let reply = ok(services.send("counter".into(), "hi".into(), JsValue::UNDEFINED)).await;
        assert_eq!(get(&reply, "count"), 1);
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_worker_url_that_serves_no_worker_fails_create_with_a_named_error() {
    let started = js_sys::Date::now();
    let missing = WorkerBridge::default_worker_url().replace("worker.js", "missing-worker.js");
    for worker_url in [missing.as_str(), "/no/such/dir/worker.js"] {
        let options = obj(&[("poolSize", 1.into()), ("fallback", "never".into()), ("workerUrl", worker_url.into())]);
        let e = match create(options).await {
            Ok(_) => panic!("a bridge was created from {worker_url}"),
            Err(e) => e,
        };
        assert_eq!(get(&e, "name"), "NotSupportedError", "{:?}", get(&e, "message"));
    }
    assert!(js_sys::Date::now() - started < 20_000.0, "it took too long to fail");
    // Not a URL at all: refused at once.
    let options = obj(&[("workerUrl", 42.into())]);
    let e = create(options).await.expect_err("a number is not a URL");
    assert_eq!(get(&e, "name"), "ValidationError");
}

#[wasm_bindgen_test]
async fn a_worker_url_of_another_origin_starts_through_a_shim_and_fails_cleanly_without_cors() {
    // The same server under another name is another origin; it sends no CORS headers, so the
    // shim's import of the worker script is refused: a named error, not a hang.
    let url = WorkerBridge::default_worker_url();
    let other = url.replacen("127.0.0.1", "localhost", 1);
    assert_ne!(other, url, "the test server is expected at 127.0.0.1");
    let options = obj(&[("poolSize", 1.into()), ("fallback", "never".into()), ("workerUrl", other.into())]);
    let e = create(options).await.expect_err("the test server sends no CORS headers");
    assert_eq!(get(&e, "name"), "NotSupportedError", "{:?}", get(&e, "message"));
    // The shim started (the browser did not refuse it), and its import of the script failed.
    let message = get(&e, "message").as_string().unwrap_or_default();
    assert!(message.contains("the worker script failed to load"), "{message}");
}

#[wasm_bindgen_test]
async fn with_fallback_a_bad_worker_url_runs_calls_on_the_page() {
    let options = obj(&[("poolSize", 1.into()), ("workerUrl", "/no/such/dir/worker.js".into())]);
    let b = create(options).await.unwrap();
    let digest = ok(b.crypto().sha256(Uint8Array::from(&b"abc"[..]).into(), JsValue::UNDEFINED)).await;
    assert_eq!(Uint8Array::new(&digest).to_vec()[..4], [0xba, 0x78, 0x16, 0xbf]);
    assert_eq!(get(&b.status(), "mode"), "main-thread");
    let reason = get(&b.status(), "fallbackReason").as_string().unwrap_or_default();
    assert!(!reason.is_empty());
    JsFuture::from(b.terminate()).await.unwrap();
}
