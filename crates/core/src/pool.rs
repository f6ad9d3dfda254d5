//! The pool's decisions, apart from their effects: which state a slot is in, how long to wait
//! before respawning a worker that failed to boot, whether a call whose worker crashed runs again,
//! when the pool has no live worker left, which slots leave first when it shrinks, which worker a
//! health check finds hung, and what a worker's progress report counts for. The edge
//! (`worker-bridge`'s `pool`) owns the workers and timers and carries these out. Also the pool's
//! shape in the threaded build: how many workers, how many threads each ([`arrangement`]).

use crate::defaults;

/// Consecutive boot failures after which a slot is given up.
pub const MAX_BOOT_FAILURES: u32 = 3;
/// First respawn delay after a boot failure; doubles with each further failure (up to 16×).
pub const BOOT_BACKOFF_MS: u32 = 250;

/// A slot's lifecycle: starting → idle ⇄ busy → crashed (respawned) / given up / terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Spawned, waiting for its `Ready`.
    Starting,
    /// Ready and waiting for a call.
    Idle,
    /// Running a call.
    Busy,
    /// Its worker died; a replacement is being spawned.
    Crashed,
    /// Failed to boot [`MAX_BOOT_FAILURES`] times in a row: never respawned.
    GivenUp,
    /// Stopped by `terminate()` or removed by `resize()`.
    Terminated,
}

impl SlotState {
    /// The name `status()` and `worker_state_changed` use. A given-up slot reads `crashed`, as it
    /// always has: to a caller it is a worker that crashed and stays down.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotState::Starting => "starting",
            SlotState::Idle => "idle",
            SlotState::Busy => "busy",
            SlotState::Crashed | SlotState::GivenUp => "crashed",
            SlotState::Terminated => "terminated",
        }
    }
}

/// What to do after a worker failed to boot (not its first boot, which the bridge decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootRetry {
    /// Spawn a fresh worker after this many milliseconds.
    After(u32),
    /// Stop trying: the slot is given up.
    GiveUp,
}

/// The decision after the `failures`-th consecutive boot failure of a slot: back off (250, 500,
/// 1000 ms, ...) so that a worker that cannot start does not spin, and give up after
/// [`MAX_BOOT_FAILURES`].
pub fn boot_retry(failures: u32) -> BootRetry {
    if failures >= MAX_BOOT_FAILURES {
        BootRetry::GiveUp
    } else {
        BootRetry::After(BOOT_BACKOFF_MS.saturating_mul(1 << failures.saturating_sub(1).min(4)))
    }
}

/// Whether a call whose worker crashed may run again: its input must have survived the crash,
/// it must have attempts left, and running it twice must be harmless.
pub fn may_retry(input_survives: bool, attempts: u32, retries: u32, idempotent: bool) -> bool {
    input_survives && attempts < retries && idempotent
}

/// The one rule for "nothing will ever run the queue": no slot can take a call now or later —
/// every slot is given up, terminated or retiring (a retiring slot finishes its call and leaves).
/// The edge checks it after every change to the set of slots or their states.
pub fn no_live_slot(slots: impl IntoIterator<Item = SlotView>) -> bool {
    slots.into_iter().all(|s| s.retiring || matches!(s.state, SlotState::GivenUp | SlotState::Terminated))
}

/// What a call weighs for pipelining: its input's length when its cost follows its input
/// (`Op::cost_follows_input`), else `u64::MAX` — a fetch, a decompression or anything else of
/// unknown length is never sent ahead, and nothing is sent ahead behind it. (An app's task is
/// weighed by its learned run time instead: `tasks::TaskCosts`.)
pub fn pipeline_weight(cost_follows_input: bool, input_len: u64) -> u64 {
    if cost_follows_input {
        input_len
    } else {
        u64::MAX
    }
}

/// Whether a call is short: its answer may wait for the next call's and travel with it.
pub fn is_short(weight: u64) -> bool {
    weight <= defaults::PIPELINE_BYTES
}

