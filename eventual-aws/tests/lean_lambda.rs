//! The Lambda package stays lean: the order service's AWS binary built as `cargo lambda build`
//! builds it (feature `aws`) links neither SQLite nor the local engine, and no clap or CLI HTTP
//! client unless its `cli` feature is on. Read from Cargo's resolution (`cargo tree`), so a
//! dependency or feature that pulls them in fails here before any build.

use std::collections::BTreeSet;
use std::process::Command;

/// Crates that only the local engine or the CLI need.
const NOT_IN_LAMBDA: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "clap",
    "ureq",
    "tracing-subscriber",
];
/// Features of eventual-runtime that bring the local engine or the CLI.
const RUNTIME_FEATURES_NOT_IN_LAMBDA: &[&str] = &["default", "local", "serve", "cli"];

/// The output lines of `cargo tree` for `package` with `features`, each without its prefix.
fn cargo_tree(package: &str, features: &str, args: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let output = Command::new(cargo)
        .args(["tree", "--manifest-path", manifest, "-p", package])
        .args(["--features", features, "--prefix", "none"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The crates linked into `package` with `features` (normal dependencies, for the target).
fn linked(package: &str, features: &str) -> BTreeSet<String> {
    cargo_tree(package, features, &["-e", "normal", "--format", "{lib}"])
        .into_iter()
        .map(|lib| lib.trim().replace('_', "-"))
        .collect()
}

/// The features eventual-runtime is built with, for `package` with `features`.
fn runtime_features(package: &str, features: &str) -> BTreeSet<String> {
    cargo_tree(
        package,
        features,
        &["-e", "normal,features", "-i", "eventual-runtime"],
    )
    .into_iter()
    .filter_map(|line| {
        line.strip_prefix("eventual-runtime feature \"")
            .and_then(|rest| rest.split('"').next())
            .map(str::to_owned)
    })
    .collect()
}

fn forbidden<'a>(linked: &BTreeSet<String>, names: &[&'a str]) -> Vec<&'a str> {
    names
        .iter()
        .copied()
        .filter(|name| linked.contains(*name))
        .collect()
}

#[test]
fn the_lambda_binary_links_no_sqlite_local_engine_or_cli() {
    let lambda = linked("order-service", "aws");
    assert!(lambda.contains("eventual-aws") && lambda.contains("lambda-runtime"));
    assert_eq!(forbidden(&lambda, NOT_IN_LAMBDA), Vec::<&str>::new());
    let features = runtime_features("order-service", "aws");
    assert!(features.contains("runner"), "{features:?}");
    assert_eq!(
        forbidden(&features, RUNTIME_FEATURES_NOT_IN_LAMBDA),
        Vec::<&str>::new(),
        "eventual-runtime features of the Lambda build: {features:?}"
    );
    // The engine crate itself, with its default features, is as lean.
    let engine = linked("eventual-aws", "");
    assert_eq!(forbidden(&engine, NOT_IN_LAMBDA), Vec::<&str>::new());
}

#[test]
fn the_cli_feature_brings_the_command_line_and_no_sqlite() {
    let cli = linked("order-service", "cli");
    assert_eq!(forbidden(&cli, &["clap", "ureq"]), ["clap", "ureq"]);
    assert_eq!(
        forbidden(&cli, &["rusqlite", "libsqlite3-sys"]),
        Vec::<&str>::new()
    );
    let features = runtime_features("order-service", "cli");
    assert!(features.contains("cli"), "{features:?}");
    assert!(!features.contains("local"), "{features:?}");
}
