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

#[entity]
impl Account {
    async fn apply(&self, event: AccountEvent) -> u64 {
        let _ = event;
        self.balance
    }
}

fn main() {}
