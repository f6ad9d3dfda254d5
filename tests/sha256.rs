//! SHA-256 against the FIPS 180-2 / NIST CAVP vectors, through the op pipeline.
#![cfg(not(target_arch = "wasm32"))]

use worker_bridge::ops::{self, drive_blocking, NeverCancel, NoProgress, Op, SliceSource, StdEnv};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(input: &[u8]) -> String {
    hex(&ops::run(&Op::Sha256, input, &StdEnv::default(), &mut NoProgress, &NeverCancel).unwrap())
}

#[test]
fn fips_180_vectors() {
    assert_eq!(sha256(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(sha256(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(
        sha256(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    assert_eq!(
        sha256(b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
    );
}

#[test]
fn one_million_a() {
    let input = vec![b'a'; 1_000_000];
    assert_eq!(sha256(&input), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    // The same, fed in odd-sized chunks as a worker would.
    let job = Op::Sha256.start().unwrap();
    let out =
        drive_blocking(job, &mut SliceSource::new(&input, 65_537), &StdEnv::default(), &mut NoProgress, &NeverCancel)
            .unwrap();
    assert_eq!(hex(&out), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
