//! An owned copy of the registry, the input of every artifact.

use crate::api::ApiAuth;
use crate::registry::{
    ApiRouteDescriptor, SchemaFn, SourceLocation, API_ROUTES, SUBSCRIPTIONS, TASKS, WORKFLOWS,
};
use crate::schedule::ScheduleSpec;
use crate::task::{RetryPolicy, TaskOptions};
use schemars::{Schema, SchemaGenerator};
use std::path::Path;

/// Where an item is defined, with a stable (checkout-independent) file path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// `crate::module::item`.
    pub rust_path: String,
    /// The source file, relative to its workspace (or `<crate>-<version>/...` for a
    /// registry crate).
    pub file: String,
    /// The line.
    pub line: u32,
}

impl Location {
    /// A location; `file` is made stable like a `file!()` path.
    pub fn new(rust_path: &str, file: &str, line: u32) -> Location {
        Location {
            rust_path: rust_path.to_owned(),
            file: stable_file(file),
            line,
        }
    }

    /// `file:line`.
    pub fn site(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The crate the item is defined in (the first segment of its Rust path).
    pub fn krate(&self) -> &str {
        self.rust_path.split("::").next().unwrap_or("")
    }

    /// Whether the item's Rust path ends with `::ident` (or is `ident`).
    pub fn is_named(&self, ident: &str) -> bool {
        self.rust_path == ident
            || self
                .rust_path
                .strip_suffix(ident)
                .is_some_and(|rest| rest.ends_with("::"))
    }
}

impl From<&SourceLocation> for Location {
    fn from(location: &SourceLocation) -> Self {
        Location {
            rust_path: location.rust_path.to_owned(),
            file: stable_file(location.file),
            line: location.line,
        }
    }
}

/// A workflow as the artifacts see it.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowInfo {
    /// The registered name.
    pub name: String,
    /// Where it is defined.
    pub location: Location,
    /// Execution timeout, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Functions the body calls (task candidates).
    pub calls: Vec<String>,
    /// Tasks called by name (`ctx.call_task_by_name`).
    pub named_tasks: Vec<String>,
    /// Child workflow types (Rust identifiers).
    pub children: Vec<String>,
    /// Signals the body waits for.
    pub signals: Vec<String>,
    /// Event types the body emits.
    pub events: Vec<String>,
    /// Durable timers the body starts, as written.
    pub timers: Vec<String>,
    /// The static schedule that starts it, if any.
    pub schedule: Option<ScheduleSpec>,
    /// How long its ended executions are kept, in milliseconds (`None`: the service's
    /// default).
    pub retention_ms: Option<u64>,
}

/// A task as the artifacts see it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskInfo {
    /// The registered name.
    pub name: String,
    /// Where it is defined.
    pub location: Location,
    /// Timeout, heartbeat, retry.
    pub options: TaskOptions,
}

/// A subscription as the artifacts see it.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionInfo {
    /// The registered name.
    pub name: String,
    /// Where it is defined.
    pub location: Location,
    /// The pattern as JSON text.
    pub pattern: String,
    /// The Rust type of `detail`.
    pub event_type: String,
    /// Delivery retries.
    pub retry: RetryPolicy,
    /// Whether exhausted deliveries go to a dead-letter queue.
    pub dead_letter: bool,
}

/// An `#[api]` route as the artifacts see it.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteInfo {
    /// The registered name (the OpenAPI `operationId`).
    pub name: String,
    /// Where it is defined.
    pub location: Location,
    /// The method, upper case.
    pub method: String,
    /// The path, with `{param}` segments.
    pub path: String,
    /// Who may call it on AWS.
    pub auth: ApiAuth,
    /// The path parameters, in path order.
    pub path_params: Vec<String>,
    /// Whether the route chooses its success status (it returns `ApiResponse<T>`); otherwise
    /// it always answers 200.
    pub chooses_status: bool,
    /// The JSON Schemas of what it takes and answers.
    pub schemas: RouteSchemas,
}

