//! AES-256-GCM, standard and interoperable: the output is ciphertext ‖ 16-byte tag, exactly what
//! WebCrypto's `AES-GCM` produces for the same key, nonce and additional data. The whole message
//! is buffered (GCM authenticates it as one unit), so one message is at most
//! [`MAX_ONE_SHOT_AEAD_BYTES`]; for large inputs use the chunked stream format
//! ([`super::stream_format`]).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroize;

use super::{Sink, Stream};
use crate::defaults::MAX_ONE_SHOT_AEAD_BYTES;
use crate::error::{Error, ErrorKind};

/// Key length: AES-256.
pub const KEY_LEN: usize = 32;
/// Nonce length: the 96-bit GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Tag length.
pub const TAG_LEN: usize = 16;

/// Checks key and nonce lengths (and refuses the all-zero nonce, the classic reused one).
///
/// # Errors
/// `ValidationError` for a wrong length; `NonceReuseError` for an all-zero nonce.
pub fn check_key_and_nonce(key: &[u8], nonce: &[u8]) -> Result<(), Error> {
    check_key(key)?;
    if nonce.len() != NONCE_LEN {
        return Err(Error::validation(format!("the nonce must be {NONCE_LEN} bytes, got {}", nonce.len())));
    }
    if nonce.iter().all(|&b| b == 0) {
        return Err(Error::new(
            ErrorKind::NonceReuse,
            "an all-zero nonce is refused: it is almost always a reused one",
        ));
    }
    Ok(())
}

/// Checks the parameters of one message: key and nonce lengths, and — sealing only — the
/// all-zero nonce (opening one sealed elsewhere with it is allowed).
///
/// # Errors
/// As [`check_key_and_nonce`] when sealing; `ValidationError` for bad lengths when opening.
pub fn check_params(key: &[u8], nonce: &[u8], decrypt: bool) -> Result<(), Error> {
    if !decrypt {
        return check_key_and_nonce(key, nonce);
    }
    check_key(key)?;
    if nonce.len() != NONCE_LEN {
        return Err(Error::validation(format!("the nonce must be {NONCE_LEN} bytes, got {}", nonce.len())));
    }
    Ok(())
}

/// Refuses, before anything is read, a one-shot input of `len` bytes (plaintext to seal, or
/// ciphertext ‖ tag to open) whose message exceeds [`MAX_ONE_SHOT_AEAD_BYTES`].
///
/// # Errors
/// `LimitExceededError` naming `encryptFile` / `decryptFile`.
pub fn check_one_shot_len(len: u64, decrypt: bool) -> Result<(), Error> {
    let message = if decrypt { len.saturating_sub(TAG_LEN as u64) } else { len };
    if message > MAX_ONE_SHOT_AEAD_BYTES {
        return Err(too_long());
    }
    Ok(())
}

/// Checks the key length.
///
/// # Errors
/// `ValidationError` when the key is not 32 bytes.
pub fn check_key(key: &[u8]) -> Result<(), Error> {
    if key.len() != KEY_LEN {
        return Err(Error::validation(format!("the key must be {KEY_LEN} bytes (AES-256), got {}", key.len())));
    }
    Ok(())
}

pub(crate) fn cipher(key: &[u8]) -> Result<Aes256Gcm, Error> {
    Aes256Gcm::new_from_slice(key).map_err(|_| Error::validation("the key must be 32 bytes"))
}

/// Seals `plaintext`: ciphertext ‖ tag.
///
/// # Errors
/// `ValidationError` for bad lengths.
pub fn encrypt(key: &[u8], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    check_key_and_nonce(key, nonce)?;
    cipher(key)?
        .encrypt(Nonce::from_slice(nonce), Payload { msg: plaintext, aad })
        .map_err(|_| Error::new(ErrorKind::LimitExceeded, "the message is too long for AES-GCM"))
}

/// Opens ciphertext ‖ tag; nothing is returned unless the tag verifies.
///
/// # Errors
/// `AuthenticationError` when the tag does not verify (wrong key, nonce or data, or tampering);
/// `ValidationError` for bad lengths.
pub fn decrypt(key: &[u8], nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
    check_key(key)?;
    if nonce.len() != NONCE_LEN {
        return Err(Error::validation(format!("the nonce must be {NONCE_LEN} bytes, got {}", nonce.len())));
    }
    if sealed.len() < TAG_LEN {
        return Err(Error::new(ErrorKind::Authentication, "the ciphertext is shorter than its tag"));
    }
    cipher(key)?
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
        .map_err(|_| Error::new(ErrorKind::Authentication, "the authentication tag did not verify"))
}