/// A worker's mailbox as [`may_pipeline`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mailbox {
    /// Calls it holds: the first running, the others waiting — posted, or about to be (in the
    /// message this task turn sends it).
    pub in_flight: u32,
    /// Of those, the ones already posted and not answered yet.
    pub posted: u32,
    /// What they weigh in all (see [`pipeline_weight`]).
    pub held: u64,
}

/// Whether a worker should be sent one more call, weighing `next`. An idle worker takes
/// anything; a busy one takes at most `max_in_flight` in all, and only while everything it holds
/// stays under [`PIPELINE_BYTES`](defaults::PIPELINE_BYTES) — a long call is not queued behind
/// another in a worker, nor a short one behind a long one: they wait in the pool's queue, where
/// any worker that frees up can take them and priorities still order them.
///
/// And a worker is topped up a batch at a time ([`top_up_batch`]): while fewer places than that
/// are free among the calls it was posted, calls wait in the queue, then go to it together, in
/// one message. Sent one place at a time instead, as each answer frees one, 64 calls in flight
/// settled into messages of about two calls each, both ways (20,000 echo calls took 8,299
/// messages), each paying the browser's fixed cost to post, wake and read it. The hold yields
/// when the pool's queue is full (`queue_full`): a call a worker's mailbox has room for never
/// makes the queue refuse another (`maxQueue` counts the calls no worker can take).
pub fn may_pipeline(mailbox: Mailbox, next: u64, max_in_flight: u32, queue_full: bool) -> bool {
    let Mailbox { in_flight, posted, held } = mailbox;
    in_flight == 0
        || (in_flight < max_in_flight
            && (queue_full || posted + top_up_batch(max_in_flight) <= max_in_flight)
            && is_short(held.saturating_add(next)))
}

/// The places that must be free before a busy worker is sent more: a quarter of its depth, so
/// that the page reads one batch of answers while the worker runs the next (by halves, the two
/// took turns: each idle while the other worked its batch of 32); half of a depth under 8, where
/// a quarter would be a single call.
pub const fn top_up_batch(max_in_flight: u32) -> u32 {
    if max_in_flight < 8 {
        max_in_flight - max_in_flight / 2
    } else {
        max_in_flight / 4
    }
}

/// Answers a worker posts together at most while calls keep coming: the batch it is topped up
/// by at the default depth, so answers go back as the calls came.
pub const ANSWER_BATCH: usize = top_up_batch(defaults::MAX_IN_FLIGHT_PER_WORKER) as usize;

/// A slot as [`retire_order`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotView {
    /// Its state.
    pub state: SlotState,
    /// It is running or holds a call.
    pub busy: bool,
    /// It is joining a split call's output (`Blob`s) for the page, and holds no call.
    pub joining: bool,
    /// Already marked to leave.
    pub retiring: bool,
}

/// How a slot leaves when the pool shrinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retire {
    /// Remove it now.
    Now,
    /// Remove it when its running call, or the joins it is making, finish.
    AfterCall,
}

/// Which `excess` slots leave, and how: given-up slots first, then starting, then idle ones,
/// then ones only joining Blobs (after their joins: up to a couple of seconds), then busy ones
/// (after their call); within a rank, the newest (highest index) first. Slots already retiring
/// are neither counted nor chosen. Indices are returned highest first, so removing them in
/// order keeps the others valid.
pub fn retire_order(slots: &[SlotView], excess: usize) -> Vec<(usize, Retire)> {
    const LATER: u8 = 3;
    let rank = |s: &SlotView| match s.state {
        SlotState::GivenUp | SlotState::Crashed if !s.busy && !s.joining => 0,
        SlotState::Starting => 1,
        _ if !s.busy && !s.joining => 2,
        _ if !s.busy => LATER,
        _ => LATER + 1,
    };
    let mut chosen = Vec::with_capacity(excess);
    for wanted in 0..=LATER + 1 {
        for (index, slot) in slots.iter().enumerate().rev() {
            if chosen.len() == excess {
                break;
            }
            if !slot.retiring && rank(slot) == wanted {
                chosen.push((index, if wanted >= LATER { Retire::AfterCall } else { Retire::Now }));
            }
        }
    }
    chosen.sort_by_key(|&(index, _)| std::cmp::Reverse(index));
    chosen
}

