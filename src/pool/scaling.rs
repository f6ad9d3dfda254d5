//! Scaling: `resize` adds slots (each spawns a worker) or retires them — which ones, and whether
//! now or after their call, is `worker_bridge_core::pool::retire_order`'s decision. Every removal
//! checks whether a live slot is left.

use worker_bridge_core::pool::{retire_order, threads_to_add, Retire, SlotState, SlotView};

use super::slot::Slot;
use super::Inner;
use crate::call::terminated;
use crate::error::Error;

impl Inner {
    pub(super) fn resize(&mut self, size: usize) -> Result<(), Error> {
        let live = self.slots.iter().filter(|s| !s.retiring).count();
        if size > live {
            // Running workers keep their threads; the new ones get what fits beside them
            // (`worker_bridge_core::pool::threads_to_add`).
            let held: u32 = self.slots.iter().filter(|s| !s.retiring).map(|s| s.threads_asked).sum();
            let threads = threads_to_add(self.cfg.cores, held, (size - live) as u32, self.cfg.threads);
            for _ in live..size {
                self.slots.push(Slot::new(None));
                let index = self.slots.len() - 1;
                self.slots[index].threads_asked = threads;
                if let Err(e) = self.spawn_into(index) {
                    self.on_crash(index, e.message().to_owned());
                }
            }
        } else {
            let views: Vec<SlotView> = self.slots.iter().map(Slot::view).collect();
            // Highest index first, so each removal leaves the other indices valid.
            for (index, how) in retire_order(&views, live - size) {
                match how {
                    Retire::Now => self.remove_slot(index),
                    Retire::AfterCall => self.slots[index].retiring = true,
                }
            }
        }
        self.give_up_if_no_workers();
        self.pump();
        Ok(())
    }

    /// Removes slot `index` if it is retiring and its worker holds no more calls or joins.
    pub(super) fn leave_if_done(&mut self, index: usize) {
        let slot = self.slots[index].view();
        if slot.retiring && !slot.busy && !slot.joining {
            self.remove_slot(index);
        }
    }

    /// Removes slot `index` and stops its worker (a retiring slot whose call ended, or one that
    /// `resize` retires now).
    pub(super) fn remove_slot(&mut self, index: usize) {
        let mut slot = self.slots.remove(index);
        slot.set_state(SlotState::Terminated, &self.events, Some("removed by resize"));
        slot.stop();
        if let Some(boot) = slot.boot.take() {
            let _ = boot.send(Err(terminated()));
        }
        self.give_up_if_no_workers();
    }
}
