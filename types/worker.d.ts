// For `tsc -p tsconfig.checkjs.json` only: the worker scripts are checked against lib.dom (they
// also load on the page), which lacks lib.webworker's `WorkerGlobalScope`; they test for it.

/** Present only in a worker. */
declare var WorkerGlobalScope: { prototype: EventTarget; new (): EventTarget } | undefined;
