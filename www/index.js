// The demo: hash generated data or a picked file through the bridge, compare with WebCrypto,
// and watch the pool.
import init, { WorkerBridge } from '../pkg/worker_bridge.js';

const $ = (id) => document.getElementById(id);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** Deterministic bytes (xorshift32), so a run can be reproduced. */
function generate(length, seed = 0x2545f491) {
  const out = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function renderStatus(bridge) {
  const s = bridge.status();
  $('mode').textContent = `mode: ${s.mode}`;
  $('mode').className = `badge ${s.mode === 'workers' ? 'on' : 'off'}`;
  $('mode').title = s.fallbackReason ?? '';
  $('coi').textContent = `crossOriginIsolated: ${s.crossOriginIsolated}`;
  $('coi').className = `badge ${s.crossOriginIsolated ? 'on' : 'off'}`;
  $('queued').textContent = `queued: ${s.queued}`;
  const c = s.counters;
  $('counters').textContent = `calls: ${c.completed} done, ${c.cancelled} cancelled, ${c.failed + c.timedOut} failed`;
  $('workers').replaceChildren(...s.workers.map((w) => {
    const tr = document.createElement('tr');
    for (const v of [w.id, w.state, w.busy ? 'yes' : 'no', w.tasksDone, w.restarts, w.lastError ?? '']) {
      const td = document.createElement('td');
      td.textContent = String(v);
      tr.append(td);
    }
    return tr;
  }));
}

async function hashAndShow(bridge, bytes, label, signal) {
  const length = bytes.byteLength;
  $('input').textContent = `${label} (${length.toLocaleString()} bytes)`;
  for (const id of ['digest', 'webcrypto', 'match', 'time']) $(id).textContent = '…';
  // WebCrypto needs its own copy: the bridge call below transfers (detaches) `bytes`.
  const reference = crypto.subtle.digest('SHA-256', bytes.slice());
  const t0 = performance.now();
  const onProgress = ({ progress }) => {
    $('bar').value = progress;
    $('percent').textContent = `${progress.toFixed(0)}%`;
  };
  const digest = await bridge.crypto.sha256(bytes, { transfer: true, onProgress, signal });
  const ms = performance.now() - t0;
  const expected = new Uint8Array(await reference);
  $('digest').textContent = hex(digest);
  $('webcrypto').textContent = hex(expected);
  const same = hex(digest) === hex(expected);
  $('match').textContent = same ? 'yes' : 'NO';
  $('match').className = same ? 'ok' : 'bad';
  const throughput = ms > 0 ? ` (${(length / 1e6 / (ms / 1e3)).toFixed(0)} MB/s)` : '';
  $('time').textContent = `${ms.toFixed(1)} ms${throughput}`;
}

async function main() {
  await init();
  const bridge = await WorkerBridge.create({ fallback: 'auto' });
  renderStatus(bridge);
  setInterval(() => renderStatus(bridge), 250);

  let controller = null;
  $('cancel').addEventListener('click', () => controller?.abort());
  const run = async (makeBytes, label) => {
    document.body.dataset.state = 'busy';
    controller = new AbortController();
    $('cancel').disabled = false;
    $('bar').value = 0;
    try {
      await hashAndShow(bridge, await makeBytes(), label, controller.signal);
      document.body.dataset.state = 'done';
    } catch (e) {
      $('digest').textContent = `${e.name}: ${e.message}`;
      document.body.dataset.state = e.name === 'AbortError' ? 'cancelled' : 'error';
    }
    $('cancel').disabled = true;
    renderStatus(bridge);
  };
  $('generate').addEventListener('click', () => {
    const mib = Number($('size').value);
    run(() => generate(Math.round(mib * 1024 * 1024)), `generated ${mib} MiB`);
  });
  $('file').addEventListener('change', () => {
    const file = $('file').files[0];
    if (file) run(async () => new Uint8Array(await file.arrayBuffer()), file.name);
  });
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  $('mode').textContent = `failed: ${e.name}: ${e.message}`;
  $('mode').className = 'badge off';
  throw e;
});
