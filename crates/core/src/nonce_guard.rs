//! The nonce-reuse guard: AES-GCM with a repeated (key, nonce) pair leaks the XOR of the two
//! plaintexts and the authentication key, so the bridge refuses to encrypt twice with the same
//! pair. It remembers a fingerprint of each pair it has encrypted with — never the key itself —
//! in bounded memory: the most recent [`CAPACITY`] pairs, oldest forgotten first.

use std::collections::{HashSet, VecDeque};

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};

/// Pairs remembered (about 3 MiB at most: 32-byte fingerprints in a set and a queue).
pub const CAPACITY: usize = 65_536;

/// See the module docs.
#[derive(Debug)]
pub struct NonceGuard {
    seen: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
    capacity: usize,
}

impl Default for NonceGuard {
    fn default() -> Self {
        NonceGuard::with_capacity(CAPACITY)
    }
}

impl NonceGuard {
    /// A guard remembering the last `capacity` pairs.
    pub fn with_capacity(capacity: usize) -> Self {
        NonceGuard { seen: HashSet::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// Records (key, nonce); refuses a pair it has seen.
    ///
    /// # Errors
    /// [`ErrorKind::NonceReuse`] when the pair was used before (within the remembered window).
    pub fn check_and_record(&mut self, key: &[u8], nonce: &[u8]) -> Result<(), Error> {
        let fingerprint = fingerprint(key, nonce);
        if !self.seen.insert(fingerprint) {
            return Err(Error::new(
                ErrorKind::NonceReuse,
                "this nonce was already used with this key; use crypto.generateNonce() for every encryption",
            ));
        }
        self.order.push_back(fingerprint);
        if self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        Ok(())
    }

    /// Forgets (key, nonce): the encryption it was recorded for never ran (it could not be
    /// queued), so the pair was not used.
    pub fn forget(&mut self, key: &[u8], nonce: &[u8]) {
        let fingerprint = fingerprint(key, nonce);
        if self.seen.remove(&fingerprint) {
            self.order.retain(|f| *f != fingerprint);
        }
    }
}

/// What the guard keeps of a pair: never the key itself.
fn fingerprint(key: &[u8], nonce: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"worker-bridge nonce guard v1")
        .chain_update((key.len() as u32).to_be_bytes())
        .chain_update(key)
        .chain_update(nonce)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_repeat_and_forgets_beyond_capacity() {
        let mut g = NonceGuard::with_capacity(2);
        g.check_and_record(&[1; 32], &[1; 12]).unwrap();
        assert_eq!(g.check_and_record(&[1; 32], &[1; 12]).unwrap_err().kind(), ErrorKind::NonceReuse);
        g.check_and_record(&[2; 32], &[1; 12]).unwrap(); // another key, same nonce: fine
        g.check_and_record(&[1; 32], &[2; 12]).unwrap(); // pushes the first pair out
        g.check_and_record(&[1; 32], &[1; 12]).unwrap(); // forgotten, so accepted
        assert_eq!(g.check_and_record(&[1; 32], &[2; 12]).unwrap_err().kind(), ErrorKind::NonceReuse);
    }

    #[test]
    fn a_forgotten_pair_can_be_used_again_and_others_stay() {
        let mut guard = NonceGuard::with_capacity(4);
        guard.check_and_record(&[1; 32], &[1; 12]).unwrap();
        guard.check_and_record(&[1; 32], &[2; 12]).unwrap();
        guard.forget(&[1; 32], &[1; 12]);
        guard.check_and_record(&[1; 32], &[1; 12]).unwrap();
        assert_eq!(guard.check_and_record(&[1; 32], &[2; 12]).unwrap_err().kind(), ErrorKind::NonceReuse);
        assert_eq!(guard.order.len(), 2);
    }
}
