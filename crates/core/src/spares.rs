//! Spare buffers: the memory of a large input's private copy, given back by the worker that read
//! it, kept a while for the next copy. Copying into memory the process has touched before is
//! several times cheaper than into fresh memory, whose every page faults on first write: 64 MiB
//! took 47–60 ms into a new buffer and 10 ms into a reused one (headless Chromium, this
//! project's 2-core VM, `target/scratch` page), which is most of what a copied `sha256` costs
//! beyond the digest itself.
//!
//! [`Spares`] decides which kept buffer a copy reuses, what is kept, and when the page's memory
//! is handed back to the browser; the edge (`io::copy`) holds the buffers.

/// Smaller copies are not worth a buffer kept: they fit a task's at-once budget and cost little.
pub const MIN_BYTES: u64 = 1 << 20;

/// Bytes kept at most, summed over the kept buffers; a larger buffer is not kept at all.
pub const MAX_KEPT_BYTES: u64 = 256 << 20;

/// Buffers kept at most (a pool of a few workers returns about one each).
pub const MAX_KEPT: usize = 4;

/// Kept buffers are let go once no copy has taken one, and none came back, for this long: an
/// app that hashed one large array keeps no memory for it.
pub const IDLE_MS: f64 = 10_000.0;

/// See the module docs. `B` is the edge's buffer (an `ArrayBuffer`).
#[derive(Debug)]
pub struct Spares<B> {
    /// Each buffer with its size in bytes, oldest first.
    kept: Vec<(B, u64)>,
    last_use_ms: f64,
}

impl<B> Default for Spares<B> {
    fn default() -> Self {
        Spares { kept: Vec::new(), last_use_ms: 0.0 }
    }
}

impl<B> Spares<B> {
    /// A kept buffer to copy `len` bytes into: the smallest that holds them and is at most
    /// twice their size (a copy travels with its whole buffer, so a far larger one would be
    /// lent out for a small call). `None`: make a new buffer.
    pub fn take(&mut self, len: u64, now_ms: f64) -> Option<B> {
        if len < MIN_BYTES {
            return None;
        }
        let best = (self.kept.iter().enumerate())
            .filter(|(_, (_, size))| *size >= len && *size <= len.saturating_mul(2))
            .min_by_key(|(_, (_, size))| *size)
            .map(|(i, _)| i)?;
        self.last_use_ms = now_ms;
        Some(self.kept.remove(best).0)
    }

    /// Keeps `buffer` of `size` bytes for a later copy, unless it is too small or too large to
    /// be worth it; the oldest kept buffers make room. Whether it was kept.
    pub fn keep(&mut self, buffer: B, size: u64, now_ms: f64) -> bool {
        if !(MIN_BYTES..=MAX_KEPT_BYTES).contains(&size) {
            return false;
        }
        self.kept.push((buffer, size));
        while self.kept.len() > MAX_KEPT || self.bytes() > MAX_KEPT_BYTES {
            self.kept.remove(0);
        }
        self.last_use_ms = now_ms;
        true
    }

    /// Lets every kept buffer go if none was taken or kept for [`IDLE_MS`]. While some are
    /// still kept, how many milliseconds from `now_ms` to ask again.
    pub fn expire(&mut self, now_ms: f64) -> Option<f64> {
        let idle_for = now_ms - self.last_use_ms;
        if idle_for >= IDLE_MS {
            self.kept.clear();
        }
        (!self.kept.is_empty()).then_some(IDLE_MS - idle_for)
    }

    /// Lets every kept buffer go.
    pub fn clear(&mut self) {
        self.kept.clear();
    }

    /// Bytes kept.
    pub fn bytes(&self) -> u64 {
        self.kept.iter().map(|(_, size)| size).sum()
    }

    /// Buffers kept.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Nothing kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn a_copy_takes_the_smallest_kept_buffer_that_fits_within_twice_its_size() {
        let mut s = Spares::default();
        for (name, size) in [("a", 64 * MIB), ("b", 8 * MIB), ("c", 5 * MIB)] {
            assert!(s.keep(name, size, 0.0));
        }
        assert_eq!(s.take(4 * MIB, 1.0), Some("c"));
        assert_eq!(s.take(4 * MIB, 1.0), Some("b"));
        // 64 MiB is more than twice 4 MiB: not lent for it.
        assert_eq!(s.take(4 * MIB, 1.0), None);
        assert_eq!(s.take(64 * MIB, 1.0), Some("a"));
        assert!(s.is_empty());
    }

    #[test]
    fn small_copies_never_take_a_buffer_and_small_or_huge_buffers_are_not_kept() {
        let mut s = Spares::default();
        assert!(!s.keep("small", MIB - 1, 0.0));
        assert!(!s.keep("huge", MAX_KEPT_BYTES + 1, 0.0));
        assert!(s.keep("max", MAX_KEPT_BYTES, 0.0));
        assert_eq!(s.take(MIB - 1, 0.0), None);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn the_oldest_buffers_make_room_within_the_count_and_byte_bounds() {
        let mut s = Spares::default();
        for k in 0..MAX_KEPT + 2 {
            assert!(s.keep(k, MIB, 0.0));
        }
        assert_eq!(s.len(), MAX_KEPT);
        assert_eq!(s.take(MIB, 0.0), Some(2), "0 and 1 were let go; among equals the oldest is taken");
        let mut s = Spares::default();
        assert!(s.keep("old", 200 * MIB, 0.0));
        assert!(s.keep("new", 100 * MIB, 0.0));
        assert_eq!((s.len(), s.bytes()), (1, 100 * MIB));
    }

    #[test]
    fn kept_buffers_go_after_an_idle_while_and_use_postpones_it() {
        let mut s = Spares::default();
        assert!(s.keep("a", 2 * MIB, 0.0));
        assert!(s.keep("b", 2 * MIB, 5_000.0));
        assert_eq!(s.expire(IDLE_MS), Some(5_000.0), "used at 5 s: ask again at 15 s");
        assert_eq!(s.take(2 * MIB, 9_000.0), Some("a"));
        assert_eq!(s.expire(9_000.0 + IDLE_MS - 1.0), Some(1.0));
        assert_eq!(s.expire(9_000.0 + IDLE_MS), None);
        assert!(s.is_empty());
        assert!(s.keep("c", 2 * MIB, 0.0));
        s.clear();
        assert_eq!(s.expire(0.0), None);
    }
}
