//! The handlers' formats, natively: AES-256-GCM against NIST vectors, the stream format (round
//! trips, every tampering case, the documented test vector), gzip/deflate/zlib (round trips at
//! every level, corrupt, truncated and bomb inputs).
#![cfg(not(target_arch = "wasm32"))]

use worker_bridge::ops::aead;
use worker_bridge::ops::stream_format::{self, Header, HEADER_LEN, MIN_CHUNK};
use worker_bridge::ops::{drive_blocking, ChunkRun, Format, NeverCancel, NoProgress, Op, Secret, SliceSource, StdEnv};
use worker_bridge::{Error, ErrorKind};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs `op` over `input` fed in pieces of `chunk` bytes.
fn run_chunked(op: &Op, input: &[u8], chunk: usize) -> Result<Vec<u8>, Error> {
    drive_blocking(op.start()?, &mut SliceSource::new(input, chunk), &StdEnv::default(), &mut NoProgress, &NeverCancel)
}

fn run(op: &Op, input: &[u8]) -> Result<Vec<u8>, Error> {
    run_chunked(op, input, 1 << 20)
}

// ---- AES-256-GCM: NIST CAVP (gcmEncryptExtIV256) and the McGrew–Viega test cases ----

struct Vector {
    key: &'static str,
    iv: &'static str,
    pt: &'static str,
    aad: &'static str,
    ct: &'static str,
    tag: &'static str,
}

const GCM_VECTORS: &[Vector] = &[
    // Test Case 13: empty plaintext, zero key/IV (the IV is all-zero: decrypt-only below).
    Vector {
        key: "0000000000000000000000000000000000000000000000000000000000000000",
        iv: "000000000000000000000000",
        pt: "",
        aad: "",
        ct: "",
        tag: "530f8afbc74536b9a963b4f1c4cb738b",
    },
    // Test Case 15: 64-byte plaintext, no AAD.
    Vector {
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbaddecaf888",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        aad: "",
        ct: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        tag: "b094dac5d93471bdec1a502270e3cc6c",
    },
    // Test Case 16: 60-byte plaintext with AAD.
    Vector {
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbaddecaf888",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        ct: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        tag: "76fc6ece0f4e1768cddf8853bb2d551b",
    },
    // NIST CAVP gcmEncryptExtIV256, Count 0 of [PTlen = 0, AADlen = 128].
    Vector {
        key: "78dc4e0aaf52d935c3c01eea57428f00ca1fd475f5da86a49c8dd73d68c8e223",
        iv: "d79cf22d504cc793c3fb6c8a",
        pt: "",
        aad: "b96baa8c1c75a671bfb2d08d06be5f36",
        ct: "",
        tag: "3e5d486aa2e30b22e040b85723a06e76",
    },
];

#[test]
fn aes_gcm_matches_the_published_vectors() {
    for (i, v) in GCM_VECTORS.iter().enumerate() {
        let (key, iv, pt, aad) = (hex(v.key), hex(v.iv), hex(v.pt), hex(v.aad));
        let mut expected = hex(v.ct);
        expected.extend(hex(v.tag));
        if iv.iter().any(|&b| b != 0) {
            let sealed = aead::encrypt(&key, &iv, &aad, &pt).unwrap();
            assert_eq!(to_hex(&sealed), to_hex(&expected), "vector {i}");
            // Through the op, fed in odd pieces.
            let op = Op::Encrypt { key: Secret(key.clone()), nonce: iv.clone(), aad: aad.clone() };
            assert_eq!(run_chunked(&op, &pt, 7).unwrap(), expected, "vector {i} via op");
        }
        assert_eq!(aead::decrypt(&key, &iv, &aad, &expected).unwrap(), pt, "vector {i} opens");
    }
}

#[test]
fn aes_gcm_rejects_bad_lengths_tampering_and_the_zero_nonce() {
    let key = [7u8; 32];
    let nonce = [1u8; 12];
    let sealed = aead::encrypt(&key, &nonce, b"aad", b"secret message").unwrap();
    assert_eq!(aead::encrypt(&key[..31], &nonce, b"", b"x").unwrap_err().kind(), ErrorKind::Validation);
    assert_eq!(aead::encrypt(&key, &nonce[..11], b"", b"x").unwrap_err().kind(), ErrorKind::Validation);
    assert_eq!(aead::encrypt(&key, &[0u8; 12], b"", b"x").unwrap_err().kind(), ErrorKind::NonceReuse);
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x40;
        assert_eq!(
            aead::decrypt(&key, &nonce, b"aad", &bad).unwrap_err().kind(),
            ErrorKind::Authentication,
            "byte {i}"
        );
    }
    assert_eq!(aead::decrypt(&key, &nonce, b"AAD", &sealed).unwrap_err().kind(), ErrorKind::Authentication);
    assert_eq!(aead::decrypt(&[8u8; 32], &nonce, b"aad", &sealed).unwrap_err().kind(), ErrorKind::Authentication);
    assert_eq!(aead::decrypt(&key, &nonce, b"aad", &sealed[..15]).unwrap_err().kind(), ErrorKind::Authentication);
}

