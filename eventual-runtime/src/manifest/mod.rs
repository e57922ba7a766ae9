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
//! | `template.json` | the CloudFormation template of the AWS engine, one line per resource (under [`INLINE_TEMPLATE_LIMIT`] for longer) |
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
        TEMPLATE_FILE.to_owned(),
        entry_per_line(&template(service, inventory)),
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

/// The CloudFormation template's file name.
pub const TEMPLATE_FILE: &str = "template.json";

/// The largest template body CloudFormation takes inline (`aws cloudformation deploy
/// --template-file` without `--s3-bucket`, `CreateStack` with `TemplateBody`); a larger one
/// must be uploaded to S3 first (up to 1 MB).
pub const INLINE_TEMPLATE_LIMIT: usize = 51_200;

impl Artifacts {
    /// What the build should warn about: a template too large to deploy inline.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(template) = self.files.get(TEMPLATE_FILE) {
            if template.len() > INLINE_TEMPLATE_LIMIT {
                warnings.push(format!(
                    "{TEMPLATE_FILE} of {} is {} bytes, more than the {INLINE_TEMPLATE_LIMIT} \
                     CloudFormation accepts inline: deploy it with `aws cloudformation deploy \
                     --s3-bucket <bucket>`, which uploads it first",
                    self.service,
                    template.len()
                ));
            }
        }
        warnings
    }
}

/// JSON without spaces, one line per top-level key and per entry of a top-level object (one
/// line per resource of a template), with a trailing newline: close to the compact size, which
/// keeps a template under [`INLINE_TEMPLATE_LIMIT`] for longer, while a diff still shows which
/// resource changed. A value that is not an object is written compact.
pub(crate) fn entry_per_line(value: &serde_json::Value) -> String {
    fn compact(text: &mut String, value: &impl serde::Serialize) {
        text.push_str(&serde_json::to_string(value).unwrap_or_default());
    }
    fn object(
        text: &mut String,
        map: &serde_json::Map<String, serde_json::Value>,
        mut entry: impl FnMut(&mut String, &serde_json::Value),
    ) {
        text.push('{');
        for (index, (key, value)) in map.iter().enumerate() {
            text.push_str(if index == 0 { "\n" } else { ",\n" });
            compact(text, key);
            text.push(':');
            entry(text, value);
        }
        text.push_str(if map.is_empty() { "}" } else { "\n}" });
    }
    let mut text = String::new();
    match value {
        serde_json::Value::Object(map) => object(&mut text, map, |text, value| match value {
            serde_json::Value::Object(inner) => object(text, inner, compact),
            other => compact(text, other),
        }),
        other => compact(&mut text, other),
    }
    text.push('\n');
    text
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entry_per_line_puts_each_top_level_entry_on_a_line_and_parses_back() {
        let value = json!({
            "A": "x",
            "Resources": {"One": {"Type": "T", "Properties": {"k": [1, 2]}}, "Two": {}},
            "Empty": {},
        });
        let text = entry_per_line(&value);
        assert_eq!(
            text,
            "{\n\"A\":\"x\",\n\"Empty\":{},\n\"Resources\":{\n\
             \"One\":{\"Properties\":{\"k\":[1,2]},\"Type\":\"T\"},\n\"Two\":{}\n}\n}\n"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
        assert_eq!(entry_per_line(&json!([1, "a"])), "[1,\"a\"]\n");
    }

    #[test]
    fn a_template_over_the_inline_limit_is_warned_about() {
        let artifacts = |template_bytes: usize| Artifacts {
            service: "svc".into(),
            files: BTreeMap::from([(TEMPLATE_FILE.to_owned(), "x".repeat(template_bytes))]),
        };
        assert!(artifacts(INLINE_TEMPLATE_LIMIT).warnings().is_empty());
        let warnings = artifacts(INLINE_TEMPLATE_LIMIT + 1).warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("51201 bytes"), "{}", warnings[0]);
        assert!(warnings[0].contains("--s3-bucket"), "{}", warnings[0]);
    }
}
