//! gzip, raw deflate and zlib with flate2's zlib-rs backend — pure Rust, and about 1.7x
//! miniz_oxide's speed at gzip level 6 in `npm run bench:handlers` — streaming both ways.
//!
//! Decompression is bomb-safe: output is produced in 64 KiB pieces, each counted against the
//! caller's `maxOutputBytes` and moved on to the sink, so memory stays bounded however small and
//! vicious the input. Truncated or corrupt input is a `DecompressionError`, and so is anything
//! after the end of a zlib or deflate stream; gzip input may hold several members (as
//! `cat a.gz b.gz` and some tools produce), decoded in turn, the limit counting them all.
//!
//! A gzip member header is parsed as it arrives, each byte looked at once and none kept, so
//! however it is chunked it costs linear time and no memory. Its optional fields (RFC 1952
//! §2.3.1) are skipped; FNAME and FCOMMENT may hold 64 KiB between them (FEXTRA is bounded by
//! its 16-bit length), so a name with no terminating zero fails there rather than swallowing the
//! input. FHCRC, when present, is checked, and reserved flags are refused.

use std::io::{self, Write};

use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;
use serde::{Deserialize, Serialize};

use super::{Sink, Stream};
use crate::error::{Error, ErrorKind};

mod blocks;

pub use blocks::{adler32_combine, crc32_combine, join, plan_ranges, RangePart, MIN_BLOCKS_PER_RANGE};

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

/// Compresses the input: as one stream, or, when the input is large ([`blocks::THRESHOLD`] and
/// up), in independent blocks that several threads can compress at once (`blocks`).
pub(crate) struct Compress {
    format: Format,
    level: u32,
    encoder: Option<Encoder>,
    blocks: Option<blocks::Blocks>,
}

impl Compress {
    pub(crate) fn new(format: Format, level: u32) -> Result<Self, Error> {
        if level > 9 {
            return Err(Error::validation(format!("level must be 0..=9, got {level}")));
        }
        let compression = Compression::new(level);
        let encoder = match format {
            Format::Gzip => Encoder::Gzip(GzEncoder::new(Vec::new(), compression)),
            Format::Deflate => Encoder::Deflate(DeflateEncoder::new(Vec::new(), compression)),
            Format::Zlib => Encoder::Zlib(ZlibEncoder::new(Vec::new(), compression)),
        };
        Ok(Compress { format, level, encoder: Some(encoder), blocks: None })
    }
}

fn internal(e: io::Error) -> Error {
    Error::validation(format!("compression failed: {e}"))
}

impl Stream for Compress {
    fn input_len(&mut self, len: u64) {
        if len >= blocks::THRESHOLD {
            self.encoder = None;
            self.blocks = Some(blocks::Blocks::new(self.format, self.level));
        }
    }

    fn backlog(&mut self, ended: bool, out: &mut dyn Sink) -> Result<bool, Error> {
        match &mut self.blocks {
            Some(blocks) => blocks.backlog(ended, out),
            None => Ok(false),
        }
    }

    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        if let Some(blocks) = &mut self.blocks {
            return blocks.update(chunk, out);
        }
        let inner = match self.encoder.as_mut().expect("invariant: not finished") {
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
        if let Some(blocks) = self.blocks.take() {
            return blocks.finish(out);
        }
        let rest = match self.encoder.take().expect("invariant: not finished") {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Deflate(e) => e.finish(),
            Encoder::Zlib(e) => e.finish(),
        }
        .map_err(internal)?;
        out.write(&rest)
    }
}

/// One range of an input compressed across the pool's workers (`blocks::Blocks::range`): the
/// range's deflate blocks, then its check value; `blocks::join` frames the ranges.
pub(crate) struct CompressRange(Option<blocks::Blocks>);

impl CompressRange {
    pub(crate) fn new(format: Format, level: u32, dictionary: u32, last: bool) -> Result<Self, Error> {
        if level > 9 {
            return Err(Error::validation(format!("level must be 0..=9, got {level}")));
        }
        blocks::Blocks::range(format, level, dictionary as usize, last).map(|b| CompressRange(Some(b)))
    }
}

impl Stream for CompressRange {
    fn backlog(&mut self, ended: bool, out: &mut dyn Sink) -> Result<bool, Error> {
        self.0.as_mut().expect("invariant: not finished").backlog(ended, out)
    }

    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        self.0.as_mut().expect("invariant: not finished").update(chunk, out)
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        self.0.take().expect("invariant: not finished").finish(out)
    }
}

