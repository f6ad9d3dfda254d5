// The floor: the least any worker library can do per call — receive a message, do the op, post
// the answer back with the caller's id. `sha256` is the smallest real call: WebCrypto on the bytes.
onmessage = async ({ data: { id, op, bytes } }) => {
  if (op === 'sha256') bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  postMessage({ id, bytes });
};
