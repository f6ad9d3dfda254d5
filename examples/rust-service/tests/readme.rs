//! The README's "Services in Rust" and Rust task examples are verbatim parts of `src/lib.rs`, so it compiles and
//! is tested with this crate and cannot drift from it.

const README: &str = include_str!("../../../README.md");
const LIB: &str = include_str!("../src/lib.rs");

/// The body of the first ```rust block after the heading `heading`.
fn rust_block_after<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
    let section = &text[text.find(heading)?..];
    let start = section.find("```rust\n")? + "```rust\n".len();
    let len = section[start..].find("```\n")?;
    Some(&section[start..start + len])
}

#[test]
fn the_readme_example_is_part_of_the_crate() {
    let example = rust_block_after(README, "\n### Services in Rust\n")
        .expect("README.md: a ```rust block under ### Services in Rust");
    let registers = ["register_service(", "register_configured_service("].iter().any(|r| example.contains(r));
    assert!(registers, "the block found is not the service example:\n{example}");
    assert!(
        LIB.contains(example),
        "README.md's Rust service example differs from examples/rust-service/src/lib.rs; make it a verbatim \
         part again:\n{example}"
    );
}

#[test]
fn the_readme_task_example_is_part_of_the_crate() {
    let example =
        rust_block_after(README, "\n## Your own tasks\n").expect("README.md: a ```rust block under ## Your own tasks");
    assert!(example.contains("register_task("), "the block found is not the task example:\n{example}");
    assert!(
        LIB.contains(example),
        "README.md's Rust task example differs from examples/rust-service/src/lib.rs:\n{example}"
    );
}

#[test]
fn the_block_is_found_by_its_fences() {
    let text = "# x\n```rust\nno\n```\n### Services in Rust\ntext\n```js\njs\n```\n```rust\nfn a() {}\n```\nafter\n";
    assert_eq!(rust_block_after(text, "\n### Services in Rust\n"), Some("fn a() {}\n"));
    assert_eq!(rust_block_after(text, "\n### Missing\n"), None);
}
