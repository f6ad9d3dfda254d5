//! A bounded, deterministic fuzz run of every decoder that reads untrusted bytes: gzip, zlib and
//! raw deflate decompression, the stream format's `Open` and `OpenChunks`, and protocol decoding.
//!
//! Valid inputs are mutated (bit flips, byte changes, truncation, extension, insertion, deletion,
//! splices; JSON also by its structure) and fed in varied pieces. Each decoder has a fixed seed,
//! so a failure names its case and replays exactly. The properties: no panic, output within its
//! limit, the original back when the input is unchanged, and otherwise only the decoder's typed
//! error; for the stream format, never a byte of a chunk that did not verify.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use worker_bridge_core::ops::engine::EngineChoice;
use worker_bridge_core::ops::stream_format::{Header, HEADER_LEN, MIN_CHUNK};
use worker_bridge_core::ops::{ChunkRun, FetchSpec, Format, Op, Secret, Sink};
use worker_bridge_core::protocol::{
    self, Caps, Envelope, FromService, FromWorker, HttpMeta, OutputKind, RequestId, ToService, ToWorker, WireError,
};
use worker_bridge_core::{Error, ErrorKind};

use common::{drive_pieces, pack, GzHeader};

/// xorshift64* (Vigna): deterministic, fast, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so nearby seeds start far apart (and never at zero).
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn byte(&mut self) -> u8 {
        // Bytes that mean something to the decoders come up more often than chance.
        const SPECIAL: [u8; 10] = [0x00, 0xff, 0x1f, 0x8b, 0x08, 0x80, 0x7f, b'"', b'{', b'0'];
        if self.one_in(4) {
            SPECIAL[self.below(SPECIAL.len())]
        } else {
            self.next() as u8
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// One to three byte-level mutations of `input`.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(3) {
        let len = b.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                b[i] = rng.byte();
            }
            2 => b.truncate(rng.below(len + 1)),
            3 => {
                let n = 1 + rng.below(32);
                let extra = rng.bytes(n);
                b.extend(extra);
            }
            4 if len > 0 => {
                // Extension by a copy of part of itself (a repeated member, chunk or field).
                let start = rng.below(len);
                let end = start + 1 + rng.below(len - start);
                b.extend_from_within(start..end);
            }
            5 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(4);
                let extra = rng.bytes(n);
                b.splice(at..at, extra);
            }
            6 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(16)).min(len);
                b.drain(at..end);
            }
            7 if len > 1 => {
                // Overwrite a range with another range of the input.
                let n = 1 + rng.below(len.min(64));
                let from = rng.below(len - n + 1);
                let to = rng.below(len - n + 1);
                b.copy_within(from..from + n, to);
            }
            _ => {
                let i = rng.below(len + 1);
                b.insert(i, rng.byte());
            }
        }
    }
    b
}

/// `input` unchanged one time in eight (to check the round trip under varied pieces), else mutated.
fn maybe_mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    if rng.one_in(8) {
        input.to_vec()
    } else {
        mutate(rng, input)
    }
}

/// `input` cut into pieces: whole, in two, in pieces of one size, or of random sizes (empty ones
/// included). Byte-sized pieces only for small inputs, to keep the run short.
fn split<'a>(rng: &mut Rng, input: &'a [u8]) -> Vec<&'a [u8]> {
    let len = input.len();
    let smallest = (len / 1500).max(1);
    let mut sizes = Vec::new();
    match rng.below(5) {
        0 => sizes.push(len),
        1 => {
            let at = rng.below(len + 1);
            sizes.extend([at, len - at]);
        }
        2 => {
            const SIZES: [usize; 9] = [1, 2, 3, 7, 10, 16, 255, 4096, 65_536];
            let size = SIZES[rng.below(SIZES.len())].max(smallest);
            sizes.extend(std::iter::repeat_n(size, len / size));
            sizes.push(len % size);
        }
        _ => {
            let mut left = len;
            let most = (len / 8).max(smallest) + 1;
            while left > 0 {
                let size = if rng.one_in(10) { 0 } else { (smallest + rng.below(most)).min(left) };
                sizes.push(size);
                left -= size;
            }
        }
    }
    let mut pieces = Vec::new();
    let mut at = 0;
    for size in sizes {
        pieces.push(&input[at..at + size]);
        at += size;
    }
    assert_eq!(at, len);
    pieces
}

