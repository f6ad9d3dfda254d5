//! gzip, zlib and raw deflate decoding at its edges: every optional gzip header field (whole and
//! split at every byte), header and trailer checks, data after the end of a stream, and
//! multi-member bombs.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::io::Read;

use common::{deflate, drive_pieces, gzip, zlib, GzHeader, FCOMMENT, FNAME};
use worker_bridge_core::ops::{Format, NeverCancel, NoProgress, Op, SliceSource, StdEnv};
use worker_bridge_core::{Error, ErrorKind};

/// Runs a decompression over `input` fed in pieces of `chunk` bytes.
fn decompress_chunked(format: Format, input: &[u8], chunk: usize, max: u64) -> Result<Vec<u8>, Error> {
    let job = Op::Decompress { format, max_output: max }.start()?;
    let mut source = SliceSource::new(input, chunk);
    worker_bridge_core::ops::drive_blocking(job, &mut source, &StdEnv::default(), &mut NoProgress, &NeverCancel)
}

fn decompress(format: Format, input: &[u8]) -> Result<Vec<u8>, Error> {
    decompress_chunked(format, input, 1 << 20, u64::MAX)
}

/// `input` split in two at every byte, and fed a byte at a time.
fn decompress_at_every_split(format: Format, input: &[u8]) -> Vec<Result<Vec<u8>, Error>> {
    let mut results = Vec::new();
    for at in 0..=input.len() {
        let job = Op::Decompress { format, max_output: u64::MAX }.start().unwrap();
        let mut out = Vec::new();
        results.push(drive_pieces(job, &[&input[..at], &input[at..]], &mut out).map(|_| out).map_err(|(e, _)| e));
    }
    results.push(decompress_chunked(format, input, 1, u64::MAX));
    results
}

fn kind(r: Result<Vec<u8>, Error>) -> ErrorKind {
    match r {
        Ok(out) => panic!("accepted, {} bytes out", out.len()),
        Err(e) => e.kind(),
    }
}

fn every_header() -> Vec<GzHeader> {
    let extra = Some(b"AB\x04\x00wxyz".to_vec());
    let name = Some(b"report.txt".to_vec());
    let comment = Some(b"made by a test".to_vec());
    let mut headers = Vec::new();
    for bits in 0u8..32 {
        let on = |b: u8| bits & b != 0;
        headers.push(GzHeader {
            text: on(1),
            extra: on(2).then(|| extra.clone()).flatten(),
            name: on(4).then(|| name.clone()).flatten(),
            comment: on(8).then(|| comment.clone()).flatten(),
            hcrc: on(16),
        });
    }
    // Edge sizes: empty fields, a full 64 KiB - 1 extra field.
    headers.push(GzHeader {
        extra: Some(vec![]),
        name: Some(vec![]),
        comment: Some(vec![]),
        hcrc: true,
        ..Default::default()
    });
    headers.push(GzHeader {
        extra: Some(vec![7; 65_535]),
        name: Some(b"n".to_vec()),
        hcrc: true,
        ..Default::default()
    });
    headers
}

#[test]
fn every_optional_header_field_decodes_whole_and_split_at_every_byte() {
    let data = b"the header fields come before this text";
    for (i, header) in every_header().into_iter().enumerate() {
        let member = header.member(data);
        // An independent reader agrees the member is valid (flate2 checks FHCRC too).
        let mut theirs = Vec::new();
        flate2::read::GzDecoder::new(&member[..]).read_to_end(&mut theirs).unwrap();
        assert_eq!(theirs, data, "header {i}: flate2's reader");
        assert_eq!(decompress(Format::Gzip, &member).unwrap(), data, "header {i}");
        if member.len() < 1000 {
            for (at, result) in decompress_at_every_split(Format::Gzip, &member).into_iter().enumerate() {
                assert_eq!(result.unwrap(), data, "header {i} split at {at}");
            }
        } else {
            for chunk in [1, 2, 3, 7, 4096] {
                assert_eq!(decompress_chunked(Format::Gzip, &member, chunk, 100).unwrap(), data, "header {i}");
            }
        }
    }
}

#[test]
fn a_wrong_header_crc_is_rejected() {
    let header = GzHeader { name: Some(b"a.txt".to_vec()), hcrc: true, ..Default::default() };
    let good = header.member(b"payload");
    let at = header.encode().len() - 2;
    for flip in [0x01, 0x80] {
        for byte in [at, at + 1] {
            let mut bad = good.clone();
            bad[byte] ^= flip;
            for result in decompress_at_every_split(Format::Gzip, &bad) {
                assert_eq!(kind(result), ErrorKind::Decompression, "byte {byte} ^ {flip:#x}");
            }
        }
    }
    // A header byte changed after the CRC was computed.
    let mut bad = good.clone();
    bad[11] ^= 0x20;
    assert_eq!(kind(decompress(Format::Gzip, &bad)), ErrorKind::Decompression, "name changed");
}

#[test]
fn reserved_flags_and_an_unknown_method_are_rejected() {
    for bit in [0x20u8, 0x40, 0x80] {
        let mut bad = gzip(b"x");
        bad[3] |= bit;
        let err = decompress(Format::Gzip, &bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decompression, "FLG bit {bit:#x}");
        assert!(err.message().contains("reserved"), "{err}");
    }
    let mut bad = gzip(b"x");
    bad[2] = 7;
    assert_eq!(kind(decompress(Format::Gzip, &bad)), ErrorKind::Decompression);
}

