//! An app's own tasks, where they run: a JavaScript module's export called through
//! `worker/tasks.js` (`ModuleCall`), or a Rust function registered with [`register_task`] in
//! every instance of the module. The op driver (`src/driver.rs`, a layer above) runs one in a
//! worker or on the page and stops it when the call is cancelled or runs out of time; what a
//! task *is* (names, exports, the op a call carries) is the core's `tasks` module.

mod module;
mod rust;

pub(crate) use module::{shape, ModuleCall};
pub(crate) use rust::{is_known, run_rust};
pub use rust::{register_task, TaskContext};
pub use worker_bridge_core::tasks::TaskError;