/// Runs `case` for `cases` seeds of `seed`; a panic names the case that caused it.
fn run_cases(name: &str, seed: u64, cases: u64, mut case: impl FnMut(&mut Rng)) {
    for i in 0..cases {
        let mut rng = Rng::new(seed ^ i.wrapping_mul(0x1000_0000_01b3));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| case(&mut rng))) {
            eprintln!("{name}: case {i} (seed {seed:#x}) failed");
            std::panic::resume_unwind(panic);
        }
    }
}

// ---- compression ----

/// Valid inputs with what they decode to.
fn compressed_seeds() -> Vec<(Format, Vec<u8>, Vec<u8>)> {
    let mut rng = Rng::new(7);
    let text: Vec<u8> = (0..3000).map(|i| b"a gzip member, a zlib stream. "[i % 30] ^ (i / 700) as u8).collect();
    let plains = [b"".to_vec(), b"hello, world".to_vec(), text.clone(), rng.bytes(20_000), vec![0; 200_000]];
    let mut seeds = Vec::new();
    for format in [Format::Gzip, Format::Zlib, Format::Deflate] {
        for plain in &plains {
            for level in [0, 1, 6, 9] {
                seeds.push((format, pack(format, level, plain), plain.clone()));
            }
        }
    }
    // gzip: several members, every header field, FHCRC.
    let mut two = pack(Format::Gzip, 6, b"first member, ");
    two.extend(pack(Format::Gzip, 1, &text));
    let mut expected = b"first member, ".to_vec();
    expected.extend(&text);
    seeds.push((Format::Gzip, two, expected));
    let header = GzHeader {
        text: true,
        extra: Some(b"AB\x02\x00hi".to_vec()),
        name: Some(b"name.txt".to_vec()),
        comment: Some(b"a comment".to_vec()),
        hcrc: true,
    };
    seeds.push((Format::Gzip, header.member(&text), text.clone()));
    let mut empties = pack(Format::Gzip, 6, b"");
    empties.extend(GzHeader { hcrc: true, ..Default::default() }.member(b""));
    empties.extend(pack(Format::Gzip, 6, b"end"));
    seeds.push((Format::Gzip, empties, b"end".to_vec()));
    seeds
}

fn decompress(format: Format, max: u64, pieces: &[&[u8]]) -> (Result<usize, Error>, Vec<u8>) {
    let job = Op::Decompress { format, max_output: max }.start().unwrap();
    let mut out = Vec::new();
    let result = drive_pieces(job, pieces, &mut out).map_err(|(e, _)| e);
    (result, out)
}

#[test]
fn fuzz_decompression() {
    let seeds = compressed_seeds();
    run_cases("decompression", 0xc0de_0001, 4000, |rng| {
        let (format, packed, plain) = &seeds[rng.below(seeds.len())];
        let input = maybe_mutate(rng, packed);
        let unchanged = input == *packed;
        let plain_len = plain.len() as u64;
        let max = match rng.below(4) {
            0 => plain_len,
            1 => rng.below(plain.len() + 1) as u64,
            _ => plain_len + 65_536,
        };
        let pieces = split(rng, &input);
        let (result, out) = decompress(*format, max, &pieces);
        let what = format!("{format:?}, {} bytes in {} pieces, max {max}", input.len(), pieces.len());
        assert!(out.len() as u64 <= max, "{what}: {} bytes out", out.len());
        match &result {
            Ok(_) if unchanged => assert!(out == *plain, "{what}: unchanged input decoded to other bytes"),
            Ok(_) => {}
            Err(e) => {
                assert!(matches!(e.kind(), ErrorKind::Decompression | ErrorKind::LimitExceeded), "{what}: {e}");
                if unchanged {
                    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{what}: {e}");
                    assert!(plain_len > max && out[..] == plain[..out.len()], "{what}: {e}");
                }
            }
        }
        // However the input is cut, what decodes, decodes the same.
        let (whole, whole_out) = decompress(*format, max, &[&input]);
        if result.is_ok() || whole.is_ok() {
            assert!(result.is_ok() && whole.is_ok() && out == whole_out, "{what}: {result:?} vs whole {whole:?}");
        }
    });
}

