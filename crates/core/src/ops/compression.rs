//! gzip, raw deflate and zlib with flate2's pure-Rust backend (miniz_oxide), streaming both ways.
//!
//! Decompression is bomb-safe: output is produced in 64 KiB pieces, each counted against the
//! caller's `maxOutputBytes` and moved on to the sink, so memory stays bounded however small and
//! vicious the input. Truncated or corrupt input is a `DecompressionError`; gzip input
//! may hold several members (as `cat a.gz b.gz` and some tools produce), decoded in turn.

use std::io::{self, Write};

use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;
use serde::{Deserialize, Serialize};

use super::{Sink, Stream};
use crate::error::{Error, ErrorKind};

/// The container around the deflate data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 1952, what `gzip` and `CompressionStream('gzip')` write.
    Gzip,
    /// RFC 1951 raw deflate (`'deflate-raw'` in the Compression Streams API).
    Deflate,
    /// RFC 1950 (`'deflate'` in the Compression Streams API).
    Zlib,
}

enum Encoder {
    Gzip(GzEncoder<Vec<u8>>),
    Deflate(DeflateEncoder<Vec<u8>>),
    Zlib(ZlibEncoder<Vec<u8>>),
}

/// Compresses the input.
pub(crate) struct Compress(Option<Encoder>);

impl Compress {
    pub(crate) fn new(format: Format, level: u32) -> Result<Self, Error> {
        if level > 9 {
            return Err(Error::validation(format!("level must be 0..=9, got {level}")));
        }
        let level = Compression::new(level);
        Ok(Compress(Some(match format {
            Format::Gzip => Encoder::Gzip(GzEncoder::new(Vec::new(), level)),
            Format::Deflate => Encoder::Deflate(DeflateEncoder::new(Vec::new(), level)),
            Format::Zlib => Encoder::Zlib(ZlibEncoder::new(Vec::new(), level)),
        })))
    }
}

fn internal(e: io::Error) -> Error {
    Error::validation(format!("compression failed: {e}"))
}

impl Stream for Compress {
    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        let inner = match self.0.as_mut().expect("invariant: not finished") {
            Encoder::Gzip(e) => e.write_all(chunk).map(|()| e.get_mut()),
            Encoder::Deflate(e) => e.write_all(chunk).map(|()| e.get_mut()),
            Encoder::Zlib(e) => e.write_all(chunk).map(|()| e.get_mut()),
        }
        .map_err(internal)?;
        out.write(inner)?;
        inner.clear();
        Ok(())
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        let rest = match self.0.take().expect("invariant: not finished") {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Deflate(e) => e.finish(),
            Encoder::Zlib(e) => e.finish(),
        }
        .map_err(internal)?;
        out.write(&rest)
    }
}

/// Decompresses the input, up to `max_output` bytes, with flate2's low-level inflater so that
/// the end of the stream is known exactly: input that stops before it is truncated, input after
/// it (other than further gzip members) is corrupt. gzip headers and trailers (CRC-32 and length)
/// are parsed and checked here (RFC 1952).
pub(crate) struct Decompress {
    format: Format,
    state: State,
    inflater: flate2::Decompress,
    crc: flate2::Crc,
    pending: Vec<u8>,
    scratch: Vec<u8>,
    written: u64,
    max: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a gzip member header in `pending`.
    Header,
    /// Inflating.
    Body,
    /// Collecting a gzip member trailer in `pending`.
    Trailer,
    /// A gzip member ended; another may follow.
    BetweenMembers,
    /// A deflate or zlib stream ended; nothing may follow.
    Done,
}

/// Inflate output is produced in pieces of this size (and checked against the limit per piece).
const SCRATCH: usize = 64 * 1024;

fn corrupt(why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Decompression, format!("the compressed input is corrupt: {why}"))
}

impl Decompress {
    pub(crate) fn new(format: Format, max_output: u64) -> Self {
        Decompress {
            format,
            state: if format == Format::Gzip { State::Header } else { State::Body },
            inflater: flate2::Decompress::new(format == Format::Zlib),
            crc: flate2::Crc::new(),
            pending: Vec::new(),
            scratch: vec![0; SCRATCH],
            written: 0,
            max: max_output,
        }
    }

