// Comlink baseline: the ops written the way a Comlink user would write them.
import { expose } from '/node_modules/comlink/dist/esm/comlink.mjs';

expose({
  echo: (bytes) => bytes,
  sha256: async (bytes) => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)),
});