// ---- the stream format ----

const KEY: [u8; 32] = [0x42; 32];
const CHUNK: usize = MIN_CHUNK as usize;
const SEALED_CHUNK: usize = CHUNK + 16;

/// Records every write, so a test can see that only whole, verified chunks came out.
#[derive(Default)]
struct Writes(Vec<Vec<u8>>);

impl Sink for Writes {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.push(bytes.to_vec());
        Ok(())
    }
}

/// Checks what an open wrote: on success exactly `want`; on failure an `AuthenticationError` and
/// whole chunks of `want` from its start, nothing of the chunk that failed.
fn check_open(what: &str, result: Result<(), Error>, writes: &Writes, want: &[u8]) {
    let got = writes.0.concat();
    match result {
        Ok(()) => assert!(got == want, "{what}: opened to other bytes ({} vs {})", got.len(), want.len()),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Authentication, "{what}: {e}");
            assert!(writes.0.iter().all(|w| w.len() == CHUNK), "{what}: a partial chunk was written");
            assert!(got[..] == want[..got.len().min(want.len())], "{what}: unverified bytes were written");
        }
    }
}

fn seal(plain: &[u8], aad: &[u8]) -> (Header, Vec<u8>) {
    let header = Header::new(MIN_CHUNK, [0x11; 16], [0x22; 7]).unwrap();
    let op = Op::Seal { key: Secret(KEY.to_vec()), header: header.encode().to_vec(), aad: aad.to_vec() };
    let mut out = Vec::new();
    drive_pieces(op.start().unwrap(), &[plain], &mut out).unwrap();
    (header, out)
}

fn stream_seeds() -> Vec<(Vec<u8>, Header, Vec<u8>)> {
    let mut rng = Rng::new(11);
    [0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 17]
        .into_iter()
        .map(|len| {
            let plain = rng.bytes(len);
            let (header, sealed) = seal(&plain, b"aad");
            (plain, header, sealed)
        })
        .collect()
}

#[test]
fn fuzz_stream_open() {
    let seeds = stream_seeds();
    run_cases("open", 0xc0de_0002, 1500, |rng| {
        let (plain, _, sealed) = &seeds[rng.below(seeds.len())];
        let input = maybe_mutate(rng, sealed);
        let (key, aad) = match rng.below(16) {
            0 => ([0x43; 32], &b"aad"[..]),
            1 => (KEY, &b"AAD"[..]),
            _ => (KEY, &b"aad"[..]),
        };
        let pieces = split(rng, &input);
        let what = format!("{} bytes in {} pieces", input.len(), pieces.len());
        let job = Op::Open { key: Secret(key.to_vec()), aad: aad.to_vec() }.start().unwrap();
        let mut writes = Writes::default();
        let result = drive_pieces(job, &pieces, &mut writes).map(drop).map_err(|(e, _)| e);
        if input == *sealed && key == KEY && aad == b"aad" {
            assert!(result.is_ok(), "{what}: the unchanged stream did not open: {result:?}");
        }
        check_open(&what, result, &writes, plain);
    });
}

#[test]
fn fuzz_stream_open_chunks() {
    let seeds = stream_seeds();
    run_cases("open_chunks", 0xc0de_0003, 1500, |rng| {
        let (plain, header, sealed) = &seeds[rng.below(seeds.len())];
        let body = &sealed[HEADER_LEN..];
        let chunks = body.len().div_ceil(SEALED_CHUNK);
        let first = rng.below(chunks);
        let end = first + 1 + rng.below(chunks - first);
        let run_bytes = &body[first * SEALED_CHUNK..(end * SEALED_CHUNK).min(body.len())];
        let want = &plain[(first * CHUNK).min(plain.len())..(end * CHUNK).min(plain.len())];
        let mut run = ChunkRun {
            key: Secret(KEY.to_vec()),
            header: header.encode().to_vec(),
            aad: b"aad".to_vec(),
            first_chunk: first as u32,
            final_part: end == chunks,
        };
        let intact = run.clone();
        match rng.below(12) {
            0 => run.first_chunk ^= 1,
            1 => run.final_part = !run.final_part,
            2 => run.header = mutate(rng, &run.header),
            3 => run.aad.push(0),
            _ => {}
        }
        let input = maybe_mutate(rng, run_bytes);
        let pieces = split(rng, &input);
        let what = format!("chunks {first}..{end}, {} bytes in {} pieces", input.len(), pieces.len());
        let mut writes = Writes::default();
        let result = match Op::OpenChunks(run.clone()).start() {
            Ok(job) => drive_pieces(job, &pieces, &mut writes).map(drop).map_err(|(e, _)| e),
            Err(e) => Err(e),
        };
        if input == run_bytes && run == intact {
            assert!(result.is_ok(), "{what}: the unchanged run did not open: {result:?}");
        }
        check_open(&what, result, &writes, want);
    });
}