#[test]
fn an_oversized_header_is_refused() {
    for (what, field) in [("name", FNAME), ("comment", FCOMMENT)] {
        // Terminated, but too long: refused as soon as it passes the bound.
        let mut header = vec![0x1f, 0x8b, 8, field, 0, 0, 0, 0, 0, 3];
        header.resize(header.len() + 100_000, b'n');
        header.push(0);
        let mut input = header.clone();
        input.extend(&gzip(b"body")[10..]);
        for chunk in [1 << 20, 4096, 1] {
            let err = decompress_chunked(Format::Gzip, &input, chunk, u64::MAX).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decompression, "{what}, chunk {chunk}");
            assert!(err.message().contains("header is too long"), "{what}: {err}");
        }
        // Not terminated at all, in a second member.
        let mut input = gzip(b"first");
        input.extend_from_slice(&header[..header.len() - 1]);
        let err = decompress_chunked(Format::Gzip, &input, 4096, u64::MAX).unwrap_err();
        assert!(err.message().contains("header is too long"), "{what}: {err}");
    }
    // A name of just under 64 KiB is fine.
    let member = GzHeader { name: Some(vec![b'n'; 60_000]), hcrc: true, ..Default::default() }.member(b"ok");
    assert_eq!(decompress_chunked(Format::Gzip, &member, 4096, 2).unwrap(), b"ok");
}

#[test]
fn data_after_the_end_of_a_zlib_or_deflate_stream_is_rejected() {
    let data = b"hello hello hello hello";
    for (format, packed) in [(Format::Zlib, zlib(data)), (Format::Deflate, deflate(data))] {
        assert_eq!(decompress(format, &packed).unwrap(), data);
        for garbage in [&b"\0"[..], b"x", b"\xff\xff\xff\xff", b"trailing garbage after the end", &packed] {
            let mut input = packed.clone();
            input.extend_from_slice(garbage);
            for result in decompress_at_every_split(format, &input) {
                assert_eq!(kind(result), ErrorKind::Decompression, "{format:?} + {} bytes", garbage.len());
            }
        }
    }
}

#[test]
fn data_after_a_gzip_member_that_is_not_a_member_is_rejected() {
    let member = gzip(b"first member");
    let mut two = member.clone();
    two.extend(gzip(b", second"));
    assert_eq!(decompress(Format::Gzip, &two).unwrap(), b"first member, second");
    for garbage in
        [&b"\0"[..], b"\x1f", b"\x1f\x8b", b"\x1f\x8b\x08\0\0\0\0\0\0", b"\0\0\0\0\0\0\0\0\0\0\0\0", b"PK\x03\x04 zip"]
    {
        for prefix in [&member[..], &two[..]] {
            let mut input = prefix.to_vec();
            input.extend_from_slice(garbage);
            for result in decompress_at_every_split(Format::Gzip, &input) {
                assert_eq!(kind(result), ErrorKind::Decompression, "{garbage:?}");
            }
        }
    }
    // A second member cut short in its trailer, and one whose trailer does not match.
    assert_eq!(kind(decompress(Format::Gzip, &two[..two.len() - 3])), ErrorKind::Decompression);
    let mut bad = two.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert_eq!(kind(decompress(Format::Gzip, &bad)), ErrorKind::Decompression, "ISIZE");
    bad[n - 1] ^= 1;
    bad[n - 8] ^= 1;
    assert_eq!(kind(decompress(Format::Gzip, &bad)), ErrorKind::Decompression, "CRC-32");
}

#[test]
fn a_multi_member_bomb_stops_at_the_limit() {
    // 256 members of 1 MiB of zeros each (about 1 KiB packed): each within the limit, together
    // 256 MiB. Decoding must stop at the limit, within the member that crosses it.
    const MIB: usize = 1 << 20;
    let member = gzip(&vec![0u8; MIB]);
    assert!(member.len() < 2048, "{} bytes", member.len());
    let pieces: Vec<&[u8]> = vec![&member[..]; 256];
    for max in [8 * MIB as u64, 8 * MIB as u64 + 1, 8 * MIB as u64 - 1] {
        let job = Op::Decompress { format: Format::Gzip, max_output: max }.start().unwrap();
        let mut out = Vec::new();
        let err = drive_pieces(job, &pieces, &mut out).unwrap_err();
        assert_eq!(err.0.kind(), ErrorKind::LimitExceeded, "{}", err.0);
        assert!(out.len() as u64 <= max, "{} bytes written past a limit of {max}", out.len());
        assert!(out.len() as u64 > max - 64 * 1024, "stopped early: {} bytes", out.len());
        assert!(err.1 <= 9 * member.len(), "read {} members before stopping", err.1 / member.len());
    }
    // At exactly the total, it decodes.
    let job = Op::Decompress { format: Format::Gzip, max_output: 16 * MIB as u64 }.start().unwrap();
    let mut out = Vec::new();
    drive_pieces(job, &pieces[..16], &mut out).unwrap();
    assert_eq!(out.len(), 16 * MIB);
}
