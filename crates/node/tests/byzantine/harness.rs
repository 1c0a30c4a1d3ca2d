//! The simulated validators: the real node, or a simplex mock in place of a byzantine one.

use super::*;

pub(crate) type SimOracle = Oracle<ed25519::PublicKey, deterministic::Context>;

#[derive(Clone)]
pub(crate) struct Sim {
    pub(crate) keys: Vec<ed25519::PrivateKey>,
    /// Indices of the byzantine validators.
    pub(crate) byzantine: Vec<usize>,
    pub(crate) misbehaviour: Misbehaviour,
    /// The simulated network, for the checks to ask whom each validator blocked.
    pub(crate) oracle: Arc<Mutex<Option<SimOracle>>>,
    /// Blocks a forging (or tampering) leader built with a forged (or unaffordable) transfer.
    pub(crate) forged_proposals: Arc<AtomicU64>,
    /// The transaction ids of every forged or unaffordable transfer.
    pub(crate) forged_ids: Arc<Mutex<Vec<types::TxId>>>,
    /// Relay messages the spammer tried to send, and those the quota let through.
    pub(crate) spam_attempts: Arc<AtomicU64>,
    pub(crate) spam_sent: Arc<AtomicU64>,
    /// The twins case, when the byzantine validator runs as twins.
    pub(crate) twins: Option<Arc<twins::Case>>,
    /// Both twins' nodes, for the checks.
    pub(crate) twin_nodes: Arc<Mutex<Vec<NodeState<deterministic::Context>>>>,
}

impl Sim {
    /// Every validator is registered in the staking module, so evidence slashes its bond.
    pub(crate) fn genesis_store(&self) -> MemoryStore {
        let keys: Vec<_> = self.keys.iter().map(|key| key.public_key()).collect();
        common::staking_genesis_store(common::ACCOUNTS, &keys)
    }

    pub(crate) fn new(validators: u64, byzantine: Vec<usize>, misbehaviour: Misbehaviour) -> Self {
        Self {
            keys: common::validator_keys(validators),
            byzantine,
            misbehaviour,
            oracle: Arc::default(),
            forged_proposals: Arc::default(),
            forged_ids: Arc::default(),
            spam_attempts: Arc::default(),
            spam_sent: Arc::default(),
            twins: None,
            twin_nodes: Arc::default(),
        }
    }

    /// Four validators, of which the case's compromised one runs as twins.
    pub(crate) fn twins(case: twins::Case) -> Self {
        let compromised = case.compromised.clone();
        Self {
            twins: Some(Arc::new(case)),
            ..Self::new(4, compromised, Misbehaviour::Twins)
        }
    }

    /// The leader election every validator of this simulation uses.
    pub(crate) fn elector(&self) -> twins::Elector {
        twins::elector(self.twins.as_deref(), self.keys.len())
    }
}

/// A validator as the checks see it.
pub(crate) struct Validator {
    pub(crate) index: usize,
    pub(crate) public_key: ed25519::PublicKey,
    pub(crate) byzantine: bool,
    /// The node, unless a simplex mock runs in its place.
    pub(crate) node: Option<NodeState<deterministic::Context>>,
    /// Where relayed transactions land.
    pub(crate) pool: Option<Mempool>,
}

impl ProcessedHeight for Validator {
    async fn processed_height(&self) -> u64 {
        match &self.node {
            Some(node) if !self.byzantine => common::processed_height(node).await,
            // The run waits for the honest validators only (a mock follows no chain, and a
            // blocked validator cannot).
            _ => u64::MAX,
        }
    }
}

/// The relay channel's quota: what `equa node` allows each peer (see `run`).
pub(crate) fn relay_quota() -> Quota {
    Quota::per_second(NZU32!(400))
}

impl EngineDefinition for Sim {
    type PublicKey = ed25519::PublicKey;
    type Engine = Handle<()>;
    type State = Validator;

    fn participants(&self) -> Vec<ed25519::PublicKey> {
        self.keys.iter().map(|key| key.public_key()).collect()
    }

    fn channels(&self) -> Vec<(u64, Quota)> {
        let mut channels = common::consensus_channels();
        channels.push((node::relay::CHANNEL, relay_quota()));
        channels
    }

    fn max_message_size(&self) -> u32 {
        engine::max_message_size(self.keys.len() as u32)
    }