// ---- the protocol ----

fn to_worker_seeds() -> Vec<ToWorker> {
    let id: RequestId = "3f2a9c4e-8b1d-4e6f-9a7c-1d2e3f4a5b6c".parse().unwrap();
    let key = || Secret((1..=32).collect());
    let run = ChunkRun { key: key(), header: vec![7; 32], aad: b"a".to_vec(), first_chunk: 3, final_part: true };
    let production = [
        Op::Sha256,
        Op::ChunkHashes { chunk_size: 1 << 20 },
        Op::Read,
        Op::Fetch(FetchSpec {
            url: "https://example.test/x".into(),
            method: "POST".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            has_body: true,
            sha256: true,
            throw_http_errors: false,
            max_bytes: 1 << 20,
        }),
        Op::Encrypt { key: key(), nonce: vec![9; 12], aad: b"hi".to_vec() },
        Op::Decrypt { key: key(), nonce: vec![9; 12], aad: vec![] },
        Op::Seal { key: key(), header: vec![7; 32], aad: vec![] },
        Op::SealChunks(run.clone()),
        Op::OpenChunks(run),
        Op::Open { key: key(), aad: b"x".to_vec() },
        Op::Compress { format: Format::Zlib, level: 9 },
        Op::Decompress { format: Format::Gzip, max_output: 1 << 30 },
    ];
    #[cfg(feature = "test-ops")]
    let test_only = [
        Op::Echo,
        Op::Sleep { ms: 5, short: false },
        Op::Spin { ms: 1, short: false },
        Op::Panic { after_ms: 0, short: true },
        Op::Progress { steps: 3 },
    ];
    #[cfg(not(feature = "test-ops"))]
    let test_only = [];
    let mut msgs: Vec<ToWorker> = production
        .into_iter()
        .chain(test_only)
        .map(|op| ToWorker::Request {
            id,
            op,
            progress: true,
            output: OutputKind::Blob,
            engine: EngineChoice::WebCrypto,
        })
        .collect();
    msgs.extend([ToWorker::Cancel { id }, ToWorker::Ping { seq: 7 }]);
    msgs
}

fn from_worker_seeds() -> Vec<FromWorker> {
    let id: RequestId = "3f2a9c4e-8b1d-4e6f-9a7c-1d2e3f4a5b6c".parse().unwrap();
    let error = WireError {
        name: "NetworkError".into(),
        message: "HTTP 404".into(),
        status: Some(404),
        stack: None,
        thrown: None,
    };
    vec![
        FromWorker::Ready { worker: 3, caps: Caps { shared_memory: true, version: "0.1.0".into(), threads: 2 } },
        FromWorker::Response { id, http: None, ms: None },
        FromWorker::Response {
            id,
            http: Some(HttpMeta {
                status: 200,
                status_text: "OK".into(),
                url: "https://example.test/".into(),
                headers: vec![("etag".into(), "\"x\"".into())],
                sha256: Some(vec![1; 32]),
            }),
            ms: None,
        },
        FromWorker::Failed { id: Some(id), error: error.clone(), ms: None },
        FromWorker::Failed { id: None, error, ms: None },
        FromWorker::Progress { id, done: 5.0, total: 10.0 },
        FromWorker::Crashed { message: "panicked".into() },
        FromWorker::Pong { seq: 1, memory: 1_114_112.0 },
        FromWorker::BootFailed { message: "no wasm".into() },
    ]
}

