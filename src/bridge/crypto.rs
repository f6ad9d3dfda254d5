//! `bridge.crypto`.

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::{js_error::to_js, Core};
use crate::ops::Op;

/// Crypto operations, run on the bridge's executor.
#[wasm_bindgen]
#[derive(Debug)]
pub struct CryptoFacade {
    core: Rc<Core>,
}

impl CryptoFacade {
    pub(crate) fn new(core: Rc<Core>) -> Self {
        CryptoFacade { core }
    }
}

#[wasm_bindgen]
impl CryptoFacade {
    /// SHA-256 of `data` (a `Uint8Array`, `ArrayBuffer` or view): a 32-byte `Uint8Array`.
    /// Options: `{ transfer, priority }`; with `transfer: true` the caller's buffer is moved
    /// to the worker (and detached) instead of copied.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sha256(&self, data: JsValue, options: JsValue) -> Promise {
        let core = self.core.clone();
        future_to_promise(async move {
            core.call(Op::Sha256, &data, &options).await.map(JsValue::from).map_err(|e| to_js(&e))
        })
    }
}
