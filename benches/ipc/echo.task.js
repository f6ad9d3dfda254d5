// The bench's own task for worker-bridge's `tasks.run` row: hands its input back, as the peers'
// `echo` does.
export function echo(bytes) {
  return bytes;
}
