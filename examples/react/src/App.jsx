import { useEffect, useState } from 'react';
import { useBridgeStatus, useSha256, useWorkerBridge } from './worker-bridge.jsx';

/**
 * Deterministic bytes (xorshift32, seed 0x2545f491, so a test can recompute the digest), built in
 * 1 MiB parts into a Blob; a Blob is read chunk by chunk inside the worker, like a picked file.
 * The input caps this at 256 MiB: blobs built in memory are the browser's to keep, and Chromium
 * refuses to read them back (NotReadableError) once a page has made ~0.5 GiB of them.
 */
function generate(bytes) {
  const parts = [];
  let x = 0x2545f491;
  for (let offset = 0; offset < bytes; offset += 1 << 20) {
    const part = new Uint8Array(Math.min(1 << 20, bytes - offset));
    for (let i = 0; i < part.length; i++) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      part[i] = x & 0xff;
    }
    parts.push(part);
  }
  return new Blob(parts, { type: 'application/octet-stream' });
}

function Hasher({ input }) {
  const { bridge } = useWorkerBridge();
  const { hash, cancel, state, progress, hex, error } = useSha256();
  const running = state === 'running';
  return (
    <section>
      <button data-testid="hash" disabled={!bridge || !input || running} onClick={() => hash(input)}>
        Hash (SHA-256)
      </button>{' '}
      <button data-testid="cancel" disabled={!running} onClick={cancel}>
        Cancel
      </button>{' '}
      <progress data-testid="progress" max={100} value={progress} />
      <p data-testid="result" data-state={state}>
        {state === 'done' && <code data-testid="digest">{hex}</code>}
        {state === 'cancelled' && 'cancelled'}
        {state === 'failed' && `${error.name}: ${error.message}`}
      </p>
    </section>
  );
}

export default function App() {
  const { bridge, error } = useWorkerBridge();
  const status = useBridgeStatus();
  const [input, setInput] = useState(null);
  const [mib, setMib] = useState(16);
  const [showHasher, setShowHasher] = useState(true);

  // Tells the end-to-end tests the page is ready (tests/e2e/browser.mjs waits for it).
  useEffect(() => {
    if (bridge || error) document.body.dataset.ready = 'true';
  }, [bridge, error]);

  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', maxWidth: 720, margin: '2rem auto' }}>
      <h1>worker-bridge + React</h1>
      <p>
        mode: <strong data-testid="mode">{status?.mode ?? (error ? 'failed' : 'starting')}</strong>
        {' · '}crossOriginIsolated: <span data-testid="coi">{String(status?.crossOriginIsolated ?? '')}</span>
        {' · '}build: <span data-testid="build">{status?.build ?? ''}</span>
        {' · '}threads: <span data-testid="threads">{status?.threads ?? ''}</span>
        {status && (
          <span data-testid="counters">
            {' · '}calls: {status.counters.completed} done, {status.counters.cancelled} cancelled
          </span>
        )}
      </p>
      {error && <p data-testid="bridge-error">{`${error.name}: ${error.message}`}</p>}

      <p>
        <input data-testid="file" type="file" onChange={(e) => setInput(e.target.files[0] ?? null)} />
        {' or '}
        <input data-testid="size" type="number" min={1} max={256} value={mib} onChange={(e) => setMib(Number(e.target.value))} /> MiB{' '}
        <button data-testid="generate" onClick={() => setInput(generate(mib * 1048576))}>
          Generate
        </button>
      </p>
      <p data-testid="input">{input ? `input: ${input.size.toLocaleString('en')} bytes` : 'no input yet'}</p>

      <label>
        <input data-testid="show-hasher" type="checkbox" checked={showHasher} onChange={(e) => setShowHasher(e.target.checked)} />{' '}
        show the hasher (unmounting it cancels its call)
      </label>
      {showHasher && <Hasher input={input} />}
    </main>
  );
}