#[test]
fn aes_gcm_computed_chunk_by_chunk_equals_the_one_shot_cipher() {
    let key: Vec<u8> = (100u8..132).collect();
    for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100, 1000, 4099] {
        let plain = data(len);
        let nonce: Vec<u8> = (0..12).map(|i| (i as u8) ^ (len as u8) | 1).collect();
        let aad = data(len % 37);
        let expected = aead::encrypt(&key, &nonce, &aad, &plain).unwrap();
        for chunk in [1usize, 5, 16, 17, 64, 4096] {
            let op = Op::Encrypt { key: Secret(key.clone()), nonce: nonce.clone(), aad: aad.clone() };
            assert_eq!(run_chunked(&op, &plain, chunk).unwrap(), expected, "encrypt len {len} chunk {chunk}");
            let op = Op::Decrypt { key: Secret(key.clone()), nonce: nonce.clone(), aad: aad.clone() };
            assert_eq!(run_chunked(&op, &expected, chunk).unwrap(), plain, "decrypt len {len} chunk {chunk}");
            let mut bad = expected.clone();
            bad[len / 2] ^= 0x80;
            assert_eq!(run_chunked(&op, &bad, chunk).unwrap_err().kind(), ErrorKind::Authentication);
            assert_eq!(
                run_chunked(&op, &expected[..expected.len() - 1], chunk).unwrap_err().kind(),
                ErrorKind::Authentication
            );
        }
    }
}

// ---- the stream format ----

const KEY: [u8; 32] = [0x42; 32];

fn header(chunk: u32) -> Header {
    Header::new(chunk, [0x11; 16], [0x22; 7]).unwrap()
}

fn seal(h: Header, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let op = Op::Seal { key: Secret(KEY.to_vec()), header: h.encode().to_vec(), aad: aad.to_vec() };
    run_chunked(&op, plain, 100_003).unwrap()
}

