//! The protocol fixtures in `tests/fixtures/protocol/` (one file per direction) are what both
//! languages agree the wire looks like: here every envelope must decode as its direction's enum
//! and re-encode to the same JSON (so a renamed field or tag fails), speak `PROTOCOL_VERSION`,
//! and every message variant and every op kind must have a fixture. `tests/node/protocol.test.mjs`
//! checks the messages the worker scripts build against the same files.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use worker_bridge::ops::Op;
use worker_bridge::protocol::{self, Envelope, FromService, FromWorker, ToService, ToWorker, PROTOCOL_VERSION};

fn fixtures(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/protocol").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) if !items.is_empty() => items,
        other => panic!("{file}: expected a non-empty array of envelopes, got {other:?}"),
    }
}

/// JSON as JavaScript sees it: one kind of number (`5` and `5.0` are the same value there).
fn as_js(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64().expect("invariant: a JSON number is finite")),
        Value::Array(items) => Value::Array(items.iter().map(as_js).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), as_js(v))).collect()),
        other => other.clone(),
    }
}

/// Decodes every envelope of `file` as a `T`, re-encodes it and compares; returns the messages.
fn replay<T: Serialize + DeserializeOwned>(file: &str) -> Vec<T> {
    fixtures(file)
        .into_iter()
        .map(|wire| {
            assert_eq!(wire["v"], json!(PROTOCOL_VERSION), "{file}: {wire} speaks another protocol version");
            let msg: T =
                protocol::decode(wire.clone()).unwrap_or_else(|e| panic!("{file}: {wire} does not decode: {e}"));
            let again = serde_json::to_value(Envelope::new(&msg)).unwrap();
            assert_eq!(as_js(&again), as_js(&wire), "{file}: re-encoding changed the message");
            msg
        })
        .collect()
}

/// Every tag serde knows for `T`, read from the error for an unknown one ("unknown variant `?`,
/// expected one of `a`, `b`"): the list comes from the type itself, so a new variant shows up.
fn all_tags<T: DeserializeOwned>(unknown: Value) -> BTreeSet<String> {
    let Err(e) = serde_json::from_value::<T>(unknown.clone()) else { panic!("{unknown} decoded") };
    let e = e.to_string();
    let expected = e.split("expected one of ").nth(1).unwrap_or_else(|| panic!("unexpected serde error: {e}"));
    let tags: BTreeSet<String> = expected.split('`').skip(1).step_by(2).map(str::to_owned).collect();
    assert!(tags.len() > 1, "could not read the tags from {e}");
    tags
}

/// The `type` tags of `messages`, checked to be every variant of `T`.
fn assert_every_variant<T: Serialize + DeserializeOwned>(file: &str, messages: &[T]) {
    let covered: BTreeSet<String> =
        messages.iter().map(|m| serde_json::to_value(m).unwrap()["type"].as_str().unwrap().to_owned()).collect();
    let all = all_tags::<T>(json!({ "type": "?" }));
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(missing.is_empty(), "{file} has no fixture for {missing:?}");
}

#[test]
fn to_worker_fixtures_round_trip_and_cover_every_variant_and_op() {
    let mut messages = replay::<ToWorker>("to_worker.json");
    if cfg!(feature = "test-ops") {
        messages.extend(replay::<ToWorker>("to_worker.test_ops.json"));
    }
    assert_every_variant("to_worker.json", &messages);

    let ops: BTreeSet<String> = messages
        .iter()
        .filter_map(|m| match m {
            ToWorker::Request { op, .. } => {
                Some(serde_json::to_value(op).unwrap()["kind"].as_str().unwrap().to_owned())
            }
            _ => None,
        })
        .collect();
    let all = all_tags::<Op>(json!({ "kind": "?" }));
    let missing: Vec<_> = all.difference(&ops).collect();
    assert!(
        missing.is_empty(),
        "to_worker.json (or, for test ops, to_worker.test_ops.json) has no request for {missing:?}"
    );
}

#[test]
fn from_worker_fixtures_round_trip_and_cover_every_variant() {
    let messages = replay::<FromWorker>("from_worker.json");
    assert_every_variant("from_worker.json", &messages);
}

#[test]
fn to_service_fixtures_round_trip_and_cover_every_variant() {
    let messages = replay::<ToService>("to_service.json");
    assert_every_variant("to_service.json", &messages);
}

#[test]
fn from_service_fixtures_round_trip_and_cover_every_variant() {
    let messages = replay::<FromService>("from_service.json");
    assert_every_variant("from_service.json", &messages);
}

/// A fixture file is a batch as it travels (the JSON text of an array of envelopes): the
/// registry reads the host's batches with `FromService::decode_batch`, entry by entry.
#[test]
fn a_service_fixture_file_is_a_batch_as_it_travels() {
    let read = |file: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/protocol").join(file);
        std::fs::read_to_string(path).unwrap()
    };
    let from: Vec<FromService> = FromService::decode_batch(&read("from_service.json"))
        .unwrap()
        .into_iter()
        .map(|entry| entry.unwrap_or_else(|(seq, e)| panic!("from_service.json: entry (seq {seq:?}) {e}")))
        .collect();
    assert_eq!(from, replay::<FromService>("from_service.json"));
    let to: Vec<ToService> =
        protocol::decode_batch(read("to_service.json")).unwrap().into_iter().map(Result::unwrap).collect();
    let text = protocol::encode_batch(&to).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), Value::Array(fixtures("to_service.json")));
}

/// The service host (JavaScript) splits its replies by the same bound the page decodes with.
#[test]
fn max_batch_in_protocol_js_is_the_rust_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("worker/protocol.js");
    let text = std::fs::read_to_string(path).unwrap();
    let line =
        text.lines().find(|l| l.starts_with("export const MAX_BATCH = ")).expect("worker/protocol.js: MAX_BATCH");
    assert_eq!(line, format!("export const MAX_BATCH = {};", protocol::MAX_BATCH));
}

/// The coverage check would pass vacuously if it could not tell variants apart.
#[test]
fn a_missing_variant_is_caught() {
    let pings = [ToWorker::Ping { seq: 1 }];
    let result = std::panic::catch_unwind(|| assert_every_variant("pings", &pings));
    assert!(result.is_err(), "a list of pings covers every ToWorker variant?");
}
