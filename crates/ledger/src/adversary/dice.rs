//! The simulation's only source of randomness: a ChaCha20 stream seeded by the case's seed, so a
//! case is reproducible from its seed alone; or, for a coverage-guided fuzzer, the fuzzer's input
//! bytes, so that every choice of the case is one the fuzzer can mutate.

use rand_chacha::{
    ChaCha20Rng,
    rand_core::{Rng, SeedableRng},
};

#[derive(Debug)]
pub struct Dice {
    /// Choices read before the stream: eight bytes (big-endian) for each `u64`.
    script: Vec<u8>,
    /// How much of `script` has been read.
    read: usize,
    stream: ChaCha20Rng,
}

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self {
            script: Vec::new(),
            read: 0,
            stream: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    /// Dice that read their choices from `bytes`, then from the stream of seed 0. Falling back
    /// to a stream rather than to zeros keeps every case as long and as varied as a seeded one,
    /// whatever the length of the input.
    pub fn scripted(bytes: &[u8]) -> Self {
        Self {
            script: bytes.to_vec(),
            ..Self::new(0)
        }
    }

    pub fn u64(&mut self) -> u64 {
        match self.script.get(self.read..) {
            Some(rest) if !rest.is_empty() => {
                let mut word = [0u8; 8];
                let taken = rest.len().min(word.len());
                word[..taken].copy_from_slice(&rest[..taken]);
                self.read += taken;
                u64::from_be_bytes(word)
            }
            _ => self.stream.next_u64(),
        }
    }

    pub fn u128(&mut self) -> u128 {
        (u128::from(self.u64()) << 64) | u128::from(self.u64())
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.u64() % n }
    }

    /// Uniform in `0..n` for lengths.
    pub fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).expect("below a usize")
    }

    /// Uniform in `low..=high` (`low` when the range is empty).
    pub fn between(&mut self, low: u128, high: u128) -> u128 {
        if high <= low {
            return low;
        }
        match (high - low).checked_add(1) {
            Some(span) => low + self.u128() % span,
            None => self.u128(),
        }
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let i = self.index(items.len());
        items.get(i)
    }

    /// An index chosen with the given weights (the last index if all weights are zero).
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut roll = self.below(total);
        for (i, weight) in weights.iter().enumerate() {
            if roll < *weight {
                return i;
            }
            roll -= weight;
        }
        weights.len().saturating_sub(1)
    }

    /// An amount at an edge around the `references` (each of them, one above and one below), or
    /// 0, 1, `u128::MAX`, or somewhere between 1 and the largest reference.
    pub fn edge(&mut self, references: &[u128]) -> u128 {
        let reference = self.pick(references).copied().unwrap_or(1);
        match self.below(10) {
            0 => 0,
            1 => 1,
            2 => u128::MAX,
            3 => reference.saturating_add(1),
            4 => reference.saturating_sub(1),
            5 => reference / 2,
            6 => self.between(1, reference.max(1)),
            _ => reference,
        }
    }
}