/// Decompresses the input, up to `max_output` bytes, with flate2's low-level inflater so that
/// the end of the stream is known exactly: input that stops before it is truncated, input after
/// it (other than further gzip members) is corrupt. gzip headers and trailers (CRC-32 and length)
/// are parsed and checked here (RFC 1952).
///
/// One step writes at most about [`STEP_OUTPUT_RATIO`] times its input (at least
/// [`MIN_STEP_OUTPUT`]): beyond that the rest of the input is held and inflated in the next steps
/// ([`Stream::backlog`]), so highly compressible input does not make one long step (16 MiB of
/// text out of one 64 KiB step was a 56 ms task on the main thread).
pub(crate) struct Decompress {
    format: Format,
    state: State,
    header: GzipHeader,
    inflater: flate2::Decompress,
    crc: flate2::Crc,
    /// A gzip member trailer as it arrives (8 bytes).
    pending: Vec<u8>,
    scratch: Vec<u8>,
    written: u64,
    max: u64,
    /// Output allowed in this step, and written so far.
    budget: u64,
    step_out: u64,
    /// The step's budget ran out: the inflater may hold more output, and `held` is the input
    /// not fed yet.
    paused: bool,
    held: Vec<u8>,
    /// This step began by finishing a paused step's work (`backlog`); `update` counts it.
    resumed_this_step: bool,
}

/// A step's output may be this many times its input ...
const STEP_OUTPUT_RATIO: u64 = 16;
/// ... or this much, whichever is more.
const MIN_STEP_OUTPUT: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Parsing a gzip member header.
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
            header: GzipHeader::new(),
            inflater: flate2::Decompress::new(format == Format::Zlib),
            crc: flate2::Crc::new(),
            pending: Vec::new(),
            scratch: vec![0; SCRATCH],
            written: 0,
            max: max_output,
            budget: u64::MAX,
            step_out: 0,
            paused: false,
            held: Vec::new(),
            resumed_this_step: false,
        }
    }

    /// Feeds `chunk` through the states until it is used up or the step's output budget is;
    /// then the rest is kept in `held` and `paused` set.
    fn feed(&mut self, mut chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        // A paused inflater may hold output even when no input is left.
        let mut resume = std::mem::take(&mut self.paused);
        while !chunk.is_empty() || resume {
            resume = false;
            match self.state {
                State::Header => {
                    // Take bytes from `chunk` only up to the header's end (no recursion, no copy of
                    // the rest: thousands of tiny members must not grow the stack).
                    let (used, complete) = self.header.feed(chunk)?;
                    chunk = &chunk[used..];
                    if complete {
                        self.state = State::Body;
                    }
                }
                State::Body => {
                    let used = self.inflate(chunk, out)?;
                    chunk = &chunk[used..];
                    if self.paused {
                        self.held = chunk.to_vec();
                        return Ok(());
                    }
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
                    self.header = GzipHeader::new();
                    self.state = State::Header;
                }
                State::Done => return Err(corrupt("data after the end of the stream")),
            }
        }
        Ok(())
    }

    /// Feeds what a paused step left, with `budget` bytes of output for this step.
    fn resume(&mut self, budget: u64, out: &mut dyn Sink) -> Result<(), Error> {
        (self.budget, self.step_out) = (budget, 0);
        let held = std::mem::take(&mut self.held);
        self.feed(&held, out)
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
                self.step_out += produced as u64;
            }
            let now_consumed = (self.inflater.total_in() - before) as usize;
            if status == flate2::Status::StreamEnd {
                self.state = if self.format == Format::Gzip { State::Trailer } else { State::Done };
                return Ok(now_consumed);
            }
            // Stop when a call made no progress at all: the input is used up and the inflater
            // has nothing more to give (a call that fills less than the scratch buffer may still
            // hold output: zlib-rs returns its window a piece at a time), or it is stuck (the
            // caller reports a stuck inflater when input is left).
            if produced == 0 && now_consumed == consumed {
                return Ok(now_consumed);
            }
            // Or when this step wrote its share: the next step goes on.
            if self.step_out >= self.budget {
                self.paused = true;
                return Ok(now_consumed);
            }
        }
    }
}

/// At most this many bytes of FNAME and FCOMMENT together (terminating zeros included).
const MAX_HEADER_TEXT: usize = 64 * 1024;

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;

/// The parts of a gzip member header in order (RFC 1952 §2.3); all but `Fixed` are optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    /// ID1 ID2 CM FLG MTIME(4) XFL OS: 10 bytes.
    Fixed,
    /// XLEN: 2 bytes.
    ExtraLen,
    /// XLEN bytes of extra field.
    Extra,
    /// The file name, to a zero byte.
    Name,
    /// The comment, to a zero byte.
    Comment,
    /// CRC-32 of the header so far, low 16 bits.
    Hcrc,
    /// The header is complete.
    Done,
}

