//! The checks `cargo build` runs before writing artifacts.
//!
//! The build fails, naming each item and its `file:line`, when:
//!
//! - nothing is registered, or a crate the build script declares has no item linked (the
//!   linker drops a crate nothing references, and its handlers with it);
//! - two workflows, two tasks, two subscriptions or two routes share a name, or two names map
//!   to the same deployed resource (CloudFormation ids keep only letters and digits);
//! - two `#[api]` routes answer the same requests: the same method and a path of the same
//!   shape (`/orders/{id}` and `/orders/{order}` are one path), or the same path shape spelled
//!   with different parameter names under two methods (neither OpenAPI nor the local router
//!   can name one position twice);
//! - a subscription's pattern is not a valid EventBridge pattern;
//! - a workflow starts a child workflow (`ctx.child::<W>`) that is not linked: `W` is a
//!   workflow type by construction, so a miss means its crate is missing from the build.
//!
//! Plain calls in a workflow body are *not* checked against the task registry: the macro
//! records every function a body calls (`Duration::from_secs`, helpers, ...), and a call that
//! matches no task is far more often an ordinary function than a task of a missing crate.
//! They are resolved (a call `f` is the task whose Rust path ends with `::f`), and a crate
//! that holds called tasks is covered by the declared-crates check instead.

use super::inventory::{Inventory, Location, RouteInfo};
use super::names::id::{self, logical};
use crate::pattern::EventPattern;
use std::collections::BTreeMap;
use std::fmt;

/// One reason the registry cannot be deployed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `file:line` of the item at fault, when there is one.
    pub site: Option<String>,
    /// What is wrong, naming the item.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.site {
            Some(site) => write!(f, "{site}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Every problem found, in a stable order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// The service.
    pub service: String,
    /// The problems.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the registry of service `{}` cannot be deployed ({} problem{}):",
            self.service,
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  error: {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

fn at(location: &Location) -> Option<String> {
    Some(location.site())
}

fn duplicates<'a>(
    kind: &str,
    items: impl Iterator<Item = (&'a str, &'a Location)>,
    problems: &mut Vec<Problem>,
) {
    let mut seen: BTreeMap<&str, &Location> = BTreeMap::new();
    for (name, location) in items {
        if let Some(first) = seen.get(name) {
            problems.push(Problem {
                site: at(location),
                message: format!(
                    "duplicate {kind} name `{name}`: `{}` ({}) and `{}` ({}); give one a \
                     different `name = \"...\"`",
                    first.rust_path,
                    first.site(),
                    location.rust_path,
                    location.site()
                ),
            });
        } else {
            seen.insert(name, location);
        }
    }
}

/// Two different names whose deployed resource ids coincide.
fn id_clashes<'a>(
    kind: &str,
    items: impl Iterator<Item = (&'a str, &'a Location, String)>,
    problems: &mut Vec<Problem>,
) {
    let mut seen: BTreeMap<String, (&str, &Location)> = BTreeMap::new();
    for (name, location, id) in items {
        if logical(name).is_empty() {
            problems.push(Problem {
                site: at(location),
                message: format!(
                    "{kind} `{name}` (`{}`) has no letter or digit to name its AWS resources",
                    location.rust_path
                ),
            });
            continue;
        }
        match seen.get(&id) {
            Some((other, first)) if *other != name => problems.push(Problem {
                site: at(location),
                message: format!(
                    "{kind} names `{other}` ({}) and `{name}` ({}) both become the \
                     CloudFormation id `{id}`; rename one",
                    first.site(),
                    location.site()
                ),
            }),
            Some(_) => {}
            None => {
                seen.insert(id, (name, location));
            }
        }
    }
}

/// Routes that answer the same requests (the same method and path shape), and paths of one
/// shape spelled with different parameter names: each pair is named once, at the site of the
/// one defined later (by file, then line).
fn route_conflicts(routes: &[RouteInfo], problems: &mut Vec<Problem>) {
    let describe = |route: &RouteInfo| {
        format!(
            "`{}` (`{}`, {})",
            route.route_key(),
            route.location.rust_path,
            route.location.site()
        )
    };
    fn defined(route: &RouteInfo) -> (&str, u32) {
        (&route.location.file, route.location.line)
    }
    for (index, one) in routes.iter().enumerate() {
        for other in routes[..index]
            .iter()
            .filter(|other| other.path_shape() == one.path_shape())
        {
            let (earlier, later) = if defined(other) <= defined(one) {
                (other, one)
            } else {
                (one, other)
            };
            let message = if earlier.method == later.method {
                format!(
                    "routes {} and {} answer the same requests: change the method or the path \
                     of one, or remove it",
                    describe(earlier),
                    describe(later)
                )
            } else if earlier.path != later.path {
                format!(
                    "routes {} and {} spell one path with different parameter names: use the \
                     same names (OpenAPI and the local router name each position once)",
                    describe(earlier),
                    describe(later)
                )
            } else {
                continue;
            };
            problems.push(Problem {
                site: at(&later.location),
                message,
            });
        }
    }
}

