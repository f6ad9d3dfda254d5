// For `tsc -p tsconfig.checkjs.json` only (never shipped): the wasm-bindgen glue that js/index.js
// and the worker scripts import (`./worker_bridge.js`, `../../../worker_bridge.js`, ...) exists
// only after a build, so these declarations stand in for it — the part of it that the JavaScript
// uses. The public classes are typed by js/index.d.ts (mapped to `worker-bridge` in the tsconfig).

/** The generated glue module (pkg/worker_bridge.js), however it is reached. */
declare module 'worker-bridge-glue' {
  import type * as api from 'worker-bridge';

  /** Instantiates the wasm module (once per glue module); resolves to its exports. */
  export default function init(options?: {
    module_or_path: RequestInfo | URL | Response | BufferSource | WebAssembly.Module;
    /** The threaded build: the shared memory of the thread that started this one. */
    memory?: WebAssembly.Memory;
  }): Promise<unknown>;

  export const WorkerBridge: typeof api.WorkerBridge;
  export type WorkerBridge = api.WorkerBridge;
  export const SharedProgress: typeof api.SharedProgress;
  export const SharedCancellation: typeof api.SharedCancellation;
  export const SharedCounter: typeof api.SharedCounter;
  export const createProgressTracker: typeof api.createProgressTracker;
  export const createCancellationToken: typeof api.createCancellationToken;

  /** Runs a pool worker (src/worker_main.rs). */
  export function __workerBridgeWorkerMain(workerId: number, threads: number, busyPollUs: number): void;
  /** The threaded build: a helper thread's life (src/runtime/threads.rs). */
  export function __workerBridgeThread(): void;
  /** A Rust service registered as `name`, made from its config's JSON text (src/services/rust_host.rs). */
  export function __workerBridgeRustService(
    name: string,
    config: string | undefined,
    onPanic: (panic: string) => void,
  ): RustServiceInstance;
  export function __workerBridgeFreshInstance(): void;
  export function __workerBridgeScheduleFresh(): void;

  /** What a Rust service's hook answers: its value, or the error it returned. */
  export type RustOutcome = { value: unknown } | { error: Error };

  /**
   * A Rust service: the hooks of a JavaScript service module, answering `RustOutcome`s (they throw
   * only when the call itself fails: a trap, a stack overflow).
   */
  export interface RustServiceInstance {
    onStart(): RustOutcome;
    onMessage(message: unknown): RustOutcome;
    onStop(): RustOutcome;
    health(): { healthy: boolean; detail: string };
    /** The snapshot's JSON text as the value. */
    onSnapshot(): RustOutcome;
    /** `snapshot`: JSON text. */
    onRestore(snapshot: string): RustOutcome;
    /** What its hooks sent since the last call (its `Outbox`), in order. */
    takeSends(): { ticket: number; to: string; message: unknown; timeoutMs?: number }[];
    /** The reply to the send of `ticket`: its JSON text, or (`json` undefined) the error's name and message. */
    onReply(ticket: number, json: string | undefined, name: string, message: string): RustOutcome;
    free(): void;
  }
}

declare module '*/worker_bridge.js' {
  export * from 'worker-bridge-glue';
  export { default } from 'worker-bridge-glue';
}

/** main-service.js imports a second copy of the glue (its own instance) with this query. */
declare module '*/worker_bridge.js?worker-bridge-service' {
  export * from 'worker-bridge-glue';
  export { default } from 'worker-bridge-glue';
}
