//! Services that depend on others (`dependsOn`), driven in the order `core::services::dependencies`
//! decides: `start` and `startAll` start dependencies first, `stop` and `stopAll` stop dependents
//! first, and a dependency that fails stops its dependents (each announced with the reason). The
//! graph is checked when it is used to start — a name may refer to a service registered later —
//! so an unknown name or a cycle is a `ValidationError` before anything starts.

use futures_channel::oneshot;

use super::{Failure, Registry};
use crate::error::{Error, ErrorKind};
use crate::services::dependencies::{self, Node};
use crate::services::lifecycle::State;

impl Registry {
    /// Every registered service and what it depends on, in registration order.
    pub(crate) fn graph(&self) -> Vec<(String, Vec<String>)> {
        self.inner.borrow().services.iter().map(|s| (s.name.clone(), s.options.depends_on.clone())).collect()
    }

    /// The names to start for `targets`, dependencies first.
    fn start_order(&self, targets: &[&str]) -> Result<Vec<String>, Error> {
        let graph = self.graph();
        let nodes: Vec<Node> = graph.iter().map(|(n, d)| Node::new(n, d)).collect();
        Ok(dependencies::start_order(&nodes, targets)?.into_iter().map(|i| graph[i].0.clone()).collect())
    }

    /// The names to stop for `targets`, dependents first.
    fn stop_order(&self, targets: &[&str]) -> Vec<String> {
        let graph = self.graph();
        let nodes: Vec<Node> = graph.iter().map(|(n, d)| Node::new(n, d)).collect();
        dependencies::stop_order(&nodes, targets).into_iter().map(|i| graph[i].0.clone()).collect()
    }

    /// Brings a dependency up: nothing if it runs, a restart if it failed, the end of a start
    /// already in progress (two dependents started at once start it once), else a start.
    async fn bring_up(&self, name: &str) -> Result<(), Failure> {
        match self.state(name)? {
            State::Running => Ok(()),
            State::Failed => self.restart(name).await,
            State::Initializing | State::Initialized | State::Starting => {
                let (tx, rx) = oneshot::channel();
                self.with(name, |s| {
                    s.up_waiters.push(tx);
                    Ok(())
                })?;
                match rx.await {
                    Ok(true) => Ok(()),
                    _ => {
                        Err(Error::new(ErrorKind::ServiceState, format!("the dependency {name:?} did not start"))
                            .into())
                    }
                }
            }
            _ => self.start(name).await,
        }
    }

    /// Starts `name` after its dependencies (recursively; those already running are left as they
    /// are). A dependency that does not start fails this start with its error.
    pub(crate) async fn start_with_dependencies(&self, name: &str) -> Result<(), Failure> {
        let order = self.start_order(&[name])?;
        for service in order.iter().filter(|s| *s != name) {
            self.bring_up(service).await?;
        }
        self.start(name).await
    }

    /// Starts every service that is not running, dependencies first, else in registration order.
    pub(crate) async fn start_all(&self) -> Result<(), Failure> {
        let names = self.names();
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        for service in self.start_order(&all)? {
            self.bring_up(&service).await?;
        }
        Ok(())
    }

    /// Stops `name` after every service that depends on it (recursively) that runs or waits to
    /// restart.
    pub(crate) async fn stop_with_dependents(&self, name: &str) -> Result<(), Failure> {
        if !matches!(self.state(name)?, State::Running | State::Failed) {
            // Not a stop that can happen (`ServiceStateError`): nothing else moves.
            return self.stop(name).await;
        }
        let reason = format!("its dependency {name:?} is stopping");
        for service in self.stop_order(&[name]).iter().filter(|s| *s != name) {
            if matches!(self.state(service)?, State::Running | State::Failed) {
                self.stop_because(service, Some(&reason)).await?;
            }
        }
        self.stop(name).await
    }

    /// Stops every running service, and every failed one (no automatic restart follows),
    /// dependents first, else in reverse registration order.
    pub(crate) async fn stop_all(&self) -> Result<(), Failure> {
        let names = self.names();
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        for service in self.stop_order(&all) {
            if matches!(self.state(&service)?, State::Running | State::Failed) {
                self.stop(&service).await?;
            }
        }
        Ok(())
    }

    /// `name` failed: stop what depends on it (recursively, dependents first) that runs or waits
    /// to restart, each with `reason` in its events. They stay stopped when it recovers.
    pub(super) fn stop_dependents(&self, name: &str, reason: &str) {
        let graph = self.graph();
        let nodes: Vec<Node> = graph.iter().map(|(n, d)| Node::new(n, d)).collect();
        let dependents: Vec<String> =
            dependencies::dependents(&nodes, name).into_iter().map(|i| graph[i].0.clone()).collect();
        if dependents.is_empty() {
            return;
        }
        let registry = self.clone();
        let reason = format!("its dependency {name:?} failed: {reason}");
        wasm_bindgen_futures::spawn_local(async move {
            for service in dependents {
                if matches!(registry.state(&service), Ok(State::Running | State::Failed)) {
                    let _ = registry.stop_because(&service, Some(&reason)).await;
                }
            }
        });
    }
}

/// Checks what `load()` adds (`names`) against the whole configuration (`graph`: the registered
/// services and the loaded ones): every dependency on the way is in it, and there is no cycle.
///
/// # Errors
/// `ValidationError` naming the unknown service or the cycle.
pub(crate) fn check(graph: &[(String, Vec<String>)], names: &[&str]) -> Result<(), Error> {
    let nodes: Vec<Node> = graph.iter().map(|(n, d)| Node::new(n, d)).collect();
    dependencies::start_order(&nodes, names).map(|_| ())
}
