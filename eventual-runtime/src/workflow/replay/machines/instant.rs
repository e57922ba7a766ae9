//! Steps that complete when recorded: sending a signal, emitting events, recording a value.

use super::StepSignature;

pub(crate) struct InstantMachine {
    pub(crate) signature: StepSignature,
}
