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

#[entity(name = "bank_account", snapshot_every = 50)]
impl Account {
    /// Not a command: no receiver.
    pub fn opening_balance() -> u64 {
        0
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Deposited(amount) => self.balance += amount,
        }
    }

    /// Deposits.
    async fn deposit(&self, _ctx: EntityContext, amount: u64) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![AccountEvent::Deposited(amount)])
    }

    #[command(name = "reset")]
    async fn nothing(&self, _ctx: EntityContext) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(Vec::new())
    }
}

fn main() {
    assert_eq!(<Account as Entity>::TYPE, "bank_account");
    assert_eq!(<Account as Entity>::SNAPSHOT_EVERY, Some(50));
    assert_eq!(Account::opening_balance(), 0);
}
