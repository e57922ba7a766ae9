//! A fast non-cryptographic hasher for the engine's internal maps.
//!
//! Keys are field paths and values from events and patterns; the maps are rebuilt per
//! event, so SipHash's flood resistance costs more than it protects here.

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash-style multiply-rotate hasher.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(chunk.try_into().map_or(0, u64::from_le_bytes));
        }
        // Most keys are short: read the tail with fixed-size loads (overlapping when
        // needed) rather than copying a variable number of bytes, which costs a call.
        let rest = chunks.remainder();
        let word = match rest.len() {
            0 => return,
            1..=3 => {
                let (first, middle, last) = (rest[0], rest[rest.len() / 2], rest[rest.len() - 1]);
                u64::from(first) | u64::from(middle) << 8 | u64::from(last) << 16
            }
            n => {
                let low = rest[..4].try_into().map_or(0, u32::from_le_bytes);
                let high = rest[n - 4..].try_into().map_or(0, u32::from_le_bytes);
                u64::from(low) | u64::from(high) << 32
            }
        };
        // The length tells apart tails the overlapping loads read alike.
        self.add(word ^ (rest.len() as u64) << 59);
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FastHasher>>;
