//! AES-256-GCM, standard and interoperable: the output is ciphertext ‖ 16-byte tag, exactly what
//! WebCrypto's `AES-GCM` produces for the same key, nonce and additional data. The whole message
//! is buffered (GCM authenticates it as one unit); for large inputs use the chunked stream format
//! ([`super::stream_format`]).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use super::{Sink, Stream};
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

/// [`encrypt`] or [`decrypt`] as a [`Stream`]: buffers the input, seals or opens at the end.
#[derive(Debug)]
pub(crate) struct GcmStream {
    key: Vec<u8>,
    nonce: Vec<u8>,
    aad: Vec<u8>,
    decrypt: bool,
    buf: Vec<u8>,
}

impl GcmStream {
    pub(crate) fn new(key: &[u8], nonce: &[u8], aad: &[u8], decrypt: bool) -> Result<Self, Error> {
        if decrypt {
            check_key(key)?;
        } else {
            check_key_and_nonce(key, nonce)?;
        }
        if nonce.len() != NONCE_LEN {
            return Err(Error::validation(format!("the nonce must be {NONCE_LEN} bytes, got {}", nonce.len())));
        }
        Ok(GcmStream { key: key.to_vec(), nonce: nonce.to_vec(), aad: aad.to_vec(), decrypt, buf: Vec::new() })
    }
}

impl Stream for GcmStream {
    fn update(&mut self, chunk: &[u8], _out: &mut dyn Sink) -> Result<(), Error> {
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    fn finish(self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        let result = if self.decrypt {
            decrypt(&self.key, &self.nonce, &self.aad, &self.buf)?
        } else {
            encrypt(&self.key, &self.nonce, &self.aad, &self.buf)?
        };
        out.write(&result)
    }
}

impl Drop for GcmStream {
    fn drop(&mut self) {
        // Plaintext or key material should not linger in the wasm heap after the call.
        self.key.iter_mut().for_each(|b| *b = 0);
        self.buf.iter_mut().for_each(|b| *b = 0);
    }
}
