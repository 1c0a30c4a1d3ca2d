//! Byzantine behaviour beyond simplex's mocks: a forging or tampering leader, a relay spammer.

use super::*;

/// `RandomTransfers`, plus a transfer from account 0 to the leader's account that account 0
/// never signed (account 1 signed it). The source claims to have verified every
/// signature, so the leader's own execution skips the check and its proposal carries the forgery.
#[derive(Debug)]
pub(crate) struct ForgingTransfers {
    pub(crate) proposals: Arc<AtomicU64>,
    pub(crate) ids: Arc<Mutex<Vec<types::TxId>>>,
}

impl TransactionSource for ForgingTransfers {
    fn select(
        &self,
        parent: &MemoryStore,
        context: &BlockContext,
        limit: usize,
    ) -> Vec<SignedTransaction> {
        let mut txs = common::RandomTransfers.select(parent, context, limit.saturating_sub(1));
        let victim = testing::account(0);
        let body = types::Transaction {
            chain_id: state::chain_id(parent),
            signer: victim,
            nonce: state::nonce(parent, &victim),
            fee: 1_000_000,
            expires_at_height: context.height + 100,
            call: types::Call::Bank(types::bank::BankCall::Transfer(types::bank::Transfer {
                to: context.proposer,
                asset: types::AssetId::NATIVE,
                amount: 1_000_000_000,
            })),
        };
        let forged = SignedTransaction::sign(body, &testing::key(1));
        // The forgery goes first, so that it spends the victim's next nonce.
        txs.retain(|tx| tx.tx().signer != victim);
        txs.insert(0, forged.clone());
        self.ids.lock().unwrap().push(forged.id());
        self.proposals.fetch_add(1, Ordering::Relaxed);
        txs
    }

    fn signatures_known_valid(&self, txs: &[SignedTransaction]) -> Vec<bool> {
        vec![true; txs.len()]
    }
}

/// A transfer from an account that holds nothing, paying the scheduled fee it cannot pay.
pub(crate) fn unaffordable(parent: &MemoryStore, context: &BlockContext) -> SignedTransaction {
    let pauper = common::ACCOUNTS + 100;
    let body = |fee| types::Transaction {
        chain_id: state::chain_id(parent),
        signer: testing::account(pauper),
        nonce: 0,
        fee,
        expires_at_height: context.height + 100,
        call: types::Call::Bank(types::bank::BankCall::Transfer(types::bank::Transfer {
            to: context.proposer,
            asset: types::AssetId::NATIVE,
            amount: 1,
        })),
    };
    let size = SignedTransaction::sign(body(0), &testing::key(pauper)).size();
    let fee = state::params(parent)
        .required_fee("bank.transfer", size)
        .expect("fee fits");
    SignedTransaction::sign(body(fee), &testing::key(pauper))
}

/// Every millisecond, sends to every peer either (`malformed`) bytes that are no batch or a batch
/// of more transactions than a batch may hold, in turn, or a well-formed batch of 16
/// transactions with forged signatures. The simulated network drops what exceeds the relay
/// quota, as a receiving node would.
pub(crate) fn spam_the_relay(
    context: deterministic::Context,
    (mut sender, _receiver): common::ChannelPair,
    malformed: bool,
    attempts: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
) {
    context.spawn(move |context| async move {
        let genesis = common::genesis_store(common::ACCOUNTS);
        let forged: Vec<SignedTransaction> = (0..16)
            .map(|nonce| {
                let body = types::Transaction {
                    chain_id: state::chain_id(&genesis),
                    signer: testing::account(2),
                    nonce,
                    fee: 1_000_000,
                    expires_at_height: 1_000,
                    call: types::Call::Bank(types::bank::BankCall::Transfer(
                        types::bank::Transfer {
                            to: testing::account(3),
                            asset: types::AssetId::NATIVE,
                            amount: 1,
                        },
                    )),
                };
                SignedTransaction::sign(body, &testing::key(3))
            })
            .collect();
        let well_formed = node::relay::encode(&forged);
        let too_many = node::relay::encode(&vec![forged[0].clone(); node::relay::MAX_BATCH + 1]);
        let garbage: Vec<u8> = (0..=255u8).cycle().take(4_096).collect();
        let messages = if malformed {
            vec![garbage, too_many]
        } else {
            vec![well_formed]
        };
        for round in 0usize.. {
            let message = messages[round % messages.len()].clone();
            attempts.fetch_add(1, Ordering::Relaxed);
            if !sender.send(Recipients::All, message, false).is_empty() {
                sent.fetch_add(1, Ordering::Relaxed);
            }
            context.sleep(Duration::from_millis(1)).await;
        }
    });
}
