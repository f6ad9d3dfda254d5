// Where persisted services keep their snapshots: one IndexedDB database of the page's origin,
// `worker-bridge-snapshots`, with one object store, `snapshots`, that maps a service's key (its
// name, or `name#i` for copy `i` of several: `core::services::persist::snapshot_key`) to the
// snapshot's JSON text. Only the registry, on the page, reads and writes it (src/services/snapshots.rs):
// the hosts hand their snapshots to the page and get them back at start.
//
// Every promise here settles: IndexedDB missing (some private modes), refused, or an open that
// neither succeeds nor fails within `OPEN_TIMEOUT_MS` (a blocked upgrade) rejects with an `Error`
// named `NotSupportedError`; a read or write that fails rejects with what IndexedDB said.

const DB_NAME = 'worker-bridge-snapshots';
const STORE = 'snapshots';
const OPEN_TIMEOUT_MS = 5000;

/** @type {Promise<IDBDatabase> | null} */
let opened = null;

/** @param {string} message */
function unsupported(message) {
  const error = new Error(`IndexedDB is unavailable, which persist: true needs: ${message}`);
  error.name = 'NotSupportedError';
  return error;
}

/** @returns {Promise<IDBDatabase>} the database, opened once per page */
function open() {
  opened ??= new Promise((resolve, reject) => {
    let request;
    try {
      if (typeof indexedDB === 'undefined' || indexedDB === null) throw new Error('no indexedDB in this context');
      request = indexedDB.open(DB_NAME, 1);
    } catch (e) {
      reject(unsupported(/** @type {any} */ (e)?.message ?? String(e)));
      return;
    }
    const timer = setTimeout(() => reject(unsupported(`no answer to the open within ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => {
      clearTimeout(timer);
      const db = request.result;
      // Another tab upgrading the database: let it, and open again next time.
      db.onversionchange = () => {
        db.close();
        opened = null;
      };
      resolve(db);
    };
    request.onerror = () => {
      clearTimeout(timer);
      reject(unsupported(request.error?.message ?? 'the open failed'));
    };
    request.onblocked = () => {};
  });
  // A failed open is tried again at the next call (the user may leave private mode… or not).
  opened.catch(() => {
    opened = null;
  });
  return opened;
}

/**
 * Runs one request in a transaction of its own; resolves with its result when the transaction
 * commits (a write is durable once this resolves).
 * @param {IDBTransactionMode} mode
 * @param {(store: IDBObjectStore) => IDBRequest} make
 * @returns {Promise<unknown>}
 */
async function run(mode, make) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = make(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error ?? request.error ?? new Error('the IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('the IndexedDB transaction was aborted'));
  });
}

/**
 * The snapshot stored under `key` (its JSON text), or undefined; rejects with a `TimeoutError`
 * when IndexedDB has not answered within `timeoutMs` (0: no limit) — a read waits behind another
 * connection's transaction or upgrade.
 * @param {string} key
 * @param {number} [timeoutMs]
 * @returns {Promise<string | undefined>}
 */
export async function readSnapshot(key, timeoutMs = 0) {
  const read = run('readonly', (store) => store.get(key));
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const late = new Promise((_, reject) => {
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        const error = new Error(`the snapshot was not read within ${timeoutMs} ms (IndexedDB is busy or blocked)`);
        error.name = 'TimeoutError';
        reject(error);
      }, timeoutMs);
    }
  });
  try {
    const value = await Promise.race([read, late]);
    return typeof value === 'string' ? value : undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Stores `text` (a snapshot's JSON text) under `key`.
 * @param {string} key
 * @param {string} text
 * @returns {Promise<void>}
 */
export async function writeSnapshot(key, text) {
  await run('readwrite', (store) => store.put(text, key));
}

