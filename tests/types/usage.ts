// Type-checked (never run) by `npm test`: the package's public API as a TypeScript user writes it.
// Errors here mean index.d.ts drifted from the API.
import {
  WorkerBridge,
  RegistryClient,
  createCancellationToken,
  createProgressTracker,
  simdAvailable,
  threadsAvailable,
  ERROR_NAMES,
  type BridgeStatus,
  type ErrorName,
  type FetchResult,
  type ProgressEvent,
  type ServiceContext,
  type ServiceState,
  type TaskContext,
  type TaskFunction,
  type WorkerBridgeError,
} from 'worker-bridge';

export async function usage(file: File): Promise<void> {
  const bridge: WorkerBridge = await WorkerBridge.create({ poolSize: 2, strategy: 'least-busy', fallback: 'auto', timeoutMs: 30_000 });
  const shared: WorkerBridge = await WorkerBridge.shared();
  const controller = new AbortController();
  const onProgress = (e: ProgressEvent): void => void (e.progress + e.done + e.total);

  const digest: Uint8Array = await bridge.crypto.sha256(file, { onProgress, signal: controller.signal, priority: 'high' });
  const key: Uint8Array = bridge.crypto.generateKey();
  const nonce: Uint8Array = bridge.crypto.generateNonce();
  const sealed: Uint8Array = await bridge.crypto.encrypt(digest, key, nonce, { aad: 'context' });
  const opened: Uint8Array = await bridge.crypto.decrypt(sealed, key, nonce, { aad: 'context' });
  const blob: Blob = await bridge.crypto.encryptFile(file, key, { chunkSize: 1 << 20 });
  const bytes: Uint8Array = await bridge.crypto.decryptFile(blob, key, { output: 'bytes' });
  const packed: Uint8Array = await bridge.compression.gzip(bytes, { level: 9 });
  const unpacked: Uint8Array = await bridge.compression.gunzip(packed, { maxOutputBytes: 1 << 20 });
  // Streams: a ReadableStream in, a WritableStream (or a file handle) out, TransformStreams.
  const fromStream: Uint8Array = await bridge.crypto.sha256(new Blob(['some text']).stream());
  const written: void = await bridge.compression.gzip(new Blob(['some text']).stream(), { output: new WritableStream() });
  const gzipped: ReadableStream<Uint8Array> = new Blob(['some text'])
    .stream()
    .pipeThrough(bridge.compression.gzipStream({ level: 1 }))
    .pipeThrough(bridge.crypto.encryptStream(bridge.crypto.generateKey(), { chunkSize: 65536 }));
  void [fromStream, written, gzipped];
  const plan = await bridge.file.chunkPlan(file, { chunkSize: 4 << 20 });
  const first: number = plan[0].offset + plan[0].length + plan[0].index + plan[0].sha256.length;
  const slice: Uint8Array = await bridge.file.readSlice(file, 0, 10);
  const res: FetchResult = await bridge.network.fetch('/data.bin', { sha256: true, headers: { accept: '*/*' } });

  const { progress, cleanup } = createProgressTracker(file.size);
  const { cancellation, cancel } = createCancellationToken();
  await bridge.crypto.sha256(file, { progress, signal: cancellation });
  const percent: number = progress.percent;
  const signal: AbortSignal = cancellation.toAbortSignal();
  cancel();
  cleanup();

  // Your own tasks: a module's export, run with every call option.
  const resize: TaskFunction<{ width: number }, Uint8Array> = async (input, ctx: TaskContext) => {
    ctx.progress(1, 2);
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const out = new Uint8Array(input.width);
    ctx.transfer(out.buffer);
    return out;
  };
  void resize;
  await bridge.tasks.register('resize', { module: new URL('./resize.task.js', 'https://example.test/'), export: 'resize' });
  await bridge.tasks.register('sum', { rust: 'sum' });
  const image = await bridge.tasks.run<Uint8Array>('resize', { width: 4 }, { onProgress, timeoutMs: 5_000, retries: 0 });
  const moved = new ArrayBuffer(8);
  const total: number = await bridge.tasks.run('sum', moved, { transfer: [moved], priority: 'low', output: 'value' });
  const names: string[] = bridge.tasks.list();
  const gone: boolean = await bridge.tasks.unregister('sum');
  void [image, total, names, gone];
  await WorkerBridge.create({ workerUrl: new URL('https://cdn.example.test/worker-bridge/snippets/x/worker/worker.js') });

  const services = bridge.services;
  await services.register('counter', { module: new URL('./counter.service.js', 'https://example.test/') }, {
    placement: 'main',
    restart: 'on-failure',
  });
  await services.register('store', { rust: 'kv' });
  await services.load([
    { name: 'settings', rust: 'kv', placement: 'worker', healthIntervalMs: 1000, config: { max: 5 }, dependsOn: ['store'] },
  ]);
  const needs: string[] = services.status()[0].dependsOn;
  // Configuration, and an inline handler (main placement) whose context and messages are typed.
  await services.register('words', { rust: 'word-count' }, { config: { maxDistinct: 500 }, instances: 4 });
  const copies: number = services.status()[0].instances + services.status()[0].instanceRestarts;
  bridge.on('worker_state_changed', ({ data }) => void (data.kind === 'service' ? data.instance : data.worker));
  type Ctx = ServiceContext<{ step: number }> & { total?: number };
  await services.register('adder', {
    handler: {
      onStart(ctx: Ctx) { ctx.total = 0; },
      onMessage(n: number, ctx: Ctx): number { return (ctx.total = (ctx.total ?? 0) + n * (ctx.config?.step ?? 1)); },
      health: () => true,
    },
  }, { placement: 'main', config: { step: 2 } });
  // Persistence, and a service that sends to another.
  await services.register('notes', {
    handler: {
      onStart(ctx: ServiceContext) { ctx.notes = []; },
      async onMessage(note: string, ctx: ServiceContext) {
        const size = await ctx.send<number>('store', { op: 'size' }, { timeoutMs: 1000 });
        return [note, size];
      },
      onSnapshot: (ctx: ServiceContext) => ({ notes: ctx.notes }),
      onRestore(ctx: ServiceContext, snapshot: { notes: string[] }) { ctx.notes = snapshot.notes; },
    },
  }, { placement: 'main', persist: true, snapshotIntervalMs: 1000 });
  await services.startAll();
  const value = await services.send<{ dark: boolean } | null>('store', { op: 'get', key: 'theme' });
  const state: ServiceState = services.status()[0].state;
  const response = await services.handle({ id: 1, type: 'request', action: 'list_services' });
  const server = services.serve({ channel: 'registry' }, { token: 'secret', maxMessageBytes: 4096, ratePerSecond: 10, burst: 20 });
  const socketServer = services.serve(new WebSocket('wss://dashboard.example.com'));
  const client = new RegistryClient({ channel: 'registry' }, { token: 'secret', timeoutMs: 5000 });
  const stopRemote = await client.subscribe(['registry_loaded'], (e) => {
    if (e.data.initial) void e.data.services;
  });
  const listed: unknown[] = await client.listServices();
  await client.restart('store');
  await stopRemote();
  client.close();
  if (!server.closed) server.close();
  socketServer.close();
  void listed;
  const stopWatching = bridge.subscribe(['service_state_changed', 'worker_state_changed'], (event) => {
    if (event.event === 'service_state_changed') void event.data.to;
  });
  bridge.subscribe(['registry_loaded'], (event) => void (event.data.initial && event.data.status?.length));
  bridge.on('health_check_result', (event) => void event.data.healthy);
  stopWatching();
  await services.stopAll();

  const status: BridgeStatus = bridge.status();
  const mode: 'workers' | 'main-thread' | 'terminated' = status.mode;
  const simd: boolean = status.simd && simdAvailable() && (status.build === 'single' || threadsAvailable());
  const restarts: number = status.workers.reduce((n, w) => n + w.restarts, 0) + status.counters.retried;
  await bridge.resize(3);
  await bridge.terminate();
  await shared.terminate();

  try {
    await bridge.crypto.sha256(new Uint8Array(1));
  } catch (e) {
    const err = e as WorkerBridgeError;
    const name: ErrorName = err.name;
    const known: boolean = ERROR_NAMES.includes(name) && (err.status ?? 0) >= 0;
    void known;
  }
  void [opened, unpacked, first, slice, res.body, res.sha256, percent, signal, mode, restarts, value, state, response, copies, needs];
}