fn open(aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
    run_chunked(&Op::Open { key: Secret(KEY.to_vec()), aad: aad.to_vec() }, sealed, 77_777)
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn stream_round_trips_at_the_edge_sizes() {
    let c = MIN_CHUNK as usize;
    for len in [0, 1, c - 1, c, c + 1, 5 * c + 7] {
        let plain = data(len);
        let sealed = seal(header(MIN_CHUNK), b"ctx", &plain);
        assert_eq!(sealed.len() as u64, stream_format::sealed_len(len as u64, MIN_CHUNK), "length {len}");
        assert_eq!(open(b"ctx", &sealed).unwrap(), plain, "length {len}");
    }
}

#[test]
fn stream_rejects_every_tampering() {
    let c = MIN_CHUNK as usize;
    let plain = data(3 * c + 5);
    let sealed = seal(header(MIN_CHUNK), b"", &plain);
    let sealed_chunk = c + 16;
    let auth = |bytes: &[u8], what: &str| {
        let err = open(b"", bytes).expect_err(what);
        assert_eq!(err.kind(), ErrorKind::Authentication, "{what}: {err}");
    };
    // Truncation: at a chunk boundary (the final chunk dropped), mid-chunk, inside the header.
    auth(&sealed[..HEADER_LEN + 3 * sealed_chunk], "final chunk dropped");
    auth(&sealed[..sealed.len() - 1], "one byte short");
    auth(&sealed[..HEADER_LEN + sealed_chunk + 10], "cut mid-chunk");
    auth(&sealed[..20], "cut in the header");
    auth(&sealed[..HEADER_LEN], "header only");
    // Reordering chunks 0 and 1.
    let mut swapped = sealed[..HEADER_LEN].to_vec();
    swapped.extend_from_slice(&sealed[HEADER_LEN + sealed_chunk..HEADER_LEN + 2 * sealed_chunk]);
    swapped.extend_from_slice(&sealed[HEADER_LEN..HEADER_LEN + sealed_chunk]);
    swapped.extend_from_slice(&sealed[HEADER_LEN + 2 * sealed_chunk..]);
    auth(&swapped, "reordered");
    // Extension: a chunk appended, or garbage appended.
    let mut extended = sealed.clone();
    extended.extend_from_slice(&sealed[HEADER_LEN..HEADER_LEN + sealed_chunk]);
    auth(&extended, "extended by a chunk");
    let mut longer = sealed.clone();
    longer.extend_from_slice(&[0u8; 16]);
    auth(&longer, "extended by 16 bytes");
    // A flipped bit anywhere: every header byte, and bytes across each chunk and tag.
    let mut positions: Vec<usize> = (0..HEADER_LEN).collect();
    positions.extend((HEADER_LEN..sealed.len()).step_by(4093));
    positions.push(sealed.len() - 1);
    for i in positions {
        let mut bad = sealed.clone();
        bad[i] ^= 1;
        auth(&bad, &format!("bit flipped at {i}"));
    }
    // Wrong key, wrong additional data.
    let wrong_key = Op::Open { key: Secret(vec![0x43; 32]), aad: vec![] };
    assert_eq!(run(&wrong_key, &sealed).unwrap_err().kind(), ErrorKind::Authentication);
    auth(&seal(header(MIN_CHUNK), b"other", &plain), "other aad");
}

#[test]
fn a_stream_sealed_in_parts_equals_one_sealed_whole() {
    let c = MIN_CHUNK as usize;
    let plain = data(7 * c + 123);
    let h = header(MIN_CHUNK);
    let whole = seal(h, b"a", &plain);
    let mut parts = h.encode().to_vec();
    let run_op = |first: u32, last: bool| {
        Op::SealChunks(ChunkRun {
            key: Secret(KEY.to_vec()),
            header: h.encode().to_vec(),
            aad: b"a".to_vec(),
            first_chunk: first,
            final_part: last,
        })
    };
    parts.extend(run(&run_op(0, false), &plain[..3 * c]).unwrap());
    parts.extend(run(&run_op(3, false), &plain[3 * c..6 * c]).unwrap());
    parts.extend(run(&run_op(6, true), &plain[6 * c..]).unwrap());
    assert_eq!(parts, whole);
    // And opened in parts.
    let open_op = |first: u32, last: bool| {
        Op::OpenChunks(ChunkRun {
            key: Secret(KEY.to_vec()),
            header: h.encode().to_vec(),
            aad: b"a".to_vec(),
            first_chunk: first,
            final_part: last,
        })
    };
    let body = &whole[HEADER_LEN..];
    let s = c + 16;
    let mut opened = run(&open_op(0, false), &body[..4 * s]).unwrap();
    opened.extend(run(&open_op(4, true), &body[4 * s..]).unwrap());
    assert_eq!(opened, plain);
    // A non-final part cannot claim the final chunk, nor hold a partial chunk.
    assert_eq!(run(&open_op(0, true), &body[..4 * s]).unwrap_err().kind(), ErrorKind::Authentication);
    assert_eq!(run(&open_op(0, false), &body[..4 * s - 1]).unwrap_err().kind(), ErrorKind::Authentication);
}

#[test]
fn chunk_size_bounds_are_enforced() {
    assert_eq!(Header::new(MIN_CHUNK - 1, [0; 16], [0; 7]).unwrap_err().kind(), ErrorKind::Validation);
    assert_eq!(Header::new(16 * 1024 * 1024 + 1, [0; 16], [0; 7]).unwrap_err().kind(), ErrorKind::Validation);
    assert!(Header::new(16 * 1024 * 1024, [0; 16], [0; 7]).is_ok());
    let a = Header::random(MIN_CHUNK).unwrap();
    let b = Header::random(MIN_CHUNK).unwrap();
    assert_ne!((a.salt, a.prefix), (b.salt, b.prefix), "fresh randomness per file");
}

/// The test vector in docs/stream-format.md.
#[test]
fn the_documented_test_vector() {
    let key: Vec<u8> = (0u8..32).collect();
    let h = Header::new(65_536, *b"worker-bridge-ss", *b"prefix7").unwrap();
    let plain: Vec<u8> = (0..65_536 + 10).map(|i| (i % 256) as u8).collect();
    let op = Op::Seal { key: Secret(key.clone()), header: h.encode().to_vec(), aad: b"doc".to_vec() };
    let sealed = run(&op, &plain).unwrap();
    let digest =
        worker_bridge::ops::run(&Op::Sha256, &sealed, &StdEnv::default(), &mut NoProgress, &NeverCancel).unwrap();
    assert_eq!(to_hex(&h.encode()), "574253310100010000776f726b65722d6272696467652d737370726566697837");
    assert_eq!(sealed.len(), 32 + 65_536 + 16 + 10 + 16);
    assert_eq!(to_hex(&sealed[sealed.len() - 26..]), DOC_TAIL);
    assert_eq!(to_hex(&digest), DOC_SHA256);
    let opened = run(&Op::Open { key: Secret(key), aad: b"doc".to_vec() }, &sealed).unwrap();
    assert_eq!(opened, plain);
}

// Computed independently with Python's `cryptography` (HKDF-SHA256 + AESGCM) from the spec.
const DOC_TAIL: &str = "532e943d87df5aef9680fe534ba176c3340144feaf92701f7cba";
const DOC_SHA256: &str = "0b5fe17d7a2e638ff11cdebd6a625ae8ff438bfac796c0afc279be9678e83eca";

// ---- compression ----

fn compress(format: Format, level: u32, input: &[u8]) -> Vec<u8> {
    run_chunked(&Op::Compress { format, level }, input, 65_537).unwrap()
}

fn decompress(format: Format, input: &[u8], max: u64) -> Result<Vec<u8>, Error> {
    run_chunked(&Op::Decompress { format, max_output: max }, input, 4_099)
}

const FORMATS: [Format; 3] = [Format::Gzip, Format::Deflate, Format::Zlib];

#[test]
fn every_format_round_trips_at_every_level() {
    let text: Vec<u8> =
        (0..300_000).map(|i| b"the quick brown fox jumps over the lazy dog "[i % 44] ^ (i / 10_000) as u8).collect();
    for format in FORMATS {
        for level in 0..=9 {
            let packed = compress(format, level, &text);
            assert_eq!(decompress(format, &packed, u64::MAX).unwrap(), text, "{format:?} level {level}");
            if level > 0 {
                assert!(packed.len() < text.len() / 2, "{format:?} level {level} compresses");
            }
        }
        assert_eq!(decompress(format, &compress(format, 6, b""), 10).unwrap(), b"");
    }
    assert_eq!(Op::Compress { format: Format::Gzip, level: 10 }.start().unwrap_err().kind(), ErrorKind::Validation);
}

#[test]
fn gzip_headers_are_standard_and_multi_member_input_is_accepted() {
    let a = compress(Format::Gzip, 6, b"hello, ");
    assert_eq!(&a[..3], &[0x1f, 0x8b, 8], "gzip magic and deflate method");
    let z = compress(Format::Zlib, 6, b"x");
    assert_eq!((u16::from(z[0]) << 8 | u16::from(z[1])) % 31, 0, "zlib header check bits");
    let mut both = a.clone();
    both.extend(compress(Format::Gzip, 1, b"world"));
    assert_eq!(decompress(Format::Gzip, &both, 100).unwrap(), b"hello, world");
}

#[test]
fn corrupt_truncated_and_bomb_inputs_are_rejected() {
    let text = data(200_000);
    for format in FORMATS {
        let packed = compress(format, 6, &text);
        let kind = |r: Result<Vec<u8>, Error>| match r {
            Ok(v) => panic!("{format:?}: accepted, {} bytes out", v.len()),
            Err(e) => e.kind(),
        };
        assert_eq!(
            kind(decompress(format, &packed[..packed.len() / 2], u64::MAX)),
            ErrorKind::Decompression,
            "{format:?} truncated"
        );
        assert_eq!(
            kind(decompress(format, &packed[..packed.len() - 1], u64::MAX)),
            ErrorKind::Decompression,
            "{format:?} one short"
        );
        assert_eq!(kind(decompress(format, b"", u64::MAX)), ErrorKind::Decompression, "{format:?} empty");
        assert_eq!(kind(decompress(format, &[0xff; 64], u64::MAX)), ErrorKind::Decompression, "{format:?} garbage");
        let mut corrupt = packed.clone();
        let mid = corrupt.len() / 2;
        corrupt[mid] ^= 0xff;
        corrupt[mid + 1] ^= 0x55;
        match (format, decompress(format, &corrupt, u64::MAX)) {
            // Raw deflate has no checksum: damage may decode to other bytes without an error.
            (Format::Deflate, Ok(out)) => assert_ne!(out, text, "corruption changed the output"),
            (_, result) => assert_eq!(kind(result), ErrorKind::Decompression, "{format:?} corrupt"),
        }
        // A bomb: 64 MiB of zeros packs into ~64 KiB; a 1 MiB limit stops it early.
        let bomb = compress(format, 9, &vec![0u8; 64 << 20]);
        assert!(bomb.len() < 200_000);
        assert_eq!(kind(decompress(format, &bomb, 1 << 20)), ErrorKind::LimitExceeded, "{format:?} bomb");
        assert_eq!(decompress(format, &packed, 200_000).unwrap().len(), 200_000, "{format:?} exactly at the limit");
    }
}

#[test]
fn thousands_of_tiny_gzip_members_neither_overflow_nor_crawl() {
    // Review finding: each member header used to recurse and copy the rest of the chunk.
    let empty = compress(Format::Gzip, 6, b"");
    let mut many = Vec::new();
    for _ in 0..20_000 {
        many.extend_from_slice(&empty);
    }
    many.extend(compress(Format::Gzip, 6, b"end"));
    let out = run_chunked(&Op::Decompress { format: Format::Gzip, max_output: 10 }, &many, 1 << 20).unwrap();
    assert_eq!(out, b"end");
}
