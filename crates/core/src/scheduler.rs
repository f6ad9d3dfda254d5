//! Which call runs next, and on which worker. Pure Rust, no browser needed to test it.
//!
//! The [`Queue`] orders waiting calls by priority, then deadline (earlier first; calls with a
//! deadline before calls without), then arrival. It is bounded: a push beyond `capacity` fails
//! with [`ErrorKind::QueueFull`] at once instead of growing without limit. Queued calls can be
//! removed by id (a caller aborted). The [`Strategy`] picks a slot for the head of the queue.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::protocol::RequestId;

/// A call's priority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Before every normal and low call.
    High,
    /// The default.
    #[default]
    Normal,
    /// After every high and normal call.
    Low,
}

/// Where a call's `timeoutMs` counts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeoutFrom {
    /// From when its worker (or the page) starts it: time spent queued does not count.
    #[default]
    Start,
    /// From the call itself, end to end: queued time counts, and a call still queued when the
    /// time is up fails without running.
    Submit,
}

/// How the pool picks a worker for the next call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Each worker in turn.
    RoundRobin,
    /// The worker with the fewest calls in flight, then the fewest done (spreads warm-up).
    #[default]
    LeastBusy,
}

/// Sort key: priority, then deadline (`u64::MAX` = none), then arrival.
type Key = (Priority, u64, u64);

/// A bounded priority queue of calls waiting for a worker.
#[derive(Debug)]
pub struct Queue<T> {
    entries: BTreeMap<Key, (RequestId, T)>,
    keys: HashMap<RequestId, Key>,
    capacity: usize,
    /// Arrival counter for the back of a priority class; starts high so `front` can count down.
    arrivals: u64,
    /// Counter for calls put back at the head of their class (counts down, so later = earlier).
    front: u64,
}

/// Where `arrivals` starts: leaves 2^32 head positions below it for `unpop`.
const FIRST_ARRIVAL: u64 = 1 << 32;

impl<T> Queue<T> {
    /// An empty queue holding at most `capacity` calls.
    pub fn new(capacity: usize) -> Self {
        Queue {
            entries: BTreeMap::new(),
            keys: HashMap::new(),
            capacity,
            arrivals: FIRST_ARRIVAL,
            front: FIRST_ARRIVAL - 1,
        }
    }

    /// Enqueues `item` under `id`. `deadline` is a timestamp in ms (any monotonic clock).
    ///
    /// # Errors
    /// [`ErrorKind::QueueFull`] when `capacity` calls are already waiting;
    /// [`ErrorKind::Validation`] for a duplicate id or a deadline that is not a finite number ≥ 0.
    pub fn push(&mut self, id: RequestId, item: T, priority: Priority, deadline: Option<f64>) -> Result<(), Error> {
        if let Some(full) = self.refusal() {
            return Err(full);
        }
        if self.keys.contains_key(&id) {
            return Err(Error::validation(format!("request {id} is already queued")));
        }
        let deadline = match deadline {
            None => u64::MAX,
            Some(d) if d.is_finite() && d >= 0.0 => d as u64,
            Some(d) => return Err(Error::validation(format!("deadline {d} is not a timestamp"))),
        };
        let key = (priority, deadline, self.arrivals);
        self.arrivals += 1;
        self.entries.insert(key, (id, item));
        self.keys.insert(id, key);
        Ok(())
    }

    /// Enqueues a call that was already accepted once (a retry, or one handed over from a pool
    /// that fell back): the capacity bound does not apply, its deadline was validated on entry.
    pub fn push_accepted(&mut self, id: RequestId, item: T, priority: Priority, deadline: Option<f64>) {
        let deadline = deadline.filter(|d| d.is_finite() && *d >= 0.0).map_or(u64::MAX, |d| d as u64);
        let key = (priority, deadline, self.arrivals);
        self.arrivals += 1;
        if let Some(old) = self.keys.insert(id, key) {
            self.entries.remove(&old);
        }
        self.entries.insert(key, (id, item));
    }

    /// Takes the call that should run next.
    pub fn pop(&mut self) -> Option<(RequestId, T)> {
        let (_, (id, item)) = self.entries.pop_first()?;
        self.keys.remove(&id);
        Some((id, item))
    }

    /// Puts a call back at the head of its priority class (it was popped but could not run, or
    /// its worker crashed and it is retried), ahead of calls put back before it.
    pub fn unpop(&mut self, id: RequestId, item: T, priority: Priority) {
        let key = (priority, 0, self.front);
        self.front = self.front.saturating_sub(1);
        if let Some(old) = self.keys.insert(id, key) {
            self.entries.remove(&old);
        }
        self.entries.insert(key, (id, item));
    }

    /// The call [`pop`](Self::pop) would return next, left in place.
    pub fn peek(&self) -> Option<&T> {
        self.entries.values().next().map(|(_, item)| item)
    }

    /// Removes a waiting call (its caller gave up).
    pub fn remove(&mut self, id: RequestId) -> Option<T> {
        let key = self.keys.remove(&id)?;
        self.entries.remove(&key).map(|(_, item)| item)
    }

    /// Removes and returns every waiting call, in order.
    pub fn drain(&mut self) -> Vec<(RequestId, T)> {
        self.keys.clear();
        std::mem::take(&mut self.entries).into_values().collect()
    }

