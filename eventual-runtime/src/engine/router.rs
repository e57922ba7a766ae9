//! Routes bus events to subscriptions, all rules compiled together in one `PatternSet`.

use crate::event::EventEnvelope;
use crate::pattern::{EventPattern, PatternError, PatternSet};
use crate::registry::{SubscriptionDescriptor, SUBSCRIPTIONS};

/// The subscriptions of a service, compiled for routing.
pub struct Router {
    set: PatternSet,
    subscriptions: Vec<&'static SubscriptionDescriptor>,
}

impl Router {
    /// Compiles every registered subscription.
    pub fn from_registry() -> Result<Self, (&'static str, PatternError)> {
        Self::new(SUBSCRIPTIONS.iter())
    }

    /// Compiles `subscriptions`; a pattern that does not parse names its subscription (the
    /// macro checks patterns at compile time, so this only happens with hand-made descriptors).
    pub fn new(
        subscriptions: impl IntoIterator<Item = &'static SubscriptionDescriptor>,
    ) -> Result<Self, (&'static str, PatternError)> {
        let mut set = PatternSet::new();
        let mut compiled = Vec::new();
        for (id, subscription) in subscriptions.into_iter().enumerate() {
            let pattern =
                EventPattern::parse(subscription.pattern).map_err(|e| (subscription.name, e))?;
            set.insert(id, &pattern);
            compiled.push(subscription);
        }
        Ok(Router {
            set,
            subscriptions: compiled,
        })
    }

    /// The subscriptions whose pattern matches `event`, each once, in registration order.
    pub fn route(&self, event: &EventEnvelope) -> Vec<&'static SubscriptionDescriptor> {
        self.set
            .matches(&event.to_json())
            .into_iter()
            .filter_map(|id| self.subscriptions.get(id).copied())
            .collect()
    }
}