/// What one health tick does with a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCheck {
    /// Leave it alone: a starting worker has its boot timer; a crashed, given-up or terminated
    /// one has no worker to check.
    Skip,
    /// Ask it for a pong.
    Ping,
    /// It showed no sign of life for a whole interval: it is hung; replace it.
    Replace,
}

/// The health check's rule for a slot in `state`. An idle worker must answer each ping within
/// one interval (`ping_outstanding` at the next tick is a hang). A busy one cannot always answer
/// — one in a tight loop over shared memory never yields — so it shows life by answering a ping
/// *or* by its heartbeat advancing (the step loop bumps it at every step); `silent_ms` is how
/// long it has shown neither. Silent for `interval_ms`, and at least
/// [`BUSY_HANG_MS`](defaults::BUSY_HANG_MS), it is hung — with or without `timeoutMs`.
///
/// Unless it runs an app's own task (`running_task`): a synchronous task holds its worker's
/// thread for as long as it computes, silent, and only its `timeoutMs` ends it.
pub fn health_check(
    state: SlotState,
    ping_outstanding: bool,
    silent_ms: f64,
    interval_ms: u32,
    running_task: bool,
) -> HealthCheck {
    let busy_limit = f64::from(interval_ms.max(defaults::BUSY_HANG_MS));
    match state {
        SlotState::Idle if ping_outstanding => HealthCheck::Replace,
        SlotState::Busy if silent_ms >= busy_limit && !running_task => HealthCheck::Replace,
        SlotState::Idle | SlotState::Busy => HealthCheck::Ping,
        _ => HealthCheck::Skip,
    }
}

/// A progress count (`done` or `total`) as a worker reported it, made safe to store: a number
/// that is not finite or is negative (a confused or hostile worker) counts as 0, a fraction is
/// cut, and a value past `u64::MAX` stops there.
pub fn reported_progress(value: f64) -> u64 {
    if value.is_finite() && value >= 0.0 {
        value as u64
    } else {
        0
    }
}

/// The `threads` option of `WorkerBridge.create`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThreadsChoice {
    /// As many as the cores allow ([`defaults::THREADS_PER_WORKER`] per worker by default).
    #[default]
    Auto,
    /// None: every job runs on its worker's own thread.
    Off,
    /// This many per worker, its own thread included.
    PerWorker(u32),
}

/// How many workers, and how many threads each (its own included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrangement {
    /// Pool workers.
    pub workers: u32,
    /// Threads per worker (1: none but its own).
    pub threads: u32,
}

/// The pool's shape on `cores` cores: workers × threads never exceeds them, so a large job split
/// across a worker's threads never competes with another worker's for a core. Without threads
/// (the plain build, `threads: false`) the pool keeps a core for the page:
/// `max(1, cores - 1)` workers. With threads, a worker's own thread counts as one of its threads
/// (it works on its jobs' split parts), and the page's core is lent to them while they run.
/// An explicit `pool_size` wins; the threads per worker then fit in what is left.
pub fn arrangement(cores: u32, pool_size: Option<u32>, threads: ThreadsChoice, threaded_build: bool) -> Arrangement {
    let cores = cores.max(1);
    let wanted = match threads {
        _ if !threaded_build => 1,
        ThreadsChoice::Off => 1,
        ThreadsChoice::Auto => defaults::THREADS_PER_WORKER,
        ThreadsChoice::PerWorker(n) => n.max(1),
    };
    if wanted <= 1 {
        let workers = pool_size.unwrap_or(cores.saturating_sub(1)).clamp(1, defaults::MAX_POOL_SIZE);
        return Arrangement { workers, threads: 1 };
    }
    let workers = pool_size.unwrap_or(cores / wanted.min(cores)).clamp(1, defaults::MAX_POOL_SIZE);
    Arrangement { workers, threads: wanted.min(cores / workers).max(1) }
}

