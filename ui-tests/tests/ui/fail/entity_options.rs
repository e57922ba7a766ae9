use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Account {
    balance: u64,
}

#[derive(Serialize, Deserialize)]
pub enum AccountEvent {
    Deposited(u64),
}

#[derive(Serialize, Deserialize)]
pub struct AccountError;

#[entity(snapshot_every = 0, name = "a b", flavour = "x", snapshot_every = "10")]
impl Account {
    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Deposited(amount) => self.balance += amount,
        }
    }
}

fn main() {}