/// AES-256-GCM computed chunk by chunk: CTR keystream and GHASH advance with each input chunk,
/// so a large message is sealed in bounded steps (the main-thread executor can yield between
/// them) instead of in one call. The output is exactly [`encrypt`]'s. Opening also works in
/// steps, but keeps the plaintext back until the tag has verified: none of it is released from
/// a message that does not authenticate.
pub(crate) struct GcmStream {
    ctr: ctr::Ctr32BE<aes::Aes256>,
    ghash: ghash::GHash,
    tag_mask: [u8; 16],
    decrypt: bool,
    /// Bytes not yet a full GHASH block (ciphertext), or, when opening, held back as the tag.
    pending: Vec<u8>,
    aad_len: u64,
    text_len: u64,
    /// Opening: plaintext held until the tag verifies, in the pieces it was decrypted in (a
    /// growing buffer would copy it at every doubling and leave the copies behind).
    plain: Vec<Vec<u8>>,
    /// Opening: the tag verified, and how many pieces of `plain` were released since.
    verified: bool,
    released: usize,
    scratch: Vec<u8>,
}

/// Opening: plaintext released per step once the tag verified (a 64 MiB message released in one
/// step was a 70 ms task on the main thread).
const RELEASE_PER_STEP: usize = 1 << 20;

/// GCM's limit on one message: 2^39 − 256 bits.
const GCM_MAX_TEXT: u64 = (1 << 36) - 32;

impl GcmStream {
    pub(crate) fn new(key: &[u8], nonce: &[u8], aad: &[u8], decrypt: bool) -> Result<Self, Error> {
        check_params(key, nonce, decrypt)?;
        Self::with_nonce(key, nonce.try_into().expect("checked: 12 bytes"), aad, decrypt)
    }

    /// [`GcmStream::new`] without the caller-facing checks, for nonces the bridge derives itself
    /// (the stream format's `prefix ‖ index ‖ last`, which may be all zero for chunk 0).
    ///
    /// # Errors
    /// `ValidationError` when the key is not 32 bytes.
    pub(crate) fn with_nonce(key: &[u8], nonce: &[u8; NONCE_LEN], aad: &[u8], decrypt: bool) -> Result<Self, Error> {
        use aes::cipher::{BlockEncrypt, KeyInit as _, KeyIvInit};
        use ghash::universal_hash::UniversalHash;
        let aes = aes::Aes256::new_from_slice(key).map_err(|_| Error::validation("the key must be 32 bytes"))?;
        // H = E(0¹²⁸); J0 = nonce ‖ 1; the keystream starts at J0 + 1; the tag is masked with E(J0).
        let mut h = aes::Block::default();
        aes.encrypt_block(&mut h);
        let mut j0 = [0u8; 16];
        j0[..12].copy_from_slice(nonce);
        j0[15] = 1;
        let mut mask = aes::Block::from(j0);
        aes.encrypt_block(&mut mask);
        let mut counter = j0;
        counter[15] = 2;
        let mut ghash = ghash::GHash::new(&h);
        ghash.update_padded(aad);
        let ctr = ctr::Ctr32BE::<aes::Aes256>::new_from_slices(key, &counter)
            .expect("invariant: 32-byte key, 16-byte counter");
        Ok(GcmStream {
            ctr,
            ghash,
            tag_mask: mask.into(),
            decrypt,
            pending: Vec::new(),
            aad_len: aad.len() as u64,
            text_len: 0,
            plain: Vec::new(),
            verified: false,
            released: 0,
            scratch: Vec::new(),
        })
    }

