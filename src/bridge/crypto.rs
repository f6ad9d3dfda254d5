//! `bridge.crypto`.

use std::rc::Rc;

use super::Core;
use crate::ops::Op;
use js_sys::Promise;
use wasm_bindgen::prelude::*;

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
        self.core.call(Op::Sha256, &data, &options)
    }
}
