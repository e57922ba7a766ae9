//! Searchable attributes: `ctx.set_attribute` records them in history, engines index them,
//! and the list filters on them (`attr.<key>=<value>`), on the TestEnvironment and on the
//! local engine's API.

use eventual_runtime::engine::api::ListFilter;
use eventual_runtime::engine::ExecutionStatus;
use eventual_runtime::prelude::*;
use eventual_runtime::testing::{ReplayMode, TestEnvironment};
use eventual_tests::local::InProcess;
use eventual_tests::shape;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Customer {
    name: String,
    tier: u32,
}

/// Tags itself with its customer and tier, waits for "done", then re-tags its stage.
#[workflow]
async fn tagged(ctx: WorkflowContext, customer: Customer) -> Result<(), WorkflowError> {
    ctx.set_attribute("customer", &customer.name);
    ctx.set_attribute("tier", customer.tier);
    ctx.set_attribute("stage", "waiting");
    ctx.expect_signal::<()>("done", Duration::from_secs(3600))
        .await?;
    ctx.set_attribute("stage", "done");
    Ok(())
}

fn customer(name: &str, tier: u32) -> Customer {
    Customer {
        name: name.to_owned(),
        tier,
    }
}

fn filter(pairs: &[(&str, &str)], status: Option<ExecutionStatus>) -> ListFilter {
    ListFilter {
        status,
        attributes: pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..ListFilter::default()
    }
}

#[tokio::test]
async fn the_test_environment_finds_executions_by_attribute() {
    let env = TestEnvironment::with_replay_mode(ReplayMode::FullReplay);
    let ada = env
        .start_named::<tagged>(Some("t-ada"), customer("ada", 2))
        .unwrap();
    env.start_named::<tagged>(Some("t-bob"), customer("bob", 2))
        .unwrap();
    env.start_named::<tagged>(Some("t-cy"), customer("ada", 1))
        .unwrap();
    env.run_until_idle().await;
    assert_eq!(
        shape(&env.history(ada.id()))[1..],
        [
            "AttributeSet@0",
            "AttributeSet@1",
            "AttributeSet@2",
            "TimerScheduled@3"
        ]
    );
    let found = |pairs: &[(&str, &str)], status| env.find_executions(&filter(pairs, status));
    assert_eq!(found(&[("customer", "ada")], None), ["t-ada", "t-cy"]);
    assert_eq!(
        found(&[("customer", "ada"), ("tier", "2")], None),
        ["t-ada"]
    );
    assert_eq!(found(&[("tier", "2")], None), ["t-ada", "t-bob"]);
    assert!(found(&[("customer", "eve")], None).is_empty());

    env.signal(ada.id(), "done", ());
    env.run_until_idle().await;
    // The last value counts: a key set again moves the execution.
    assert_eq!(found(&[("stage", "done")], None), ["t-ada"]);
    assert_eq!(found(&[("stage", "waiting")], None), ["t-bob", "t-cy"]);
    assert_eq!(
        found(&[("customer", "ada")], Some(ExecutionStatus::Running)),
        ["t-cy"]
    );
}

#[test]
fn the_local_api_filters_executions_by_attribute() {
    let server = InProcess::start();
    let api = &server.api;
    for (name, who, tier) in [("l-ada", "ada", 2), ("l-bob", "bob", 2), ("l-cy", "ada", 1)] {
        let body = json!({"workflow": "tagged", "name": name, "input": customer(who, tier)});
        assert_eq!(api.post("/executions", &body).status, 201);
    }
    let ids = |query: &str| -> Vec<String> {
        let page = api.get(&format!("/executions?{query}"));
        assert_eq!(page.status, 200, "{:?}", page.body);
        page.body["executions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["id"].as_str().unwrap().to_owned())
            .collect()
    };
    eventual_tests::local::poll(
        StdDuration::from_secs(30),
        "the attributes are indexed",
        || (ids("attr.stage=waiting").len() == 3).then_some(()),
    );
    assert_eq!(ids("attr.customer=ada"), ["l-ada", "l-cy"]);
    assert_eq!(ids("attr.customer=ada&attr.tier=2"), ["l-ada"]);
    assert_eq!(ids("attr.tier=2&workflow=tagged"), ["l-ada", "l-bob"]);
    assert!(ids("attr.customer=eve").is_empty());

    let signal = json!({"name": "done", "payload": null});
    assert_eq!(api.post("/executions/l-ada/signals", &signal).status, 202);
    api.wait_ended("l-ada", StdDuration::from_secs(30));
    assert_eq!(ids("attr.stage=done"), ["l-ada"]);
    assert_eq!(ids("attr.customer=ada&status=running"), ["l-cy"]);
    // Paging goes on through the filter.
    let first = api.get("/executions?attr.stage=waiting&limit=1");
    let token = first.body["next_token"].as_str().unwrap().to_owned();
    assert_eq!(
        ids(&format!("attr.stage=waiting&limit=5&next_token={token}")),
        ["l-cy"]
    );
}
