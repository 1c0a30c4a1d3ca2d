//! The round seeds this node has seen, for its proposals.
//!
//! Every certificate of the threshold scheme (notarization, nullification, finalization) carries
//! the seed of its round. Simplex reports each certificate it forms or verifies, and the
//! reporter records the seed here ([`Seeds::record`]); a leader of view `v` puts the seed of
//! round `v - 1` of the same epoch in its block ([`crate::block::Block::seed`]). It always gets one: simplex
//! enters view `v` only with a certificate of view `v - 1`, and reports it once its journal is
//! synced, which may be just after it asked for the proposal, so the leader waits for it.
//! Validators check the seed against the chain's key ([`crate::threshold::SeedVerifier`]), so a
//! wrong one only gets this node's proposal refused.

use crate::block::SeedSignature;
use commonware_consensus::types::Round;
use commonware_runtime::Clock;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

/// How many rounds of seeds are kept: far more than a leader ever looks back (one).
const KEPT_ROUNDS: usize = 1_024;

/// How long a leader waits for the seed of the previous round before giving up its proposal:
/// the chain's leader timeout, after which its view is nullified anyway. Simplex reports the
/// certificate after syncing its journal, which a slow disk can delay.
pub const SEED_WAIT: Duration = crate::engine::Timeouts::CHAIN.leader;

/// Seeds by round, shared by the reporter and the application. Keyed by round, not view:
/// views start again at 1 in every epoch, and a new epoch's seeds must not sort below the old
/// epoch's (they would be pruned as soon as they were recorded).
#[derive(Clone, Debug, Default)]
pub struct Seeds {
    by_round: Arc<Mutex<BTreeMap<Round, SeedSignature>>>,
}

impl Seeds {
    /// Records the seed of `round`, keeping only the latest [`KEPT_ROUNDS`] rounds (a late
    /// report of a round older than all of them is dropped at once).
    pub fn record(&self, round: Round, seed: SeedSignature) {
        let mut by_round = self.by_round.lock().expect("lock");
        by_round.insert(round, seed);
        while by_round.len() > KEPT_ROUNDS {
            by_round.pop_first();
        }
    }

    /// The seed of `round`, if seen.
    pub fn get(&self, round: Round) -> Option<SeedSignature> {
        self.by_round.lock().expect("lock").get(&round).copied()
    }

    /// The seed of `round`, waiting up to `limit` for it to be recorded.
    pub async fn wait(
        &self,
        clock: &impl Clock,
        round: Round,
        limit: Duration,
    ) -> Option<SeedSignature> {
        let deadline = clock.current() + limit;
        loop {
            if let Some(seed) = self.get(round) {
                return Some(seed);
            }
            if clock.current() >= deadline {
                return None;
            }
            clock.sleep(Duration::from_millis(2)).await;
        }
    }

    /// How many seeds are kept.
    pub fn len(&self) -> usize {
        self.by_round.lock().expect("lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_consensus::types::{Epoch, View};
    use commonware_cryptography::bls12381::primitives::{ops, variant::MinSig};
    use commonware_runtime::{Runner, Spawner, Supervisor as _, deterministic};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn seed(n: u8) -> SeedSignature {
        let (private, _) = ops::keypair::<_, MinSig>(&mut ChaCha20Rng::seed_from_u64(1));
        ops::sign_message::<MinSig>(&private, b"test", &[n])
    }

    fn round(epoch: u64, view: u64) -> Round {
        Round::new(Epoch::new(epoch), View::new(view))
    }

    #[test]
    fn keeps_the_latest_rounds_only() {
        let seeds = Seeds::default();
        for view in 0..3_000u64 {
            seeds.record(round(0, view), seed((view % 7) as u8));
        }
        assert_eq!(seeds.len(), KEPT_ROUNDS);
        assert_eq!(seeds.get(round(0, 2_999)), Some(seed((2_999 % 7) as u8)));
        assert_eq!(
            seeds.get(round(0, 3_000 - KEPT_ROUNDS as u64)),
            Some(seed(((3_000 - KEPT_ROUNDS) % 7) as u8))
        );
        assert_eq!(seeds.get(round(0, 3_000 - KEPT_ROUNDS as u64 - 1)), None);
        // A late report of a round older than every kept one is dropped.
        seeds.record(round(0, 10), seed(1));
        assert_eq!(seeds.get(round(0, 10)), None);
    }

    #[test]
    fn a_new_epochs_low_views_outrank_the_old_epochs_high_ones() {
        let seeds = Seeds::default();
        for view in 1..=2_000u64 {
            seeds.record(round(0, view), seed(0));
        }
        // The next epoch starts again at view 1: its seeds are the newest, and they are kept.
        seeds.record(round(1, 1), seed(1));
        seeds.record(round(1, 2), seed(2));
        assert_eq!(seeds.get(round(1, 1)), Some(seed(1)));
        assert_eq!(seeds.get(round(1, 2)), Some(seed(2)));
        // The same view of another epoch is another round.
        assert_eq!(seeds.get(round(2, 1)), None);
        assert_eq!(seeds.len(), KEPT_ROUNDS);
    }

    #[test]
    fn a_wait_ends_when_the_seed_arrives_or_at_the_limit() {
        deterministic::Runner::default().start(|context| async move {
            let seeds = Seeds::default();
            let start = context.current();
            assert_eq!(seeds.wait(&context, round(0, 5), SEED_WAIT).await, None);
            assert!(context.current().duration_since(start).unwrap() >= SEED_WAIT);
            let recorder = seeds.clone();
            let handle = context.child("recorder").spawn(move |context| async move {
                context.sleep(Duration::from_millis(40)).await;
                recorder.record(round(0, 5), seed(5));
            });
            assert_eq!(
                seeds.wait(&context, round(0, 5), SEED_WAIT).await,
                Some(seed(5))
            );
            handle.await.unwrap();
        });
    }
}
