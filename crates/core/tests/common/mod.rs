//! What the core's integration tests share: valid inputs built with flate2 and by hand, and a
//! driver that feeds a job exactly the pieces it is given.
#![allow(dead_code)] // each test crate uses its own part of this module

use std::io::Write;

use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;
use worker_bridge_core::ops::{ChunkSource, Format, Job, NoProgress, Sink, StdEnv, Step};
use worker_bridge_core::Error;

/// `data` compressed in `format` at `level` by flate2 (independent of the op under test).
pub fn pack(format: Format, level: u32, data: &[u8]) -> Vec<u8> {
    let level = Compression::new(level);
    match format {
        Format::Gzip => {
            let mut e = GzEncoder::new(Vec::new(), level);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Format::Deflate => {
            let mut e = DeflateEncoder::new(Vec::new(), level);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Format::Zlib => {
            let mut e = ZlibEncoder::new(Vec::new(), level);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
    }
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    pack(Format::Deflate, 6, data)
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    pack(Format::Zlib, 6, data)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    pack(Format::Gzip, 6, data)
}

pub const FTEXT: u8 = 0x01;
pub const FHCRC: u8 = 0x02;
pub const FEXTRA: u8 = 0x04;
pub const FNAME: u8 = 0x08;
pub const FCOMMENT: u8 = 0x10;

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// A gzip member header with the optional fields given (RFC 1952 §2.3).
#[derive(Default, Clone)]
pub struct GzHeader {
    pub text: bool,
    pub extra: Option<Vec<u8>>,
    pub name: Option<Vec<u8>>,
    pub comment: Option<Vec<u8>>,
    pub hcrc: bool,
}

impl GzHeader {
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = 0;
        for (on, flag) in [
            (self.text, FTEXT),
            (self.hcrc, FHCRC),
            (self.extra.is_some(), FEXTRA),
            (self.name.is_some(), FNAME),
            (self.comment.is_some(), FCOMMENT),
        ] {
            if on {
                flags |= flag;
            }
        }
        let mut h = vec![0x1f, 0x8b, 8, flags, 0x78, 0x56, 0x34, 0x12, 0, 3];
        if let Some(extra) = &self.extra {
            h.extend_from_slice(&u16::try_from(extra.len()).unwrap().to_le_bytes());
            h.extend_from_slice(extra);
        }
        for text in [&self.name, &self.comment].into_iter().flatten() {
            h.extend_from_slice(text);
            h.push(0);
        }
        if self.hcrc {
            let crc = crc32(&h) as u16;
            h.extend_from_slice(&crc.to_le_bytes());
        }
        h
    }

    /// The header, the deflated `data` and the trailer.
    pub fn member(&self, data: &[u8]) -> Vec<u8> {
        let mut m = self.encode();
        m.extend(deflate(data));
        m.extend_from_slice(&crc32(data).to_le_bytes());
        m.extend_from_slice(&(data.len() as u32).to_le_bytes());
        m
    }
}

/// Drives `job` over `pieces`, one per step, into `out`; how many input bytes it read, with the
/// error if it failed.
pub fn drive_pieces(mut job: Job, pieces: &[&[u8]], out: &mut dyn Sink) -> Result<usize, (Error, usize)> {
    struct Pieces<'a>(std::slice::Iter<'a, &'a [u8]>, usize);
    impl ChunkSource for Pieces<'_> {
        fn total(&self) -> u64 {
            0
        }
        fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
            let Some(piece) = self.0.next() else { return Ok(false) };
            buf.clear();
            buf.extend_from_slice(piece);
            self.1 += piece.len();
            Ok(true)
        }
    }
    let mut source = Pieces(pieces.iter(), 0);
    loop {
        match job.step(&mut source, &StdEnv::default(), &mut NoProgress, out) {
            Ok(Step::Done) => return Ok(source.1),
            Ok(_) => {}
            Err(e) => return Err((e, source.1)),
        }
    }
}