    /// Feeds ciphertext to GHASH in whole blocks, keeping a partial block in `pending`.
    fn hash_ciphertext(&mut self, mut ciphertext: &[u8]) {
        use ghash::universal_hash::UniversalHash;
        if !self.pending.is_empty() {
            let fill = (16 - self.pending.len()).min(ciphertext.len());
            self.pending.extend_from_slice(&ciphertext[..fill]);
            ciphertext = &ciphertext[fill..];
            if self.pending.len() < 16 {
                return;
            }
            self.ghash.update_padded(&self.pending);
            self.pending.clear();
        }
        // Whole blocks straight from the input (`update_padded` pads nothing on a multiple of 16).
        let whole = ciphertext.len() / 16 * 16;
        self.ghash.update_padded(&ciphertext[..whole]);
        self.pending.extend_from_slice(&ciphertext[whole..]);
    }

    fn count(&mut self, n: usize) -> Result<(), Error> {
        self.text_len += n as u64;
        if self.text_len > GCM_MAX_TEXT.min(MAX_ONE_SHOT_AEAD_BYTES) {
            return Err(too_long());
        }
        Ok(())
    }

    /// The tag of everything fed so far; call once, at the end.
    fn expected_tag(&mut self) -> [u8; 16] {
        use ghash::universal_hash::UniversalHash;
        let rest = std::mem::take(&mut self.pending);
        self.ghash.update_padded(&rest);
        let mut lengths = ghash::Block::default();
        lengths[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lengths[8..].copy_from_slice(&(self.text_len * 8).to_be_bytes());
        self.ghash.update(&[lengths]);
        let s = self.ghash.clone().finalize();
        let mut tag = [0u8; 16];
        for (t, (a, b)) in tag.iter_mut().zip(s.iter().zip(self.tag_mask.iter())) {
            *t = a ^ b;
        }
        tag
    }

    /// Opening, at the end: checks the received tag (the last 16 bytes fed); the held plaintext
    /// is wiped if it does not verify.
    fn verify(&mut self) -> Result<(), Error> {
        use subtle::ConstantTimeEq;
        if self.verified {
            return Ok(());
        }
        if self.scratch.len() < TAG_LEN {
            return Err(Error::new(ErrorKind::Authentication, "the ciphertext is shorter than its tag"));
        }
        let received: [u8; 16] = self.scratch[..TAG_LEN].try_into().expect("16 bytes");
        if !bool::from(self.expected_tag().ct_eq(&received)) {
            self.plain.iter_mut().for_each(Zeroize::zeroize);
            return Err(Error::new(ErrorKind::Authentication, "the authentication tag did not verify"));
        }
        self.verified = true;
        Ok(())
    }

    /// Opening, once verified: writes held pieces (at least one, then while under `budget`
    /// bytes), wiping each; returns whether any are left.
    fn release(&mut self, budget: usize, out: &mut dyn Sink) -> Result<bool, Error> {
        let mut written = 0;
        while self.released < self.plain.len() && (written == 0 || written < budget) {
            let piece = &mut self.plain[self.released];
            out.write(piece)?;
            written += piece.len().max(1);
            piece.zeroize();
            self.released += 1;
        }
        Ok(self.released < self.plain.len())
    }
}

impl Stream for GcmStream {
    /// Opening: once all the input is in, the tag is checked and the plaintext released a MiB
    /// per step.
    fn backlog(&mut self, ended: bool, out: &mut dyn Sink) -> Result<bool, Error> {
        if !self.decrypt || !ended {
            return Ok(false);
        }
        self.verify()?;
        self.release(RELEASE_PER_STEP, out)
    }

    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        use aes::cipher::StreamCipher;
        if !self.decrypt {
            self.count(chunk.len())?;
            let mut buf = std::mem::take(&mut self.scratch);
            buf.clear();
            buf.extend_from_slice(chunk);
            self.ctr.apply_keystream(&mut buf);
            self.hash_ciphertext(&buf);
            let written = out.write(&buf);
            self.scratch = buf;
            return written;
        }
        // Opening: the last 16 bytes seen so far may be the tag; process everything before them.
        self.scratch.extend_from_slice(chunk);
        if self.scratch.len() <= TAG_LEN {
            return Ok(());
        }
        let ready = self.scratch.len() - TAG_LEN;
        // Unverified plaintext is held in `plain` only, piece by piece, each wiped after use.
        let mut piece: Vec<u8> = self.scratch.drain(..ready).collect();
        self.count(piece.len())?;
        self.hash_ciphertext(&piece);
        self.ctr.apply_keystream(&mut piece);
        self.plain.push(piece);
        Ok(())
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        if !self.decrypt {
            let tag = self.expected_tag();
            return out.write(&tag);
        }
        // Whatever the step loop's `backlog` did not release yet.
        self.verify()?;
        self.release(usize::MAX, out).map(|_| ())
    }
}

