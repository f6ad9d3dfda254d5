// What the soak checks results against: the browser's own implementations (WebCrypto,
// Compression Streams) and, for the stream format of encryptFile/decryptFile, a sealer and
// opener written here from docs/stream-format.md on WebCrypto's HKDF and AES-GCM — so no
// result is checked against the library that produced it. `selfTest` checks the stream
// reference against the document's test vector before anything else runs.

const subtle = crypto.subtle;
const INFO = new TextEncoder().encode('worker-bridge stream v1');
const MAGIC = [0x57, 0x42, 0x53, 0x31]; // "WBS1"
const HEADER = 32;
const TAG = 16;

/** @param {Uint8Array} a @param {Uint8Array} b */
export function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** @param {Uint8Array[]} parts */
function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export const sha256 = async (bytes) => new Uint8Array(await subtle.digest('SHA-256', bytes));

/** AES-256-GCM seal as WebCrypto does it: ciphertext ‖ 16-byte tag. */
export async function aesGcmSeal(key, nonce, plain, aad) {
  const k = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
  return new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad ?? new Uint8Array() }, k, plain));
}

async function fileKey(key, salt) {
  const ikm = await subtle.importKey('raw', key, 'HKDF', false, ['deriveKey']);
  return subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt, info: INFO }, ikm, { name: 'AES-GCM', length: 256 }, false,
    ['encrypt', 'decrypt']);
}

function chunkNonce(prefix, index, last) {
  const nonce = new Uint8Array(12);
  nonce.set(prefix, 0);
  new DataView(nonce.buffer).setUint32(7, index);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Seals `plain` in the WBS1 format with the given `salt` (16 bytes) and `prefix` (7 bytes). */
export async function sealStream(key, plain, { chunkSize, aad = new Uint8Array(), salt, prefix }) {
  const header = new Uint8Array(HEADER);
  header.set(MAGIC, 0);
  header[4] = 1;
  new DataView(header.buffer).setUint32(5, chunkSize);
  header.set(salt, 9);
  header.set(prefix, 25);
  const k = await fileKey(key, salt);
  const additionalData = concat([header, aad]);
  const n = Math.max(1, Math.ceil(plain.length / chunkSize));
  const parts = [header];
  for (let i = 0; i < n; i++) {
    const chunk = plain.subarray(i * chunkSize, Math.min(plain.length, (i + 1) * chunkSize));
    const iv = chunkNonce(prefix, i, i === n - 1);
    parts.push(new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv, additionalData }, k, chunk)));
  }
  return concat(parts);
}

/** Opens a WBS1 stream; throws on any defect (as the format says, all of it or nothing). */
export async function openStream(key, sealed, aad = new Uint8Array()) {
  if (sealed.length < HEADER + TAG || MAGIC.some((m, i) => sealed[i] !== m) || sealed[4] !== 1) {
    throw new Error('not a WBS1 stream');
  }
  const header = sealed.subarray(0, HEADER);
  const chunkSize = new DataView(sealed.buffer, sealed.byteOffset).getUint32(5);
  const k = await fileKey(key, header.subarray(9, 25));
  const prefix = header.subarray(25, 32);
  const additionalData = concat([header, aad]);
  const parts = [];
  for (let at = HEADER, i = 0; at < sealed.length; i++) {
    const end = Math.min(sealed.length, at + chunkSize + TAG);
    const iv = chunkNonce(prefix, i, end === sealed.length);
    parts.push(new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv, additionalData }, k, sealed.subarray(at, end))));
    at = end;
  }
  return concat(parts);
}

async function through(transform, bytes) {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(transform)).arrayBuffer());
}

export const gzip = (bytes) => through(new CompressionStream('gzip'), bytes);
export const gunzip = (bytes) => through(new DecompressionStream('gzip'), bytes);

/** The stream reference against docs/stream-format.md's test vector, and a round trip. */
export async function selfTest() {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  const plain = Uint8Array.from({ length: 65_546 }, (_, i) => i & 255);
  const enc = new TextEncoder();
  const sealed = await sealStream(key, plain, {
    chunkSize: 65_536, aad: enc.encode('doc'), salt: enc.encode('worker-bridge-ss'), prefix: enc.encode('prefix7'),
  });
  const want = '0b5fe17d7a2e638ff11cdebd6a625ae8ff438bfac796c0afc279be9678e83eca';
  if (sealed.length !== 65_610 || hex(await sha256(sealed)) !== want) {
    throw new Error('the soak\'s stream-format reference does not reproduce the test vector of docs/stream-format.md');
  }
  if (!sameBytes(await openStream(key, sealed, enc.encode('doc')), plain)) throw new Error('openStream is not sealStream\'s inverse');
  if (hex(await sha256(new Uint8Array())) !== 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855') {
    throw new Error('WebCrypto SHA-256 is off');
  }
  const text = enc.encode('soak '.repeat(100));
  if (!sameBytes(await gunzip(await gzip(text)), text)) throw new Error('Compression Streams do not round-trip');
}
