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
    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Deposited(amount) => self.balance += amount,
        }
    }

    fn not_async(&self, _ctx: EntityContext) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![])
    }

    async fn no_context(&self, amount: u64) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![AccountEvent::Deposited(amount)])
    }

    async fn bad_return(&self, _ctx: EntityContext) -> Result<u64, AccountError> {
        Ok(1)
    }

    async fn mutates(&mut self, _ctx: EntityContext) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![])
    }

    async fn other_events(&self, _ctx: EntityContext) -> Result<Vec<u64>, AccountError> {
        Ok(vec![])
    }
}

fn main() {}
