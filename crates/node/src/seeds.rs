//! The round seeds this node has seen, for its proposals.
//!
//! Every certificate of the threshold scheme (notarization, nullification, finalization) carries
//! the seed of its round. Simplex reports each certificate it forms or verifies, and the
//! reporter records the seed here ([`Seeds::record`]); a leader of view `v` puts the seed of
//! round `v - 1` in its block ([`crate::block::Block::seed`]). It always gets one: simplex
//! enters view `v` only with a certificate of view `v - 1`, and reports it once its journal is
//! synced, which may be just after it asked for the proposal, so the leader waits for it.
//! Validators check the seed against the chain's key ([`crate::threshold::SeedVerifier`]), so a
//! wrong one only gets this node's proposal refused.

use crate::block::SeedSignature;
use commonware_consensus::types::View;
use commonware_runtime::Clock;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

/// How many views of seeds are kept: far more than a leader ever looks back (one).
const KEPT_VIEWS: u64 = 1_024;

/// How long a leader waits for the seed of the previous round before giving up its proposal:
/// the chain's leader timeout, after which its view is nullified anyway. Simplex reports the
/// certificate after syncing its journal, which a slow disk can delay.
pub const SEED_WAIT: Duration = crate::engine::Timeouts::CHAIN.leader;

/// Seeds by view (of the chain's single epoch), shared by the reporter and the application.
#[derive(Clone, Debug, Default)]
pub struct Seeds {
    by_view: Arc<Mutex<BTreeMap<u64, SeedSignature>>>,
}

impl Seeds {
    /// Records the seed of `view`, keeping only the latest [`KEPT_VIEWS`] views.
    pub fn record(&self, view: View, seed: SeedSignature) {
        let view = view.get();
        let mut by_view = self.by_view.lock().expect("lock");
        by_view.insert(view, seed);
        let newest = by_view.keys().next_back().copied().unwrap_or(view);
        let oldest_kept = newest.saturating_sub(KEPT_VIEWS);
        while by_view
            .first_key_value()
            .is_some_and(|(first, _)| *first < oldest_kept)
        {
            by_view.pop_first();
        }
    }

    /// The seed of `view`, if seen.
    pub fn get(&self, view: u64) -> Option<SeedSignature> {
        self.by_view.lock().expect("lock").get(&view).copied()
    }

    /// The seed of `view`, waiting up to `limit` for it to be recorded.
    pub async fn wait(
        &self,
        clock: &impl Clock,
        view: u64,
        limit: Duration,
    ) -> Option<SeedSignature> {
        let deadline = clock.current() + limit;
        loop {
            if let Some(seed) = self.get(view) {
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
        self.by_view.lock().expect("lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::bls12381::primitives::{ops, variant::MinSig};
    use commonware_runtime::{Runner, Spawner, Supervisor as _, deterministic};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn seed(n: u8) -> SeedSignature {
        let (private, _) = ops::keypair::<_, MinSig>(&mut ChaCha20Rng::seed_from_u64(1));
        ops::sign_message::<MinSig>(&private, b"test", &[n])
    }

    #[test]
    fn keeps_the_latest_views_only() {
        let seeds = Seeds::default();
        for view in 0..3_000u64 {
            seeds.record(View::new(view), seed((view % 7) as u8));
        }
        assert_eq!(seeds.len(), KEPT_VIEWS as usize + 1);
        assert_eq!(seeds.get(2_999), Some(seed((2_999 % 7) as u8)));
        assert_eq!(seeds.get(3_000 - KEPT_VIEWS - 2), None);
        // A late report of an old view is kept only if it is within the window.
        seeds.record(View::new(10), seed(1));
        assert_eq!(seeds.get(10), None);
    }

    #[test]
    fn a_wait_ends_when_the_seed_arrives_or_at_the_limit() {
        deterministic::Runner::default().start(|context| async move {
            let seeds = Seeds::default();
            let start = context.current();
            assert_eq!(seeds.wait(&context, 5, SEED_WAIT).await, None);
            assert!(context.current().duration_since(start).unwrap() >= SEED_WAIT);
            let recorder = seeds.clone();
            let handle = context.child("recorder").spawn(move |context| async move {
                context.sleep(Duration::from_millis(40)).await;
                recorder.record(View::new(5), seed(5));
            });
            assert_eq!(seeds.wait(&context, 5, SEED_WAIT).await, Some(seed(5)));
            handle.await.unwrap();
        });
    }
}
