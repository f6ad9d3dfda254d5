//! Lists that JavaScript, TypeScript and the README repeat from the Rust code must match it.
//!
//! `ErrorKind::ALL` / `ErrorKind::name()` is the truth for error names: `ERROR_NAMES` in
//! `js/index.js` (in the same order), the `ErrorName` union in `js/index.d.ts` and the README's
//! list of error names must name exactly the same errors.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

use worker_bridge::ErrorKind;

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
