// Types of js/registry-client.js (also re-exported by the package entry).

/** Where a page serves its registry (`services.serve`). */
export type RegistryTransport =
  | BroadcastChannel
  | { channel: string }
  | { send(text: string): void; addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void; removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void };

export interface RegistryClientOptions {
  /** Sent with every request (the server's `token`). */
  token?: string;
  /** A request unanswered by then rejects with `TimeoutError` (default 10,000). */
  timeoutMs?: number;
  /** The server's `maxMessageBytes` (default 65,536): a larger request rejects at once. */
  maxMessageBytes?: number;
}

export interface RegistryEvent {
  type: 'event';
  event: 'service_state_changed' | 'health_check_result' | 'worker_state_changed' | 'registry_loaded';
  data: any;
}

/** Drives a page's service registry served with `services.serve(transport)`. */
export declare class RegistryClient {
  constructor(transport: RegistryTransport | WebSocket, options?: RegistryClientOptions);
  /** Resolves with the response's `data`, or rejects with an `Error` named as the server answered. */
  request(action: 'list_services' | 'get_service' | 'service_action' | 'subscribe' | 'unsubscribe', params?: object): Promise<unknown>;
  listServices(): Promise<unknown[]>;
  getService(name: string): Promise<unknown>;
  start(name: string): Promise<unknown>;
  stop(name: string): Promise<unknown>;
  restart(name: string): Promise<unknown>;
  /** Resolves with the function that unsubscribes. */
  subscribe(events: RegistryEvent['event'][], listener: (event: RegistryEvent) => void): Promise<() => Promise<void>>;
  /** What is unanswered rejects with `TerminatedError`. */
  close(): void;
}