impl Drop for GcmStream {
    fn drop(&mut self) {
        // Plaintext should not linger in the wasm heap after the call.
        self.plain.iter_mut().for_each(Zeroize::zeroize);
        self.scratch.zeroize();
    }
}

/// One-shot AES-GCM refuses a message this long (see [`MAX_ONE_SHOT_AEAD_BYTES`]).
fn too_long() -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        format!(
            "one-shot encrypt/decrypt takes at most {} MiB (the whole message is held until its tag \
             verifies); use encryptFile/decryptFile for larger inputs",
            MAX_ONE_SHOT_AEAD_BYTES >> 20
        ),
    )
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn one_shot_inputs_above_the_limit_are_refused_up_front() {
        let max = MAX_ONE_SHOT_AEAD_BYTES;
        assert!(check_one_shot_len(max, false).is_ok());
        assert!(check_one_shot_len(max + TAG_LEN as u64, true).is_ok());
        let e = check_one_shot_len(max + 1, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LimitExceeded);
        assert!(e.message().contains("encryptFile/decryptFile"), "{e}");
        assert_eq!(check_one_shot_len(max + TAG_LEN as u64 + 1, true).unwrap_err().kind(), ErrorKind::LimitExceeded);
    }

    #[test]
    fn a_stream_past_the_limit_stops_with_limit_exceeded() {
        let mut stream = GcmStream::new(&[7; 32], &[1; 12], b"", false).unwrap();
        // Pretend most of the limit was sealed already; the next bytes cross it.
        stream.text_len = MAX_ONE_SHOT_AEAD_BYTES - 4;
        let e = stream.update(&[0; 8], &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    }
}

#[cfg(test)]
mod wipe_tests {
    /// The key schedules under our AES-GCM are wiped on drop: a build fact, checked here.
    #[test]
    fn ciphers_holding_keys_zeroize_on_drop() {
        fn wiped<T: zeroize::ZeroizeOnDrop>() {}
        wiped::<aes::Aes256>();
        wiped::<crate::ops::Secret>();
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod release_tests {
    use super::*;
    use crate::ops::{NoProgress, Op, Secret, SliceSource, StdEnv, Step};

    /// Steps an `Op::Decrypt` job over `sealed` (64 KiB per step); the bytes each step wrote.
    fn open_in_steps(key: &[u8], nonce: &[u8], sealed: &[u8]) -> Result<Vec<usize>, Error> {
        let op = Op::Decrypt { key: Secret(key.to_vec()), nonce: nonce.to_vec(), aad: Vec::new() };
        let mut job = op.start()?;
        let mut source = SliceSource::new(sealed, 64 * 1024);
        let mut per_step = Vec::new();
        loop {
            let mut out = Vec::new();
            let step = job.step(&mut source, &StdEnv::default(), &mut NoProgress, &mut out)?;
            per_step.push(out.len());
            if step == Step::Done {
                return Ok(per_step);
            }
        }
    }

    #[test]
    fn opening_releases_the_plaintext_a_mib_per_step_and_only_once_verified() {
        let (key, nonce) = ([5u8; 32], [6u8; 12]);
        let plain: Vec<u8> = (0..(4 << 20) + 123).map(|i| (i % 251) as u8).collect();
        let sealed = encrypt(&key, &nonce, b"", &plain).unwrap();
        let per_step = open_in_steps(&key, &nonce, &sealed).unwrap();
        assert_eq!(per_step.iter().sum::<usize>(), plain.len());
        // A step releases whole pieces (64 KiB here) up to about a MiB.
        assert!(per_step.iter().all(|&n| n < RELEASE_PER_STEP + 64 * 1024), "{per_step:?}");
        assert!(per_step.iter().filter(|&&n| n > 0).count() >= 4, "released over several steps: {per_step:?}");
        let mut bad = sealed.clone();
        bad[1000] ^= 1;
        let e = open_in_steps(&key, &nonce, &bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Authentication);
    }
}
