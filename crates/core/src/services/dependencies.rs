//! Dependencies between services (`register(name, definition, { dependsOn: [names] })`): the
//! decisions, apart from the registry that carries them out (`src/services/registry/`).
//!
//! - **Start order** ([`start_order`]): a service's dependencies start before it, recursively
//!   (`start` and `startAll`); otherwise registration order.
//! - **Stop order** ([`stop_order`]): a service's dependents stop before it, recursively (`stop`
//!   and `stopAll`, and when a dependency fails: [`dependents`]).
//! - **Checks**: a name may refer to a service registered later, so the graph is checked when it
//!   is used to start (and by `load()`, which sees a whole configuration): a name that is not
//!   registered, or a cycle, is a `ValidationError` — before anything starts.
//!
//! ```
//! # use worker_bridge_core::services::dependencies::{start_order, stop_order, Node};
//! let deps = [vec!["db".to_owned()], vec![], vec!["app".to_owned(), "db".to_owned()]];
//! let nodes = [Node::new("app", &deps[0]), Node::new("db", &deps[1]), Node::new("web", &deps[2])];
//! assert_eq!(start_order(&nodes, &["web"]).unwrap(), [1, 0, 2]); // db, app, web
//! assert_eq!(stop_order(&nodes, &["db"]), [2, 0, 1]);             // web, app, db
//! ```

use crate::error::Error;

/// One registered service, as the dependency decisions see it.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    /// Its name.
    pub name: &'a str,
    /// The names it depends on (`dependsOn`).
    pub depends_on: &'a [String],
}

