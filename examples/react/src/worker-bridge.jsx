// One worker-bridge for the whole app, shared through context, and a hook per call.
// Copy this file into your app.
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { WorkerBridge } from 'worker-bridge';

const BridgeContext = createContext(null);

/**
 * Starts the page's shared bridge (`WorkerBridge.shared()`: one pool of workers, created on first
 * use) and hands it to every component below. Nothing runs during server-side rendering: the wasm
 * is loaded in an effect. The shared bridge outlives this component, so it is never terminated
 * here (StrictMode mounts effects twice in development).
 */
export function WorkerBridgeProvider({ children }) {
  const [value, setValue] = useState({ bridge: null, error: null });
  useEffect(() => {
    let live = true;
    WorkerBridge.shared().then(
      (bridge) => live && setValue({ bridge, error: null }),
      (error) => live && setValue({ bridge: null, error }),
    );
    return () => {
      live = false;
    };
  }, []);
  return <BridgeContext.Provider value={value}>{children}</BridgeContext.Provider>;
}

/** `{ bridge, error }`: `bridge` is null until the pool is ready. */
export function useWorkerBridge() {
  const value = useContext(BridgeContext);
  if (value === null) throw new Error('useWorkerBridge() needs a <WorkerBridgeProvider> above it');
  return value;
}

/** The bridge's `status()`, read again every `intervalMs` (mode, workers, counters). */
export function useBridgeStatus(intervalMs = 500) {
  const { bridge } = useWorkerBridge();
  const [status, setStatus] = useState(null);
  useEffect(() => {
    if (!bridge) return undefined;
    const read = () => setStatus(bridge.status());
    read();
    const timer = setInterval(read, intervalMs);
    return () => clearInterval(timer);
  }, [bridge, intervalMs]);
  return status;
}

export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

const IDLE = { state: 'idle', progress: 0, hex: '', error: null };

/**
 * SHA-256 in a worker, with progress and cancellation:
 * `const { hash, cancel, state, progress, hex, error } = useSha256()`.
 * `hash(input)` starts a call (cancelling the previous one); `cancel()` aborts it; unmounting the
 * component aborts it too. `state` is 'idle' | 'running' | 'done' | 'cancelled' | 'failed'.
 */
export function useSha256() {
  const { bridge } = useWorkerBridge();
  const [result, setResult] = useState(IDLE);
  const current = useRef(null); // the AbortController of the running call

  // Unmounting cancels the running call: the worker stops and is free for the next one.
  useEffect(() => () => current.current?.abort(), []);

  const hash = useCallback(
    async (input) => {
      current.current?.abort();
      const controller = new AbortController();
      current.current = controller;
      // Only the latest call may update the state.
      const update = (next) => current.current === controller && setResult(next);
      update({ ...IDLE, state: 'running' });
      try {
        const digest = await bridge.crypto.sha256(input, {
          signal: controller.signal,
          onProgress: ({ progress }) => update((r) => ({ ...r, progress })),
        });
        update({ state: 'done', progress: 100, hex: toHex(digest), error: null });
      } catch (error) {
        if (error.name === 'AbortError') update((r) => ({ ...r, state: 'cancelled' }));
        else update({ ...IDLE, state: 'failed', error });
      } finally {
        if (current.current === controller) current.current = null;
      }
    },
    [bridge],
  );

  const cancel = useCallback(() => current.current?.abort(), []);

  return { ...result, hash, cancel };
}
