//! Lists that JavaScript, TypeScript and the README repeat from the Rust code must match it.
//!
//! `ErrorKind::ALL` / `ErrorKind::name()` is the truth for error names: `ERROR_NAMES` in
//! `js/index.js` (in the same order), the `ErrorName` union in `js/index.d.ts` and the README's
//! list of error names must name exactly the same errors.
//!
//! `worker_bridge_core::defaults` is the truth for option defaults: the typings' doc comments and
//! the README's `create()` table must quote the same values.
//!
//! `worker_bridge_core::status::Status` is the truth for what `status()` returns: the typings'
//! `BridgeStatus` and `WorkerStatus` must name the same fields, nested objects included.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

use std::collections::BTreeMap;

use worker_bridge::{CounterSnapshot, ErrorKind, Mode, Status, WorkerStatus};
use worker_bridge_core::status::Engines;

fn read(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The text of `file` from the end of `start` to the next `end`.
fn between<'a>(text: &'a str, file: &str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("{file}: {start:?} not found")) + start.len();
    let len = text[from..].find(end).unwrap_or_else(|| panic!("{file}: no {end:?} after {start:?}"));
    &text[from..from + len]
}

/// Every piece of `text` between a pair of `quote`s, in order.
fn quoted(text: &str, quote: char) -> Vec<&str> {
    text.split(quote).skip(1).step_by(2).collect()
}

/// The names in `ErrorKind::ALL`'s order.
fn rust_names() -> Vec<&'static str> {
    ErrorKind::ALL.map(|k| k.name()).to_vec()
}

fn sorted(mut names: Vec<&str>) -> Vec<&str> {
    names.sort_unstable();
    names
}

#[test]
fn error_names_in_index_js_are_error_kind_all_in_order() {
    let file = "js/index.js";
    let text = read(file);
    let list = between(&text, file, "export const ERROR_NAMES = Object.freeze([", "]);");
    assert_eq!(quoted(list, '\''), rust_names(), "{file}: ERROR_NAMES must list ErrorKind::ALL's names, in order");
}

#[test]
fn error_name_type_in_index_d_ts_is_error_kind_all() {
    let file = "js/index.d.ts";
    let text = read(file);
    let union = between(&text, file, "export type ErrorName =", ";");
    assert_eq!(
        sorted(quoted(union, '\'')),
        sorted(rust_names()),
        "{file}: the ErrorName union must name exactly ErrorKind::ALL's names"
    );
}

#[test]
fn readme_lists_every_error_name() {
    let file = "README.md";
    let text = read(file);
    // The paragraph that lists the names, up to the blank line that ends it.
    let paragraph = between(&text, file, "Every failure is an `Error` whose `name` says what happened", "\n\n");
    let names = quoted(paragraph, '`').into_iter().filter(|s| s.ends_with("Error") && *s != "Error").collect();
    assert_eq!(sorted(names), sorted(rust_names()), "{file}: the list of error names must be ErrorKind::ALL's names");
}

/// The fields of a TypeScript object type's body (`{ a: T; b?: { c: U } }` without its braces),
/// each with its own fields when its type is an object literal written in place. Comments are
/// skipped.
fn ts_fields(body: &str) -> BTreeMap<String, BTreeMap<String, ()>> {
    let mut out = BTreeMap::new();
    let mut text = body.to_owned();
    while let Some(start) = text.find("/*") {
        let end = text[start..].find("*/").map_or(text.len(), |e| start + e + 2);
        text.replace_range(start..end, "");
    }
    let mut depth = 0;
    let mut current: Option<String> = None;
    for line in text.lines().map(|l| l.split("//").next().unwrap_or("").trim()) {
        if depth == 0 {
            if let Some((name, _)) = line.split_once(':') {
                let name = name.trim_end_matches('?').to_owned();
                out.insert(name.clone(), BTreeMap::new());
                current = Some(name);
            }
        } else if depth == 1 {
            if let (Some((name, _)), Some(of)) = (line.split_once(':'), current.as_ref()) {
                out.get_mut(of).expect("inserted").insert(name.trim_end_matches('?').to_owned(), ());
            }
        }
        depth += line.matches('{').count();
        depth -= line.matches('}').count();
    }
    out
}

