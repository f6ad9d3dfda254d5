// Loads this crate built as a package, as an app would: `wasm-pack build --dev --target web`
// writes it to pkg/ (scripts/test.sh does, just before the browser test), and the test runner
// serves the crate's directory, so it is at /pkg/.
//
// Why not the test's own build of the crate: wasm-bindgen-test-runner (0.2.130) generates its
// glue without the start function (`Bindgen::emit_start(false)`), so no instance of the test
// module runs `#[wasm_bindgen(start)]`, and the service instances in a worker or on the main
// thread would not know `word-count`. The package's glue runs it in every instance.

const PACKAGE = '/pkg/worker_bridge_example_service.js';

let loading = null;

/** Imports and initialises the package (once); resolves to its `WorkerBridge` class. */
export function loadPackage() {
  loading ??= (async () => {
    let pkg;
    try {
      pkg = await import(/* webpackIgnore: true */ /* @vite-ignore */ PACKAGE);
    } catch (e) {
      throw new Error(`cannot import ${PACKAGE} (${e.message}); build it first: `
        + 'wasm-pack build --dev --target web --mode no-install examples/rust-service');
    }
    await pkg.default();
    return pkg.WorkerBridge;
  })();
  return loading;
}