    /// Inflates from `input`; returns how many bytes it consumed.
    fn inflate(&mut self, input: &[u8], out: &mut dyn Sink) -> Result<usize, Error> {
        let before = self.inflater.total_in();
        loop {
            let consumed = (self.inflater.total_in() - before) as usize;
            let out_before = self.inflater.total_out();
            let status = self
                .inflater
                .decompress(&input[consumed..], &mut self.scratch, flate2::FlushDecompress::None)
                .map_err(corrupt)?;
            let produced = (self.inflater.total_out() - out_before) as usize;
            if produced > 0 {
                self.written += produced as u64;
                if self.written > self.max {
                    return Err(Error::new(
                        ErrorKind::LimitExceeded,
                        format!("the decompressed output exceeds maxOutputBytes ({})", self.max),
                    ));
                }
                self.crc.update(&self.scratch[..produced]);
                out.write(&self.scratch[..produced])?;
            }
            let consumed = (self.inflater.total_in() - before) as usize;
            if status == flate2::Status::StreamEnd {
                self.state = if self.format == Format::Gzip { State::Trailer } else { State::Done };
                return Ok(consumed);
            }
            // Stop when the input is used up and the inflater has no more output to give.
            if consumed == input.len() && produced < self.scratch.len() {
                return Ok(consumed);
            }
            if produced == 0 && consumed == (self.inflater.total_in() - before) as usize && consumed == input.len() {
                return Ok(consumed);
            }
        }
    }
}

/// Length of a complete gzip member header at the start of `b`, `None` if more bytes are needed.
fn gzip_header_len(b: &[u8]) -> Result<Option<usize>, Error> {
    if b.len() < 10 {
        return Ok(None);
    }
    if b[0] != 0x1f || b[1] != 0x8b {
        return Err(corrupt("not gzip (bad magic)"));
    }
    if b[2] != 8 {
        return Err(corrupt("unknown gzip compression method"));
    }
    let flags = b[3];
    if flags & 0xe0 != 0 {
        return Err(corrupt("reserved gzip flags set"));
    }
    let mut at = 10;
    if flags & 0x04 != 0 {
        // FEXTRA: two-byte length, then that many bytes.
        if b.len() < at + 2 {
            return Ok(None);
        }
        at += 2 + usize::from(u16::from_le_bytes([b[at], b[at + 1]]));
    }
    for flag in [0x08, 0x10] {
        // FNAME, FCOMMENT: zero-terminated.
        if flags & flag != 0 {
            match b.get(at..).and_then(|rest| rest.iter().position(|&c| c == 0)) {
                Some(end) => at += end + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 0x02 != 0 {
        at += 2; // FHCRC
    }
    Ok((b.len() >= at).then_some(at))
}

impl Stream for Decompress {
    fn update(&mut self, mut chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        while !chunk.is_empty() {
            match self.state {
                State::Header => {
                    // Take bytes from `chunk` only up to the header's end (no recursion, no copy of
                    // the rest: thousands of tiny members must not grow the stack).
                    let before = self.pending.len();
                    self.pending.extend_from_slice(chunk);
                    match gzip_header_len(&self.pending)? {
                        Some(len) => {
                            chunk = &chunk[len - before..];
                            self.pending.clear();
                            self.state = State::Body;
                        }
                        None => chunk = &[],
                    }
                }
                State::Body => {
                    let used = self.inflate(chunk, out)?;
                    chunk = &chunk[used..];
                    if self.state == State::Body && !chunk.is_empty() && used == 0 {
                        return Err(corrupt("the inflater made no progress"));
                    }
                }
                State::Trailer => {
                    let take = (8 - self.pending.len()).min(chunk.len());
                    self.pending.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    if self.pending.len() == 8 {
                        let crc = u32::from_le_bytes(self.pending[..4].try_into().expect("4 bytes"));
                        let size = u32::from_le_bytes(self.pending[4..].try_into().expect("4 bytes"));
                        if crc != self.crc.sum() || size != self.crc.amount() {
                            return Err(corrupt("gzip checksum mismatch"));
                        }
                        self.pending.clear();
                        self.state = State::BetweenMembers;
                    }
                }
                State::BetweenMembers => {
                    // Another member follows (as `cat a.gz b.gz` produces).
                    self.inflater.reset(false);
                    self.crc.reset();
                    self.state = State::Header;
                }
                State::Done => return Err(corrupt("data after the end of the stream")),
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>, _out: &mut dyn Sink) -> Result<(), Error> {
        match self.state {
            State::Done | State::BetweenMembers => Ok(()),
            State::Header if self.pending.is_empty() && self.crc.amount() == 0 && self.written == 0 => {
                Err(Error::new(ErrorKind::Decompression, "the compressed input is empty"))
            }
            _ => Err(Error::new(ErrorKind::Decompression, "the compressed input is truncated")),
        }
    }
}