// @ts-expect-error — the constructor is private: use WorkerBridge.create().
new WorkerBridge();
// @ts-expect-error — unknown priorities are a type error (and a ValidationError at runtime).
void WorkerBridge.shared().then((b) => b.crypto.sha256(new Uint8Array(1), { priority: 'urgent' }));
// @ts-expect-error — unknown event names are a type error (and a ValidationError at runtime).
void WorkerBridge.shared().then((b) => b.on('everything', () => {}));
// @ts-expect-error — an inline handler runs on the page only (placement: 'main'; a ValidationError at runtime).
void WorkerBridge.shared().then((b) => b.services.register('x', { handler: { onMessage: () => 1 } }));
// @ts-expect-error — dependsOn lists names.
void WorkerBridge.shared().then((b) => b.services.register('x', { rust: 'kv' }, { dependsOn: 'store' }));
// @ts-expect-error — a task's definition names a module or a Rust task.
void WorkerBridge.shared().then((b) => b.tasks.register('x', { export: 'run' }));
// @ts-expect-error — persist is a boolean.
void WorkerBridge.shared().then((b) => b.services.register('x', { rust: 'kv' }, { persist: 'yes' }));
// @ts-expect-error — a placement is 'worker' or 'main'.
void WorkerBridge.shared().then((b) => b.services.register('x', { rust: 'kv' }, { placement: 'gpu' }));
