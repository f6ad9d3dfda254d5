//! Large inputs compressed in independent blocks, as pigz does, so that blocks can be compressed
//! on several threads at once and still form one standard stream.
//!
//! The input is cut into [`BLOCK`]-byte blocks from its start. Each block is deflated on its own,
//! primed with the 32 KiB of input before it (so matches reach back as far as in one stream), and
//! ended with a sync flush (byte-aligned, not final); the last block is ended as the stream's
//! final block. Concatenated behind the format's header and followed by its trailer (CRC-32 or
//! Adler-32 of the whole input, computed in order), they are one gzip, zlib or raw deflate stream
//! any inflater reads. A block's bytes depend only on the block, the 32 KiB before it and the
//! level, so the output is the same on one thread or many, however the input was chunked.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use super::Format;
use crate::error::Error;
use crate::ops::{parallel, Sink};

/// Block size (pigz's default).
pub(crate) const BLOCK: usize = 128 * 1024;
/// Inputs of at least this many bytes are compressed in blocks; smaller ones as one stream.
pub(crate) const THRESHOLD: u64 = 1 << 20;
/// How far back deflate looks: the priming dictionary's size.
const WINDOW: usize = 32 * 1024;

/// The block compressor: input kept until whole blocks can be compressed, a batch at a time.
pub(crate) struct Blocks {
    format: Format,
    level: u32,
    /// The 32 KiB before the pending input (`primed` bytes), then the pending input.
    window: Vec<u8>,
    primed: usize,
    header_written: bool,
    crc: Crc,
    adler: Adler32,
}

impl Blocks {
    pub(crate) fn new(format: Format, level: u32) -> Self {
        Blocks {
            format,
            level,
            window: Vec::new(),
            primed: 0,
            header_written: false,
            crc: Crc::new(),
            adler: Adler32::new(),
        }
    }

    /// Whole blocks compressed at once: one per thread.
    fn batch() -> usize {
        parallel::threads()
    }

    fn pending(&self) -> usize {
        self.window.len() - self.primed
    }

    /// Blocks that may be compressed now: whole ones, keeping back at least one byte (the last
    /// block is compressed differently, at the end).
    fn ready(&self) -> usize {
        self.pending().saturating_sub(1) / BLOCK
    }

    pub(crate) fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        if !self.header_written {
            self.header_written = true;
            out.write(&self.header())?;
        }
        match self.format {
            Format::Gzip => self.crc.update(chunk),
            Format::Zlib => self.adler.update(chunk),
            Format::Deflate => {}
        }
        self.window.extend_from_slice(chunk);
        if self.ready() >= Self::batch() {
            self.compress(Self::batch(), false, out)?;
        }
        Ok(())
    }

    /// One batch of whole blocks; whether another is ready.
    pub(crate) fn backlog(&mut self, ended: bool, out: &mut dyn Sink) -> Result<bool, Error> {
        let batch = Self::batch();
        let ready = self.ready();
        if ready >= batch || (ended && ready > 0) {
            self.compress(ready.min(batch), false, out)?;
        }
        let ready = self.ready();
        Ok(ready >= batch || (ended && ready > 0))
    }

    pub(crate) fn finish(mut self, out: &mut dyn Sink) -> Result<(), Error> {
        if !self.header_written {
            out.write(&self.header())?;
        }
        let ready = self.ready();
        if ready > 0 {
            self.compress(ready, false, out)?;
        }
        self.compress(1, true, out)?;
        match self.format {
            Format::Gzip => {
                out.write(&self.crc.sum().to_le_bytes())?;
                out.write(&self.crc.amount().to_le_bytes())
            }
            Format::Zlib => out.write(&self.adler.sum().to_be_bytes()),
            Format::Deflate => Ok(()),
        }
    }

    /// Compresses the next `count` blocks (with `last`, the one block left: all the rest of
    /// the input), each primed with the 32 KiB before it, on as many threads as there are.
    fn compress(&mut self, count: usize, last: bool, out: &mut dyn Sink) -> Result<(), Error> {
        let start = self.primed;
        let jobs: Vec<(usize, usize)> = if last {
            vec![(start, self.window.len())]
        } else {
            (0..count).map(|i| (start + i * BLOCK, start + (i + 1) * BLOCK)).collect()
        };
        let window = &self.window;
        let level = self.level;
        let parts = parallel::map(&jobs, |&(from, to)| {
            deflate_block(&window[from.saturating_sub(WINDOW)..from], &window[from..to], level, last)
        });
        for part in parts {
            out.write(&part?)?;
        }
        // Keep the 32 KiB before what is still pending.
        let end = jobs.last().map_or(start, |j| j.1);
        let keep_from = end.saturating_sub(WINDOW);
        self.window.drain(..keep_from);
        self.primed = end - keep_from;
        Ok(())
    }

    fn header(&self) -> Vec<u8> {
        match self.format {
            // As flate2's GzEncoder writes it: no name, no time, XFL from the level, OS unknown.
            Format::Gzip => {
                let xfl = match self.level {
                    9 => 2,
                    0 | 1 => 4,
                    _ => 0,
                };
                vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
            }
            // RFC 1950: deflate with a 32 KiB window, the level's hint, and the check bits.
            Format::Zlib => {
                let hint: u16 = match self.level {
                    0 | 1 => 0,
                    2..=5 => 1,
                    6 => 2,
                    _ => 3,
                };
                let mut header = (0x78u16 << 8) | (hint << 6);
                header += 31 - header % 31;
                header.to_be_bytes().to_vec()
            }
            Format::Deflate => Vec::new(),
        }
    }
}

