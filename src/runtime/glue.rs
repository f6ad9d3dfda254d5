//! Where the generated glue module (`worker_bridge.js`) lives: workers and service hosts import
//! it by this URL when their bundler-relative import fails (the test runner serves it elsewhere).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `import.meta.url` of the glue module.
    #[wasm_bindgen(thread_local_v2, js_namespace = ["import", "meta"], js_name = url)]
    static GLUE_URL: String;
}

/// The glue's URL (see [`GLUE_URL`]).
pub(crate) fn glue_url() -> String {
    GLUE_URL.with(String::clone)
}