/// A gzip member header parsed incrementally: only the fixed-size fields are kept (at most 10
/// bytes) and each input byte is looked at once, however the input is chunked.
#[derive(Debug)]
struct GzipHeader {
    part: Part,
    flags: u8,
    /// The fixed-size part being read (`Fixed`, `ExtraLen` or `Hcrc`) and how much of it.
    field: [u8; 10],
    have: usize,
    /// Extra field bytes still to skip.
    skip: usize,
    /// FNAME and FCOMMENT bytes read so far.
    text: usize,
    /// CRC-32 of the header bytes before FHCRC.
    crc: flate2::Crc,
}

impl GzipHeader {
    fn new() -> Self {
        GzipHeader { part: Part::Fixed, flags: 0, field: [0; 10], have: 0, skip: 0, text: 0, crc: flate2::Crc::new() }
    }

    /// No byte of the header has been read.
    fn is_untouched(&self) -> bool {
        self.part == Part::Fixed && self.have == 0
    }

    /// Reads header bytes from the front of `input`: how many it used and whether the header is
    /// now complete (then the member's deflate data starts at `input[used..]`).
    fn feed(&mut self, input: &[u8]) -> Result<(usize, bool), Error> {
        let mut at = 0;
        while self.part != Part::Done && at < input.len() {
            let rest = &input[at..];
            let part = self.part;
            let used = match part {
                Part::Fixed | Part::ExtraLen | Part::Hcrc => {
                    let want = if part == Part::Fixed { 10 } else { 2 };
                    let take = (want - self.have).min(rest.len());
                    self.field[self.have..self.have + take].copy_from_slice(&rest[..take]);
                    self.have += take;
                    if part == Part::Fixed {
                        self.check_fixed()?;
                    }
                    if self.have == want {
                        self.field_done()?;
                    }
                    take
                }
                Part::Extra => {
                    let take = self.skip.min(rest.len());
                    self.skip -= take;
                    if self.skip == 0 {
                        self.advance();
                    }
                    take
                }
                Part::Name | Part::Comment => {
                    let (take, ended) = match rest.iter().position(|&b| b == 0) {
                        Some(zero) => (zero + 1, true),
                        None => (rest.len(), false),
                    };
                    self.text += take;
                    if self.text > MAX_HEADER_TEXT {
                        return Err(corrupt(format_args!(
                            "the gzip header is too long (its file name and comment pass {} KiB)",
                            MAX_HEADER_TEXT / 1024
                        )));
                    }
                    if ended {
                        self.advance();
                    }
                    take
                }
                Part::Done => unreachable!("invariant: the loop stops at Done"),
            };
            if part != Part::Hcrc {
                self.crc.update(&rest[..used]);
            }
            at += used;
        }
        Ok((at, self.part == Part::Done))
    }

    /// Checks the bytes of the fixed part read so far, so garbage fails at its first byte.
    fn check_fixed(&self) -> Result<(), Error> {
        let b = &self.field[..self.have];
        if b.first().is_some_and(|&x| x != 0x1f) || b.get(1).is_some_and(|&x| x != 0x8b) {
            return Err(corrupt("not gzip (bad magic)"));
        }
        if b.get(2).is_some_and(|&x| x != 8) {
            return Err(corrupt("unknown gzip compression method"));
        }
        if b.get(3).is_some_and(|&x| x & FRESERVED != 0) {
            return Err(corrupt("reserved gzip flags set"));
        }
        Ok(())
    }

    /// A fixed-size part is complete.
    fn field_done(&mut self) -> Result<(), Error> {
        match self.part {
            Part::Fixed => self.flags = self.field[3],
            Part::ExtraLen => self.skip = usize::from(u16::from_le_bytes([self.field[0], self.field[1]])),
            Part::Hcrc => {
                if u16::from_le_bytes([self.field[0], self.field[1]]) != self.crc.sum() as u16 {
                    return Err(corrupt("gzip header checksum mismatch"));
                }
            }
            _ => unreachable!("invariant: only fixed-size parts are collected in `field`"),
        }
        self.advance();
        Ok(())
    }

    /// Moves to the next part the flags ask for.
    fn advance(&mut self) {
        self.have = 0;
        let wanted = |part: Part| match part {
            Part::Fixed => false,
            Part::ExtraLen => self.flags & FEXTRA != 0,
            Part::Extra => self.skip > 0,
            Part::Name => self.flags & FNAME != 0,
            Part::Comment => self.flags & FCOMMENT != 0,
            Part::Hcrc => self.flags & FHCRC != 0,
            Part::Done => true,
        };
        const ORDER: [Part; 7] =
            [Part::Fixed, Part::ExtraLen, Part::Extra, Part::Name, Part::Comment, Part::Hcrc, Part::Done];
        self.part = ORDER
            .into_iter()
            .find(|&p| p > self.part && wanted(p))
            .expect("invariant: Done is always wanted and comes last");
    }
}