/// The keys of a serialised object, each with its own keys when it is an object (an array's
/// elements are a named type, checked on their own).
fn json_fields(value: &serde_json::Value) -> BTreeMap<String, BTreeMap<String, ()>> {
    let keys = |v: &serde_json::Value| -> BTreeMap<String, ()> {
        v.as_object().map(|o| o.keys().map(|k| (k.clone(), ())).collect()).unwrap_or_default()
    };
    value.as_object().expect("an object").iter().map(|(k, v)| (k.clone(), keys(v))).collect()
}

#[test]
fn status_fields_in_index_d_ts_are_the_rust_status() {
    let file = "js/index.d.ts";
    let text = read(file);
    let worker = WorkerStatus {
        id: 1,
        state: "idle",
        busy: false,
        tasks_done: 0,
        errors: 0,
        restarts: 0,
        last_error: Some("set, so that it is serialised".into()),
        started_at: 0.0,
        memory_bytes: 0.0,
        threads: 1,
    };
    let status = Status {
        mode: Mode::Workers,
        build: "single",
        simd: true,
        threads: 1,
        cross_origin_isolated: true,
        workers: vec![worker.clone()],
        queued: 0,
        main_thread_tasks_done: 0,
        fallback_reason: Some("set, so that it is serialised".into()),
        counters: CounterSnapshot::default(),
        engines: Some(Engines {
            sha256: "webcrypto",
            sha256_stream: "rust",
            aes_gcm: "webcrypto",
            stream_format: "webcrypto",
        }),
    };
    let rust = json_fields(&serde_json::to_value(&status).expect("serialisable"));
    let typed = ts_fields(between(&text, file, "export interface BridgeStatus {", "\n}"));
    assert_eq!(typed, rust, "{file}: BridgeStatus must name Status's fields (nested ones included)");
    let rust = json_fields(&serde_json::to_value(&worker).expect("serialisable"));
    let typed = ts_fields(between(&text, file, "export interface WorkerStatus {", "\n}"));
    assert_eq!(typed, rust, "{file}: WorkerStatus must name the Rust WorkerStatus's fields");
}

/// `n` as the docs write it: `60,000`.
fn with_commas(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The doc comment right above `key?:` in `export interface name` of `js/index.d.ts`.
fn option_doc(dts: &str, interface: &str, key: &str) -> String {
    let body = between(dts, "js/index.d.ts", &format!("export interface {interface} "), "\n}");
    let lines: Vec<&str> = body.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with(&format!("{key}?:")))
        .unwrap_or_else(|| panic!("js/index.d.ts: {interface} has no {key}"));
    assert!(at > 0 && lines[at - 1].trim_end().ends_with("*/"), "js/index.d.ts: {interface}.{key} has no doc comment");
    // The whole comment: from its `/**` down to the line above the key.
    let start = (0..at).rev().find(|&i| lines[i].contains("/**")).expect("a doc comment opens with /**");
    lines[start..at].join(" ")
}

