//! The event bus and, per subscription, the rule that routes its events to the handler's
//! queue with the queue policy that lets the rule send there.

use super::resource::{arn, reference};
use super::Resources;
use crate::manifest::inventory::{Inventory, SubscriptionInfo};
use crate::manifest::json::pattern;
use crate::manifest::names::{self, id};
use serde_json::{json, Value};

/// Adds the bus and every subscription's rule and queue policy.
pub(super) fn add(service: &str, inventory: &Inventory, resources: &mut Resources) {
    resources.insert(
        id::EVENT_BUS.into(),
        json!({ "Type": "AWS::Events::EventBus", "Properties": { "Name": names::bus(service) } }),
    );
    for subscription in &inventory.subscriptions {
        let name = &subscription.name;
        resources.insert(id::handler_rule(name), rule(service, subscription));
        resources.insert(id::handler_queue_policy(name), queue_policy(name));
    }
}

/// The subscription's pattern on the bus (its literal name, see the module docs of `cfn`),
/// targeting the handler's queue.
fn rule(service: &str, subscription: &SubscriptionInfo) -> Value {
    json!({
        "Type": "AWS::Events::Rule",
        "DependsOn": [id::EVENT_BUS],
        "Properties": {
            "Name": names::rule(service, &subscription.name),
            "Description": format!("Subscription {}", subscription.name),
            "EventBusName": names::bus(service),
            "EventPattern": pattern(&subscription.pattern),
            "State": "ENABLED",
            "Targets": [{ "Id": "handler-queue", "Arn": arn(&id::handler_queue(&subscription.name)) }],
        },
    })
}

/// Only the subscription's rule may send to its queue.
fn queue_policy(subscription: &str) -> Value {
    let queue_id = id::handler_queue(subscription);
    json!({
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [reference(&queue_id)],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "RuleSendsEvents",
                    "Effect": "Allow",
                    "Principal": { "Service": "events.amazonaws.com" },
                    "Action": "sqs:SendMessage",
                    "Resource": arn(&queue_id),
                    "Condition": {
                        "ArnEquals": { "aws:SourceArn": arn(&id::handler_rule(subscription)) },
                    },
                }],
            },
        },
    })
}
