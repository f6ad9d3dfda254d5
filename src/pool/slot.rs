//! One place in the pool and the lifecycle of the worker in it.

/// A worker's lifecycle: starting → idle ⇄ busy → crashed / terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Spawned, waiting for its `Ready`.
    Starting,
    /// Ready and waiting for a call.
    Idle,
    /// Running a call.
    Busy,
    /// Failed to boot too many times in a row; not respawned.
    Crashed,
    /// Stopped by `terminate()`.
    Terminated,
}

impl SlotState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SlotState::Starting => "starting",
            SlotState::Idle => "idle",
            SlotState::Busy => "busy",
            SlotState::Crashed => "crashed",
            SlotState::Terminated => "terminated",
        }
    }
}