/// One block as raw deflate: primed with `dictionary`, ended with a sync flush or, `last`, as
/// the final block.
fn deflate_block(dictionary: &[u8], block: &[u8], level: u32, last: bool) -> Result<Vec<u8>, Error> {
    let failed = |e: &dyn std::fmt::Display| Error::validation(format!("compression failed: {e}"));
    let mut deflate = Compress::new(Compression::new(level), false);
    if !dictionary.is_empty() {
        deflate.set_dictionary(dictionary).map_err(|e| failed(&e))?;
    }
    let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
    let mut output = Vec::with_capacity(block.len() / 2 + 64);
    loop {
        let used = deflate.total_in() as usize;
        if output.len() == output.capacity() {
            output.reserve(output.capacity().max(4096));
        }
        let status = deflate.compress_vec(&block[used..], &mut output, flush).map_err(|e| failed(&e))?;
        let all_in = deflate.total_in() as usize == block.len();
        let done = match status {
            Status::StreamEnd => true,
            // A sync flush is complete once it returns with room to spare in the output.
            _ => !last && all_in && output.len() < output.capacity(),
        };
        if done {
            return Ok(output);
        }
    }
}

/// RFC 1950's Adler-32, in order.
#[derive(Debug, Clone, Copy)]
struct Adler32 {
    a: u32,
    b: u32,
}

impl Adler32 {
    const MOD: u32 = 65_521;
    /// Most bytes before the sums must be reduced (zlib's NMAX).
    const RUN: usize = 5552;

    fn new() -> Self {
        Adler32 { a: 1, b: 0 }
    }

    fn update(&mut self, bytes: &[u8]) {
        for run in bytes.chunks(Self::RUN) {
            for &byte in run {
                self.a += u32::from(byte);
                self.b += self.a;
            }
            self.a %= Self::MOD;
            self.b %= Self::MOD;
        }
    }

    fn sum(&self) -> u32 {
        (self.b << 16) | self.a
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn compressible(len: usize) -> Vec<u8> {
        let words = ["worker ", "bridge ", "gzip ", "blocks ", "pigz ", "rayon ", "\n"];
        let mut out = Vec::with_capacity(len + 8);
        let mut x: u32 = 7;
        while out.len() < len {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
            if x % 5 == 0 {
                out.push((x >> 8) as u8);
            }
        }
        out.truncate(len);
        out
    }

    fn run(format: Format, level: u32, input: &[u8], chunk: usize) -> Vec<u8> {
        let mut blocks = Blocks::new(format, level);
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            while blocks.backlog(false, &mut out).unwrap() {}
            blocks.update(piece, &mut out).unwrap();
        }
        while blocks.backlog(true, &mut out).unwrap() {}
        blocks.finish(&mut out).unwrap();
        out
    }

    fn inflate(format: Format, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match format {
            Format::Gzip => flate2::read::GzDecoder::new(data).read_to_end(&mut out),
            Format::Zlib => flate2::read::ZlibDecoder::new(data).read_to_end(&mut out),
            Format::Deflate => flate2::read::DeflateDecoder::new(data).read_to_end(&mut out),
        }
        .unwrap();
        out
    }

    #[test]
    fn every_format_round_trips_at_block_boundaries_and_between() {
        for len in [1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK, 3 * BLOCK + 77] {
            let input = compressible(len);
            for format in [Format::Gzip, Format::Zlib, Format::Deflate] {
                for level in [0, 1, 6, 9] {
                    let packed = run(format, level, &input, 40_000);
                    assert_eq!(inflate(format, &packed), input, "{format:?} level {level}, {len} bytes");
                }
            }
        }
    }

    #[test]
    fn the_output_does_not_depend_on_chunking_or_threads() {
        let input = compressible(5 * BLOCK + 1234);
        let one = parallel::with_threads(1, || run(Format::Gzip, 6, &input, 1 << 20));
        assert_eq!(parallel::with_threads(1, || run(Format::Gzip, 6, &input, 4096)), one);
        let threaded = parallel::with_threads(3, || run(Format::Gzip, 6, &input, 65_536));
        assert_eq!(threaded, one);
    }

    #[test]
    fn priming_keeps_the_ratio_of_one_stream() {
        let input = compressible(8 * BLOCK);
        let blocks = run(Format::Gzip, 6, &input, 1 << 20);
        let mut one = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        std::io::Write::write_all(&mut one, &input).unwrap();
        let one = one.finish().unwrap();
        // Within 1% (the sync flushes cost 5 bytes a block).
        assert!(blocks.len() * 100 <= one.len() * 101, "{} vs {}", blocks.len(), one.len());
    }

    #[test]
    fn adler32_matches_known_values() {
        let mut a = Adler32::new();
        a.update(b"Wikipedia");
        assert_eq!(a.sum(), 0x11E6_0398);
        let mut big = Adler32::new();
        big.update(&vec![255; 100_000]);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), Compression::new(1));
        std::io::Write::write_all(&mut z, &vec![255; 100_000]).unwrap();
        let z = z.finish().unwrap();
        assert_eq!(big.sum().to_be_bytes(), z[z.len() - 4..]);
    }
}
