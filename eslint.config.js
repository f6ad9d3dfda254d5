// ESLint over the hand-written JavaScript: `npx eslint .` (scripts/test.sh runs it).
// Each file gets the globals of where it runs: the page, a worker, or node.
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    ignores: [
      'target/', 'target-threads/', 'pkg/', 'pkg-threads/', 'dist/', 'node_modules/',
      // A separate app with its own dependencies and JSX (built and tested by its build.sh).
      'examples/react/',
      // Generated: the Rust service example built as a package.
      'examples/rust-service/pkg/',
    ],
  },
  js.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A caught error the code does not use is named anyway (`catch (bundled)`) to say what failed.
      'no-unused-vars': ['error', { caughtErrors: 'none' }],
    },
  },
  // The page: the package entry, the demo, the benchmark and soak pages and their services, the
  // browser tests' helpers.
  {
    files: ['js/**/*.js', 'www/**/*.js', 'benches/**/*.js', 'tests/services/**/*.js', 'tests/soak/**/*.js', 'tests/web/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
  // Worker scripts: they run in workers and, imported by the wasm glue, on the page.
  {
    files: ['worker/**/*.js', 'tests/tasks/**/*.js', 'benches/*/raw-worker.js', 'benches/*/comlink-worker.js', 'benches/*/workerpool-worker.js'],
    languageOptions: { globals: { ...globals.browser, ...globals.worker } },
  },
  // Node: build and test scripts, benchmark drivers, configs. The end-to-end tests and the
  // benchmark harness and profiler also pass functions to `page.evaluate`, which run in the page.
  {
    files: ['**/*.mjs', 'scripts/**', '*.config.js'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['tests/e2e/**', 'benches/harness.mjs', 'benches/profile-ipc.mjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
  // The `{ v, msg }` envelope is built in one place: worker/protocol.js.
  {
    files: ['worker/**/*.js'],
    ignores: ['worker/protocol.js'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ObjectExpression > Property[key.name="v"]',
          message: 'Build envelopes with envelope() from worker/protocol.js (one place for the protocol version).',
        },
      ],
    },
  },
];
