//! Twins (Bano et al., "Twins: BFT Systems Made Robust"): a compromised validator runs as two
//! real nodes with the same key, and each twin sees only part of the network during the first
//! views, as simplex's twins scenario generator (`mocks::twins`) scripts it: which validators
//! each twin exchanges votes and certificates with, and who leads, view by view. After the
//! scripted views the network is whole again and leaders rotate round robin.
//!
//! Each twin runs the honest protocol on what it sees, so between them they vote for whatever
//! either half is shown, which is the equivocation a real compromised key can produce. Only
//! votes and certificates are partitioned (as in simplex's own twins tests): blocks, backfill and
//! state sync reach both twins and everyone, as block bytes do through any honest relay, and the
//! simplex resolver of the twins is silent, so a twin cannot fetch certificates from the side
//! it does not see.

use super::{harness::SimOracle, *};
use commonware_codec::{Decode as _, DecodeExt as _};
use commonware_consensus::{
    Viewable as _,
    simplex::{
        elector::Elector as _,
        mocks::twins::{self, Scenario},
        types::{Certificate, Vote},
    },
    types::TermLength,
};
use commonware_cryptography::certificate::Verifier as _;
use commonware_p2p::simulated::{SplitOrigin, SplitTarget};
use commonware_runtime::IoBuf;
use node::engine::Channels;

use rand_core::SeedableRng as _;
pub(crate) use twins::Case;

/// The leader election of every node in a twins case: the scenario's leaders for the scripted
/// views, round robin after them (and throughout when there is no case).
pub(crate) type Elector = twins::Elector<RoundRobin<Sha256>>;

pub(crate) fn elector(case: Option<&Case>, validators: usize) -> Elector {
    match case {
        Some(case) => twins::Elector::new(RoundRobin::default(), &case.scenario, validators),
        None => twins::Elector::default(),
    }
}

/// The twins cases of a campaign: `default` cases (or `EQUA_TWINS_CASES`) of four validators
/// and one compromised, drawn from the scenario space with a fixed seed.
pub(crate) fn cases(mode: twins::Mode, rounds: usize, default: usize) -> Vec<Case> {
    let max_cases = std::env::var("EQUA_TWINS_CASES")
        .map(|count| count.parse().expect("EQUA_TWINS_CASES is a count"))
        .unwrap_or(default);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x7715);
    twins::cases(
        &mut rng,
        twins::Framework {
            participants: 4,
            faults: 1,
            rounds,
            mode,
            max_cases,
        },
    )
}

/// How a twin's channel is split between the twins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// Votes: per the scenario, by the vote's view.
    Votes,
    /// Certificates: per the scenario, by the certificate's view.
    Certificates,
    /// Both twins send to, and hear from, everyone.
    Shared,
    /// Neither twin sends or hears anything.
    Silent,
    /// Only the primary twin sends and hears: the key resharing, which one half runs for the
    /// key. (Were both to deal, each would receive the acknowledgements of the other's dealings,
    /// find them invalid and block their honest senders, cutting the twins off before their
    /// votes could split anyone.)
    Primary,
}

/// What the twins' channel splitters know: the scenario and how to read a view off a message.
#[derive(Clone)]
struct Split {
    scenario: Arc<Scenario>,
    participants: Arc<[ed25519::PublicKey]>,
    term_length: TermLength,
    scheme: node::Scheme,
}

impl Split {
    /// The view of a vote or certificate, or `None` for other channels or bytes that do not
    /// decode (which then reach neither twin).
    fn view(&self, route: Route, message: &IoBuf) -> Option<commonware_consensus::types::View> {
        // Votes end with their sender's node-key signature (`node::evidence`).
        let message = match route {
            Route::Votes => {
                message.slice(..message.len().checked_sub(node::evidence::SIGNATURE_BYTES)?)
            }
            _ => message.clone(),
        };
        // Consensus messages travel on the subchannel of their epoch.
        let (_, message) = &commonware_p2p::utils::mux::parse(message).ok()?;
        match route {
            Route::Votes => Vote::<node::Scheme, Digest>::decode(message.clone())
                .ok()
                .map(|vote| vote.view()),
            Route::Certificates => Certificate::<node::Scheme, Digest>::decode_cfg(
                message.clone(),
                &self.scheme.certificate_codec_config(),
            )
            .ok()
            .map(|certificate| certificate.view()),
            Route::Shared | Route::Silent | Route::Primary => None,
        }
    }

