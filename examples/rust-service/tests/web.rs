//! The `word-count` service in a real browser, in its own worker and on the main thread, driven
//! through the package's JavaScript API as an app drives it (`register`, `start`, `send`,
//! `status`, `stop`). The bridge is this crate built as a package (`pkg/`, see
//! `tests/package.js` for why not the test's own instance), so each service instance is a fresh
//! instance of the crate's module that learnt the name from the crate's `#[wasm_bindgen(start)]`.
//!
//! ```sh
//! wasm-pack build --dev --target web --mode no-install examples/rust-service
//! cd examples/rust-service && wasm-pack test --headless --chrome
//! ```
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Promise, JSON};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/package.js")]
extern "C" {
    /// Resolves to the package's `WorkerBridge` class.
    #[wasm_bindgen(js_name = loadPackage)]
    fn load_package() -> Promise;
}

// The part of the package's JavaScript API this test uses (see the README).
#[wasm_bindgen]
extern "C" {
    type BridgeClass;
    #[wasm_bindgen(method)]
    fn create(this: &BridgeClass, options: &JsValue) -> Promise;

    type Bridge;
    #[wasm_bindgen(method, getter)]
    fn services(this: &Bridge) -> Services;
    #[wasm_bindgen(method)]
    fn terminate(this: &Bridge) -> Promise;
    #[wasm_bindgen(method, getter)]
    fn tasks(this: &Bridge) -> Tasks;

    type Tasks;
    #[wasm_bindgen(method, js_name = register)]
    fn register_task(this: &Tasks, name: &str, definition: &JsValue) -> Promise;
    #[wasm_bindgen(method)]
    fn run(this: &Tasks, name: &str, input: &JsValue) -> Promise;

    type Services;
    #[wasm_bindgen(method)]
    fn register(this: &Services, name: &str, definition: &JsValue, options: &JsValue) -> Promise;
    #[wasm_bindgen(method)]
    fn start(this: &Services, name: &str) -> Promise;
    #[wasm_bindgen(method)]
    fn stop(this: &Services, name: &str) -> Promise;
    #[wasm_bindgen(method)]
    fn send(this: &Services, name: &str, message: &JsValue) -> Promise;
    #[wasm_bindgen(method)]
    fn status(this: &Services) -> Array;
}

/// The JavaScript value `value` stands for.
fn js(value: Value) -> JsValue {
    JSON::parse(&value.to_string()).expect("valid JSON")
}

/// `value` as JSON, to compare with `json!`; `undefined` becomes `null`.
fn json(value: &JsValue) -> Value {
    let text = JSON::stringify(value).ok().and_then(|t| t.as_string()).unwrap_or_else(|| "null".into());
    serde_json::from_str(&text).expect("JSON.stringify writes JSON")
}

async fn ok(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| panic!("rejected: {}", json(&error(&e))))
}

/// `{ name, message }` of a rejection.
async fn err(p: Promise) -> Value {
    match JsFuture::from(p).await {
        Ok(v) => panic!("resolved with {}", json(&v)),
        Err(e) => json(&error(&e)),
    }
}

fn error(e: &JsValue) -> JsValue {
    let get = |k: &str| js_sys::Reflect::get(e, &k.into()).unwrap_or(JsValue::UNDEFINED);
    js(json!({ "name": json(&get("name")), "message": json(&get("message")) }))
}

async fn send(s: &Services, message: Value) -> Value {
    send_to(s, "words", message).await
}

async fn send_to(s: &Services, name: &str, message: Value) -> Value {
    json(&ok(s.send(name, &js(message))).await)
}

fn status(s: &Services) -> Value {
    let all = json(&s.status());
    all.as_array().unwrap().iter().find(|st| st["name"] == "words").cloned().expect("words is registered")
}