#[test]
fn option_defaults_in_index_d_ts_are_the_core_defaults() {
    use worker_bridge_core::defaults as d;
    let dts = read("js/index.d.ts");
    let cases: &[(&str, &str, String)] = &[
        ("CreateOptions", "maxQueue", with_commas(d::MAX_QUEUE as u64)),
        ("CreateOptions", "timeoutMs", with_commas(d::TIMEOUT_MS.into())),
        ("CreateOptions", "retries", with_commas(d::RETRIES.into())),
        ("CreateOptions", "healthIntervalMs", with_commas(d::HEALTH_INTERVAL_MS.into())),
        ("CreateOptions", "cancelGraceMs", with_commas(d::CANCEL_GRACE_MS.into())),
        ("CreateOptions", "maxInFlightPerWorker", with_commas(d::MAX_IN_FLIGHT_PER_WORKER.into())),
        ("CreateOptions", "busyPollUs", with_commas(d::BUSY_POLL_US.into())),
        ("EncryptFileOptions", "chunkSize", with_commas(d::STREAM_CHUNK_SIZE.into())),
        ("CompressOptions", "level", with_commas(d::COMPRESSION_LEVEL.into())),
        ("DecompressOptions", "maxOutputBytes", format!("{} MiB", d::MAX_OUTPUT_BYTES >> 20)),
        ("FetchOptions", "maxBytes", with_commas(d::FETCH_MAX_BYTES)),
        ("ServiceOptions", "startTimeoutMs", with_commas(d::SERVICE_START_TIMEOUT_MS.into())),
        ("ServiceOptions", "stopTimeoutMs", with_commas(d::SERVICE_STOP_TIMEOUT_MS.into())),
        ("ServiceOptions", "maxRestarts", with_commas(d::SERVICE_MAX_RESTARTS.into())),
        ("ServiceOptions", "healthIntervalMs", with_commas(d::SERVICE_HEALTH_INTERVAL_MS.into())),
    ];
    for (interface, key, value) in cases {
        let doc = option_doc(&dts, interface, key).to_lowercase();
        assert!(
            doc.contains(&format!("default {}", value.to_lowercase())),
            "js/index.d.ts: {interface}.{key} should say default {value}: {doc}"
        );
    }
    let pool = option_doc(&dts, "CreateOptions", "poolSize");
    assert!(pool.contains(&format!("1–{}", d::MAX_POOL_SIZE)), "js/index.d.ts: poolSize range: {pool}");
}

#[test]
fn create_options_table_in_the_readme_quotes_the_core_defaults() {
    use worker_bridge_core::defaults as d;
    let readme = read("README.md");
    let table = between(&readme, "README.md", "### `WorkerBridge.create(options)`", "\n\n`create()`");
    let cell = |key: &str| -> Vec<String> {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| `{key}` |")))
            .unwrap_or_else(|| panic!("README.md: no row for {key} in the create() table"));
        row.split('|').map(|c| c.trim().trim_matches('`').to_owned()).collect()
    };
    for (key, value) in [
        ("maxQueue", d::MAX_QUEUE as u64),
        ("timeoutMs", d::TIMEOUT_MS.into()),
        ("retries", d::RETRIES.into()),
        ("healthIntervalMs", d::HEALTH_INTERVAL_MS.into()),
        ("cancelGraceMs", d::CANCEL_GRACE_MS.into()),
        ("maxInFlightPerWorker", d::MAX_IN_FLIGHT_PER_WORKER.into()),
        ("busyPollUs", d::BUSY_POLL_US.into()),
    ] {
        assert_eq!(cell(key)[2], value.to_string(), "README.md: the default of {key}");
    }
    assert!(cell("poolSize")[3].contains(&format!("1–{}", d::MAX_POOL_SIZE)), "README.md: poolSize range");
    let most = with_commas(d::MAX_BUSY_POLL_US.into());
    assert!(cell("busyPollUs")[3].contains(&format!("0–{most}")), "README.md: busyPollUs range");
    let dts = option_doc(&read("js/index.d.ts"), "CreateOptions", "busyPollUs");
    assert!(dts.contains(&format!("0–{most}")), "js/index.d.ts: busyPollUs range: {dts}");
}

#[test]
fn with_commas_groups_thousands() {
    assert_eq!(with_commas(0), "0");
    assert_eq!(with_commas(250), "250");
    assert_eq!(with_commas(10_000), "10,000");
    assert_eq!(with_commas(1_048_576), "1,048,576");
}
