//! Remote control in a real browser: `services.serve` over a `BroadcastChannel` driven by
//! `RegistryClient` (js/registry-client.js) and by a raw peer, its limits and token, and the
//! `registry_loaded` snapshot a new subscriber gets. (The WebSocket transport runs end to end in
//! tests/e2e/remote.test.mjs, against a Node WebSocket server.)
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, JSON};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::BroadcastChannel;
use worker_bridge::WorkerBridge;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{get, obj};

#[wasm_bindgen(module = "/tests/services/counter.service.js")]
extern "C" {
    #[wasm_bindgen(js_name = counterServiceUrl)]
    fn counter_service_url() -> String;
}

#[wasm_bindgen(module = "/js/registry-client.js")]
extern "C" {
    type RegistryClient;
    #[wasm_bindgen(constructor, catch)]
    fn new(transport: &JsValue, options: &JsValue) -> Result<RegistryClient, JsValue>;
    #[wasm_bindgen(method)]
    fn request(this: &RegistryClient, action: &str, params: &JsValue) -> Promise;
    #[wasm_bindgen(method, js_name = listServices)]
    fn list_services(this: &RegistryClient) -> Promise;
    #[wasm_bindgen(method)]
    fn start(this: &RegistryClient, name: &str) -> Promise;
    #[wasm_bindgen(method)]
    fn stop(this: &RegistryClient, name: &str) -> Promise;
    #[wasm_bindgen(method)]
    fn subscribe(this: &RegistryClient, events: Array, listener: &Function) -> Promise;
    #[wasm_bindgen(method)]
    fn close(this: &RegistryClient);
}

async fn bridge() -> WorkerBridge {
    let b = JsFuture::from(WorkerBridge::create(obj(&[("poolSize", 1.into())]))).await.unwrap();
    WorkerBridge::try_from_js_value(b).unwrap()
}

async fn ok(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| panic!("rejected: {:?}: {:?}", get(&e, "name"), get(&e, "message")))
}

async fn err_name(p: Promise) -> String {
    match JsFuture::from(p).await {
        Ok(v) => panic!("resolved with {:?}", JSON::stringify(&v)),
        Err(e) => get(&e, "name").as_string().unwrap_or_default(),
    }
}

async fn delay(ms: i32) {
    let p = Promise::new(&mut |r, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&r, ms).unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// A channel name no other test uses.
fn channel_name(test: &str) -> String {
    format!("worker-bridge-test-{test}-{}", js_sys::Math::random())
}

/// Waits until `done()` holds (5 s at most).
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..250 {
        if done() {
            return;
        }
        delay(20).await;
    }
    panic!("timed out waiting for {what}");
}

type Log = Rc<RefCell<Vec<JsValue>>>;

/// A listener that records what it is called with.
fn recorder() -> (Function, Log) {
    let log: Log = Rc::default();
    let sink = log.clone();
    let f = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| sink.borrow_mut().push(v));
    (f.into_js_value().unchecked_into(), log)
}

fn state_of(status: &JsValue, name: &str) -> String {
    let entry = Array::from(status).iter().find(|s| get(s, "name").as_string().as_deref() == Some(name)).unwrap();
    get(&entry, "state").as_string().unwrap()
}

