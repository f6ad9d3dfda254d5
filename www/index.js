// The demo: pick a file or generate data, run hash / encrypt / decrypt / gzip / gunzip through
// the bridge with a progress bar and a Cancel button per job — each beside the browser's own API
// on the same input, with the longest frame of each as a frame meter shows it —, do the same to a file of any size
// straight to a file (files.js), watch the pool, and drive two services (one in JavaScript, one
// in Rust) in the placement of your choice.
import { WorkerBridge } from '../pkg/index.js';
import { setupFilesPanel } from './files.js';
import { startMeter, trackFrames } from './meter.js';

const $ = (id) => document.getElementById(id);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const mib = (n) => `${(n / 1048576).toFixed(n < 1048576 ? 3 : 1)} MiB`;

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

const state = {
  bridge: null,
  createdAt: 0,
  firstResultShown: false,
  input: null, // a Blob (generated data is wrapped in one, like a picked file)
  inputDigest: null,
  sealed: null,
  packed: null,
  key: null,
  remote: null, // { socket, server } with ?remote=ws://…
};

/** The demo's services: same registry, same lifecycle, one written in JS and one in Rust. */
const SERVICES = [
  {
    name: 'counter',
    kind: 'JavaScript',
    definition: { module: new URL('./counter.service.js', import.meta.url).href },
    example: '{"op":"add","by":1}',
  },
  { name: 'store', kind: 'Rust', definition: { rust: 'kv' }, example: '{"op":"set","key":"theme","value":"dark"}' },
  {
    // The same counter, persisted: snapshotted to IndexedDB every 500 ms and at stop, restored at
    // start — also after a reload.
    name: 'saved',
    kind: 'JavaScript, persisted',
    definition: { module: new URL('./counter.service.js', import.meta.url).href },
    example: '{"op":"add","by":1}',
    options: { persist: true, snapshotIntervalMs: 500 },
  },
  {
    // The same counter again, as two copies (each message to the less busy one, so each keeps its
    // own count) that need the store: starting it starts the store first, stopping the store
    // stops it.
    name: 'shards',
    kind: 'JavaScript, 2 copies, needs store',
    definition: { module: new URL('./counter.service.js', import.meta.url).href },
    example: '{"op":"add","by":1}',
    options: { instances: 2, dependsOn: ['store'] },
  },
];
const serviceOptions = (name, placement) => ({
  placement,
  restart: 'on-failure',
  healthIntervalMs: 5000,
  ...SERVICES.find((s) => s.name === name)?.options,
});
const placements = Object.fromEntries(SERVICES.map((s) => [s.name, 'worker']));

function logEvent({ event, data }) {
  const li = document.createElement('li');
  li.dataset.event = event;
  // A new subscriber's registry_loaded carries every service's status: the panel shows that already.
  const { name, worker, ...rest } = data;
  delete rest.status;
  const who = name ?? (worker !== undefined ? `worker ${worker}` : '');
  li.textContent = `${event} ${who} ${JSON.stringify(rest)}`;
  $('events').prepend(li);
  while ($('events').children.length > 60) $('events').lastChild.remove();
}

function buildServicePanel() {
  $('services').replaceChildren(...SERVICES.map(({ name, kind, example }) => {
    const card = document.createElement('div');
    card.className = 'service';
    card.dataset.name = name;
    card.innerHTML = `
      <b>${name}</b><span class="badge kind">${kind}</span><span><span class="badge state">…</span> <span class="diag hint"></span></span>
      <span class="controls">
        <label>placement <select class="placement"><option value="worker">worker</option><option value="main">main thread</option></select></label>
        <button class="start">Start</button><button class="stop">Stop</button><button class="restart">Restart</button>
      </span>
      <span class="sendbox">
        <input class="message mono" spellcheck="false"> <button class="send">Send</button>
        <span class="reply mono"></span>
      </span>`;
    const q = (sel) => card.querySelector(sel);
    q('.message').value = example;
    q('.placement').value = placements[name];
    const act = (fn) => async () => {
      try {
        await fn(state.bridge.services);
      } catch (e) {
        showReply(card, 'error', `${e.name}: ${e.message}`);
      }
      renderStatus();
    };
    q('.start').addEventListener('click', act((s) => s.start(name)));
    q('.stop').addEventListener('click', act((s) => s.stop(name)));
    q('.restart').addEventListener('click', act((s) => s.restart(name)));
    q('.placement').addEventListener('change', act(async (s) => {
      // Placement is configuration: re-register the same definition elsewhere.
      placements[name] = q('.placement').value;
      const running = s.status().find((x) => x.name === name)?.state === 'running';
      if (running) await s.stop(name);
      await s.unregister(name);
      const { definition } = SERVICES.find((x) => x.name === name);
      await s.register(name, definition, serviceOptions(name, placements[name]));
      if (running) await s.start(name);
    }));
    q('.send').addEventListener('click', act(async (s) => {
      let message;
      try {
        message = JSON.parse(q('.message').value);
      } catch (e) {
        return showReply(card, 'error', `not JSON: ${e.message}`);
      }
      const reply = await s.send(name, message, { timeoutMs: 5000 });
      showReply(card, 'ok', JSON.stringify(reply));
    }));
    return card;
  }));
}

