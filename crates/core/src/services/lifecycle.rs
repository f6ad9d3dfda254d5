//! One lifecycle for every service, whatever its placement (a worker or the main thread):
//!
//! ```text
//! uninitialized → initializing → initialized → starting → running → stopping → stopped
//!                       ↘              ↘            ↘          ↘         ↘
//!                                           failed ──retry──→ starting
//!                                              └───give up──→ stopped
//! stopped ──start──→ starting
//! ```
//! Every other move is a typed `ServiceStateError`, never a silent no-op: starting a running
//! service, stopping a stopped one, sending to one that is not running.

use serde::Serialize;

use crate::error::{Error, ErrorKind};

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Registered, nothing loaded.
    Uninitialized,
    /// Its handler (module or Rust service) is being loaded.
    Initializing,
    /// Loaded, not started.
    Initialized,
    /// `onStart` is running.
    Starting,
    /// Taking messages.
    Running,
    /// `onStop` is running.
    Stopping,
    /// Stopped (cleanly, or given up after a failure).
    Stopped,
    /// Failed to load, start or stop, or its handler trapped.
    Failed,
}

impl State {
    /// Every state, for exhaustive tests and tables.
    pub const ALL: [State; 8] = [
        State::Uninitialized,
        State::Initializing,
        State::Initialized,
        State::Starting,
        State::Running,
        State::Stopping,
        State::Stopped,
        State::Failed,
    ];

    /// The name used in events and diagnostics.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Uninitialized => "uninitialized",
            State::Initializing => "initializing",
            State::Initialized => "initialized",
            State::Starting => "starting",
            State::Running => "running",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }
}

/// What happens to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Begin loading its handler.
    Initialize,
    /// The handler loaded.
    Initialized,
    /// Begin `onStart`.
    Start,
    /// `onStart` finished.
    Started,
    /// Begin `onStop`.
    Stop,
    /// `onStop` finished.
    Stopped,
    /// Something went wrong (loading, starting, stopping, or a trap while running).
    Fail,
    /// Try again after a failure.
    Retry,
    /// Stop trying after a failure.
    GiveUp,
}

impl Event {
    /// Every event, for exhaustive tests.
    pub const ALL: [Event; 9] = [
        Event::Initialize,
        Event::Initialized,
        Event::Start,
        Event::Started,
        Event::Stop,
        Event::Stopped,
        Event::Fail,
        Event::Retry,
        Event::GiveUp,
    ];
}

/// The one table of legal moves: the state `event` leads to from `from`, if it is legal.
pub fn next(from: State, event: Event) -> Option<State> {
    use Event as E;
    use State as S;
    Some(match (from, event) {
        (S::Uninitialized, E::Initialize) => S::Initializing,
        (S::Initializing, E::Initialized) => S::Initialized,
        (S::Initialized | S::Stopped, E::Start) => S::Starting,
        (S::Starting, E::Started) => S::Running,
        (S::Running, E::Stop) => S::Stopping,
        (S::Stopping, E::Stopped) => S::Stopped,
        (S::Initializing | S::Starting | S::Running | S::Stopping, E::Fail) => S::Failed,
        (S::Failed, E::Retry) => S::Starting,
        (S::Failed, E::GiveUp) => S::Stopped,
        _ => return None,
    })
}

/// A move that happened: what `service_state_changed` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Before.
    pub from: State,
    /// After.
    pub to: State,
}

/// A service's state, changed only through legal moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    state: State,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle { state: State::Uninitialized }
    }
}

impl Lifecycle {
    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Applies `event`.
    ///
    /// # Errors
    /// [`ErrorKind::ServiceState`] naming the state and the refused move.
    pub fn apply(&mut self, event: Event) -> Result<Transition, Error> {
        let from = self.state;
        let to = next(from, event).ok_or_else(|| {
            Error::new(ErrorKind::ServiceState, format!("cannot {} a service that is {}", verb(event), from.as_str()))
        })?;
        self.state = to;
        Ok(Transition { from, to })
    }

    /// Whether messages are accepted now.
    ///
    /// # Errors
    /// [`ErrorKind::ServiceState`] unless the service is running.
    pub fn check_accepts_messages(&self) -> Result<(), Error> {
        if self.state == State::Running {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::ServiceState,
                format!("cannot send to a service that is {} (start it first)", self.state.as_str()),
            ))
        }
    }
}

fn verb(event: Event) -> &'static str {
    match event {
        Event::Initialize => "initialize",
        Event::Initialized => "finish initializing",
        Event::Start => "start",
        Event::Started => "finish starting",
        Event::Stop => "stop",
        Event::Stopped => "finish stopping",
        Event::Fail => "fail",
        Event::Retry => "retry",
        Event::GiveUp => "give up on",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The legal moves, written out independently of `next`.
    const LEGAL: &[(State, Event, State)] = &[
        (State::Uninitialized, Event::Initialize, State::Initializing),
        (State::Initializing, Event::Initialized, State::Initialized),
        (State::Initializing, Event::Fail, State::Failed),
        (State::Initialized, Event::Start, State::Starting),
        (State::Starting, Event::Started, State::Running),
        (State::Starting, Event::Fail, State::Failed),
        (State::Running, Event::Stop, State::Stopping),
        (State::Running, Event::Fail, State::Failed),
        (State::Stopping, Event::Stopped, State::Stopped),
        (State::Stopping, Event::Fail, State::Failed),
        (State::Stopped, Event::Start, State::Starting),
        (State::Failed, Event::Retry, State::Starting),
        (State::Failed, Event::GiveUp, State::Stopped),
    ];

    #[test]
    fn every_legal_and_illegal_transition() {
        for from in State::ALL {
            for event in Event::ALL {
                let expected = LEGAL.iter().find(|(f, e, _)| *f == from && *e == event).map(|(_, _, to)| *to);
                let mut lc = Lifecycle { state: from };
                match (lc.apply(event), expected) {
                    (Ok(t), Some(to)) => {
                        assert_eq!(t, Transition { from, to });
                        assert_eq!(lc.state(), to);
                    }
                    (Err(e), None) => {
                        assert_eq!(e.kind(), ErrorKind::ServiceState);
                        assert_eq!(lc.state(), from, "a refused move changes nothing");
                        assert!(e.message().contains(from.as_str()), "{e}");
                    }
                    (got, want) => panic!("{from:?} + {event:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn a_full_life_with_a_failure_and_a_retry() {
        let mut lc = Lifecycle::default();
        for e in [Event::Initialize, Event::Initialized, Event::Start, Event::Started] {
            lc.apply(e).unwrap();
        }
        lc.check_accepts_messages().unwrap();
        assert_eq!(lc.apply(Event::Start).unwrap_err().kind(), ErrorKind::ServiceState, "start twice");
        lc.apply(Event::Fail).unwrap();
        assert!(lc.check_accepts_messages().is_err());
        lc.apply(Event::Retry).unwrap();
        lc.apply(Event::Started).unwrap();
        lc.apply(Event::Stop).unwrap();
        lc.apply(Event::Stopped).unwrap();
        let err = lc.check_accepts_messages().unwrap_err();
        assert!(err.message().contains("stopped"), "{err}");
        assert_eq!(lc.apply(Event::Stop).unwrap_err().kind(), ErrorKind::ServiceState, "stop twice");
    }
}
