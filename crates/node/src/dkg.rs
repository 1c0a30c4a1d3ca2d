//! What the node hands to commonware glue's DKG orchestrator and reshare actor
//! (`commonware_glue::dkg`): the consensus scheme of each epoch ([`EpochSchemes`]), what installs
//! one when the reshare actor enters an epoch ([`EquaRegistrar`]), and where this node keeps its
//! private ceremony material ([`DiskSecretStore`]).
//!
//! It does not start the actors or run a ceremony (the wiring does), and holds no ledger rules.
//!
//! # Contracts with glue
//!
//! - The orchestrator asks the provider for `scheme(epoch)` of each epoch it enters, after the
//!   reshare actor has registered that epoch, and panics when it gets none; every registered
//!   scheme is therefore served as a signing scope, a verifier's too (it simply cannot sign).
//! - Marshal, in this node's wiring, verifies certificates of every epoch against the chain's one
//!   key (a certificate-only verifier, as the key never changes under resharing), so it does not
//!   read this provider. Once the node entered epoch `e`, only `e` and the last certificates of
//!   `e - 1` still matter to the orchestrator and the fault reporter: [`EquaRegistrar`] keeps the
//!   epoch it registers and the one before, and drops older ones.
//! - A secret store's write is durable when its future resolves: a dealer that lost its seed
//!   would deal again with another one after a restart (equivocate), a player that lost a share
//!   could no longer sign. [`DiskSecretStore`] syncs every write before it returns.
//! - Epoch zero comes from genesis, not from a ceremony: before the actors start, the wiring
//!   seeds the configured share ([`DiskSecretStore::seed_epoch_zero`], which does nothing to a
//!   store that ever held secrets) and registers epoch zero with the share the store then holds.

mod schemes;
mod secrets;

pub use schemes::{CommitteeMismatch, Downgrade, EpochSchemes, EquaRegistrar, scheme_for};
pub use secrets::{DiskSecretStore, MAX_DEALER_KEY_BYTES, MAX_PARTICIPANTS, SecretStoreError};