fn to_service_seeds() -> Vec<ToService> {
    vec![
        ToService::Load { url: "https://example.test/s.js".into(), config: None, busy_poll_us: None },
        ToService::Load {
            url: "https://example.test/s.js".into(),
            config: Some(serde_json::json!({ "from": 1 })),
            busy_poll_us: Some(200),
        },
        ToService::LoadRust {
            service: "kv".into(),
            glue_url: "https://example.test/g.js".into(),
            config: None,
            busy_poll_us: None,
        },
        ToService::LoadInline { config: Some(serde_json::json!([1, "two"])) },
        ToService::Start,
        ToService::Message { seq: 1 },
        ToService::Stop,
        ToService::Health,
    ]
}

fn from_service_seeds() -> Vec<FromService> {
    let error = WireError { name: "TypeError".into(), message: "x".into(), status: None, stack: None, thrown: None };
    vec![
        FromService::Loaded,
        FromService::Started,
        FromService::Stopped,
        FromService::Reply { seq: 3 },
        FromService::ReplyFailed { seq: 4, error: error.clone() },
        FromService::Failed { error: error.clone() },
        FromService::Crashed { error },
        FromService::Health { healthy: true, detail: "ok".into() },
    ]
}

/// A JSON value a decoder might not expect.
fn odd_value(rng: &mut Rng) -> Value {
    const WORDS: [&str; 12] = [
        "request",
        "sha256",
        "gzip",
        "ready",
        "reply",
        "3f2a9c4e-8b1d-4e6f-9a7c-1d2e3f4a5b6c",
        "",
        "NetworkError",
        "blob",
        "v",
        "msg",
        "\u{0}\u{ffff}",
    ];
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(rng.one_in(2)),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(u64::from(u32::MAX) + 1),
        5 => json!(-0.5),
        6 => json!(1e300),
        7 => json!(rng.next() as u8),
        8 => json!([]),
        9 => json!({}),
        10 => json!(vec![rng.next() as u8; rng.below(40)]),
        _ => json!(WORDS[rng.below(WORDS.len())]),
    }
}