impl RouteInfo {
    /// `METHOD /path`, as API Gateway names a route.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path with every parameter's name left out (`/orders/{}`): two routes whose paths
    /// have the same shape answer the same requests.
    pub fn path_shape(&self) -> String {
        self.path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') && segment.ends_with('}') {
                    "{}"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The schema functions of a route (the registry's, called when the OpenAPI document is
/// written).
#[derive(Clone, Copy, Debug)]
pub struct RouteSchemas {
    /// One per path parameter, in path order.
    pub path_params: &'static [SchemaFn],
    /// The `Json<T>` body's, if the route takes one.
    pub body: Option<SchemaFn>,
    /// The `Query<T>` parameters', if the route takes them.
    pub query: Option<SchemaFn>,
    /// The success body's.
    pub response: SchemaFn,
}

impl RouteSchemas {
    /// Every schema, generated in a fresh generator, with the definitions they refer to.
    fn generated(
        &self,
    ) -> (
        Vec<Option<Schema>>,
        serde_json::Map<String, serde_json::Value>,
    ) {
        let mut generator = SchemaGenerator::default();
        let mut schemas: Vec<Option<Schema>> = self
            .path_params
            .iter()
            .map(|schema| Some(schema(&mut generator)))
            .collect();
        schemas.push(self.body.map(|schema| schema(&mut generator)));
        schemas.push(self.query.map(|schema| schema(&mut generator)));
        schemas.push(Some((self.response)(&mut generator)));
        (schemas, generator.take_definitions(false))
    }
}

/// Two routes' schemas are equal when they generate the same JSON Schemas: function pointers
/// do not compare reliably (one function may have several addresses, two may share one).
impl PartialEq for RouteSchemas {
    fn eq(&self, other: &Self) -> bool {
        self.generated() == other.generated()
    }
}

impl From<&ApiRouteDescriptor> for RouteInfo {
    fn from(route: &ApiRouteDescriptor) -> Self {
        RouteInfo {
            name: route.name.to_owned(),
            location: (&route.location).into(),
            method: route.method.to_owned(),
            path: route.path.to_owned(),
            auth: route.auth,
            path_params: route.path_params.iter().map(|p| (*p).to_owned()).collect(),
            chooses_status: route.chooses_status,
            schemas: RouteSchemas {
                path_params: route.path_param_schemas,
                body: route.body,
                query: route.query,
                response: route.response,
            },
        }
    }
}

/// Every item of a service, sorted by name (ties by Rust path).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inventory {
    /// The workflows.
    pub workflows: Vec<WorkflowInfo>,
    /// The tasks.
    pub tasks: Vec<TaskInfo>,
    /// The subscriptions.
    pub subscriptions: Vec<SubscriptionInfo>,
    /// The `#[api]` routes.
    pub routes: Vec<RouteInfo>,
}

fn strings(items: &[&str]) -> Vec<String> {
    let mut items: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    items.sort();
    items.dedup();
    items
}

impl Inventory {
    /// The items linked into this program (the registry's distributed slices).
    pub fn linked() -> Inventory {
        let mut inventory = Inventory {
            workflows: WORKFLOWS
                .iter()
                .map(|w| WorkflowInfo {
                    name: w.name.to_owned(),
                    location: (&w.location).into(),
                    timeout_ms: w.timeout_ms,
                    calls: strings(w.calls),
                    named_tasks: strings(w.named_tasks),
                    children: strings(w.children),
                    signals: strings(w.signals),
                    events: strings(w.events),
                    timers: strings(w.timers),
                    schedule: ScheduleSpec::from_static(w),
                    retention_ms: w.retention_ms,
                })
                .collect(),
            tasks: TASKS
                .iter()
                // The engine's own tasks are not the service's.
                .filter(|t| t.name != crate::entity::ENTITY_COMMAND_TASK)
                .map(|t| TaskInfo {
                    name: t.name.to_owned(),
                    location: (&t.location).into(),
                    options: t.options,
                })
                .collect(),
            subscriptions: SUBSCRIPTIONS
                .iter()
                .map(|s| SubscriptionInfo {
                    name: s.name.to_owned(),
                    location: (&s.location).into(),
                    pattern: s.pattern.to_owned(),
                    event_type: s.event_type.to_owned(),
                    retry: s.retry,
                    dead_letter: s.dead_letter,
                })
                .collect(),
            routes: API_ROUTES.iter().map(RouteInfo::from).collect(),
        };
        inventory.sort();
        inventory
    }

    /// Only the items defined in crate `krate` (a binary may link several services' crates).
    pub fn of_crate(mut self, krate: &str) -> Inventory {
        self.workflows.retain(|w| w.location.krate() == krate);
        self.tasks.retain(|t| t.location.krate() == krate);
        self.subscriptions.retain(|s| s.location.krate() == krate);
        self.routes.retain(|r| r.location.krate() == krate);
        self
    }

