// The "Files of any size" panel: a picked file gzipped, gunzipped, sealed or opened straight to a
// file, never whole in memory. The input is read a chunk at a time, the output written as it is
// produced to a file handle (`output: handle`) — one from the save picker
// (`showSaveFilePicker`, Chromium), or one in the origin private file system (OPFS), offered as a
// download once written and deleted from there when the user says so (or an hour later, at the
// next visit).

import { trackFrames } from './meter.js';

const $ = (id) => document.getElementById(id);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const mib = (n) => `${(n / 1048576).toFixed(n < 1048576 ? 3 : 1)} MiB`;

/** The panel's folder in OPFS, and how old a file left there by an earlier visit may get. */
const FOLDER = 'worker-bridge-demo';
const STALE_MS = 60 * 60 * 1000;

/** Each operation: the call (input a File, output a file handle) and the name of its result. */
const OPS = {
  gzip: {
    run: (bridge, input, key, options) => bridge.compression.gzip(input, options),
    name: (n) => `${n}.gz`,
  },
  gunzip: {
    run: (bridge, input, key, options) => bridge.compression.gunzip(input, options),
    name: (n) => (/\.gz$/i.test(n) ? n.slice(0, -3) : `${n}.gunzipped`),
  },
  encrypt: {
    keyed: true,
    run: (bridge, input, key, options) => bridge.crypto.encryptFile(input, key, options),
    name: (n) => `${n}.sealed`,
  },
  decrypt: {
    keyed: true,
    run: (bridge, input, key, options) => bridge.crypto.decryptFile(input, key, options),
    name: (n) => (/\.sealed$/i.test(n) ? n.slice(0, -7) : `${n}.opened`),
  },
};

const canPick = typeof window.showSaveFilePicker === 'function';
// OPFS, and a writer for its files on the page (WebKit has OPFS but no `createWritable`).
const hasOpfs = typeof navigator.storage?.getDirectory === 'function'
  && typeof FileSystemFileHandle === 'function' && 'createWritable' in FileSystemFileHandle.prototype;

const opfsFolder = async () => (await navigator.storage.getDirectory()).getDirectoryHandle(FOLDER, { create: true });

/** The key field's hex as bytes (its length is the library's to check). */
function parseKey(text) {
  const digits = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-f]{2})*$/i.test(digits)) throw new TypeError('the key must be hex digits, two per byte');
  return Uint8Array.from(digits.match(/../g) ?? [], (b) => parseInt(b, 16));
}

/**
 * Where the result goes: `{ handle, opfs }`, with `opfs` the entry's name in the panel's OPFS
 * folder (null for a file from the save picker). The picker needs the click's user activation, so
 * it is asked before anything else is awaited.
 */
async function openTarget(kind, name) {
  if (kind === 'picker') return { handle: await window.showSaveFilePicker({ suggestedName: name }), opfs: null };
  const folder = await opfsFolder();
  const opfs = `${Date.now().toString(36)}-${name}`;
  return { handle: await folder.getFileHandle(opfs, { create: true }), opfs };
}

/**
 * Removes `name` from the panel's folder. A call that failed may hold the file's writer for a
 * moment after it settles (`NoModificationAllowedError` meanwhile): a few tries, 0.1 s apart.
 */