function showReply(card, kind, text) {
  const reply = card.querySelector('.reply');
  reply.dataset.state = kind;
  reply.dataset.seq = String(Number(reply.dataset.seq ?? 0) + 1);
  reply.textContent = `→ ${text}`;
}

function renderServices() {
  for (const s of state.bridge.services.status()) {
    const card = document.querySelector(`.service[data-name="${s.name}"]`);
    if (!card) continue;
    const badge = card.querySelector('.state');
    badge.textContent = s.state;
    badge.className = `badge state ${s.state === 'running' ? 'on' : s.state === 'failed' ? 'off' : ''}`;
    const health = s.lastHealth ? ` · health: ${s.lastHealth.healthy ? 'ok' : 'failing'} (${s.lastHealth.detail})` : '';
    const copies = s.instances > 1 ? ` · ${s.instances} copies` : '';
    const needs = s.dependsOn?.length ? ` · needs ${s.dependsOn.join(', ')}` : '';
    card.querySelector('.diag').textContent =
      `${s.placement}${copies}${needs} · ${s.messagesHandled} handled · ${s.restarts} restarts${health}${s.lastError ? ` · last error: ${s.lastError}` : ''}`;
  }
}

function renderStatus() {
  if (!state.bridge) return;
  renderServices();
  const s = state.bridge.status();
  $('mode').textContent = `mode: ${s.mode}`;
  $('mode').className = `badge ${s.mode === 'workers' ? 'on' : 'off'}`;
  $('mode').title = s.fallbackReason ?? '';
  $('coi').textContent = `crossOriginIsolated: ${s.crossOriginIsolated}`;
  $('coi').className = `badge ${s.crossOriginIsolated ? 'on' : 'off'}`;
  $('build').textContent = `build: ${s.build}${s.simd ? ' + SIMD' : ''} · threads: ${s.threads}`;
  $('build').className = `badge ${s.threads > 1 ? 'on' : 'off'}`;
  $('build').dataset.threads = String(s.threads);
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

/**
 * `?remote=ws://host:port` (and `&token=…`): the page serves its service registry over a WebSocket
 * (`services.serve`), so a dashboard's server can drive it with `RegistryClient`.
 */
function serveRemote(bridge) {
  state.remote?.server.close();
  state.remote?.socket.close();
  state.remote = null;
  const params = new URLSearchParams(location.search);
  const url = params.get('remote');
  if (!url) return;
  const badge = $('remote');
  badge.hidden = false;
  const show = (what) => {
    badge.dataset.state = what;
    badge.textContent = `remote: ${what}`;
  };
  show('connecting');
  const socket = new WebSocket(url);
  const token = params.get('token');
  const server = bridge.services.serve(socket, token ? { token } : {});
  socket.addEventListener('open', () => show('served'));
  socket.addEventListener('close', () => show('closed'));
  state.remote = { socket, server };
}

async function startBridge() {
  const old = state.bridge;
  state.bridge = null;
  await old?.terminate();
  state.createdAt = performance.now();
  state.firstResultShown = false;
  const bridge = await WorkerBridge.create({ fallback: $('force-main').checked ? 'always' : 'auto' });
  state.bridge = bridge;
  const created = performance.now() - state.createdAt;
  document.body.dataset.createMs = created.toFixed(0);
  $('first-result').textContent = `WorkerBridge.create() resolved in ${created.toFixed(0)} ms.`;
  state.key = state.bridge.crypto.generateKey();
  bridge.subscribe(['service_state_changed', 'health_check_result', 'worker_state_changed', 'registry_loaded'], logEvent);
  await bridge.services.load(SERVICES.map(({ name, definition }) => ({ name, ...definition, ...serviceOptions(name, placements[name]) })));
  serveRemote(bridge);
  state.sealed = null;
  state.packed = null;
  renderStatus();
  updateButtons();
}

function updateButtons() {
  const ready = Boolean(state.bridge && state.input);
  for (const op of ['hash', 'encrypt', 'gzip', 'streams']) $(`op-${op}`).disabled = !ready;
  $('op-decrypt').disabled = !(state.bridge && state.sealed);
  $('op-gunzip').disabled = !(state.bridge && state.packed);
}

function setInput(blob, label) {
  state.input = blob;
  state.inputDigest = null;
  state.sealed = null;
  state.packed = null;
  $('input').textContent = `${label} (${blob.size.toLocaleString()} bytes)`;
  updateButtons();
}

/** Platform runs compare at most this much (they hold the whole input in the page's memory). */
const PLATFORM_MAX_BYTES = 256 * 1048576;

/**
 * The same work by the browser's own API on the page, where one exists: `prepare` (untimed)
 * reads what the API needs into memory from the job's `source` (the input and gzip result as
 * they were when the job started); `run` is timed.
 */
const platform = {
  hash: {
    name: 'crypto.subtle.digest',
    prepare: (source) => source.input.arrayBuffer(),
    run: (bytes) => crypto.subtle.digest('SHA-256', bytes),
  },
  encrypt: {
    name: 'crypto.subtle.encrypt, one-shot AES-GCM',
    async prepare(source) {
      const key = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt']);
      return { key, bytes: await source.input.arrayBuffer() };
    },
    run: ({ key, bytes }) => crypto.subtle.encrypt({ name: 'AES-GCM', iv: crypto.getRandomValues(new Uint8Array(12)) }, key, bytes),
  },
  decrypt: {
    name: 'crypto.subtle.decrypt, one-shot AES-GCM',
    async prepare(source) {
      // The input sealed in one piece, untimed: what the timed run opens.
      const key = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
      const iv = crypto.getRandomValues(new Uint8Array(12));
      return { key, iv, sealed: await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, await source.input.arrayBuffer()) };
    },
    run: ({ key, iv, sealed }) => crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed),
  },
  gzip: {
    name: 'CompressionStream',
    prepare: (source) => source.input,
    run: (blob) => new Response(blob.stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer(),
  },
  gunzip: {
    name: 'DecompressionStream',
    prepare: (source) => new Blob([source.packed]),
    run: (blob) => new Response(blob.stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer(),
  },
};

/**
 * `op` by the platform on the page over `source`, as text for the job's row (or why it was not
 * run). `size` is what the rate counts; the input's size bounds the memory (gunzip's output is
 * the input again).
 */
async function comparePlatform(op, size, source) {
  const api = platform[op];
  if (!api || !$('compare').checked) return null;
  if (Math.max(size, source.input?.size ?? 0) > PLATFORM_MAX_BYTES) return `platform: not compared above ${mib(PLATFORM_MAX_BYTES)}`;
  try {
    const input = await api.prepare(source);
    const stop = trackFrames();
    const t0 = performance.now();
    let longest;
    try {
      await api.run(input);
    } finally {
      longest = stop();
    }
    const ms = performance.now() - t0;
    const rate = size / 1e6 / (ms / 1e3);
    return `platform (${api.name}, on the page): ${rate.toFixed(0)} MB/s · longest frame ${longest.toFixed(0)} ms`;
  } catch (e) {
    return `platform (${api.name}): ${e.name}: ${e.message}`;
  }
}

/** Runs one job with its own row: progress bar, Cancel button, result. */
async function runJob(op, size, work) {
  const row = document.createElement('div');
  row.className = 'job';
  row.dataset.op = op;
  row.dataset.state = 'running';
  const name = Object.assign(document.createElement('span'), { textContent: op });
  const bar = Object.assign(document.createElement('progress'), { max: 100, value: 0 });
  const percent = Object.assign(document.createElement('span'), { className: 'percent', textContent: '0%' });
  const cancel = Object.assign(document.createElement('button'), { className: 'cancel', textContent: 'Cancel' });
  const result = Object.assign(document.createElement('span'), { className: 'result mono' });
  const status = Object.assign(document.createElement('span'), { className: 'state', textContent: 'running' });
  result.append(status);
  row.append(name, bar, percent, cancel, result);
  $('jobs').prepend(row);

  const controller = new AbortController();
  cancel.addEventListener('click', () => controller.abort());
  const onProgress = ({ progress }) => {
    bar.value = progress;
    percent.textContent = `${progress.toFixed(0)}%`;
  };
  // What the platform's run compares against: the inputs as they are now.
  const source = { input: state.input, packed: state.packed };
  const stopFrames = trackFrames();
  const t0 = performance.now();
  try {
    // A job's summary, or a function that makes it once the timer has stopped (a check of the
    // output that is not the job's work).
    let summary = await work({ onProgress, signal: controller.signal });
    const ms = performance.now() - t0;
    const longest = stopFrames();
    if (typeof summary === 'function') summary = await summary();
    cancel.disabled = true;
    const rate = (size / 1e6 / (ms / 1e3)).toFixed(0);
    result.append(` ${summary} · ${ms.toFixed(0)} ms · ${rate} MB/s · longest frame ${longest.toFixed(0)} ms`);
    row.dataset.rate = rate;
    row.dataset.longestFrame = longest.toFixed(0);
    if (!state.firstResultShown) {
      state.firstResultShown = true;
      const first = performance.now() - state.createdAt;
      document.body.dataset.firstResultMs = first.toFixed(0);
      $('first-result').append(` First result ${first.toFixed(0)} ms after create().`);
    }
    const compared = await comparePlatform(op, size, source);
    if (compared) {
      const line = Object.assign(document.createElement('div'), { className: 'platform', textContent: compared });
      result.append(line);
    }
    row.dataset.state = 'done';
    status.textContent = 'done';
  } catch (e) {
    stopFrames();
    row.dataset.state = e.name === 'AbortError' ? 'cancelled' : 'error';
    status.textContent = e.name === 'AbortError' ? 'cancelled' : `${e.name}: ${e.message}`;
  } finally {
    cancel.disabled = true;
    updateButtons();
    renderStatus();
  }
}

const ops = {
  async hash(options) {
    const digest = hex(await state.bridge.crypto.sha256(state.input, options));
    state.inputDigest = digest;
    return `sha256 ${digest}`;
  },
  async encrypt(options) {
    state.sealed = await state.bridge.crypto.encryptFile(state.input, state.key, options);
    return `sealed ${mib(state.input.size)} → ${mib(state.sealed.size)}`;
  },
  async decrypt(options) {
    const opened = await state.bridge.crypto.decryptFile(state.sealed, state.key, options);
    // The check runs after the job's timer stops: its rate is decryptFile's, as the platform's
    // beside it is one decrypt's.
    return async () => {
      const digest = hex(await state.bridge.crypto.sha256(opened));
      state.inputDigest ??= hex(await state.bridge.crypto.sha256(state.input));
      const same = digest === state.inputDigest;
      return `opened ${mib(opened.size)} · sha256 ${digest} · ${same ? 'matches the input' : 'DIFFERS from the input'}`;
    };
  },
  async gzip(options) {
    state.packed = await state.bridge.compression.gzip(state.input, options);
    return `gzip ${mib(state.input.size)} → ${mib(state.packed.length)}`;
  },
  async gunzip(options) {
    const out = await state.bridge.compression.gunzip(state.packed, options);
    return `gunzip ${mib(state.packed.length)} → ${mib(out.length)}`;
  },
  /** The input through four TransformStreams that run in workers, hashed as it comes out. */
  async streams({ signal }) {
    const { compression, crypto } = state.bridge;
    const through = state.input
      .stream()
      .pipeThrough(compression.gzipStream({ signal }))
      .pipeThrough(crypto.encryptStream(state.key, { signal }))
      .pipeThrough(crypto.decryptStream(state.key, { signal }))
      .pipeThrough(compression.gunzipStream({ signal }));
    const digest = hex(await crypto.sha256(through, { signal }));
    state.inputDigest ??= hex(await crypto.sha256(state.input));
    const same = digest === state.inputDigest;
    return `gzipStream → encryptStream → decryptStream → gunzipStream · sha256 ${digest} · ${same ? 'matches the input' : 'DIFFERS from the input'}`;
  },
};

const sizes = {
  hash: () => state.input.size,
  encrypt: () => state.input.size,
  decrypt: () => state.sealed.size,
  gzip: () => state.input.size,
  gunzip: () => state.packed.length,
  streams: () => state.input.size,
};

async function main() {
  $('generate').addEventListener('click', () => {
    const n = Math.round(Number($('size').value) * 1048576);
    setInput(new Blob([generate(n)]), `generated ${$('size').value} MiB`);
  });
  $('file').addEventListener('change', () => {
    const file = $('file').files[0];
    if (file) setInput(file, file.name);
  });
  for (const op of Object.keys(ops)) {
    $(`op-${op}`).addEventListener('click', () => runJob(op, sizes[op](), ops[op]));
  }
  $('force-main').addEventListener('change', () => startBridge());
  buildServicePanel();
  await startBridge();
  setupFilesPanel(() => state.bridge);
  setInterval(renderStatus, 250);
  startMeter();
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  $('mode').textContent = `failed: ${e.name}: ${e.message}`;
  $('mode').className = 'badge off';
  throw e;
});
