// workerpool baseline: the ops written the way its README shows a browser worker — a classic
// worker that loads the UMD build with importScripts and registers its functions.
/* global workerpool */
importScripts('/node_modules/workerpool/dist/workerpool.js');

workerpool.worker({
  echo: (bytes) => bytes,
  sha256: async (bytes) => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)),
});
