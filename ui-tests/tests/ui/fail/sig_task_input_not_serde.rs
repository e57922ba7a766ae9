use eventual_runtime::prelude::*;

pub struct Card {
    pub number: String,
}

// With several parameters, the error points at the one that does not serialize.
#[task]
async fn charge(amount: u64, card: Card) -> Result<String, StepError> {
    Ok(format!("{amount} on {}", card.number))
}

fn main() {}