    /// How many calls wait.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `capacity` calls wait: [`push`](Self::push) would refuse the next.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    /// The [`ErrorKind::QueueFull`] error [`push`](Self::push) would refuse the next call with,
    /// if the queue is full.
    pub fn refusal(&self) -> Option<Error> {
        self.is_full().then(|| {
            Error::new(ErrorKind::QueueFull, format!("{} calls are already waiting (maxQueue)", self.capacity))
        })
    }

    /// Whether no call waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What the strategy needs to know about one worker slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotLoad {
    /// The slot can take a call now (idle and healthy).
    pub available: bool,
    /// Calls running on it.
    pub in_flight: u32,
    /// Calls it has completed.
    pub done: u64,
}

/// Picks a slot by a [`Strategy`], remembering where round-robin left off.
#[derive(Debug, Default)]
pub struct Picker {
    strategy: Strategy,
    next: usize,
}

impl Picker {
    /// A picker using `strategy`.
    pub fn new(strategy: Strategy) -> Self {
        Picker { strategy, next: 0 }
    }

    /// The index of the slot that should take the next call, or `None` if none is available.
    pub fn pick(&mut self, slots: &[SlotLoad]) -> Option<usize> {
        let n = slots.len();
        let chosen = match self.strategy {
            Strategy::RoundRobin => (0..n).map(|k| (self.next + k) % n).find(|&i| slots[i].available),
            Strategy::LeastBusy => {
                (0..n).filter(|&i| slots[i].available).min_by_key(|&i| (slots[i].in_flight, slots[i].done, i))
            }
        }?;
        self.next = (chosen + 1) % n;
        Some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<RequestId> {
        (0..n).map(|_| RequestId::random()).collect()
    }

    #[test]
    fn orders_by_priority_then_deadline_then_arrival() {
        let id = ids(6);
        let mut q = Queue::new(10);
        q.push(id[0], "low", Priority::Low, None).unwrap();
        q.push(id[1], "normal-1", Priority::Normal, None).unwrap();
        q.push(id[2], "normal-late-deadline", Priority::Normal, Some(2_000.0)).unwrap();
        q.push(id[3], "high", Priority::High, None).unwrap();
        q.push(id[4], "normal-early-deadline", Priority::Normal, Some(1_000.0)).unwrap();
        q.push(id[5], "normal-2", Priority::Normal, None).unwrap();
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, s)| s)).collect();
        assert_eq!(order, ["high", "normal-early-deadline", "normal-late-deadline", "normal-1", "normal-2", "low"]);
    }

    #[test]
    fn is_bounded() {
        let id = ids(3);
        let mut q = Queue::new(2);
        q.push(id[0], (), Priority::Normal, None).unwrap();
        assert!(!q.is_full());
        q.push(id[1], (), Priority::Normal, None).unwrap();
        assert!(q.is_full());
        let err = q.push(id[2], (), Priority::High, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QueueFull);
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn rejects_bad_deadlines_and_duplicate_ids() {
        let id = ids(1);
        let mut q = Queue::new(5);
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            assert_eq!(q.push(id[0], (), Priority::Normal, Some(bad)).unwrap_err().kind(), ErrorKind::Validation);
        }
        q.push(id[0], (), Priority::Normal, None).unwrap();
        assert_eq!(q.push(id[0], (), Priority::Normal, None).unwrap_err().kind(), ErrorKind::Validation);
    }

    #[test]
    fn remove_unpop_and_drain() {
        let id = ids(3);
        let mut q = Queue::new(5);
        for (i, &x) in id.iter().enumerate() {
            q.push(x, i, Priority::Normal, None).unwrap();
        }
        assert_eq!(q.remove(id[1]), Some(1));
        assert_eq!(q.remove(id[1]), None);
        let (first, item) = q.pop().unwrap();
        assert_eq!(first, id[0]);
        q.unpop(first, item, Priority::Normal);
        let (third, item) = q.remove(id[2]).map(|i| (id[2], i)).unwrap();
        q.unpop(third, item, Priority::Normal);
        // The one put back last runs first.
        assert_eq!(q.drain().into_iter().map(|(_, i)| i).collect::<Vec<_>>(), vec![2, 0]);
        assert!(q.is_empty());
    }

    fn load(available: bool, in_flight: u32, done: u64) -> SlotLoad {
        SlotLoad { available, in_flight, done }
    }

    #[test]
    fn round_robin_cycles_over_available_slots() {
        let mut p = Picker::new(Strategy::RoundRobin);
        let slots = [load(true, 0, 0), load(false, 1, 0), load(true, 0, 9)];
        let picks: Vec<_> = (0..4).map(|_| p.pick(&slots).unwrap()).collect();
        assert_eq!(picks, vec![0, 2, 0, 2]);
        assert_eq!(p.pick(&[load(false, 1, 0)]), None);
        assert_eq!(p.pick(&[]), None);
    }

    #[test]
    fn least_busy_prefers_fewest_in_flight_then_fewest_done() {
        let mut p = Picker::new(Strategy::LeastBusy);
        let slots = [load(true, 1, 0), load(true, 0, 5), load(true, 0, 3), load(false, 0, 0)];
        assert_eq!(p.pick(&slots), Some(2));
    }
}
