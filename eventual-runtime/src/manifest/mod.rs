//! Deploy artifacts built from the registry: the manifest, the EventBridge rules, a
//! CloudFormation template for the AWS engine and one Mermaid diagram per workflow.
//!
//! A service's build script calls [`build::emit`] (re-exported as `eventual_runtime::build`),
//! which validates the linked registry and writes the files into
//! `target/eventual/<service>/`:
//!
//! | file | what |
//! |---|---|
//! | `manifest.json` | `service`, `workflows`, `tasks`, `subscriptions`, `routes` with all their options |
//! | `eventbridge-rules.json` | one rule per subscription: `name`, `event_pattern`, `target` |
//! | `template.json` | the CloudFormation template of the AWS engine |
//! | `openapi.json` | the OpenAPI 3.1 document of the `#[api]` routes |
//! | `<workflow>.mmd` | a Mermaid flowchart of the workflow's durable steps, in the order its body runs them |
//!
//! Every file is a pure function of the registry: keys are sorted (`serde_json` maps are
//! B-trees), arrays are sorted by name, source files are relative paths, so two clean builds
//! give identical bytes.
//!
//! [`generate`] does the same in-process, for tests and tools.

pub mod build;
mod cfn;
mod inventory;
mod json;
mod mermaid;
pub mod names;
mod openapi;
mod validate;

pub use cfn::template;
pub use inventory::{
    Inventory, Location, RouteInfo, RouteSchemas, SubscriptionInfo, TaskInfo, WorkflowInfo,
};
pub use json::{eventbridge_rules, manifest};
pub use mermaid::{diagram, flowchart, registered_flow};
pub use openapi::{openapi, OPENAPI_VERSION};
pub use validate::{validate, Problem, ValidationError};

use std::collections::BTreeMap;

/// The artifact files of a service: file name → contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifacts {
    /// The service name.
    pub service: String,
    /// File name (no directory) → text.
    pub files: BTreeMap<String, String>,
}

/// The version [`generate`] gives the service (the OpenAPI document's `info.version`) when
/// none is set.
pub const UNVERSIONED: &str = "0.0.0";

/// Validates `inventory` and renders every artifact of `service` (its version
/// [`UNVERSIONED`]; [`build::Service::version`] sets one).
///
/// `crates` are the crates the service declares as holding its handlers (see
/// [`build::Service::crates`]); each must have at least one entry in the inventory.
pub fn generate(
    service: &str,
    inventory: &Inventory,
    crates: &[&str],
) -> Result<Artifacts, ValidationError> {
    generate_version(service, UNVERSIONED, inventory, crates)
}

/// [`generate`] for the service at `version`.
pub(crate) fn generate_version(
    service: &str,
    version: &str,
    inventory: &Inventory,
    crates: &[&str],
) -> Result<Artifacts, ValidationError> {
    validate(service, inventory, crates)?;
    let mut files = BTreeMap::new();
    files.insert(
        "manifest.json".to_owned(),
        pretty(&manifest(service, inventory)),
    );
    files.insert(
        "eventbridge-rules.json".to_owned(),
        pretty(&eventbridge_rules(service, inventory)),
    );
    files.insert(
        "template.json".to_owned(),
        pretty(&template(service, inventory)),
    );
    files.insert(
        "openapi.json".to_owned(),
        pretty(&openapi(service, version, inventory)),
    );
    for workflow in &inventory.workflows {
        files.insert(
            format!("{}.mmd", file_stem(&workflow.name)),
            diagram(workflow, inventory),
        );
    }
    Ok(Artifacts {
        service: service.to_owned(),
        files,
    })
}

/// Pretty JSON with a trailing newline.
pub(crate) fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// A name usable as a file stem: characters other than `[A-Za-z0-9._-]` become `_`.
pub(crate) fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
