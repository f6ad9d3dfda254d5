//! The wire protocol, natively: every message round-trips, and malformed input is rejected with
#![cfg(not(target_arch = "wasm32"))]
//! a `ValidationError`, never a panic.

use serde_json::{json, Value};
use worker_bridge::ops::Op;
use worker_bridge::protocol::{
    self, Caps, Envelope, FromWorker, HttpMeta, OutputKind, RequestId, ToWorker, WireError, PROTOCOL_VERSION,
};
use worker_bridge::{Error, ErrorKind};

fn round_trip<T>(msg: T) -> Value
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let wire = serde_json::to_value(Envelope::new(&msg)).unwrap();
    let back: T = protocol::decode(wire.clone()).unwrap();
    assert_eq!(back, msg);
    wire
}

#[test]
fn every_message_round_trips_with_readable_tags() {
    let id = RequestId::random();
    let wire = round_trip(ToWorker::Request {
        id,
        op: Op::Sha256,
        progress: true,
        output: OutputKind::Blob,
        engine: Default::default(),
    });
    assert_eq!(
        wire,
        json!({ "v": PROTOCOL_VERSION, "msg": { "type": "request", "id": id.to_string(), "op": { "kind": "sha256" }, "progress": true, "output": "blob" } })
    );
    // `progress` may be left out.
    let wire = json!({ "v": 2, "msg": { "type": "request", "id": id.to_string(), "op": { "kind": "sha256" } } });
    assert_eq!(
        protocol::decode::<ToWorker, _>(wire).unwrap(),
        ToWorker::Request {
            id,
            op: Op::Sha256,
            progress: false,
            output: OutputKind::Bytes,
            engine: Default::default()
        }
    );
    round_trip(ToWorker::Ping { seq: 7 });
    round_trip(ToWorker::Cancel { id });
    round_trip(FromWorker::Progress { id, done: 5.0, total: 10.0 });
    round_trip(FromWorker::Crashed { message: "panicked".into() });

    let caps = Caps { shared_memory: true, version: "0.1.0".into(), threads: 2 };
    let wire = round_trip(FromWorker::Ready { worker: 3, caps });
    assert_eq!(wire["msg"]["caps"]["sharedMemory"], json!(true));
    round_trip(FromWorker::Response { id, http: None, ms: None });
    round_trip(FromWorker::Response { id, http: None, ms: Some(0.25) });
    round_trip(FromWorker::Response {
        id,
        http: Some(HttpMeta {
            status: 200,
            status_text: "OK".into(),
            url: "http://x/".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            sha256: Some(vec![1; 32]),
        }),
        ms: None,
    });
    let error = WireError {
        name: "NetworkError".into(),
        message: "HTTP 404".into(),
        status: Some(404),
        stack: None,
        thrown: None,
    };
    round_trip(FromWorker::Failed { id: Some(id), error: error.clone(), ms: None });
    round_trip(FromWorker::Failed { id: Some(id), error: error.clone(), ms: Some(12.5) });
    assert_eq!(Error::from(error).status(), Some(404));
    let error =
        WireError { name: "ValidationError".into(), message: "m".into(), status: None, stack: None, thrown: None };
    round_trip(FromWorker::Failed { id: None, error, ms: None });
    round_trip(FromWorker::Pong { seq: 7, memory: 1_114_112.0 });
    round_trip(FromWorker::BootFailed { message: "no wasm".into() });
}

#[test]
fn messages_worker_js_builds_by_hand_decode() {
    // worker/worker.js builds these by hand; keep the two in step.
    let wire = json!({ "v": 2, "msg": { "type": "boot_failed", "message": "TypeError: x" } });
    let msg: FromWorker = protocol::decode(wire).unwrap();
    assert_eq!(msg, FromWorker::BootFailed { message: "TypeError: x".into() });
    let wire = json!({ "v": 2, "msg": { "type": "crashed", "message": "RuntimeError: unreachable" } });
    let msg: FromWorker = protocol::decode(wire).unwrap();
    assert_eq!(msg, FromWorker::Crashed { message: "RuntimeError: unreachable".into() });
}

fn rejects<T: serde::de::DeserializeOwned + std::fmt::Debug>(wire: Value) -> Error {
    let err = protocol::decode::<T, _>(wire.clone()).expect_err(&format!("accepted {wire}"));
    assert_eq!(err.kind(), ErrorKind::Validation, "{wire}: {err}");
    err
}

#[test]
fn malformed_messages_are_validation_errors() {
    let id = RequestId::random().to_string();
    let cases = [
        json!(null),
        json!(42),
        json!("request"),
        json!([]),
        json!({}),
        json!({ "msg": { "type": "ping", "seq": 1 } }),
        json!({ "v": 2 }),
        json!({ "v": "2", "msg": { "type": "ping", "seq": 1 } }),
        json!({ "v": 2, "msg": { "type": "pong", "seq": 1 } }),
        json!({ "v": 2, "msg": { "type": "PING", "seq": 1 } }),
        json!({ "v": 2, "msg": { "seq": 1 } }),
        json!({ "v": 2, "msg": { "type": "ping", "seq": -1 } }),
        json!({ "v": 2, "msg": { "type": "ping", "seq": 1, "extra": true } }),
        json!({ "v": 2, "msg": { "type": "request", "id": id, "op": { "kind": "md5" } } }),
        json!({ "v": 2, "msg": { "type": "request", "id": id } }),
        json!({ "v": 2, "msg": { "type": "request", "id": "42", "op": { "kind": "sha256" } } }),
        json!({ "v": 2, "msg": { "type": "request", "id": id.replace('-', ""), "op": { "kind": "sha256" } } }),
        json!({ "v": 2, "msg": { "type": "request", "id": 5, "op": { "kind": "sha256" } } }),
        json!({ "v": 2, "msg": { "type": "cancel" } }),
        json!({ "v": 2, "msg": { "type": "cancel", "id": "x" } }),
    ];
    for wire in cases {
        rejects::<ToWorker>(wire);
    }
    rejects::<FromWorker>(json!({ "v": 2, "msg": { "type": "ready", "worker": 1 } }));
    rejects::<FromWorker>(json!({ "v": 2, "msg": { "type": "failed", "id": null, "error": { "name": "X" } } }));
}

