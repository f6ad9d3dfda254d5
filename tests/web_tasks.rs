//! The app's own tasks (`bridge.tasks`) in a real browser, in both placements with the same test
//! bodies (a pool worker, and the page with `fallback: 'always'`): results, progress, errors with
//! their names, unknown names and broken modules, abort, time limits, transfer, module caching,
//! Rust tasks; and in the pool only, what needs a worker to replace.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, ArrayBuffer, Function, Promise, Uint8Array};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::AbortController;
use worker_bridge::WorkerBridge;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{get, obj};

#[wasm_bindgen(module = "/tests/tasks/basic.task.js")]
extern "C" {
    #[wasm_bindgen(js_name = basicTaskUrl)]
    fn basic_task_url() -> String;
}

/// The two placements: a one-worker pool, and the page.
const PLACEMENTS: [(&str, &str); 2] = [("worker", "never"), ("page", "always")];

async fn bridge(fallback: &str, extra: &[(&str, JsValue)]) -> WorkerBridge {
    let mut pairs = vec![("poolSize", JsValue::from(1)), ("fallback", fallback.into())];
    pairs.extend(extra.iter().cloned());
    let b = JsFuture::from(WorkerBridge::create(obj(&pairs))).await.unwrap();
    WorkerBridge::try_from_js_value(b).unwrap()
}