/// Checks `inventory` before deployment; `crates` are the crates the build script declares.
pub fn validate(
    service: &str,
    inventory: &Inventory,
    crates: &[&str],
) -> Result<(), ValidationError> {
    let mut problems = Vec::new();
    if service.is_empty() || logical(service).is_empty() {
        problems.push(Problem {
            site: None,
            message: format!("the service name `{service}` has no letter or digit"),
        });
    }
    if inventory.is_empty() {
        problems.push(Problem {
            site: None,
            message: "no workflow, task, subscription or route is linked into the build \
                      script: add `extern crate <crate>;` to build.rs for each crate holding \
                      the service's handlers (and list it in [build-dependencies])"
                .to_owned(),
        });
    }
    let linked = inventory.crates();
    for krate in crates {
        let krate = krate.replace('-', "_");
        if !linked.contains(&krate) {
            problems.push(Problem {
                site: None,
                message: format!(
                    "crate `{krate}` is declared by the build script but none of its \
                     workflows, tasks, subscriptions or routes is linked: add \
                     `extern crate {krate};` \
                     to build.rs and `{}` to [build-dependencies] (the linker drops a crate \
                     nothing references, and its handlers with it)",
                    krate.replace('_', "-")
                ),
            });
        }
    }

    duplicates(
        "workflow",
        inventory
            .workflows
            .iter()
            .map(|w| (w.name.as_str(), &w.location)),
        &mut problems,
    );
    duplicates(
        "task",
        inventory
            .tasks
            .iter()
            .map(|t| (t.name.as_str(), &t.location)),
        &mut problems,
    );
    duplicates(
        "subscription",
        inventory
            .subscriptions
            .iter()
            .map(|s| (s.name.as_str(), &s.location)),
        &mut problems,
    );
    id_clashes(
        "task",
        inventory
            .tasks
            .iter()
            .map(|t| (t.name.as_str(), &t.location, id::task(&t.name))),
        &mut problems,
    );
    id_clashes(
        "subscription",
        inventory
            .subscriptions
            .iter()
            .map(|s| (s.name.as_str(), &s.location, id::handler(&s.name))),
        &mut problems,
    );
    id_clashes(
        "workflow",
        inventory
            .workflows
            .iter()
            .map(|w| (w.name.as_str(), &w.location, super::file_stem(&w.name))),
        &mut problems,
    );
    duplicates(
        "route",
        inventory
            .routes
            .iter()
            .map(|r| (r.name.as_str(), &r.location)),
        &mut problems,
    );
    id_clashes(
        "route",
        inventory
            .routes
            .iter()
            .map(|r| (r.name.as_str(), &r.location, id::route(&r.name))),
        &mut problems,
    );
    route_conflicts(&inventory.routes, &mut problems);

    for subscription in &inventory.subscriptions {
        if let Err(error) = EventPattern::parse(&subscription.pattern) {
            problems.push(Problem {
                site: at(&subscription.location),
                message: format!(
                    "subscription `{}` (`{}`): {error}",
                    subscription.name, subscription.location.rust_path
                ),
            });
        } else if serde_json::from_str::<serde_json::Value>(&subscription.pattern).is_err() {
            problems.push(Problem {
                site: at(&subscription.location),
                message: format!(
                    "subscription `{}` (`{}`): the pattern is not JSON",
                    subscription.name, subscription.location.rust_path
                ),
            });
        }
    }

    for workflow in &inventory.workflows {
        for task in &workflow.named_tasks {
            if !inventory
                .tasks
                .iter()
                .any(|registered| &registered.name == task)
            {
                problems.push(Problem {
                    site: at(&workflow.location),
                    message: format!(
                        "workflow `{}` (`{}`) calls task `{task}` by name, but no task of that \
                         name is registered (or its crate is not linked into the build script)",
                        workflow.name, workflow.location.rust_path
                    ),
                });
            }
        }
        for child in &workflow.children {
            if inventory.workflow_by_ident(child).is_none() {
                problems.push(Problem {
                    site: at(&workflow.location),
                    message: format!(
                        "workflow `{}` (`{}`) starts child workflow `{child}`, which is not \
                         linked into the build script: add `extern crate` for its crate to \
                         build.rs",
                        workflow.name, workflow.location.rust_path
                    ),
                });
            }
        }
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(ValidationError {
            service: service.to_owned(),
            problems,
        })
    }
}