async fn delay(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Registers `word-count` as `words` in `placement` and takes it through its life.
async fn exercise(placement: &str) {
    let class: BridgeClass = ok(load_package()).await.unchecked_into();
    let bridge: Bridge = ok(class.create(&js(json!({ "poolSize": 1 })))).await.unchecked_into();
    let s = bridge.services();
    let options = js(json!({ "placement": placement, "healthIntervalMs": 50 }));
    ok(s.register("words", &js(json!({ "rust": "word-count" })), &options)).await;
    ok(s.start("words")).await;

    // The context persists across messages.
    assert_eq!(
        send(&s, json!({ "op": "add", "text": "The cat and the hat." })).await,
        json!({ "words": 5, "distinct": 4 })
    );
    assert_eq!(
        send(&s, json!({ "op": "add", "text": "THE END, the end" })).await,
        json!({ "words": 4, "distinct": 5 })
    );
    let top = json!([{ "word": "the", "count": 4 }, { "word": "end", "count": 2 }]);
    assert_eq!(send(&s, json!({ "op": "top", "n": 2 })).await, top);

    // Errors are the service's own, and fail that message only.
    let many: Vec<String> = (0..10_000).map(|i| format!("w{i}")).collect();
    assert_eq!(
        err(s.send("words", &js(json!({ "op": "add", "text": many.join(" ") })))).await,
        json!({ "name": "QuotaExceededError", "message": "more than 10000 distinct words" }),
        "{placement}: 10,005 distinct words are over the registered quota"
    );
    let unreadable = err(s.send("words", &js(json!({ "op": "explode" })))).await;
    assert_eq!(unreadable["name"], "ValidationError", "{placement}: {unreadable}");
    assert_eq!(send(&s, json!({ "op": "top", "n": 2 })).await, top, "{placement}: the failures changed nothing");

    let st = status(&s);
    assert_eq!(st["state"], "running", "{st}");
    assert_eq!(st["placement"], placement);
    assert_eq!(st["messagesHandled"], 6, "the two failures count as handled");
    // The health hook answers from the service's context.
    let mut waited = 0;
    while status(&s)["lastHealth"] != json!({ "healthy": true, "detail": "5 distinct words" }) {
        assert!(waited < 5000, "{placement}: no health report: {}", status(&s));
        delay(20).await;
        waited += 20;
    }

    ok(s.stop("words")).await;
    assert_eq!(status(&s)["state"], "stopped");
    assert_eq!(err(s.send("words", &js(json!({ "op": "top", "n": 1 })))).await["name"], "ServiceStateError");
    // A new start begins with an empty context.
    ok(s.start("words")).await;
    assert_eq!(send(&s, json!({ "op": "top", "n": 5 })).await, json!([]), "{placement}");
    ok(s.stop("words")).await;

    // The same service configured: its typed config sets the quota; one that does not fit fails
    // the start.
    let options = js(json!({ "placement": placement, "config": { "maxDistinct": 3 } }));
    ok(s.register("tiny", &js(json!({ "rust": "word-count" })), &options)).await;
    ok(s.start("tiny")).await;
    assert_eq!(
        err(s.send("tiny", &js(json!({ "op": "add", "text": "one two three four" })))).await,
        json!({ "name": "QuotaExceededError", "message": "more than 3 distinct words" }),
        "{placement}"
    );
    assert_eq!(
        send_to(&s, "tiny", json!({ "op": "add", "text": "one two two" })).await,
        json!({ "words": 3, "distinct": 2 })
    );
    let options = js(json!({ "placement": placement, "config": { "maxDistinct": "three" } }));
    ok(s.register("wrong", &js(json!({ "rust": "word-count" })), &options)).await;
    let refused = err(s.start("wrong")).await;
    assert_eq!(refused["name"], "ValidationError", "{placement}: {refused}");
    ok(bridge.terminate()).await;
}

#[wasm_bindgen_test]
async fn word_count_in_its_own_worker() {
    exercise("worker").await;
}

#[wasm_bindgen_test]
async fn word_count_on_the_main_thread() {
    exercise("main").await;
}

/// The crate's `sum` task (registered by its `#[wasm_bindgen(start)]` with `register_task`) in a
/// pool worker and on the page.
#[wasm_bindgen_test]
async fn the_crates_own_task_runs_in_a_worker_and_on_the_page() {
    let class: BridgeClass = ok(load_package()).await.unchecked_into();
    for fallback in ["never", "always"] {
        let bridge: Bridge =
            ok(class.create(&js(json!({ "poolSize": 1, "fallback": fallback })))).await.unchecked_into();
        let tasks = bridge.tasks();
        ok(tasks.register_task("sum", &js(json!({ "rust": "sum" })))).await;
        assert_eq!(json(&ok(tasks.run("sum", &js(json!([1, 2, 3.5])))).await), json!(6.5), "{fallback}");
        assert_eq!(
            err(tasks.run("sum", &js(json!([])))).await,
            json!({ "name": "RangeError", "message": "nothing to sum" }),
            "{fallback}"
        );
        ok(bridge.terminate()).await;
    }
}