    async fn init(&self, init: InitContext<'_, ed25519::PublicKey>) -> (Handle<()>, Validator) {
        let InitContext {
            context,
            index,
            public_key,
            oracle,
            mut channels,
            participants,
            monitor,
            ..
        } = init;
        *self.oracle.lock().unwrap() = Some(oracle.clone());
        let byzantine = self.byzantine.contains(&index);
        let scheme = common::signer(participants, &self.keys[index]);
        let relay_channel = channels
            .pop()
            .expect("the relay channel is registered last");
        let mut validator = Validator {
            index,
            public_key: public_key.clone(),
            byzantine,
            node: None,
            pool: None,
        };
        if let (true, Some(case)) = (byzantine, &self.twins) {
            return twins::start_twins(
                self,
                case,
                context,
                index,
                public_key,
                oracle,
                channels,
                participants,
                monitor,
            )
            .await;
        }
        if byzantine && !self.misbehaviour.runs_a_node() {
            let mut channels = channels.into_iter();
            let context = context.child("byzantine");
            // Honest nodes speak each epoch's consensus on a subchannel of its own.
            // It signs what it sends with its node key, as every node's vote channel does, so
            // honest nodes hear it (and hold it to what it signs).
            let (sender, receiver) = channels.next().expect("votes");
            let tag = node::evidence::chain_tag(&self.genesis_store());
            if self.misbehaviour == Misbehaviour::ShieldedConflicter {
                // Signed nullifies of a far epoch and of far views of epoch 0, re-sent every
                // 100 ms, to push its real rounds out of the honest receivers' memory.
                use commonware_codec::{Encode as _, varint::UInt};
                use commonware_consensus::{
                    simplex::types::{Nullify, Vote},
                    types::{Round, View},
                };
                use commonware_p2p::{CheckedSender as _, LimitedSender as _};
                const FAR: u64 = 1 << 40;
                let filler: Vec<Vec<u8>> = (1..=64u64)
                    .flat_map(|view| [(FAR, view), (0, 1_000 + view)])
                    .map(|(epoch, view)| {
                        let round = Round::new(Epoch::new(epoch), View::new(view));
                        let vote: Vote<node::Scheme, Digest> =
                            Vote::Nullify(Nullify::sign::<Digest>(&scheme, round).unwrap());
                        let mut message = UInt(epoch).encode().to_vec();
                        message.extend_from_slice(&vote.encode());
                        message
                    })
                    .collect();
                let mut shield = SignedSender::new(
                    sender.clone(),
                    self.keys[index].clone(),
                    tag,
                    Default::default(),
                );
                context.child("shield").spawn(move |context| async move {
                    loop {
                        for message in &filler {
                            if let Ok(checked) = shield.check(Recipients::All) {
                                let _ = checked.send(message.clone(), true);
                            }
                        }
                        context.sleep(Duration::from_millis(100)).await;
                    }
                });
            }
            let votes = epoch_zero(
                &context,
                "votes",
                (
                    SignedSender::new(sender, self.keys[index].clone(), tag, Default::default()),
                    SignedReceiver::new(
                        receiver,
                        tag,
                        Default::default(),
                        Default::default(),
                        oracle.control(public_key.clone()),
                    ),
                ),
            )
            .await;
            let (sender, receiver) = channels.next().expect("certificates");
            let certificates = epoch_zero(
                &context,
                "certificates",
                (SignedSender::plain(sender), SignedReceiver::plain(receiver)),
            )
            .await;
            let handle = match self.misbehaviour {
                Misbehaviour::Conflicter | Misbehaviour::ShieldedConflicter => {
                    conflicter::Conflicter::<_, _, Sha256>::new(
                        context,
                        conflicter::Config { scheme },
                    )
                    .start(votes)
                }
                Misbehaviour::CorruptSignatures => conflicter::Conflicter::<_, _, Sha256>::new(
                    context,
                    conflicter::Config {
                        scheme: wrapped::Scheme::new(scheme, Behavior::CorruptSignature),
                    },
                )
                .start(votes),
                Misbehaviour::Equivocator => equivocator::Equivocator::<_, _, _, Sha256>::new(
                    context,
                    equivocator::Config {
                        scheme,
                        elector: RoundRobin::<Sha256>::default(),
                        epoch: Epoch::zero(),
                        relay: Arc::new(relay::Relay::new()),
                    },
                )
                .start(votes, certificates),
                Misbehaviour::Impersonator => impersonator::Impersonator::<_, _, Sha256>::new(
                    context,
                    impersonator::Config { scheme },
                )
                .start(votes),
                Misbehaviour::Nuller => {
                    nuller::Nuller::<_, _, Sha256>::new(context, nuller::Config { scheme })
                        .start(votes)
                }
                Misbehaviour::NullifyOnly => nullify_only::NullifyOnly::<_, _, Sha256>::new(
                    context,
                    nullify_only::Config { scheme },
                )
                .start(votes),
                Misbehaviour::Outdated => outdated::Outdated::<_, _, Sha256>::new(
                    context,
                    outdated::Config {
                        scheme,
                        view_delta: ViewDelta::new(5),
                    },
                )
                .start(votes),
                Misbehaviour::ForgedTransactions
                | Misbehaviour::UnaffordableTransactions
                | Misbehaviour::MalformedRelay
                | Misbehaviour::RelayFlood
                | Misbehaviour::Twins => unreachable!("runs a node"),
            };
            return (handle, validator);
        }
        let provider: node::Provider =
            if byzantine && self.misbehaviour == Misbehaviour::ForgedTransactions {
                Arc::new(ForgingTransfers {
                    proposals: self.forged_proposals.clone(),
                    ids: self.forged_ids.clone(),
                })
            } else {
                Arc::new(common::RandomTransfers)
            };
        if byzantine
            && matches!(
                self.misbehaviour,
                Misbehaviour::MalformedRelay | Misbehaviour::RelayFlood
            )
        {
            spam_the_relay(
                context.child("spammer"),
                relay_channel,
                self.misbehaviour == Misbehaviour::MalformedRelay,
                self.spam_attempts.clone(),
                self.spam_sent.clone(),
            );
        } else {
            let pool = Mempool::new(MempoolConfig::default(), Arc::new(self.genesis_store()), 0);
            let blocker = oracle.control(public_key.clone());
            node::relay::start(
                context.child("relay"),
                relay_channel,
                pool.clone(),
                blocker,
                None,
            );
            validator.pool = Some(pool);
        }
        let mut app = App::new(
            self.genesis_store(),
            0,
            AppConfig {
                audit_finalized: true,
                ..AppConfig::default()
            },
        );
        if byzantine && self.misbehaviour == Misbehaviour::UnaffordableTransactions {
            let proposals = self.forged_proposals.clone();
            let ids = self.forged_ids.clone();
            app = app.with_proposal_tampering(ProposalTampering(Arc::new(
                move |parent: &MemoryStore, context: &BlockContext| {
                    let tx = unaffordable(parent, context);
                    ids.lock().unwrap().push(tx.id());
                    proposals.fetch_add(1, Ordering::Relaxed);
                    vec![tx]
                },
            )));
        }
        let config = NodeConfig {
            partition_prefix: format!("validator-{index}"),
            scheme,
            consensus_key: common::consensus_key(participants).0,
            signer: self.keys[index].clone(),
            blocks_per_epoch: engine::SINGLE_EPOCH,
            followers: Default::default(),
            app,
            provider,
            retained_blocks: Some(100_000),
            state_sync: Default::default(),
            tuning: engine::Tuning {
                page_cache_pages: NZUsize!(64),
                ..engine::Tuning::default()
            },
        };
        let (handle, node) = common::start_validator_with_elector(
            context,
            public_key,
            oracle,
            channels,
            monitor,
            config,
            self.elector(),
        )
        .await;
        validator.node = Some(node);
        (handle, validator)
    }

    fn start(engine: Handle<()>) -> Handle<()> {
        engine
    }
}

type SimulatedSender =
    commonware_p2p::simulated::Sender<ed25519::PublicKey, deterministic::Context>;
type SignedPair = (
    SignedSender<SimulatedSender>,
    SignedReceiver<commonware_p2p::simulated::Receiver<ed25519::PublicKey>>,
);

/// `channel`'s subchannel of epoch 0, as glue's orchestrator muxes each consensus channel by
/// epoch: a byzantine actor speaking plain simplex is heard by honest nodes only there.
async fn epoch_zero(
    context: &deterministic::Context,
    name: &'static str,
    (sender, receiver): SignedPair,
) -> (
    commonware_p2p::utils::mux::SubSender<SignedSender<SimulatedSender>>,
    commonware_p2p::utils::mux::SubReceiver<ed25519::PublicKey>,
) {
    let (mux, mut handle) =
        commonware_p2p::utils::mux::Muxer::new(context.child(name), sender, receiver);
    mux.start();
    handle
        .register(0)
        .await
        .expect("epoch 0's subchannel is free")
}