/// Registers every export of `basic.task.js` used below under its own name.
async fn register_all(b: &WorkerBridge) {
    for export in [
        "default",
        "double",
        "count",
        "where",
        "steps",
        "fail",
        "failCustom",
        "throwString",
        "untilAborted",
        "forever",
        "spin",
        "bytes",
        "byteLength",
        "notAFunction",
        "detached",
    ] {
        let def = obj(&[("module", basic_task_url().into()), ("export", export.into())]);
        ok(b.tasks().register(export.into(), def)).await;
    }
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

fn run(b: &WorkerBridge, name: &str, input: JsValue, options: JsValue) -> Promise {
    b.tasks().run(name.into(), input, options)
}

fn counters(b: &WorkerBridge) -> JsValue {
    get(&b.status(), "counters")
}

fn num(v: &JsValue, key: &str) -> f64 {
    get(v, key).as_f64().unwrap_or(f64::NAN)
}

async fn delay(ms: i32) {
    let p = Promise::new(&mut |r, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&r, ms).unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_task_runs_where_its_placement_is_and_returns_its_value() {
    for (placement, fallback) in PLACEMENTS {
        let b = bridge(fallback, &[]).await;
        register_all(&b).await;
        assert_eq!(ok(run(&b, "where", JsValue::NULL, JsValue::UNDEFINED)).await, placement);
        assert_eq!(ok(run(&b, "double", 21.into(), JsValue::UNDEFINED)).await, 42, "{placement}");
        let value = obj(&[("a", 1.into()), ("body", "not bytes".into())]);
        let back = ok(run(&b, "default", value, JsValue::UNDEFINED)).await;
        assert_eq!(get(&back, "body"), "not bytes", "{placement}: an object with a body key is a value");
        assert!(ok(run(&b, "default", JsValue::UNDEFINED, JsValue::UNDEFINED)).await.is_undefined());
        // Imported once per realm: the module's own counter goes on from call to call.
        let first = ok(run(&b, "count", JsValue::NULL, JsValue::UNDEFINED)).await.as_f64().unwrap();
        assert_eq!(ok(run(&b, "count", JsValue::NULL, JsValue::UNDEFINED)).await, first + 1.0, "{placement}");
        let c = counters(&b);
        assert_eq!(num(&c, "completed"), 6.0, "{placement}: tasks are counted as calls");
        assert_eq!(ok(b.tasks().unregister("double".into())).await, true);
        let (name, message) = err(run(&b, "double", 1.into(), JsValue::UNDEFINED)).await;
        assert_eq!(name, "TaskError", "{placement}: {message}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn progress_reaches_on_progress_in_both_placements() {
    for (placement, fallback) in PLACEMENTS {
        let b = bridge(fallback, &[]).await;
        register_all(&b).await;
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::<(f64, f64)>::new()));
        let sink = seen.clone();
        let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
            sink.borrow_mut().push((num(&p, "done"), num(&p, "total")));
        });
        let options = obj(&[("onProgress", on_progress.as_ref().clone())]);
        assert_eq!(ok(run(&b, "steps", 5.into(), options)).await, 5);
        let seen = seen.borrow().clone();
        assert!(!seen.is_empty(), "{placement}: no progress");
        assert!(seen.iter().all(|&(d, t)| (t == 5.0 && d <= 5.0) || (d, t) == (0.0, 0.0)), "{placement}: {seen:?}");
        assert!(seen.iter().any(|&(d, _)| d > 0.0 && d < 5.0), "{placement}: no report along the way: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{placement}: {seen:?}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn errors_keep_their_names_and_a_broken_task_leaves_the_pool_working() {
    for (placement, fallback) in PLACEMENTS {
        let b = bridge(fallback, &[]).await;
        register_all(&b).await;
        assert_eq!(
            err(run(&b, "fail", "too big".into(), JsValue::UNDEFINED)).await,
            ("RangeError".into(), "too big".into()),
            "{placement}"
        );
        assert_eq!(err(run(&b, "failCustom", JsValue::NULL, JsValue::UNDEFINED)).await.0, "QuotaError");
        let (name, message) = err(run(&b, "throwString", JsValue::NULL, JsValue::UNDEFINED)).await;
        assert_eq!(name, "TaskError");
        assert!(message.contains("plain string"), "{message}");
        // The thrown error's stack comes back too.
        let e = JsFuture::from(run(&b, "fail", "x".into(), JsValue::UNDEFINED)).await.unwrap_err();
        assert!(get(&e, "stack").as_string().unwrap_or_default().contains("basic.task.js"), "{placement}");
        assert!(e.is_instance_of::<js_sys::Error>());

        let (name, message) = err(run(&b, "nobody", JsValue::NULL, JsValue::UNDEFINED)).await;
        assert_eq!(name, "TaskError", "{message}");
        assert!(message.contains("nobody"), "{message}");
        let (name, message) = err(run(&b, "notAFunction", JsValue::NULL, JsValue::UNDEFINED)).await;
        assert_eq!(name, "TaskError");
        assert!(message.contains("exports no function notAFunction"), "{message}");
        let missing = basic_task_url().replace("basic.task.js", "missing.task.js");
        ok(b.tasks().register("missing".into(), obj(&[("module", missing.into())]))).await;
        let (name, message) = err(run(&b, "missing", JsValue::NULL, JsValue::UNDEFINED)).await;
        assert_eq!(name, "TaskError");
        assert!(message.contains("did not import"), "{message}");

        // A result that cannot be shaped (a detached buffer as bytes) fails its call alone, the
        // first time (the module still importing) and after, when a worker calls the task at
        // once: the worker keeps serving (it once stalled with the throw unwound through it).
        for _ in 0..2 {
            let (name, message) = err(run(&b, "detached", JsValue::NULL, obj(&[("output", "bytes".into())]))).await;
            assert_eq!(name, "TaskError", "{placement}: {message}");
        }
        // Nothing above replaced a worker; the pool still runs tasks.
        assert_eq!(ok(run(&b, "double", 2.into(), JsValue::UNDEFINED)).await, 4);
        let restarts: f64 = Array::from(&get(&b.status(), "workers")).iter().map(|w| num(&w, "restarts")).sum();
        assert_eq!(restarts, 0.0, "{placement}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn registration_is_checked() {
    let b = bridge("never", &[]).await;
    let cases = [
        ("", obj(&[("module", basic_task_url().into())])),
        ("x", obj(&[("module", "https://elsewhere.example/t.js".into())])),
        ("x", obj(&[("module", "data:text/javascript,export default () => 1".into())])),
        ("x", obj(&[("module", basic_task_url().into()), ("export", "not an identifier".into())])),
        ("x", obj(&[("rust", "no-such-rust-task".into())])),
        ("x", JsValue::from("not an object")),
    ];
    for (name, def) in cases {
        let (error, message) = err(b.tasks().register(name.into(), def)).await;
        assert_eq!(error, "ValidationError", "{message}");
    }
    assert_eq!(b.tasks().list().length(), 0);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn abort_reaches_ctx_signal_in_both_placements() {
    for (placement, fallback) in PLACEMENTS {
        let b = bridge(fallback, &[]).await;
        register_all(&b).await;
        let ctl = AbortController::new().unwrap();
        let p = run(&b, "untilAborted", JsValue::NULL, obj(&[("signal", ctl.signal().into())]));
        delay(100).await;
        ctl.abort();
        assert_eq!(err(p).await.0, "AbortError", "{placement}");
        assert_eq!(num(&counters(&b), "cancelled"), 1.0, "{placement}");
        assert_eq!(ok(run(&b, "double", 3.into(), JsValue::UNDEFINED)).await, 6, "{placement}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn time_limits_stop_a_task_in_both_placements() {
    for (placement, fallback) in PLACEMENTS {
        let b = bridge(fallback, &[]).await;
        register_all(&b).await;
        let p = run(&b, "forever", JsValue::NULL, obj(&[("timeoutMs", 200.into())]));
        assert_eq!(err(p).await.0, "TimeoutError", "{placement}");
        assert_eq!(ok(run(&b, "double", 4.into(), JsValue::UNDEFINED)).await, 8, "{placement}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_hung_or_deaf_task_is_killed_with_its_worker_and_the_new_worker_knows_every_task() {
    let b = bridge("never", &[("cancelGraceMs", 100.into())]).await;
    register_all(&b).await;
    let before = num(&Array::from(&get(&b.status(), "workers")).get(0), "id");
    // Synchronous work past its limit: the worker is replaced.
    let p = run(&b, "spin", 5_000.into(), obj(&[("timeoutMs", 300.into()), ("retries", 0.into())]));
    assert_eq!(err(p).await.0, "TimeoutError");
    // A task that ignores its signal: ended with its worker after the grace period.
    let ctl = AbortController::new().unwrap();
    let p = run(&b, "forever", JsValue::NULL, obj(&[("signal", ctl.signal().into())]));
    delay(50).await;
    ctl.abort();
    assert_eq!(err(p).await.0, "AbortError");
    let mut waited = 0;
    while Array::from(&get(&b.status(), "workers")).iter().any(|w| get(&w, "state") != "idle") {
        assert!(waited < 10_000, "the pool did not recover");
        delay(20).await;
        waited += 20;
    }
    let worker = Array::from(&get(&b.status(), "workers")).get(0);
    assert_ne!(num(&worker, "id"), before);
    assert_eq!(num(&counters(&b), "timedOut"), 1.0);
    assert_eq!(num(&counters(&b), "cancelled"), 1.0);
    // The replacement imports the module afresh: its counter starts over.
    assert_eq!(ok(run(&b, "count", JsValue::NULL, JsValue::UNDEFINED)).await, 1);
    // Registered after the pool grew: the new worker runs it too.
    JsFuture::from(b.resize(2)).await.unwrap();
    ok(b.tasks().register("late".into(), obj(&[("module", basic_task_url().into()), ("export", "double".into())])))
        .await;
    let both: Vec<Promise> = (0..4).map(|i| run(&b, "late", i.into(), JsValue::UNDEFINED)).collect();
    for (i, p) in both.into_iter().enumerate() {
        assert_eq!(ok(p).await, (i * 2) as f64);
    }
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_long_synchronous_task_is_not_taken_for_a_hung_worker() {
    let b = bridge("never", &[("healthIntervalMs", 200.into())]).await;
    register_all(&b).await;
    // Past BUSY_HANG_MS (2 s) of silence: only its time limit may end it.
    assert_eq!(ok(run(&b, "spin", 2_600.into(), JsValue::UNDEFINED)).await, 2600);
    let worker = Array::from(&get(&b.status(), "workers")).get(0);
    assert_eq!(num(&worker, "restarts"), 0.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn transfer_moves_buffers_both_ways_and_output_shapes_bytes() {
    for (placement, fallback) in PLACEMENTS {
        let b = bridge(fallback, &[]).await;
        register_all(&b).await;
        let buffer = ArrayBuffer::new(1024);
        let got = ok(run(&b, "byteLength", buffer.clone().into(), obj(&[("transfer", true.into())]))).await;
        assert_eq!(got, 1024);
        if placement == "worker" {
            assert_eq!(buffer.byte_length(), 0, "moved to the worker");
        }
        let listed = ArrayBuffer::new(16);
        let input = obj(&[("buf", listed.clone().into())]);
        let options = obj(&[("transfer", Array::of1(&listed).into())]);
        assert!(ok(run(&b, "default", input, options)).await.is_object());
        if placement == "worker" {
            assert_eq!(listed.byte_length(), 0, "a listed buffer moves");
        }
        let out = ok(run(&b, "bytes", 4096.into(), JsValue::UNDEFINED)).await;
        let out: Uint8Array = out.dyn_into().unwrap();
        assert_eq!(out.length(), 4096);
        assert!(out.to_vec().iter().all(|&x| x == 7));
        let blob = ok(run(&b, "bytes", 10.into(), obj(&[("output", "blob".into())]))).await;
        assert_eq!(blob.dyn_into::<web_sys::Blob>().unwrap().size(), 10.0);
        let (name, _) = err(run(&b, "double", 1.into(), obj(&[("output", "bytes".into())]))).await;
        assert_eq!(name, "TaskError", "{placement}: bytes asked of a task returning a number");
        let (name, _) = err(run(&b, "double", 1.into(), obj(&[("transfer", true.into())]))).await;
        assert_eq!(name, "ValidationError", "transfer: true needs a buffer input");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn priorities_order_waiting_tasks() {
    let b = bridge("never", &[]).await;
    register_all(&b).await;
    let order = Array::new();
    let blocker = run(&b, "spin", 200.into(), JsValue::UNDEFINED);
    let (mut waiting, mut keep) = (Vec::new(), Vec::new());
    for (label, priority) in [("low", "low"), ("high", "high"), ("normal", "normal")] {
        let p = run(&b, "default", label.into(), obj(&[("priority", priority.into())]));
        let order = order.clone();
        let push = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| {
            order.push(&v);
        });
        waiting.push(JsFuture::from(p.then(&push)));
        keep.push(push);
    }
    ok(blocker).await;
    for w in waiting {
        w.await.unwrap();
    }
    let order: Vec<String> = order.iter().map(|v| v.as_string().unwrap()).collect();
    assert_eq!(order, ["high", "normal", "low"]);
    drop(keep);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn rust_tasks_run_in_both_placements() {
    for (placement, fallback) in PLACEMENTS {
        let b = bridge(fallback, &[]).await;
        ok(b.tasks().register("sum".into(), obj(&[("rust", "test-sum".into())]))).await;
        ok(b.tasks().register("rust-fail".into(), obj(&[("rust", "test-fail".into())]))).await;
        let numbers: Array = [1.5, 2.5, 3.0].iter().map(|&n| JsValue::from(n)).collect();
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let seen = calls.clone();
        let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |_| seen.set(seen.get() + 1));
        let f: &Function = on_progress.as_ref().unchecked_ref();
        assert_eq!(ok(run(&b, "sum", numbers.into(), obj(&[("onProgress", f.clone().into())]))).await, 7.0);
        assert_eq!(
            err(run(&b, "rust-fail", JsValue::NULL, JsValue::UNDEFINED)).await,
            ("RangeError".into(), "test-fail fails".into()),
            "{placement}"
        );
        let (name, _) = err(run(&b, "sum", "not numbers".into(), JsValue::UNDEFINED)).await;
        assert_eq!(name, "ValidationError", "{placement}");
        // `output` applies to a Rust task's result too: a number is not bytes.
        let numbers: Array = [1.0].iter().map(|&n| JsValue::from(n)).collect();
        let (name, _) = err(run(&b, "sum", numbers.into(), obj(&[("output", "blob".into())]))).await;
        assert_eq!(name, "TaskError", "{placement}");
        JsFuture::from(b.terminate()).await.unwrap();
    }
}

/// Runs task `name` in bursts of `burst` calls made in one turn until the pool sends a whole
/// burst at once (`queued` stays 0: the task is learned short enough), at most 40 bursts. A run
/// the machine slowed down (a collection, a preemption) makes the estimate rise and decay again,
/// so a fixed number of runs would make the tests that need a short task flaky.
async fn until_sent_ahead(b: &WorkerBridge, name: &str, input: &dyn Fn() -> JsValue, burst: usize) {
    for _ in 0..40 {
        let calls: Vec<Promise> = (0..burst).map(|_| run(b, name, input(), JsValue::UNDEFINED)).collect();
        let queued = num(&b.status(), "queued");
        for p in calls {
            ok(p).await;
        }
        if queued == 0.0 {
            return;
        }
    }
    panic!("{name} was never sent ahead");
}

#[wasm_bindgen_test]
async fn a_task_that_ran_short_is_sent_ahead_and_one_that_ran_long_is_not() {
    let b = bridge("never", &[]).await;
    register_all(&b).await;
    let queued = |b: &WorkerBridge| num(&b.status(), "queued");
    // Never seen: its cost is unknown, so it waits in the queue for the worker to be free.
    let first: Vec<Promise> = (0..4).map(|i| run(&b, "double", i.into(), JsValue::UNDEFINED)).collect();
    assert_eq!(queued(&b), 3.0, "a task never seen is sent ahead");
    for (i, p) in first.into_iter().enumerate() {
        assert_eq!(ok(p).await.as_f64(), Some(2.0 * i as f64));
    }
    // Its runs are timed in the worker and reported: it comes to be sent ahead, in order.
    until_sent_ahead(&b, "double", &|| 1.into(), 3).await;
    let order: Vec<Promise> = (0..3).map(|i| run(&b, "double", i.into(), JsValue::UNDEFINED)).collect();
    for (i, p) in order.into_iter().enumerate() {
        assert_eq!(ok(p).await.as_f64(), Some(2.0 * i as f64));
    }
    // Short until it runs long once: then it waits in the queue again.
    until_sent_ahead(&b, "spin", &|| 0.into(), 2).await;
    assert_eq!(ok(run(&b, "spin", 30.into(), JsValue::UNDEFINED)).await.as_f64(), Some(30.0));
    let after: Vec<Promise> = (0..2).map(|_| run(&b, "spin", 0.into(), JsValue::UNDEFINED)).collect();
    assert_eq!(queued(&b), 1.0, "a task that just ran 30 ms is sent ahead");
    for p in after {
        ok(p).await;
    }
    // A task known short, with a large buffer for input, is weighed by its bytes: it waits. So
    // does a call that moves its buffers, short as its task is (a crash of the call before it
    // would lose them).
    let length = |options: JsValue, bytes: u32| run(&b, "byteLength", ArrayBuffer::new(bytes).into(), options);
    until_sent_ahead(&b, "byteLength", &|| ArrayBuffer::new(8).into(), 2).await;
    let large: Vec<Promise> = (0..2).map(|_| length(JsValue::UNDEFINED, 1 << 20)).collect();
    assert_eq!(queued(&b), 1.0, "a 1 MiB input was sent ahead");
    for p in large {
        assert_eq!(ok(p).await.as_f64(), Some(f64::from(1 << 20)));
    }
    until_sent_ahead(&b, "byteLength", &|| ArrayBuffer::new(8).into(), 2).await;
    let moved = [length(JsValue::UNDEFINED, 8), length(obj(&[("transfer", true.into())]), 8)];
    assert_eq!(queued(&b), 1.0, "moved buffers were sent ahead");
    for p in moved {
        assert_eq!(ok(p).await.as_f64(), Some(8.0));
    }
    assert_eq!(num(&counters(&b), "failed"), 0.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_task_taken_for_short_that_runs_long_keeps_no_answer_waiting() {
    let b = bridge("never", &[]).await;
    register_all(&b).await;
    let spin = |ms: i32, options: JsValue| run(&b, "spin", ms.into(), options);
    // Known short, three calls of it go at once: with one running, the other three in one
    // message. Of those, the first runs 50 ms, the last 400. No answer may wait for the next
    // call's while a task is involved: the page would take the 50 ms one for the running call
    // until the last was done, and time it out although it had finished. Set up again until
    // all were sent at once (the 400 ms run makes the task long for a while).
    for attempt in 0.. {
        assert!(attempt < 5, "the calls were never all sent ahead");
        until_sent_ahead(&b, "spin", &|| 0.into(), 4).await;
        let calls = [
            spin(20, JsValue::UNDEFINED),
            spin(50, obj(&[("timeoutMs", 250.into())])),
            spin(0, JsValue::UNDEFINED),
            spin(400, JsValue::UNDEFINED),
        ];
        let all_ahead = num(&b.status(), "queued") == 0.0;
        for (p, ms) in calls.into_iter().zip([20.0, 50.0, 0.0, 400.0]) {
            assert_eq!(ok(p).await.as_f64(), Some(ms));
        }
        if all_ahead {
            break;
        }
    }
    let c = counters(&b);
    assert_eq!((num(&c, "failed"), num(&c, "retried")), (0.0, 0.0));
    assert_eq!(num(&get(&b.status(), "workers").unchecked_into::<Array>().get(0), "restarts"), 0.0);
    JsFuture::from(b.terminate()).await.unwrap();
}

/// A worker's first request carries its heartbeat (shared memory: this test checks something
/// only in the cross-origin isolated run); when the browser refuses to
/// post that request (a task's value it cannot clone), the heartbeat goes with the next one —
/// else a later long call that steps without a word (it parks on its shared cancel flag) would be
/// taken for a hung worker and its worker replaced.
#[wasm_bindgen_test]
async fn a_refused_first_request_does_not_lose_the_workers_heartbeat() {
    let b = bridge("never", &[("healthIntervalMs", 100.into())]).await;
    register_all(&b).await;
    let not_cloneable: JsValue = Function::new_no_args("return 1").into();
    let (name, _) = err(run(&b, "double", not_cloneable, JsValue::UNDEFINED)).await;
    assert_ne!(name, "", "the call with a value the browser cannot clone fails");
    // Three seconds (past the 2 s a busy worker may stay silent) of steps, cancellable.
    let controller = AbortController::new().unwrap();
    let options = obj(&[("signal", controller.signal().into()), ("timeoutMs", 0.into())]);
    let sleep = obj(&[("kind", "sleep".into()), ("ms", 3_000.into())]);
    ok(b.test_op(sleep, Uint8Array::new_with_length(0).into(), options)).await;
    let worker = Array::from(&get(&b.status(), "workers")).get(0);
    assert_eq!(num(&worker, "restarts"), 0.0);
    JsFuture::from(b.terminate()).await.unwrap();
}