    /// Sorts every list by name, then Rust path, so output never depends on link order.
    pub fn sort(&mut self) {
        self.workflows.sort_by(|a, b| {
            (&a.name, &a.location.rust_path).cmp(&(&b.name, &b.location.rust_path))
        });
        self.tasks.sort_by(|a, b| {
            (&a.name, &a.location.rust_path).cmp(&(&b.name, &b.location.rust_path))
        });
        self.subscriptions.sort_by(|a, b| {
            (&a.name, &a.location.rust_path).cmp(&(&b.name, &b.location.rust_path))
        });
        self.routes.sort_by(|a, b| {
            (&a.name, &a.location.rust_path).cmp(&(&b.name, &b.location.rust_path))
        });
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.workflows.is_empty()
            && self.tasks.is_empty()
            && self.subscriptions.is_empty()
            && self.routes.is_empty()
    }

    /// Whether a route asks API Gateway for a JWT (the template then has the authorizer and
    /// its parameters).
    pub fn uses_jwt(&self) -> bool {
        self.routes.iter().any(|route| route.auth == ApiAuth::Jwt)
    }

    /// The tasks `workflow` calls: each call name matched to the tasks whose Rust path ends
    /// with `::<call>`, sorted by task name, without duplicates.
    pub fn tasks_of(&self, workflow: &WorkflowInfo) -> Vec<&TaskInfo> {
        let mut tasks: Vec<&TaskInfo> = self
            .tasks
            .iter()
            .filter(|task| {
                workflow
                    .calls
                    .iter()
                    .any(|call| task.location.is_named(call))
                    || workflow.named_tasks.contains(&task.name)
            })
            .collect();
        tasks.sort_by(|a, b| a.name.cmp(&b.name));
        tasks.dedup_by(|a, b| a.name == b.name);
        tasks
    }

    /// The registered workflow whose type is `ident`, if linked.
    pub fn workflow_by_ident(&self, ident: &str) -> Option<&WorkflowInfo> {
        self.workflows.iter().find(|w| w.location.is_named(ident))
    }

    /// The registered names of `workflow`'s children; a child that is not linked keeps its
    /// Rust identifier (validation reports it).
    pub fn children_of(&self, workflow: &WorkflowInfo) -> Vec<String> {
        let mut names: Vec<String> = workflow
            .children
            .iter()
            .map(|ident| {
                self.workflow_by_ident(ident)
                    .map_or_else(|| ident.clone(), |w| w.name.clone())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The crates that hold at least one item.
    pub fn crates(&self) -> Vec<String> {
        let mut crates: Vec<String> = self
            .workflows
            .iter()
            .map(|w| &w.location)
            .chain(self.tasks.iter().map(|t| &t.location))
            .chain(self.subscriptions.iter().map(|s| &s.location))
            .chain(self.routes.iter().map(|r| &r.location))
            .map(|l| l.krate().to_owned())
            .collect();
        crates.sort();
        crates.dedup();
        crates
    }
}

/// `file!()` is relative to the workspace root for workspace crates; for crates from a
/// registry or elsewhere it is absolute. Absolute paths keep only what does not depend on the
/// machine: the part after `.../registry/src/<index>/` or `.../git/checkouts/<repo>/<rev>/`,
/// else the part from the last `src` directory's parent.
pub(crate) fn stable_file(file: &str) -> String {
    let file = file.replace('\\', "/");
    if !Path::new(&file).is_absolute() && !file.starts_with('/') {
        return file;
    }
    let parts: Vec<&str> = file.split('/').filter(|p| !p.is_empty()).collect();
    for (i, window) in parts.windows(2).enumerate() {
        if window == ["registry", "src"] && i + 3 < parts.len() {
            return parts[i + 3..].join("/");
        }
        if window == ["git", "checkouts"] && i + 4 < parts.len() {
            return parts[i + 4..].join("/");
        }
    }
    match parts.iter().rposition(|p| *p == "src") {
        Some(i) if i > 0 => parts[i - 1..].join("/"),
        _ => parts.last().map_or_else(String::new, |p| (*p).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_stable() {
        assert_eq!(
            stable_file("examples/x/src/lib.rs"),
            "examples/x/src/lib.rs"
        );
        assert_eq!(
            stable_file(
                "/home/a/.cargo/registry/src/index.crates.io-6f17d22bba15001f/foo-1.2.0/src/lib.rs"
            ),
            "foo-1.2.0/src/lib.rs"
        );
        assert_eq!(
            stable_file("/tmp/ws/my-crate/src/a/b.rs"),
            "my-crate/src/a/b.rs"
        );
    }

    #[test]
    fn rust_path_suffix() {
        let l = Location {
            rust_path: "svc::tasks::charge_card".into(),
            file: String::new(),
            line: 1,
        };
        assert!(l.is_named("charge_card"));
        assert!(!l.is_named("card"));
        assert_eq!(l.krate(), "svc");
    }
}
