//! A child workflow: scheduled → succeeded | failed.

use super::Resolution;

pub(crate) struct ChildMachine {
    pub(crate) name: String,
    pub(crate) resolution: Resolution,
}

impl ChildMachine {
    pub(crate) fn new(name: String) -> Self {
        ChildMachine {
            name,
            resolution: Resolution::default(),
        }
    }
}
