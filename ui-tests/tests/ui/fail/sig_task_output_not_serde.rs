use eventual_runtime::prelude::*;

pub struct Receipt {
    pub id: String,
}

#[task]
async fn charge(amount: u64) -> Result<Receipt, StepError> {
    Ok(Receipt {
        id: amount.to_string(),
    })
}

fn main() {}
