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
//!
//! The same blocks split a large input across the pool's workers ([`plan_ranges`]): each worker
//! compresses a range of whole blocks ([`Blocks::range`]: no header, primed with the 32 KiB before
//! the range, which it is sent as a dictionary) and ends its output with the range's CRC-32 or
//! Adler-32; the page joins header, ranges and a trailer whose check combines theirs
//! ([`join`]). The bytes are those one worker would write.

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
    /// A range of a split input (`Blocks::range`): what it has still to take as dictionary, and
    /// whether it holds the input's end.
    range: Option<RangeMode>,
    /// The 32 KiB before the pending input (`primed` bytes), then the pending input.
    window: Vec<u8>,
    primed: usize,
    header_written: bool,
    crc: Crc,
    adler: Adler32,
}

#[derive(Debug, Clone, Copy)]
struct RangeMode {
    dictionary: usize,
    last: bool,
}

impl Blocks {
    pub(crate) fn new(format: Format, level: u32) -> Self {
        Blocks {
            format,
            level,
            range: None,
            window: Vec::new(),
            primed: 0,
            header_written: false,
            crc: Crc::new(),
            adler: Adler32::new(),
        }
    }

    /// One range of a split input: its first `dictionary` bytes (at most 32 KiB) are the input
    /// before the range, primed but not compressed; then whole blocks, and, when `last`, the
    /// input's end. Writes no header: the range's deflate blocks, then its check value (CRC-32
    /// for gzip, Adler-32 for zlib, 0 for raw deflate), 4 bytes little-endian.
    ///
    /// # Errors
    /// `ValidationError` for a dictionary over 32 KiB.
    pub(crate) fn range(format: Format, level: u32, dictionary: usize, last: bool) -> Result<Self, Error> {
        if dictionary > WINDOW {
            return Err(Error::validation(format!("a range's dictionary is at most {WINDOW} bytes")));
        }
        Ok(Blocks { range: Some(RangeMode { dictionary, last }), header_written: true, ..Blocks::new(format, level) })
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

    pub(crate) fn update(&mut self, mut chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        if !self.header_written {
            self.header_written = true;
            out.write(&self.header())?;
        }
        if let Some(RangeMode { dictionary, .. }) = &mut self.range {
            let take = (*dictionary).min(chunk.len());
            self.window.extend_from_slice(&chunk[..take]);
            self.primed += take;
            *dictionary -= take;
            chunk = &chunk[take..];
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
        if let Some(RangeMode { dictionary, last }) = self.range {
            return self.finish_range(dictionary, last, out);
        }
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

    fn finish_range(mut self, dictionary: usize, last: bool, out: &mut dyn Sink) -> Result<(), Error> {
        let pending = self.pending();
        if dictionary > 0 || pending == 0 || (!last && pending % BLOCK != 0) {
            return Err(Error::validation(
                "a range holds its dictionary, then whole blocks (the last range: at least one byte)",
            ));
        }
        if last {
            let ready = self.ready();
            if ready > 0 {
                self.compress(ready, false, out)?;
            }
            self.compress(1, true, out)?;
        } else {
            self.compress(pending / BLOCK, false, out)?;
        }
        let check = match self.format {
            Format::Gzip => self.crc.sum(),
            Format::Zlib => self.adler.sum(),
            Format::Deflate => 0,
        };
        out.write(&check.to_le_bytes())
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
        header(self.format, self.level)
    }
}

/// The stream's header (none for raw deflate).
fn header(format: Format, level: u32) -> Vec<u8> {
    match format {
        // As flate2's GzEncoder writes it: no name, no time, XFL from the level, OS unknown.
        Format::Gzip => {
            let xfl = match level {
                9 => 2,
                0 | 1 => 4,
                _ => 0,
            };
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
        }
        // RFC 1950: deflate with a 32 KiB window, the level's hint, and the check bits.
        Format::Zlib => {
            let hint: u16 = match level {
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

/// Fewest blocks a worker is given when an input is split across the pool (1 MiB).
pub const MIN_BLOCKS_PER_RANGE: u64 = 8;

/// One worker's part of an input compressed across the pool: it is sent the input's bytes
/// `from..end`, of which `from..start` (at most 32 KiB) prime it and `start..end` are whole
/// blocks (`last`: up to the input's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangePart {
    /// Where its dictionary starts.
    pub from: u64,
    /// Where its blocks start (a multiple of the block size).
    pub start: u64,
    /// Where they end.
    pub end: u64,
    /// Whether it holds the input's end (and so the stream's final block).
    pub last: bool,
}

impl RangePart {
    /// Bytes of dictionary before its blocks.
    pub fn dictionary(&self) -> u32 {
        (self.start - self.from) as u32
    }
}

/// The ranges an input of `len` bytes is compressed in on `workers` workers: as many as there
/// are workers, each at least [`MIN_BLOCKS_PER_RANGE`] blocks (one range: do not split), with
/// the blocks shared out evenly.
pub fn plan_ranges(len: u64, workers: usize) -> Vec<RangePart> {
    let blocks = len.div_ceil(BLOCK as u64).max(1);
    let count = (workers as u64).min(blocks / MIN_BLOCKS_PER_RANGE).max(1);
    (0..count)
        .map(|k| {
            let (first, next) = (k * blocks / count, (k + 1) * blocks / count);
            let start = first * BLOCK as u64;
            let last = k + 1 == count;
            let end = if last { len } else { next * BLOCK as u64 };
            RangePart { from: start.saturating_sub(WINDOW as u64), start, end, last }
        })
        .collect()
}

/// The header and trailer around ranges compressed apart, from each range's check value (the
/// last 4 bytes of its output, which the caller strips) and length: the same stream one worker
/// writes.
pub fn join(format: Format, level: u32, ranges: &[(u32, u64)]) -> (Vec<u8>, Vec<u8>) {
    let total: u64 = ranges.iter().map(|r| r.1).sum();
    let trailer = match format {
        Format::Gzip => {
            let crc = ranges.iter().fold(0, |crc, &(check, len)| crc32_combine(crc, check, len));
            let mut trailer = crc.to_le_bytes().to_vec();
            // ISIZE: the length modulo 2^32 (RFC 1952).
            trailer.extend_from_slice(&(total as u32).to_le_bytes());
            trailer
        }
        Format::Zlib => {
            let adler = ranges.iter().fold(1, |adler, &(check, len)| adler32_combine(adler, check, len));
            adler.to_be_bytes().to_vec()
        }
        Format::Deflate => Vec::new(),
    };
    (header(format, level), trailer)
}

/// The CRC-32 of `a ‖ b` from the CRC-32s of `a` and of `b` (`b_len` bytes): `crc_a` shifted
/// past `b_len` zero bytes — a product by powers of the shift operator, squared per bit of
/// `b_len`, in GF(2) — then xored with `crc_b` (as zlib's `crc32_combine`).
pub fn crc32_combine(crc_a: u32, crc_b: u32, b_len: u64) -> u32 {
    /// The operator's matrix applied to `vec`.
    fn times(matrix: &[u32; 32], mut vec: u32) -> u32 {
        let mut sum = 0;
        for row in matrix {
            if vec == 0 {
                break;
            }
            if vec & 1 == 1 {
                sum ^= row;
            }
            vec >>= 1;
        }
        sum
    }
    fn square(matrix: &[u32; 32]) -> [u32; 32] {
        std::array::from_fn(|n| times(matrix, matrix[n]))
    }
    if b_len == 0 {
        return crc_a;
    }
    // One zero bit: the reflected polynomial, then the shift.
    let mut odd = [0u32; 32];
    odd[0] = 0xedb8_8320;
    for (n, row) in odd.iter_mut().enumerate().skip(1) {
        *row = 1 << (n - 1);
    }
    let mut even = square(&odd); // two zero bits
    odd = square(&even); // four
    let (mut crc, mut len) = (crc_a, b_len);
    loop {
        // Eight zero bits (one byte), then each further power of two.
        even = square(&odd);
        if len & 1 == 1 {
            crc = times(&even, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
        odd = square(&even);
        if len & 1 == 1 {
            crc = times(&odd, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
    }
    crc ^ crc_b
}

/// The Adler-32 of `a ‖ b` from those of `a` and of `b` (`b_len` bytes), as zlib's
/// `adler32_combine`: b's sums shifted by a's.
pub fn adler32_combine(adler_a: u32, adler_b: u32, b_len: u64) -> u32 {
    const MOD: u64 = 65_521;
    let rem = b_len % MOD;
    let (a1, b1) = (u64::from(adler_a & 0xffff), u64::from(adler_a >> 16));
    let (a2, b2) = (u64::from(adler_b & 0xffff), u64::from(adler_b >> 16));
    let sum1 = (a1 + a2 + MOD - 1) % MOD;
    let sum2 = (rem * a1 % MOD + b1 + b2 + MOD - rem) % MOD;
    ((sum2 << 16) | sum1) as u32
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

    fn crc(bytes: &[u8]) -> u32 {
        let mut crc = Crc::new();
        crc.update(bytes);
        crc.sum()
    }

    fn adler(bytes: &[u8]) -> u32 {
        let mut adler = Adler32::new();
        adler.update(bytes);
        adler.sum()
    }

    #[test]
    fn checks_of_two_pieces_combine_into_the_check_of_the_whole() {
        let input = compressible(300_000);
        for cut in [0, 1, 7, 65_521, 65_522, 131_072, 299_999, 300_000] {
            let (a, b) = input.split_at(cut);
            assert_eq!(crc32_combine(crc(a), crc(b), b.len() as u64), crc(&input), "crc, cut at {cut}");
            assert_eq!(adler32_combine(adler(a), adler(b), b.len() as u64), adler(&input), "adler, cut at {cut}");
        }
        // Lengths beyond 4 GiB only shift further (known values from the whole data are out of
        // reach here): combining with an empty piece changes nothing.
        assert_eq!(crc32_combine(0x1234_5678, 0, 0), 0x1234_5678);
        assert_eq!(adler32_combine(0x1234_5678, 1, 0), 0x1234_5678);
    }

    /// The input compressed range by range as the pool's workers do, fed in `chunk`-byte
    /// pieces, and joined.
    fn split(format: Format, level: u32, input: &[u8], workers: usize, chunk: usize) -> Vec<u8> {
        let ranges = plan_ranges(input.len() as u64, workers);
        let mut parts = Vec::new();
        let mut checks = Vec::new();
        for range in &ranges {
            let mut blocks = Blocks::range(format, level, range.dictionary() as usize, range.last).unwrap();
            let mut out = Vec::new();
            for piece in input[range.from as usize..range.end as usize].chunks(chunk) {
                blocks.update(piece, &mut out).unwrap();
                while blocks.backlog(false, &mut out).unwrap() {}
            }
            while blocks.backlog(true, &mut out).unwrap() {}
            blocks.finish(&mut out).unwrap();
            let check = u32::from_le_bytes(out[out.len() - 4..].try_into().unwrap());
            out.truncate(out.len() - 4);
            parts.push(out);
            checks.push((check, range.end - range.start));
        }
        let (header, trailer) = join(format, level, &checks);
        [header, parts.concat(), trailer].concat()
    }

    #[test]
    fn ranges_compressed_apart_join_into_the_bytes_one_worker_writes() {
        let small = THRESHOLD as usize;
        for len in [small, small + 1, 16 * BLOCK, 16 * BLOCK + 1, 3 * small + 4321] {
            let input = compressible(len);
            for format in [Format::Gzip, Format::Zlib, Format::Deflate] {
                let whole = run(format, 6, &input, 1 << 20);
                for workers in [1, 2, 3, 4] {
                    let joined = split(format, 6, &input, workers, 50_000);
                    assert!(joined == whole, "{format:?}, {len} bytes on {workers} workers");
                }
            }
            assert_eq!(inflate(Format::Gzip, &split(Format::Gzip, 1, &input, 3, 1 << 20)), input);
        }
    }

    /// What the `gzip` command (GNU gzip: another implementation than the one that wrote it)
    /// makes of `data`: its decompressed bytes, after `gzip -t` found the stream sound.
    #[cfg(unix)]
    fn gzip_command(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let run = |flag: &str| {
            let mut child = Command::new("gzip")
                .args([flag, "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the gzip command (Debian's essential `gzip` package)");
            let mut stdin = child.stdin.take().unwrap();
            let input = data.to_vec();
            let writer = std::thread::spawn(move || stdin.write_all(&input));
            let out = child.wait_with_output().unwrap();
            // Its status first: a gzip that stopped reading early also breaks the writer's pipe.
            assert!(out.status.success(), "gzip {flag}: {}", String::from_utf8_lossy(&out.stderr));
            writer.join().unwrap().unwrap();
            out.stdout
        };
        run("-t");
        run("-dc")
    }

    #[cfg(unix)]
    #[test]
    fn the_gzip_command_reads_what_the_split_ranges_join_into() {
        let mut random = vec![0u8; 3 * THRESHOLD as usize + 777];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for byte in &mut random {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *byte = x as u8;
        }
        let text = compressible(5 * THRESHOLD as usize + 4321);
        for (input, workers) in [(&text, 2), (&text, 4), (&random, 3)] {
            for level in [1, 6, 9] {
                let joined = split(Format::Gzip, level, input, workers, 50_000);
                assert!(plan_ranges(input.len() as u64, workers).len() > 1, "the input is split");
                assert!(gzip_command(&joined) == *input, "level {level}, {} bytes on {workers} workers", input.len());
            }
        }
    }

    #[test]
    fn ranges_are_whole_blocks_shared_out_evenly() {
        let mib = 1u64 << 20;
        assert_eq!(plan_ranges(mib, 4).len(), 1, "8 blocks: not worth a split");
        let ranges = plan_ranges(16 * mib + 5, 4);
        assert_eq!(ranges.len(), 4);
        assert_eq!(ranges[0], RangePart { from: 0, start: 0, end: 4 * mib, last: false });
        assert_eq!(ranges[1].from, 4 * mib - 32 * 1024);
        assert_eq!(ranges[1].dictionary(), 32 * 1024);
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start && w[0].start % BLOCK as u64 == 0));
        assert_eq!(ranges[3].end, 16 * mib + 5);
        assert!(ranges[3].last && !ranges[2].last);
        assert_eq!(plan_ranges(0, 4), vec![RangePart { from: 0, start: 0, end: 0, last: true }]);
    }

    #[test]
    fn a_range_that_breaks_the_rules_is_refused() {
        assert!(Blocks::range(Format::Gzip, 6, WINDOW + 1, true).is_err());
        // Not the last, and not whole blocks.
        let mut blocks = Blocks::range(Format::Gzip, 6, 0, false).unwrap();
        let mut out = Vec::new();
        blocks.update(&compressible(BLOCK + 1), &mut out).unwrap();
        assert_eq!(blocks.finish(&mut out).unwrap_err().kind(), crate::ErrorKind::Validation);
        // Shorter than its dictionary.
        let mut blocks = Blocks::range(Format::Gzip, 6, 100, true).unwrap();
        blocks.update(&[1; 50], &mut out).unwrap();
        assert!(blocks.finish(&mut out).is_err());
    }
}