#[test]
fn another_protocol_version_is_named_in_the_error() {
    let err = rejects::<ToWorker>(json!({ "v": 1, "msg": { "type": "ping", "seq": 1 } }));
    assert!(err.message().contains("version 1"), "{err}");
}

#[test]
fn wire_errors_rebuild_typed_errors() {
    for kind in ErrorKind::ALL {
        let e = Error::new(kind, "why");
        assert_eq!(Error::from(WireError::from(&e)), e);
    }
    let foreign = Error::from(WireError {
        name: "RangeError".into(),
        message: "m".into(),
        status: None,
        stack: None,
        thrown: None,
    });
    assert_eq!(foreign.kind(), ErrorKind::WorkerCrashed);
}

#[test]
fn what_a_task_threw_crosses_the_wire_with_its_name_and_stack() {
    let thrown = Error::thrown("QuotaError", "over quota", Some("QuotaError: over quota\n    at f".into()));
    let wire = WireError::from(&thrown);
    assert_eq!((wire.name.as_str(), wire.thrown.as_deref()), ("TaskError", Some("QuotaError")));
    let back = Error::from(wire);
    assert_eq!(back, thrown);
    assert_eq!((back.kind(), back.js_name(), back.stack()), (ErrorKind::Task, "QuotaError", thrown.stack()));
    // `thrown` beside another kind's name is ignored: the name decides the kind.
    let odd = Error::from(WireError {
        name: "TimeoutError".into(),
        message: "m".into(),
        status: None,
        stack: None,
        thrown: Some("RangeError".into()),
    });
    assert_eq!((odd.kind(), odd.js_name()), (ErrorKind::Timeout, "TimeoutError"));
}

#[test]
fn service_messages_match_what_service_host_js_builds() {
    use worker_bridge::protocol::{FromService, ToService};
    // worker/service-host.js builds these by hand; keep the two in step.
    let cases = [
        (json!({ "type": "loaded" }), FromService::Loaded),
        (json!({ "type": "started" }), FromService::Started),
        (json!({ "type": "stopped" }), FromService::Stopped),
        (json!({ "type": "reply", "seq": 3 }), FromService::Reply { seq: 3 }),
        (
            json!({ "type": "reply_failed", "seq": 4, "error": { "name": "RangeError", "message": "m" } }),
            FromService::ReplyFailed {
                seq: 4,
                error: WireError {
                    name: "RangeError".into(),
                    message: "m".into(),
                    status: None,
                    stack: None,
                    thrown: None,
                },
            },
        ),
        (
            json!({ "type": "failed", "error": { "name": "TypeError", "message": "x" } }),
            FromService::Failed {
                error: WireError {
                    name: "TypeError".into(),
                    message: "x".into(),
                    status: None,
                    stack: None,
                    thrown: None,
                },
            },
        ),
        (
            json!({ "type": "crashed", "error": { "name": "WorkerCrashedError", "message": "panic" } }),
            FromService::Crashed {
                error: WireError {
                    name: "WorkerCrashedError".into(),
                    message: "panic".into(),
                    status: None,
                    stack: None,
                    thrown: None,
                },
            },
        ),
        (
            json!({ "type": "health", "healthy": true, "detail": "ok" }),
            FromService::Health { healthy: true, detail: "ok".into() },
        ),
    ];
    for (msg, expected) in cases {
        let decoded: FromService = protocol::decode(json!({ "v": 2, "msg": msg })).unwrap();
        assert_eq!(decoded, expected);
    }
    for msg in [
        ToService::Load { url: "https://x/s.js".into(), config: None, busy_poll_us: None },
        ToService::Load { url: "https://x/s.js".into(), config: Some(json!({ "from": 1 })), busy_poll_us: Some(200) },
        ToService::LoadRust {
            service: "kv".into(),
            glue_url: "https://x/worker_bridge.js".into(),
            config: None,
            busy_poll_us: None,
        },
        ToService::LoadRust {
            service: "kv".into(),
            glue_url: "https://x/worker_bridge.js".into(),
            config: Some(json!([1, "two"])),
            busy_poll_us: Some(200),
        },
        ToService::LoadInline { config: None },
        ToService::LoadInline { config: Some(json!({ "from": 1 })) },
        ToService::Start,
        ToService::Message { seq: 1 },
        ToService::Stop,
        ToService::Health,
    ] {
        round_trip(msg);
    }
    rejects::<FromService>(json!({ "v": 2, "msg": { "type": "reply" } }));
}