/// Applies `f` to the `n`th node of `v` in pre-order (counting `n` down); whether it was reached.
fn with_node(v: &mut Value, n: &mut usize, f: &mut dyn FnMut(&mut Value)) -> bool {
    if *n == 0 {
        f(v);
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(items) => items.iter_mut().any(|item| with_node(item, n, f)),
        Value::Object(map) => map.values_mut().any(|item| with_node(item, n, f)),
        _ => false,
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// One to three changes to the structure of `v`: a node replaced, a key dropped, added or
/// renamed, an element dropped or repeated, a string cut.
fn mutate_value(rng: &mut Rng, v: &mut Value) {
    for _ in 0..1 + rng.below(3) {
        let mut n = rng.below(count_nodes(v));
        let choice = rng.below(6);
        let odd = odd_value(rng);
        let salt = rng.next() as usize;
        with_node(v, &mut n, &mut |node| match (choice, &mut *node) {
            (1, Value::Object(map)) if !map.is_empty() => {
                let key = map.keys().nth(salt % map.len()).unwrap().clone();
                map.remove(&key);
            }
            (2, Value::Object(map)) => {
                let keys = ["type", "id", "op", "kind", "extra", "v", "msg", "seq"];
                map.insert(keys[salt % keys.len()].into(), odd.clone());
            }
            (3, Value::Object(map)) if !map.is_empty() => {
                let key = map.keys().nth(salt % map.len()).unwrap().clone();
                let value = map.remove(&key).unwrap();
                map.insert(key.to_uppercase() + "_", value);
            }
            (4, Value::Array(items)) if !items.is_empty() => {
                let i = salt % items.len();
                if salt % 2 == 0 {
                    items.remove(i);
                } else {
                    items.push(items[i].clone());
                }
            }
            (5, Value::String(s)) => {
                let cut = s.char_indices().map(|(i, _)| i).nth(salt % (s.chars().count() + 1)).unwrap_or(s.len());
                s.truncate(cut);
            }
            _ => *node = odd.clone(),
        });
    }
}

/// Decodes `bytes` as every message type: a value or a `ValidationError`, never a panic.
fn decode_as_every_type(what: &str, bytes: &[u8]) {
    fn one<T: DeserializeOwned + Debug>(what: &str, bytes: &[u8]) {
        if let Err(e) = protocol::decode::<T, _>(&mut serde_json::Deserializer::from_slice(bytes)) {
            assert_eq!(e.kind(), ErrorKind::Validation, "{what}: {e}");
        }
    }
    one::<ToWorker>(what, bytes);
    one::<FromWorker>(what, bytes);
    one::<ToService>(what, bytes);
    one::<FromService>(what, bytes);
}

fn fuzz_messages<T>(name: &str, seed: u64, cases: u64, seeds: &[T])
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let wires: Vec<Value> = seeds.iter().map(|m| serde_json::to_value(Envelope::new(m)).unwrap()).collect();
    run_cases(name, seed, cases, |rng| {
        let k = rng.below(seeds.len());
        let original = serde_json::to_vec(&wires[k]).unwrap();
        let bytes = if rng.one_in(2) {
            maybe_mutate(rng, &original)
        } else {
            let mut value = wires[k].clone();
            mutate_value(rng, &mut value);
            // From a value too, as the edge decodes a `JsValue` without text in between.
            if let Err(e) = protocol::decode::<T, _>(value.clone()) {
                assert_eq!(e.kind(), ErrorKind::Validation, "{value}: {e}");
            }
            serde_json::to_vec(&value).unwrap()
        };
        let what = String::from_utf8_lossy(&bytes).into_owned();
        let decoded = protocol::decode::<T, _>(&mut serde_json::Deserializer::from_slice(&bytes));
        match decoded {
            Ok(msg) if bytes == original => assert_eq!(msg, seeds[k], "{what}"),
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Validation, "{what}: {e}");
                assert!(bytes != original, "{what}: the unchanged message was rejected: {e}");
            }
        }
        decode_as_every_type(&what, &bytes);
    });
}

#[test]
fn fuzz_protocol_decode() {
    fuzz_messages("to_worker", 0xc0de_0004, 3000, &to_worker_seeds());
    fuzz_messages("from_worker", 0xc0de_0005, 1500, &from_worker_seeds());
    fuzz_messages("to_service", 0xc0de_0006, 750, &to_service_seeds());
    fuzz_messages("from_service", 0xc0de_0007, 750, &from_service_seeds());
}

/// Batches as the pool sends them (`protocol::encode_batch`): whatever the bytes, the batch is
/// refused whole or each entry decodes or is rejected on its own, always with a
/// `ValidationError`; an unchanged batch decodes to what was sent.
fn fuzz_batches<T>(name: &str, seed: u64, cases: u64, seeds: &[T])
where
    T: Serialize + DeserializeOwned + PartialEq + Debug + Clone,
{
    run_cases(name, seed, cases, |rng| {
        let sent: Vec<T> = (0..=rng.below(4)).map(|_| seeds[rng.below(seeds.len())].clone()).collect();
        let original = protocol::encode_batch(&sent).unwrap().into_bytes();
        let bytes = maybe_mutate(rng, &original);
        let what = String::from_utf8_lossy(&bytes).into_owned();
        match protocol::decode_batch::<T>(&bytes) {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Validation, "{what}: {e}");
                assert!(bytes != original, "{what}: the unchanged batch was refused: {e}");
            }
            Ok(entries) => {
                for entry in &entries {
                    if let Err(rejected) = entry {
                        assert_eq!(rejected.error.kind(), ErrorKind::Validation, "{what}: {}", rejected.error);
                    }
                }
                if bytes == original {
                    let got: Vec<T> = entries.into_iter().map(|e| e.expect("an unchanged entry decodes")).collect();
                    assert_eq!(got, sent, "{what}");
                }
            }
        }
    });
}

#[test]
fn fuzz_protocol_batches() {
    fuzz_batches("to_worker batches", 0xc0de_0008, 2000, &to_worker_seeds());
    fuzz_batches("from_worker batches", 0xc0de_0009, 1000, &from_worker_seeds());
}