async function removeOpfs(name) {
  const folder = await opfsFolder();
  for (let tries = 1; ; tries++) {
    try {
      return await folder.removeEntry(name);
    } catch (e) {
      if (e.name !== 'NoModificationAllowedError' || tries === 20) throw e;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Removes what earlier visits left in the panel's OPFS folder (older than `STALE_MS`). */
async function sweep() {
  const folder = await opfsFolder();
  for await (const [name, handle] of folder.entries()) {
    const file = await handle.getFile().catch(() => null);
    // A file still being written is locked: removing it fails, and it stays.
    if (!file || Date.now() - file.lastModified > STALE_MS) await folder.removeEntry(name).catch(() => {});
  }
}

/** Runs one operation with its own row: progress in bytes, Cancel, then the result or the error. */
async function runFileJob(bridge, file, op, keyText, target) {
  const row = document.createElement('div');
  row.className = 'job file';
  row.dataset.op = op;
  row.dataset.state = 'running';
  const name = Object.assign(document.createElement('span'), { textContent: op });
  const bar = Object.assign(document.createElement('progress'), { max: file.size || 1, value: 0 });
  const done = Object.assign(document.createElement('span'), { className: 'done', textContent: `0 / ${mib(file.size)}` });
  const cancel = Object.assign(document.createElement('button'), { className: 'cancel', textContent: 'Cancel' });
  const result = Object.assign(document.createElement('span'), { className: 'result mono' });
  const status = Object.assign(document.createElement('span'), { className: 'state', textContent: 'running' });
  result.append(status);
  row.append(name, bar, done, cancel, result);
  $('files-jobs').prepend(row);

  const controller = new AbortController();
  cancel.addEventListener('click', () => controller.abort());
  const onProgress = (p) => {
    const total = p.total || file.size; // 0 until the worker has looked at the file
    bar.max = total || 1;
    bar.value = p.done;
    done.textContent = `${mib(p.done)} / ${mib(total)}`;
  };
  const outName = OPS[op].name(file.name);
  let opfs = null;
  try {
    if (!bridge) throw new Error('the bridge is restarting: try again');
    const key = OPS[op].keyed ? parseKey(keyText) : undefined;
    const opened = await openTarget(target, outName);
    opfs = opened.opfs;
    const stopFrames = trackFrames();
    const t0 = performance.now();
    // The File itself is the input, read a chunk at a time as `file.stream()` would be; unlike a
    // stream's, its size is known, so `onProgress` counts the bytes done (for a stream input the
    // bridge reports nothing between its first event and the end).
    let longest;
    try {
      await OPS[op].run(bridge, file, key, { output: opened.handle, signal: controller.signal, onProgress });
    } finally {
      longest = stopFrames();
    }
    const ms = performance.now() - t0;
    const written = await opened.handle.getFile();
    row.dataset.state = 'done';
    status.textContent = 'done';
    bar.max = 1;
    bar.value = 1;
    done.textContent = `${mib(file.size)} / ${mib(file.size)}`;
    result.append(` ${mib(file.size)} → ${mib(written.size)} · ${ms.toFixed(0)} ms · ${(file.size / 1e6 / (ms / 1e3)).toFixed(0)} MB/s · longest frame ${longest.toFixed(0)} ms · `);
    row.dataset.longestFrame = longest.toFixed(0);
    if (opfs === null) {
      result.append(`saved as ${opened.handle.name}`);
    } else {
      offerDownload(result, written, outName, opfs);
    }
  } catch (e) {
    row.dataset.state = e.name === 'AbortError' ? 'cancelled' : 'error';
    status.textContent = `${e.name}: ${e.message}`;
    // The call aborted the file's writer, which leaves the file empty: it goes.
    if (opfs !== null) await removeOpfs(opfs).catch((x) => status.append(` (its file stays in browser storage: ${x.name})`));
  } finally {
    cancel.disabled = true;
  }
}

/** A download link for `file` (in OPFS as `opfs`), and a button that deletes it from there. */
function offerDownload(result, file, name, opfs) {
  const link = Object.assign(document.createElement('a'), { href: URL.createObjectURL(file), download: name, textContent: `download ${name}` });
  link.dataset.opfs = opfs;
  const remove = Object.assign(document.createElement('button'), { className: 'delete', textContent: 'Delete' });
  const saved = document.createElement('span');
  saved.append(link, ' ', remove);
  remove.addEventListener('click', async () => {
    remove.disabled = true;
    URL.revokeObjectURL(link.href);
    try {
      await removeOpfs(opfs);
      saved.replaceWith(`${name} deleted`);
    } catch (e) {
      remove.replaceWith(`(not deleted: ${e.name}: ${e.message})`);
    }
  });
  result.append(saved);
}

/**
 * Wires the panel. `bridge()` is the bridge of the moment (the main-thread toggle replaces it).
 * The target can be chosen: the save picker where the browser has one, else OPFS then a download
 * (the end-to-end test chooses OPFS: a headless browser cannot answer a save picker).
 */
export function setupFilesPanel(bridge) {
  const target = $('files-target');
  target.querySelector('option[value="picker"]').disabled = !canPick;
  target.querySelector('option[value="opfs"]').disabled = !hasOpfs;
  target.value = canPick ? 'picker' : 'opfs';
  if (!canPick && !hasOpfs) {
    $('files-support').textContent = 'This browser cannot write a file as it is produced (no save picker, no createWritable in OPFS).';
  }

  const newKey = () => { $('files-key').value = hex(bridge().crypto.generateKey()); };
  newKey();
  $('files-new-key').addEventListener('click', newKey);
  $('files-copy-key').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('files-key').value);
    } catch {
      $('files-key').select(); // no clipboard here: selected, to copy by hand
    }
  });

  const update = () => {
    $('files-key-row').hidden = !OPS[$('files-op').value].keyed;
    $('files-run').disabled = !($('files-input').files.length && (canPick || hasOpfs));
  };
  $('files-op').addEventListener('change', update);
  $('files-input').addEventListener('change', update);
  update();

  $('files-run').addEventListener('click', () => {
    runFileJob(bridge(), $('files-input').files[0], $('files-op').value, $('files-key').value, target.value);
  });

  if (hasOpfs) sweep().catch(() => {});
}