impl<'a> Node<'a> {
    /// A service named `name` that depends on `depends_on`.
    pub fn new(name: &'a str, depends_on: &'a [String]) -> Self {
        Node { name, depends_on }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    /// On the current path: meeting it again is a cycle.
    Active,
    Done,
}

fn index(nodes: &[Node], name: &str) -> Option<usize> {
    nodes.iter().position(|n| n.name == name)
}

fn unknown(name: &str) -> Error {
    Error::validation(format!("no service is registered as {name:?}"))
}

/// Depth first, dependencies before their dependents.
fn visit(
    nodes: &[Node],
    i: usize,
    marks: &mut [Mark],
    path: &mut Vec<usize>,
    order: &mut Vec<usize>,
) -> Result<(), Error> {
    match marks[i] {
        Mark::Done => return Ok(()),
        Mark::Active => {
            let from = path.iter().position(|&p| p == i).unwrap_or(0);
            let cycle: Vec<&str> = path[from..].iter().chain([&i]).map(|&p| nodes[p].name).collect();
            return Err(Error::validation(format!("a dependency cycle: {}", cycle.join(" → "))));
        }
        Mark::New => {}
    }
    marks[i] = Mark::Active;
    path.push(i);
    for dep in nodes[i].depends_on {
        let j = index(nodes, dep).ok_or_else(|| {
            Error::validation(format!("{:?} depends on {dep:?}, which is not registered", nodes[i].name))
        })?;
        visit(nodes, j, marks, path, order)?;
    }
    path.pop();
    marks[i] = Mark::Done;
    order.push(i);
    Ok(())
}

/// The services to start for `targets`, as indices into `nodes`, in the order to start them:
/// each one's dependencies (recursively) before it; the targets in the order given.
///
/// # Errors
/// `ValidationError` when a target or a dependency on the way is not registered, or the
/// dependencies on the way form a cycle (the message names it: `a → b → a`).
pub fn start_order(nodes: &[Node], targets: &[&str]) -> Result<Vec<usize>, Error> {
    let mut marks = vec![Mark::New; nodes.len()];
    let mut order = Vec::new();
    for target in targets {
        let i = index(nodes, target).ok_or_else(|| unknown(target))?;
        visit(nodes, i, &mut marks, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

/// Checks a whole configuration: every `dependsOn` names a service in `nodes`, and there is no
/// cycle.
///
/// # Errors
/// As [`start_order`].
pub fn check(nodes: &[Node]) -> Result<(), Error> {
    let all: Vec<&str> = nodes.iter().map(|n| n.name).collect();
    start_order(nodes, &all).map(|_| ())
}

/// The services to stop for `targets` — the targets and everything that depends on them,
/// recursively — as indices into `nodes`, dependents first. Never fails: a name that is not
/// registered is no edge, and a cycle (which could not have started) is cut where it closes.
pub fn stop_order(nodes: &[Node], targets: &[&str]) -> Vec<usize> {
    // Everything that depends on a target, recursively.
    let mut wanted: Vec<bool> = nodes.iter().map(|n| targets.contains(&n.name)).collect();
    loop {
        let more: Vec<usize> = (0..nodes.len())
            .filter(|&i| !wanted[i])
            .filter(|&i| nodes[i].depends_on.iter().any(|d| index(nodes, d).is_some_and(|j| wanted[j])))
            .collect();
        if more.is_empty() {
            break;
        }
        more.into_iter().for_each(|i| wanted[i] = true);
    }
    // Dependencies first, in registration order, then reversed.
    fn deps_first(nodes: &[Node], i: usize, wanted: &[bool], marks: &mut [Mark], order: &mut Vec<usize>) {
        if marks[i] != Mark::New {
            return;
        }
        marks[i] = Mark::Active;
        for j in nodes[i].depends_on.iter().filter_map(|d| index(nodes, d)) {
            if wanted[j] {
                deps_first(nodes, j, wanted, marks, order);
            }
        }
        marks[i] = Mark::Done;
        order.push(i);
    }
    let mut marks = vec![Mark::New; nodes.len()];
    let mut order = Vec::new();
    for i in (0..nodes.len()).filter(|&i| wanted[i]) {
        deps_first(nodes, i, &wanted, &mut marks, &mut order);
    }
    order.reverse();
    order
}

/// Everything that depends on `name`, recursively, dependents first: what stops when it fails.
pub fn dependents(nodes: &[Node], name: &str) -> Vec<usize> {
    stop_order(nodes, &[name]).into_iter().filter(|&i| nodes[i].name != name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(name, [deps])` pairs, as owned lists.
    fn graph(spec: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        spec.iter().map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect())).collect()
    }

    fn nodes(g: &[(String, Vec<String>)]) -> Vec<Node<'_>> {
        g.iter().map(|(n, d)| Node::new(n, d)).collect()
    }

    fn names(n: &[Node], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| n[i].name.to_owned()).collect()
    }

    // app → db; cache → db; web → app, cache; lone.  `app` is registered before `db`.
    const SHOP: &[(&str, &[&str])] =
        &[("app", &["db"]), ("db", &[]), ("cache", &["db"]), ("web", &["app", "cache"]), ("lone", &[])];

    #[test]
    fn dependencies_start_first_even_when_registered_later() {
        let g = graph(SHOP);
        let n = nodes(&g);
        assert_eq!(names(&n, &start_order(&n, &["web"]).unwrap()), ["db", "app", "cache", "web"]);
        assert_eq!(names(&n, &start_order(&n, &["app"]).unwrap()), ["db", "app"]);
        assert_eq!(names(&n, &start_order(&n, &["lone"]).unwrap()), ["lone"]);
        let all: Vec<&str> = n.iter().map(|x| x.name).collect();
        assert_eq!(names(&n, &start_order(&n, &all).unwrap()), ["db", "app", "cache", "web", "lone"], "startAll");
        check(&n).unwrap();
    }

    #[test]
    fn dependents_stop_first() {
        let g = graph(SHOP);
        let n = nodes(&g);
        assert_eq!(names(&n, &stop_order(&n, &["db"])), ["web", "cache", "app", "db"]);
        assert_eq!(names(&n, &stop_order(&n, &["app"])), ["web", "app"]);
        assert_eq!(names(&n, &stop_order(&n, &["web"])), ["web"]);
        let all: Vec<&str> = n.iter().map(|x| x.name).collect();
        assert_eq!(names(&n, &stop_order(&n, &all)), ["lone", "web", "cache", "app", "db"], "stopAll");
        assert_eq!(names(&n, &dependents(&n, "db")), ["web", "cache", "app"], "what a failed db stops");
        assert!(dependents(&n, "lone").is_empty());
    }

    #[test]
    fn a_cycle_or_an_unknown_name_is_a_validation_error_naming_it() {
        let g = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        let n = nodes(&g);
        let e = start_order(&n, &["a"]).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Validation);
        assert_eq!(e.message(), "a dependency cycle: a → b → c → a");
        assert!(start_order(&n, &["d"]).is_ok(), "a cycle elsewhere does not stop an unrelated start");
        assert!(check(&n).is_err(), "but a whole configuration is checked whole");
        let g = graph(&[("me", &["me"])]);
        assert_eq!(check(&nodes(&g)).unwrap_err().message(), "a dependency cycle: me → me");

        let g = graph(&[("x", &["nope"])]);
        let n = nodes(&g);
        let e = start_order(&n, &["x"]).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Validation);
        assert_eq!(e.message(), "\"x\" depends on \"nope\", which is not registered");
        assert_eq!(start_order(&n, &["y"]).unwrap_err().kind(), crate::ErrorKind::Validation);
        // Stopping never fails: an unknown name is no edge, a cycle is cut.
        assert_eq!(names(&n, &stop_order(&n, &["x"])), ["x"]);
        let g = graph(&[("a", &["b"]), ("b", &["a"])]);
        let n = nodes(&g);
        assert_eq!(stop_order(&n, &["a"]).len(), 2);
    }

    #[test]
    fn a_diamond_starts_each_service_once() {
        let g = graph(&[("top", &["l", "r"]), ("l", &["base"]), ("r", &["base"]), ("base", &[])]);
        let n = nodes(&g);
        assert_eq!(names(&n, &start_order(&n, &["top", "l"]).unwrap()), ["base", "l", "r", "top"]);
        assert_eq!(names(&n, &stop_order(&n, &["base"])), ["top", "r", "l", "base"]);
    }
}