impl Stream for Decompress {
    fn backlog(&mut self, _ended: bool, out: &mut dyn Sink) -> Result<bool, Error> {
        if !self.paused {
            return Ok(false);
        }
        self.resume(self.budget, out)?;
        // Done with it: this step may go on with `update`, within what is left of its budget.
        self.resumed_this_step = !self.paused;
        Ok(self.paused)
    }

    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        if self.paused {
            // Driven without `backlog`: what the last step left goes first, whole.
            self.resume(u64::MAX, out)?;
        }
        let budget = (chunk.len() as u64).saturating_mul(STEP_OUTPUT_RATIO).max(MIN_STEP_OUTPUT);
        // A backlog finished earlier in this step already spent part of the step's budget.
        let spent = if std::mem::take(&mut self.resumed_this_step) { self.step_out } else { 0 };
        (self.budget, self.step_out) = (budget, spent);
        self.feed(chunk, out)
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        if self.paused {
            self.resume(u64::MAX, out)?;
        }
        match self.state {
            State::Done | State::BetweenMembers => Ok(()),
            // Between members the header is only started with input in hand: untouched means none.
            State::Header if self.header.is_untouched() => {
                Err(Error::new(ErrorKind::Decompression, "the compressed input is empty"))
            }
            _ => Err(Error::new(ErrorKind::Decompression, "the compressed input is truncated")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review finding: every chunk of a member header was appended to one buffer and the whole
    /// buffer rescanned, so an FNAME with no terminating zero was read for ever, all of it held,
    /// in quadratic time. Now a header is parsed as it arrives and refused past 64 KiB.
    #[test]
    fn an_unterminated_file_name_is_refused_past_64_kib_and_never_held() {
        // FLG = FNAME, then 1 MiB of name with no zero.
        let mut input = vec![0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 0xff];
        input.resize(input.len() + (1 << 20), b'a');
        for chunk in [4096, 1] {
            let mut d = Decompress::new(Format::Gzip, 1 << 20);
            let mut out = Vec::new();
            let mut fed = 0;
            let err = loop {
                let piece = &input[fed..(fed + chunk).min(input.len())];
                assert!(!piece.is_empty(), "chunk {chunk}: the whole 1 MiB was taken as header");
                fed += piece.len();
                if let Err(e) = d.update(piece, &mut out) {
                    break e;
                }
                assert!(d.pending.capacity() <= 64 * 1024, "chunk {chunk}: {} header bytes held", d.pending.len());
            };
            assert_eq!(err.kind(), ErrorKind::Decompression, "chunk {chunk}: {err}");
            assert!(err.message().contains("header is too long"), "chunk {chunk}: {err}");
            assert!(fed <= 64 * 1024 + 10 + chunk, "chunk {chunk}: refused only after {fed} bytes");
            assert!(out.is_empty());
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod step_tests {
    use super::*;
    use crate::ops::{NoProgress, Op, SliceSource, StdEnv, Step};

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut c = Box::new(Compress::new(Format::Gzip, 6).unwrap());
        c.update(data, &mut out).unwrap();
        c.finish(&mut out).unwrap();
        out
    }

    /// Steps a gunzip job over `packed`, `chunk` bytes of input per step; the bytes each step
    /// wrote, and the output.
    fn gunzip_in_steps(packed: &[u8], chunk: usize) -> (Vec<usize>, Vec<u8>) {
        let op = Op::Decompress { format: Format::Gzip, max_output: 1 << 30 };
        let mut job = op.start().unwrap();
        let mut source = SliceSource::new(packed, chunk);
        let (mut per_step, mut all) = (Vec::new(), Vec::new());
        loop {
            let mut out = Vec::new();
            let step = job.step(&mut source, &StdEnv::default(), &mut NoProgress, &mut out).unwrap();
            per_step.push(out.len());
            all.extend(out);
            if step == Step::Done {
                return (per_step, all);
            }
        }
    }

    #[test]
    fn highly_compressible_input_is_inflated_a_bounded_piece_per_step() {
        // Two members: 24 MiB of one repeated line, then some varied bytes.
        let mut text = b"the page stays free. ".repeat((24 << 20) / 21);
        let tail: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let mut packed = gzip(&text);
        packed.extend(gzip(&tail));
        text.extend(&tail);
        for chunk in [64 * 1024, 1 << 20, 7] {
            let (per_step, out) = gunzip_in_steps(&packed, chunk);
            assert!(out == text, "chunk {chunk}: the output");
            let bound = (chunk as u64 * STEP_OUTPUT_RATIO).max(MIN_STEP_OUTPUT) + SCRATCH as u64;
            assert!(per_step.iter().all(|&n| n as u64 <= bound), "chunk {chunk}: {per_step:?}");
        }
        // Fed without the step loop (update and finish only), it is all there too.
        let mut d = Box::new(Decompress::new(Format::Gzip, 1 << 30));
        let mut out = Vec::new();
        for piece in packed.chunks(4096) {
            d.update(piece, &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        assert!(out == text);
    }
}
