// Holds the snapshot store busy, so that a test can widen the gap between a replaced copy's
// load and its start: the registry reads the copy's snapshot in between, and IndexedDB runs a
// read on a store only after a read-write transaction on it that began earlier has finished.

/** @returns {Promise<IDBDatabase>} the registry's snapshot database (it must exist already) */
export function openSnapshots() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open('worker-bridge-snapshots');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Begins a read-write transaction on `snapshots` now and keeps it alive for `ms` by chaining
 * reads; resolves when it has committed.
 * @param {IDBDatabase} db
 * @param {number} ms
 * @returns {Promise<void>}
 */
export function holdSnapshots(db, ms) {
  const until = performance.now() + ms;
  const tx = db.transaction('snapshots', 'readwrite');
  const store = tx.objectStore('snapshots');
  const next = () => {
    if (performance.now() < until) store.get('worker-bridge-test-hold').onsuccess = next;
  };
  next();
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}
