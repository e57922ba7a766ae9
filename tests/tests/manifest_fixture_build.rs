//! `cargo build` of a real service writes its artifacts: from a clean target directory, with
//! a handler living in another crate of the workspace, and again after a pattern changes.
//!
//! Both tests share one fresh target directory (and take turns), so the slow first build of
//! the runtime happens once.

use eventual_runtime::manifest::names;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

const CRATES: &[&str] = &["fixture-app", "fixture-handlers", "fixture-service"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The shared target directory, emptied once per run; the guard serializes the builds.
fn target() -> std::sync::MutexGuard<'static, PathBuf> {
    static TARGET: OnceLock<Mutex<PathBuf>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("manifest-fixture-target");
            let _ = std::fs::remove_dir_all(&dir);
            Mutex::new(dir)
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn cargo_build(manifest: &Path, target: &Path) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    Command::new(cargo)
        .args([
            "build",
            "--offline",
            "-p",
            "fixture-service",
            "--manifest-path",
        ])
        .arg(manifest)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs")
}

fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "cargo build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read(target: &Path, name: &str) -> String {
    std::fs::read_to_string(target.join("eventual/fixture-service").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn rules(target: &Path) -> Vec<Value> {
    serde_json::from_str::<Value>(&read(target, "eventbridge-rules.json"))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_clean_build_writes_the_artifacts_with_the_cross_crate_handler() {
    let target = target();
    ok(&cargo_build(&root().join("Cargo.toml"), &target));

    let manifest: Value = serde_json::from_str(&read(&target, "manifest.json")).unwrap();
    assert_eq!(manifest["service"], "fixture-service");
    assert_eq!(manifest["workflows"][0]["name"], "greet");
    assert_eq!(manifest["workflows"][0]["rust_path"], "fixture_app::greet");
    assert_eq!(
        manifest["workflows"][0]["tasks"],
        serde_json::json!(["make_greeting"])
    );
    assert_eq!(
        manifest["workflows"][0]["file"],
        "examples/fixture-app/src/lib.rs"
    );
    let handler = &manifest["subscriptions"][0];
    assert_eq!(handler["name"], "audit_greeting");
    assert_eq!(handler["rust_path"], "fixture_handlers::audit_greeting");

    let rules = rules(&target);
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["name"], "audit_greeting");
    assert_eq!(rules[0]["event_pattern"], handler["pattern"]);
    assert_eq!(
        rules[0]["target"],
        names::handler_queue("fixture-service", "audit_greeting")
    );
    let template = read(&target, "template.json");
    assert!(template.contains(&names::id::handler_rule("audit_greeting")));
    // The diagram `cargo build` writes draws the body's steps in order: the task, then the
    // event, which the other crate's handler may match.
    let diagram = read(&target, "greet.mmd");
    let chart =
        eventual_tests::mermaid::check(&diagram).unwrap_or_else(|e| panic!("{e}\n{diagram}"));
    let task = chart.nodes_labelled("task: make_greeting<br/>attempts 2");
    let event = chart.nodes_labelled("event: Greeted");
    let handler = chart.nodes_labelled("handler: audit_greeting");
    assert!(
        matches!((&task[..], &event[..], &handler[..]), ([task], [event], [_])
            if chart.flows("start", task) && chart.flows(task, event) && chart.flows(event, "finish")),
        "{diagram}"
    );

    // No #[api] route: an OpenAPI document without paths, at the build script's package's
    // version (the fixture's, like this crate's, is the workspace's).
    let openapi: Value = serde_json::from_str(&read(&target, "openapi.json")).unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
    assert_eq!(openapi["info"]["title"], "fixture-service");
    assert_eq!(openapi["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(openapi["paths"], serde_json::json!({}));
}

/// Copies the fixture crates into a workspace of their own under `dir`.
fn copy_fixture(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let runtime = root().join("eventual-runtime");
    for krate in CRATES {
        let from = root().join("examples").join(krate);
        for file in ["Cargo.toml", "build.rs", "src/lib.rs", "src/main.rs"] {
            let Ok(text) = std::fs::read_to_string(from.join(file)) else {
                continue;
            };
            let text = text.replace("../../eventual-runtime", &runtime.display().to_string());
            let to = dir.join(krate).join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(to, text).unwrap();
        }
    }
    let members: Vec<String> = CRATES.iter().map(|c| format!("{c:?}")).collect();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )
    .unwrap();
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn editing_a_pattern_and_rebuilding_updates_the_artifacts() {
    let target = target();
    let ws = Path::new(env!("CARGO_TARGET_TMPDIR")).join("manifest-fixture-copy");
    copy_fixture(&ws);
    let manifest = ws.join("Cargo.toml");
    ok(&cargo_build(&manifest, &target));
    assert_eq!(
        rules(&target)[0]["event_pattern"]["detail"]["name"],
        serde_json::json!(["vip"])
    );
    let diagram = target.join("eventual/fixture-service/greet.mmd");
    let diagram_written = std::fs::metadata(&diagram).unwrap().modified().unwrap();

    edit(
        &ws.join("fixture-handlers/src/lib.rs"),
        r#"["vip"]"#,
        r#"[{"prefix": "vip-"}]"#,
    );
    ok(&cargo_build(&manifest, &target));
    let rule = &rules(&target)[0];
    assert_eq!(
        rule["event_pattern"]["detail"]["name"],
        serde_json::json!([{ "prefix": "vip-" }])
    );
    eventual_runtime::pattern::EventPattern::parse(&rule["event_pattern"].to_string()).unwrap();
    assert!(read(&target, "manifest.json").contains("vip-"));
    assert!(read(&target, "template.json").contains("vip-"));
    // Files whose bytes did not change are not rewritten.
    assert_eq!(
        std::fs::metadata(&diagram).unwrap().modified().unwrap(),
        diagram_written
    );

    // The linker drops a crate nothing references: without its `extern crate`, the handler
    // crate's entries are gone, and the build says so instead of dropping the handler.
    edit(
        &ws.join("fixture-service/build.rs"),
        "extern crate fixture_handlers;",
        "",
    );
    let output = cargo_build(&manifest, &target);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the build should fail:\n{stderr}");
    assert!(
        stderr.contains("crate `fixture_handlers` is declared by the build script but none of its workflows, tasks, subscriptions or routes is linked"),
        "{stderr}"
    );
}