#[wasm_bindgen_test]
async fn a_client_drives_the_registry_over_a_broadcast_channel() {
    let b = bridge().await;
    let s = b.services();
    ok(s.register("counter".into(), counter_service_url().into(), JsValue::UNDEFINED)).await;
    let name = channel_name("drive");
    let server = s.serve(obj(&[("channel", name.as_str().into())]), JsValue::UNDEFINED).unwrap();
    let client = RegistryClient::new(&obj(&[("channel", name.as_str().into())]), &JsValue::UNDEFINED).unwrap();

    let listed = ok(client.list_services()).await;
    assert_eq!(state_of(&listed, "counter"), "uninitialized");

    // A subscriber to registry_loaded first gets the registry as it is, then the events.
    let (listener, events) = recorder();
    let stop_listening =
        ok(client.subscribe(Array::of2(&"registry_loaded".into(), &"service_state_changed".into()), &listener)).await;
    until("the snapshot", || !events.borrow().is_empty()).await;
    let first = events.borrow()[0].clone();
    assert_eq!(get(&first, "event").as_string().unwrap(), "registry_loaded");
    let data = get(&first, "data");
    assert_eq!(get(&data, "initial"), JsValue::TRUE);
    assert_eq!(Array::from(&get(&data, "services")).to_vec(), vec![JsValue::from("counter")]);
    assert_eq!(state_of(&get(&data, "status"), "counter"), "uninitialized");

    let started = ok(client.start("counter")).await;
    assert_eq!(get(&started, "state").as_string().unwrap(), "running");
    assert_eq!(state_of(&s.status(), "counter"), "running", "the page's registry did it");
    until("running over the channel", || {
        events.borrow().iter().any(|e| get(&get(e, "data"), "to").as_string().as_deref() == Some("running"))
    })
    .await;

    // Errors come back named, with the request's own id.
    assert_eq!(err_name(client.start("nobody")).await, "ValidationError");
    assert_eq!(err_name(client.request("dance", &JsValue::UNDEFINED)).await, "ValidationError");

    // Unsubscribed: no more events; stopped over the channel.
    ok(stop_listening.unchecked_into::<Function>().call0(&JsValue::UNDEFINED).unwrap().unchecked_into()).await;
    let seen = events.borrow().len();
    let stopped = ok(client.stop("counter")).await;
    assert_eq!(get(&stopped, "state").as_string().unwrap(), "stopped");
    delay(100).await;
    assert_eq!(events.borrow().len(), seen, "no events after unsubscribing");

    // A closed server answers nothing: the client times out; a closed client rejects at once.
    server.close();
    assert!(server.closed());
    let quick =
        RegistryClient::new(&obj(&[("channel", name.as_str().into())]), &obj(&[("timeoutMs", 200.into())])).unwrap();
    assert_eq!(err_name(quick.list_services()).await, "TimeoutError");
    quick.close();
    client.close();
    assert_eq!(err_name(client.list_services()).await, "TerminatedError");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_token_size_and_rate_are_checked_before_anything_runs() {
    let b = bridge().await;
    let s = b.services();
    ok(s.register("counter".into(), counter_service_url().into(), JsValue::UNDEFINED)).await;
    let name = channel_name("gate");
    let options = obj(&[
        ("token", "s3cret".into()),
        ("maxMessageBytes", 300.into()),
        ("ratePerSecond", 1.into()),
        ("burst", 3.into()),
    ]);
    let server = s.serve(obj(&[("channel", name.as_str().into())]), options).unwrap();
    let transport = obj(&[("channel", name.as_str().into())]);

    // No token, a wrong one: AuthenticationError, and the service was not started.
    let anonymous = RegistryClient::new(&transport, &JsValue::UNDEFINED).unwrap();
    assert_eq!(err_name(anonymous.start("counter")).await, "AuthenticationError");
    let wrong = RegistryClient::new(&transport, &obj(&[("token", "guess".into())])).unwrap();
    assert_eq!(err_name(wrong.start("counter")).await, "AuthenticationError");
    assert_eq!(state_of(&s.status(), "counter"), "uninitialized");

    // The burst of 3 is spent (the two refused requests counted): one more is too fast.
    let client = RegistryClient::new(&transport, &obj(&[("token", "s3cret".into())])).unwrap();
    ok(client.list_services()).await;
    assert_eq!(err_name(client.list_services()).await, "LimitExceededError");
    delay(1100).await;
    ok(client.list_services()).await;

    // A raw peer on the channel: a request over maxMessageBytes, one that is not JSON, one that is
    // not text — each answered with `id: null` and a named error, nothing run.
    delay(1100).await;
    let peer = BroadcastChannel::new(&name).unwrap();
    let (on_message, answers) = recorder();
    peer.set_onmessage(Some(&on_message));
    let big = format!(
        r#"{{"id":"big","type":"request","action":"service_action","params":{{"name":"counter","action":"start","pad":"{}"}},"token":"s3cret"}}"#,
        "x".repeat(400)
    );
    peer.post_message(&big.into()).unwrap();
    until("the refusal", || !answers.borrow().is_empty()).await;
    let answer = JSON::parse(&get(&answers.borrow()[0], "data").as_string().unwrap()).unwrap();
    assert!(get(&answer, "id").is_null());
    assert_eq!(get(&get(&answer, "error"), "name").as_string().unwrap(), "LimitExceededError");
    assert_eq!(state_of(&s.status(), "counter"), "uninitialized", "the large request did nothing");
    delay(1100).await;
    // Not JSON, not text: refused with `id: null` too (each spends from the rate).
    delay(1100).await;
    peer.post_message(&"{ not json".into()).unwrap();
    until("the second refusal", || answers.borrow().len() == 2).await;
    let answer = JSON::parse(&get(&answers.borrow()[1], "data").as_string().unwrap()).unwrap();
    assert_eq!(get(&get(&answer, "error"), "name").as_string().unwrap(), "ValidationError");
    delay(1100).await;
    peer.post_message(&obj(&[("id", 1.into()), ("type", "request".into())])).unwrap();
    until("the third refusal", || answers.borrow().len() == 3).await;
    let answer = JSON::parse(&get(&answers.borrow()[2], "data").as_string().unwrap()).unwrap();
    assert_eq!(get(&get(&answer, "error"), "name").as_string().unwrap(), "ValidationError");
    // Answers and events other peers post are not requests: left alone (two servers on one
    // channel would otherwise answer each other forever).
    delay(1100).await;
    peer.post_message(&r#"{"id":null,"type":"response","error":{"name":"ValidationError","message":"x"}}"#.into())
        .unwrap();
    peer.post_message(&r#"{"type":"event","event":"registry_loaded","data":{}}"#.into()).unwrap();
    delay(300).await;
    assert_eq!(answers.borrow().len(), 3, "no answer to an answer or an event");

    // The client checks the size itself, so its own request over the limit rejects at once.
    let small =
        RegistryClient::new(&transport, &obj(&[("token", "s3cret".into()), ("maxMessageBytes", 300.into())])).unwrap();
    let params = obj(&[("name", "x".repeat(400).into())]);
    assert_eq!(err_name(small.request("get_service", &params)).await, "LimitExceededError");

    // After all that, the registry still serves.
    delay(1100).await;
    let started = ok(client.start("counter")).await;
    assert_eq!(get(&started, "state").as_string().unwrap(), "running");

    for c in [anonymous, wrong, client, small] {
        c.close();
    }
    peer.close();
    server.close();
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn serve_refuses_what_it_cannot_serve() {
    let b = bridge().await;
    let s = b.services();
    let refused = |transport: JsValue, options: JsValue| {
        let e = s.serve(transport, options).unwrap_err();
        get(&e, "name").as_string().unwrap()
    };
    assert_eq!(refused(JsValue::UNDEFINED, JsValue::UNDEFINED), "ValidationError");
    assert_eq!(refused(obj(&[("channel", "".into())]), JsValue::UNDEFINED), "ValidationError");
    assert_eq!(refused("ws://example.com".into(), JsValue::UNDEFINED), "ValidationError");
    let channel = obj(&[("channel", channel_name("refuse").into())]);
    assert_eq!(refused(channel.clone(), obj(&[("token", "".into())])), "ValidationError");
    assert_eq!(refused(channel.clone(), obj(&[("rate", 5.into())])), "ValidationError");
    assert_eq!(refused(channel, obj(&[("burst", (-1).into())])), "ValidationError");
    let e = RegistryClient::new(&JsValue::from(42), &JsValue::UNDEFINED).err().unwrap();
    assert_eq!(get(&e, "name").as_string().unwrap(), "ValidationError");
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_new_subscriber_gets_the_registry_as_it_is_unless_it_left_already() {
    let b = bridge().await;
    let s = b.services();
    ok(s.register("counter".into(), counter_service_url().into(), JsValue::UNDEFINED)).await;

    let (listener, log) = recorder();
    let _stop = b.subscribe(vec!["registry_loaded".into()], listener).unwrap();
    assert!(log.borrow().is_empty(), "not during subscribe itself");
    until("the snapshot", || log.borrow().len() == 1).await;
    let data = get(&log.borrow()[0], "data");
    assert_eq!(get(&data, "initial"), JsValue::TRUE);
    assert_eq!(Array::from(&get(&data, "services")).length(), 1);

    // Unsubscribed before the microtask: no snapshot.
    let (gone, gone_log) = recorder();
    let stop = b.subscribe(vec!["registry_loaded".into()], gone).unwrap();
    stop.call0(&JsValue::UNDEFINED).unwrap();
    delay(50).await;
    assert!(gone_log.borrow().is_empty());

    // Through `handle`: after the response; none for other events.
    let (handled, handled_log) = recorder();
    let request = |events: &[&str]| {
        let list: Array = events.iter().map(|e| JsValue::from(*e)).collect();
        obj(&[
            ("id", 1.into()),
            ("type", "request".into()),
            ("action", "subscribe".into()),
            ("params", obj(&[("events", list.into())])),
        ])
    };
    ok(s.handle(request(&["health_check_result"]), Some(handled.clone()))).await;
    delay(50).await;
    assert!(handled_log.borrow().is_empty(), "no snapshot without registry_loaded");
    ok(s.handle(request(&["registry_loaded"]), Some(handled))).await;
    until("the snapshot through handle", || handled_log.borrow().len() == 1).await;
    assert_eq!(get(&get(&handled_log.borrow()[0], "data"), "initial"), JsValue::TRUE);
    JsFuture::from(b.terminate()).await.unwrap();
}

#[wasm_bindgen_test]
async fn two_servers_on_one_channel_answer_clients_not_each_other() {
    let (a, b) = (bridge().await, bridge().await);
    ok(a.services().register("counter".into(), counter_service_url().into(), JsValue::UNDEFINED)).await;
    let name = channel_name("two");
    let transport = obj(&[("channel", name.as_str().into())]);
    let first = a.services().serve(transport.clone(), JsValue::UNDEFINED).unwrap();
    // The second server's handle is dropped at once: it serves on all the same.
    drop(b.services().serve(transport.clone(), obj(&[("burst", 5.into()), ("ratePerSecond", 1.into())])).unwrap());
    let peer = BroadcastChannel::new(&name).unwrap();
    let (on_message, seen) = recorder();
    peer.set_onmessage(Some(&on_message));
    let client = RegistryClient::new(&transport, &JsValue::UNDEFINED).unwrap();
    // Both servers answer the request (the client takes the first); then silence, not a loop.
    ok(client.list_services()).await;
    delay(500).await;
    let messages = seen.borrow().len();
    assert_eq!(messages, 3, "the request and two answers, nothing after");
    // The second server (a burst of 5) still has its rate: nothing spent it.
    for _ in 0..4 {
        ok(client.list_services()).await;
    }
    client.close();
    peer.close();
    first.close();
    for x in [a, b] {
        JsFuture::from(x.terminate()).await.unwrap();
    }
}
