//! The layering, checked: every `crate::` path in `src/` and `crates/core/src/` must point to a
//! layer below its own (ARCHITECTURE.md draws the same table), so no module cycle can form, and
//! the core crate must not depend on anything that reaches JavaScript.
//!
//! A new top-level module fails this test until it is given a layer here and in ARCHITECTURE.md.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The browser edge (`src/`), bottom first. Modules of one layer may not use each other.
const EDGE_LAYERS: &[&[&str]] = &[
    &["runtime"],
    &["shared", "events"],
    &["io", "tasks"],
    &["call"],
    &["driver"],
    &["pool", "worker_main"],
    &["executor", "services"],
    &["bridge"],
];

/// What the edge's `lib.rs` re-exports from the core crate: below every edge layer.
const CORE_REEXPORTS: &[&str] = &["defaults", "error", "nonce_guard", "ops", "protocol", "scheduler", "status"];

/// The core crate (`crates/core/src/`), bottom first.
const CORE_LAYERS: &[&[&str]] = &[
    &["defaults", "error", "spares", "status"],
    &["pool"],
    &["ops", "nonce_guard", "services"],
    &["tasks"],
    &["protocol"],
    &["scheduler"],
];

/// Items that `lib.rs` re-exports at the crate root, and the module each comes from.
const ROOT_ITEMS: &[(&str, &str)] = &[("Error", "error"), ("ErrorKind", "error")];

/// Crates the core may never depend on: each reaches JavaScript or needs a browser.
const FORBIDDEN_IN_CORE: &[&str] =
    &["wasm-bindgen", "wasm-bindgen-futures", "js-sys", "web-sys", "serde-wasm-bindgen", "gloo-timers", "gloo"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`None` for `lib.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).expect("a file under src");
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    match first.strip_suffix(".rs") {
        Some("lib") => None,
        Some(name) => Some(name.to_owned()),
        None => Some(first),
    }
}

/// Every `crate::name` in the code of `text` (comments, doc comments and strings left out).
fn crate_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let code = strip_comment_and_strings(line);
        let mut rest = code.as_str();
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // e.g. `worker_bridge_crate::`
            }
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if let Some((_, module)) = ROOT_ITEMS.iter().find(|(item, _)| *item == name) {
                found.push((*module).to_owned());
            } else if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

fn strip_comment_and_strings(line: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => in_string = !in_string,
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            _ if !in_string => out.push(c),
            _ => {}
        }
    }
    out
}

fn rank_of(layers: &[&[&str]], name: &str) -> Option<usize> {
    layers.iter().position(|layer| layer.contains(&name))
}

/// `(from, to, file)` for every cross-module `crate::` path under `src`.
fn edges(src: &Path) -> Vec<(String, String, PathBuf)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let Some(from) = module_of(src, &file) else { continue };
        let text = fs::read_to_string(&file).expect("a readable source file");
        for to in crate_paths(&text) {
            if to != from {
                out.push((from.clone(), to, file.clone()));
            }
        }
    }
    out
}

/// Lists every path that does not point down, and every module with no layer.
fn violations(src: &Path, layers: &[&[&str]], below_all: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    for file in &files {
        if let Some(module) = module_of(src, file) {
            if rank_of(layers, &module).is_none() {
                problems.push(format!("module `{module}` ({}) has no layer", file.display()));
            }
        }
    }
    for (from, to, file) in edges(src) {
        let Some(from_rank) = rank_of(layers, &from) else { continue };
        if below_all.contains(&to.as_str()) {
            continue;
        }
        match rank_of(layers, &to) {
            None => problems.push(format!("{}: `crate::{to}` is not a known layer", file.display())),
            Some(to_rank) if to_rank >= from_rank => problems.push(format!(
                "{}: `{from}` (layer {from_rank}) uses `crate::{to}` (layer {to_rank}): imports must point down",
                file.display()
            )),
            Some(_) => {}
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[test]
fn edge_imports_point_down() {
    let problems = violations(&root().join("src"), EDGE_LAYERS, CORE_REEXPORTS);
    assert!(problems.is_empty(), "layering violations in src/:\n{}", problems.join("\n"));
}

#[test]
fn core_imports_point_down() {
    let problems = violations(&root().join("crates/core/src"), CORE_LAYERS, &[]);
    assert!(problems.is_empty(), "layering violations in crates/core/src/:\n{}", problems.join("\n"));
}

#[test]
fn no_module_cycle_in_either_crate() {
    // Redundant with the layer checks when they pass; it names the cycle when they do not.
    for src in [root().join("src"), root().join("crates/core/src")] {
        let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (from, to, _) in edges(&src) {
            graph.entry(from).or_default().push(to);
        }
        if let Some(cycle) = find_cycle(&graph) {
            panic!("module cycle in {}: {}", src.display(), cycle.join(" → "));
        }
    }
}

fn find_cycle(graph: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, Vec<String>>,
        stack: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.iter().any(|n| n == node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.push(node.to_owned());
        None
    }
    let (mut stack, mut done) = (Vec::new(), Vec::new());
    graph.keys().find_map(|node| visit(node, graph, &mut stack, &mut done))
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, Vec<String>> = [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(find_cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    assert_eq!(crate_paths("use crate::pool::Pool; // crate::bridge\nlet s = \"crate::x\";"), vec!["pool"]);
}

#[test]
fn the_core_cannot_reach_javascript() {
    let manifest = fs::read_to_string(root().join("crates/core/Cargo.toml")).expect("the core's Cargo.toml");
    let mut section = String::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        if !section.contains("dependencies") {
            continue;
        }
        let name = line.split(['=', ' ']).next().unwrap_or_default();
        assert!(
            !FORBIDDEN_IN_CORE.contains(&name),
            "crates/core depends on `{name}` ({section}): the core must not reach JavaScript"
        );
    }
    // A dependency table per target (`[target.'cfg(..)'.dependencies.web-sys]`) is caught too.
    for name in FORBIDDEN_IN_CORE {
        assert!(!manifest.contains(&format!("dependencies.{name}]")), "crates/core depends on `{name}`");
    }
}