    /// Whom a twin's message goes to: of the recipients it named, those its side sees.
    fn forwarder(
        self,
        route: Route,
    ) -> impl Fn(
        SplitOrigin,
        &Recipients<ed25519::PublicKey>,
        &IoBuf,
    ) -> Option<Recipients<ed25519::PublicKey>>
    + Send
    + Sync
    + Clone
    + 'static {
        move |origin, recipients, message| {
            match (route, origin) {
                (Route::Shared, _) | (Route::Primary, SplitOrigin::Primary) => {
                    return Some(recipients.clone());
                }
                (Route::Silent, _) | (Route::Primary, SplitOrigin::Secondary) => return None,
                (Route::Votes | Route::Certificates, _) => {}
            }
            let view = self.view(route, message)?;
            let (primary, secondary) =
                self.scenario
                    .partitions(view, self.term_length, &self.participants);
            let side = match origin {
                SplitOrigin::Primary => primary,
                SplitOrigin::Secondary => secondary,
            };
            let named: Vec<_> = match recipients {
                Recipients::All => side,
                Recipients::Some(named) => side
                    .into_iter()
                    .filter(|peer| named.contains(peer))
                    .collect(),
                Recipients::One(peer) => side.into_iter().filter(|p| p == peer).collect(),
            };
            Some(Recipients::Some(named))
        }
    }

    /// Which twin hears a message sent to the compromised validator.
    fn router(
        self,
        route: Route,
    ) -> impl Fn(&(ed25519::PublicKey, IoBuf)) -> SplitTarget + Send + Sync + 'static {
        move |(sender, message)| match route {
            Route::Shared => SplitTarget::Both,
            Route::Silent => SplitTarget::None,
            Route::Primary => SplitTarget::Primary,
            Route::Votes | Route::Certificates => match self.view(route, message) {
                Some(view) => {
                    self.scenario
                        .route(view, self.term_length, sender, &self.participants)
                }
                None => SplitTarget::None,
            },
        }
    }
}

/// Starts the compromised validator `index` as two twins, each a real node with its own storage,
/// on the channels the harness registered for it (the relay channel already taken off).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start_twins(
    sim: &Sim,
    case: &Case,
    context: deterministic::Context,
    index: usize,
    public_key: &ed25519::PublicKey,
    oracle: &SimOracle,
    channels: Vec<common::ChannelPair>,
    participants: &[ed25519::PublicKey],
    monitor: commonware_utils::channel::mpsc::UnboundedSender<
        commonware_glue::simulate::tracker::FinalizationUpdate<ed25519::PublicKey>,
    >,
) -> (Handle<()>, Validator) {
    let scheme = common::signer(participants, &sim.keys[index]);
    let term_length = <RoundRobin<Sha256> as commonware_consensus::simplex::elector::Config<
        node::Scheme,
    >>::build(RoundRobin::default(), scheme.participants())
    .terms()
    .length();
    let split = Split {
        scenario: Arc::new(case.scenario.clone()),
        participants: participants.into(),
        term_length,
        scheme: scheme.clone(),
    };
    let routes = [
        Route::Votes,
        Route::Certificates,
        Route::Silent,
        Route::Shared,
        Route::Shared,
        Route::Shared,
        Route::Shared,
        Route::Primary,
        Route::Shared,
    ];
    assert_eq!(channels.len(), routes.len(), "the nine consensus channels");
    let mut primary = Vec::new();
    let mut secondary = Vec::new();
    for ((sender, receiver), route) in channels.into_iter().zip(routes) {
        let (sender_primary, sender_secondary) = sender.split_with(split.clone().forwarder(route));
        let (receiver_primary, receiver_secondary) =
            receiver.split_with(context.child("split"), split.clone().router(route));
        primary.push((sender_primary, receiver_primary));
        secondary.push((sender_secondary, receiver_secondary));
    }
    let mut handles = Vec::new();
    let mut nodes = Vec::new();
    for (side, channels) in [("primary", primary), ("secondary", secondary)] {
        let config = NodeConfig {
            partition_prefix: format!("validator-{index}-{side}"),
            scheme: scheme.clone(),
            consensus_key: common::consensus_key(participants).0,
            signer: sim.keys[index].clone(),
            blocks_per_epoch: engine::SINGLE_EPOCH,
            followers: Default::default(),
            app: App::new(
                sim.genesis_store(),
                0,
                AppConfig {
                    audit_finalized: true,
                    ..AppConfig::default()
                },
            ),
            provider: Arc::new(common::RandomTransfers),
            retained_blocks: Some(100_000),
            state_sync: Default::default(),
            tuning: engine::Tuning {
                page_cache_pages: NZUsize!(64),
                ..engine::Tuning::default()
            },
        };
        let reporter_key = public_key.clone();
        let monitor = monitor.clone();
        // Both twins report their finalizations to the harness under the compromised key, so a
        // block either twin finalizes is checked against every honest validator's at its height.
        let (handle, node) = engine::start_node_with_elector(
            context.child("twin").with_attribute("side", side),
            config,
            public_key.clone(),
            Channels::from_ordered(channels),
            oracle.manager(),
            oracle.control(public_key.clone()),
            move |mailbox| {
                commonware_glue::simulate::reporter::MonitorReporter::new(
                    reporter_key,
                    monitor,
                    mailbox,
                )
            },
            sim.elector(),
        )
        .await;
        handles.push(handle);
        nodes.push(node);
    }
    let handle = context.child("twins").spawn(move |_| async move {
        for handle in handles {
            let _ = handle.await;
        }
    });
    let validator = Validator {
        index,
        public_key: public_key.clone(),
        byzantine: true,
        node: None,
        pool: None,
    };
    sim.twin_nodes.lock().unwrap().extend(nodes);
    (handle, validator)
}
