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
    async fn deposit(&self, _ctx: EntityContext, amount: u64) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![AccountEvent::Deposited(amount)])
    }
}

fn main() {}