/// `resize` growing a pool by `added` workers while the others hold `held` threads: each new
/// worker gets up to `per_worker` threads, as many as fit in the cores left (at least its own).
pub fn threads_to_add(cores: u32, held: u32, added: u32, per_worker: u32) -> u32 {
    if per_worker <= 1 || added == 0 {
        return 1;
    }
    (cores.saturating_sub(held) / added).clamp(1, per_worker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_times_threads_never_exceed_the_cores() {
        use ThreadsChoice::*;
        let a = |cores, size, threads, build| arrangement(cores, size, threads, build);
        // The plain build, or threads off: a core kept for the page.
        assert_eq!(a(8, None, Auto, false), Arrangement { workers: 7, threads: 1 });
        assert_eq!(a(8, None, Off, true), Arrangement { workers: 7, threads: 1 });
        assert_eq!(a(1, None, Auto, false), Arrangement { workers: 1, threads: 1 });
        // Threads: two per worker by default, half as many workers.
        assert_eq!(a(2, None, Auto, true), Arrangement { workers: 1, threads: 2 });
        assert_eq!(a(8, None, Auto, true), Arrangement { workers: 4, threads: 2 });
        assert_eq!(a(1, None, Auto, true), Arrangement { workers: 1, threads: 1 });
        // More threads per worker, fewer workers.
        assert_eq!(a(8, None, PerWorker(4), true), Arrangement { workers: 2, threads: 4 });
        assert_eq!(a(2, None, PerWorker(16), true), Arrangement { workers: 1, threads: 2 });
        // An explicit pool size wins; threads fit in what is left.
        assert_eq!(a(8, Some(3), Auto, true), Arrangement { workers: 3, threads: 2 });
        assert_eq!(a(8, Some(8), PerWorker(4), true), Arrangement { workers: 8, threads: 1 });
        assert_eq!(a(8, Some(2), PerWorker(4), true), Arrangement { workers: 2, threads: 4 });
        // Growing: new workers fit in the cores the others leave.
        assert_eq!(threads_to_add(8, 8, 4, 2), 1, "4 × 2 grown to 8 workers: the new ones get none");
        assert_eq!(threads_to_add(8, 4, 2, 2), 2, "2 × 2 grown to 4: as many as the first");
        assert_eq!(threads_to_add(8, 2, 3, 4), 2);
        assert_eq!(threads_to_add(8, 0, 1, 1), 1, "no threads asked, none given");
        for cores in 1..=32 {
            for size in [None, Some(1), Some(2), Some(5)] {
                for threads in [Auto, Off, PerWorker(1), PerWorker(3), PerWorker(64)] {
                    let got = a(cores, size, threads, true);
                    assert!(
                        got.threads == 1 || got.workers * got.threads <= cores,
                        "{cores} {size:?} {threads:?}: {got:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn pipelining_fills_a_worker_with_small_calls_only() {
        let kib = 1024;
        let unknown = pipeline_weight(false, 16);
        let m = |in_flight, held| Mailbox { in_flight, posted: in_flight, held };
        assert!(may_pipeline(m(0, 0), unknown, 1, false), "an idle worker takes any call");
        assert!(may_pipeline(m(1, 16), 16, 16, false));
        assert!(!may_pipeline(m(16, 16), 16, 16, false), "at most max_in_flight");
        assert!(!may_pipeline(m(1, 16), 16, 1, false), "a depth of 1 turns pipelining off");
        assert!(may_pipeline(m(3, 200 * kib), 56 * kib, 16, false));
        assert!(!may_pipeline(m(3, 200 * kib), 57 * kib, 16, false), "what it holds stays under PIPELINE_BYTES");
        assert!(!may_pipeline(m(1, 16), unknown, 16, false), "a call of unknown cost is not sent ahead");
        assert!(!may_pipeline(m(1, unknown), 16, 16, false), "nor anything behind one");
        assert!(is_short(pipeline_weight(true, 256 * kib)) && !is_short(pipeline_weight(true, 256 * kib + 1)));
    }

    #[test]
    fn a_busy_worker_tops_up_a_quarter_at_a_time() {
        let m = |in_flight, posted| Mailbox { in_flight, posted, held: in_flight as u64 * 16 };
        // More than three quarters of 64 posted and unanswered: the next call waits in the queue.
        assert!(!may_pipeline(m(49, 49), 16, 64, false));
        // With a quarter free, it takes calls again, up to the whole depth in the message being built.
        assert!(may_pipeline(m(48, 48), 16, 64, false));
        assert!(may_pipeline(m(63, 48), 16, 64, false), "the calls of this turn's message do not count as posted");
        assert!(!may_pipeline(m(64, 48), 16, 64, false));
        // So 64 calls in flight travel 16 to a message even when answers come one at a time
        // (each in its own task turn, its caller calling again at once).
        let (mut posted, mut queued, mut messages) = (64u32, 0u32, 0u32);
        for _ in 0..10_000 {
            posted -= 1;
            queued += 1;
            let mut outbox = 0;
            while queued > 0 && may_pipeline(m(posted + outbox, posted), 16, 64, false) {
                (queued, outbox) = (queued - 1, outbox + 1);
            }
            if outbox > 0 {
                (posted, messages) = (posted + outbox, messages + 1); // the turn's one message
            }
        }
        assert_eq!(messages, 10_000 / 16, "one message per 16 calls");
        // A full queue takes the hold off: the worker's mailbox has room.
        assert!(may_pipeline(m(56, 56), 16, 64, true));
        assert!(!may_pipeline(m(64, 56), 16, 64, true), "but never past the depth");
        // A depth of 1 or 2 still sends each call as soon as the worker has room.
        assert!(may_pipeline(m(1, 1), 16, 2, false));
        assert!(!may_pipeline(m(1, 1), 16, 1, false));
        // Under 8, a worker is topped up by halves (a quarter would be one call a message).
        for (depth, hold_above) in [(3, 1), (4, 2), (5, 2), (6, 3), (7, 3), (8, 6), (16, 12)] {
            assert!(may_pipeline(m(hold_above, hold_above), 16, depth, false), "depth {depth}");
            assert!(!may_pipeline(m(hold_above + 1, hold_above + 1), 16, depth, false), "depth {depth}");
        }
    }

    fn view(state: SlotState, busy: bool) -> SlotView {
        SlotView { state, busy, joining: false, retiring: false }
    }

    #[test]
    fn boot_retries_back_off_then_give_up() {
        assert_eq!(boot_retry(1), BootRetry::After(250));
        assert_eq!(boot_retry(2), BootRetry::After(500));
        assert_eq!(boot_retry(MAX_BOOT_FAILURES), BootRetry::GiveUp);
        assert_eq!(boot_retry(u32::MAX), BootRetry::GiveUp);
    }

    #[test]
    fn backoff_is_capped() {
        // Were the limit raised, the delay still stops doubling at 16×.
        assert_eq!(BOOT_BACKOFF_MS.saturating_mul(1 << 40u32.saturating_sub(1).min(4)), 4_000);
    }

    #[test]
    fn retry_needs_input_attempts_and_idempotence() {
        assert!(may_retry(true, 0, 1, true));
        assert!(!may_retry(false, 0, 1, true));
        assert!(!may_retry(true, 1, 1, true));
        assert!(!may_retry(true, 0, 1, false));
        assert!(!may_retry(true, 0, 0, true));
    }

    #[test]
    fn no_live_slot_when_empty_or_all_given_up_or_leaving() {
        let given_up = view(SlotState::GivenUp, false);
        assert!(no_live_slot([]));
        assert!(no_live_slot([given_up, given_up]));
        // A crashed slot is being respawned: it is still live.
        assert!(!no_live_slot([given_up, view(SlotState::Crashed, false)]));
        assert!(!no_live_slot([given_up, view(SlotState::Starting, false)]));
        assert!(!no_live_slot([view(SlotState::Busy, true)]));
        // A slot that leaves after its call takes no queued call: with the rest given up, the
        // queue would wait forever.
        let leaving = SlotView { state: SlotState::Busy, busy: true, joining: false, retiring: true };
        assert!(no_live_slot([given_up, leaving]));
    }

    #[test]
    fn names_hide_the_given_up_distinction() {
        assert_eq!(SlotState::GivenUp.as_str(), "crashed");
        assert_eq!(SlotState::Crashed.as_str(), "crashed");
    }

    #[test]
    fn retire_given_up_then_starting_then_idle_then_busy() {
        let slots = [
            view(SlotState::Busy, true),      // 0
            view(SlotState::Idle, false),     // 1
            view(SlotState::GivenUp, false),  // 2
            view(SlotState::Starting, false), // 3
            view(SlotState::Idle, false),     // 4
        ];
        assert_eq!(retire_order(&slots, 1), vec![(2, Retire::Now)]);
        assert_eq!(retire_order(&slots, 2), vec![(3, Retire::Now), (2, Retire::Now)]);
        // Among idle slots, the newest goes first.
        assert_eq!(retire_order(&slots, 3), vec![(4, Retire::Now), (3, Retire::Now), (2, Retire::Now)]);
        let all = retire_order(&slots, 5);
        assert_eq!(all[4], (0, Retire::AfterCall));
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn a_slot_only_joining_leaves_after_idle_ones_and_before_busy_ones() {
        let joining = SlotView { state: SlotState::Idle, busy: false, joining: true, retiring: false };
        let slots = [joining, view(SlotState::Busy, true), view(SlotState::Idle, false)];
        assert_eq!(retire_order(&slots, 1), vec![(2, Retire::Now)]);
        assert_eq!(retire_order(&slots, 2), vec![(2, Retire::Now), (0, Retire::AfterCall)]);
        // Not after the busy one, though newer: its joins end within their time limit.
        assert_eq!(retire_order(&slots[..2], 1), vec![(0, Retire::AfterCall)]);
    }

    #[test]
    fn retiring_slots_are_skipped() {
        let slots = [
            SlotView { state: SlotState::Busy, busy: true, joining: false, retiring: true },
            view(SlotState::Busy, true),
        ];
        assert_eq!(retire_order(&slots, 1), vec![(1, Retire::AfterCall)]);
        assert_eq!(retire_order(&slots, 5), vec![(1, Retire::AfterCall)]);
    }

    #[test]
    fn an_idle_worker_must_answer_each_ping_and_a_busy_one_show_life_within_its_limit() {
        assert_eq!(health_check(SlotState::Idle, false, 0.0, 100, false), HealthCheck::Ping);
        assert_eq!(health_check(SlotState::Idle, true, 100.0, 100, false), HealthCheck::Replace);
        let floor = f64::from(defaults::BUSY_HANG_MS);
        assert_eq!(health_check(SlotState::Busy, true, floor - 1.0, 100, false), HealthCheck::Ping, "under the floor");
        assert_eq!(health_check(SlotState::Busy, true, floor, 100, false), HealthCheck::Replace);
        assert_eq!(health_check(SlotState::Busy, true, floor, 10_000, false), HealthCheck::Ping, "under the interval");
        assert_eq!(health_check(SlotState::Busy, true, 10_000.0, 10_000, false), HealthCheck::Replace);
        assert_eq!(health_check(SlotState::Busy, true, 1e9, 100, true), HealthCheck::Ping, "a task may be silent");
        assert_eq!(health_check(SlotState::Idle, true, 100.0, 100, true), HealthCheck::Replace);
        for state in [SlotState::Starting, SlotState::Crashed, SlotState::GivenUp, SlotState::Terminated] {
            assert_eq!(health_check(state, true, 1e9, 100, false), HealthCheck::Skip, "{state:?}");
        }
    }

    #[test]
    fn reported_progress_is_never_negative_or_nan() {
        assert_eq!(reported_progress(0.0), 0);
        assert_eq!(reported_progress(1_000.0), 1_000);
        assert_eq!(reported_progress(2.9), 2);
        assert_eq!(reported_progress(-1.0), 0);
        assert_eq!(reported_progress(-0.0), 0);
        assert_eq!(reported_progress(f64::NAN), 0);
        assert_eq!(reported_progress(f64::INFINITY), 0);
        assert_eq!(reported_progress(f64::NEG_INFINITY), 0);
        assert_eq!(reported_progress(1e30), u64::MAX);
    }
}
