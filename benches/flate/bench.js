// Runs in the page: gzip and gunzip of benches/flate built with each flate2 backend, on the same
// text, runs of the two interleaved so that both see the same machine. Outputs are checked with
// the browser's DecompressionStream.
import initZlibRs, * as zlibRs from '/target/flate-bench/zlib-rs/flate_backends.js';
import initMiniz, * as miniz from '/target/flate-bench/miniz/flate_backends.js';
import { compressibleText, environment, equalBytes, median } from '../page.js';

const MiB = 1 << 20;

/** The bytes of a gzip member, as the browser reads it. */
async function browserGunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Milliseconds of `f()`. */
function timed(f) {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

window.runBench = async ({ mib, levels, runs }) => {
  await initZlibRs();
  await initMiniz();
  const builds = { 'zlib-rs': zlibRs, miniz };
  const crates = { 'zlib-rs': 'zlib-rs', miniz: 'miniz_oxide' };
  const order = (round) => (round % 2 ? Object.entries(builds).reverse() : Object.entries(builds));
  const text = compressibleText(mib * MiB);
  const checks = {};
  for (const [name, b] of Object.entries(builds)) checks[`the ${name} build runs ${crates[name]}`] = b.backend() === crates[name];
  const results = [];
  let packed; // zlib-rs level 6: gunzip's input
  for (const level of levels) {
    const result = { id: `gzip L${level}` };
    for (const [name, b] of Object.entries(builds)) {
      const out = b.gzip(text, level);
      checks[`${name} gzip L${level}: DecompressionStream gives the text back`] = equalBytes(await browserGunzip(out), text);
      result[name] = { size: out.length };
      if (name === 'zlib-rs' && level === 6) packed = out;
    }
    const ms = { 'zlib-rs': [], miniz: [] };
    for (let r = 0; r < runs; r++) {
      // Each backend goes first in every other round.
      for (const [name, b] of order(r)) ms[name].push(timed(() => b.gzip(text, level)));
    }
    for (const name of Object.keys(builds)) result[name].mbps = text.length / 1e3 / median(ms[name]);
    results.push(result);
  }
  if (packed) {
    const result = { id: 'gunzip' };
    const ms = { 'zlib-rs': [], miniz: [] };
    for (const [name, b] of Object.entries(builds)) {
      checks[`${name} gunzip gives the text back`] = equalBytes(b.gunzip(packed), text);
      result[name] = {};
    }
    for (let r = 0; r < runs; r++) {
      for (const [name, b] of order(r)) ms[name].push(timed(() => b.gunzip(packed)));
    }
    for (const name of Object.keys(builds)) result[name].mbps = text.length / 1e3 / median(ms[name]);
    results.push(result);
  }
  return { ...environment(), results, checks };
};

document.body.dataset.ready = 'true';
