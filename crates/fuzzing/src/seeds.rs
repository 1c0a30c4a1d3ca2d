//! Valid inputs of every target, from which a fuzzer starts: transactions of every module, a
//! block and a batch carrying them, each RPC method with well-formed parameters, the command
//! line's transaction commands, and a few ledger cases. `examples/seeds.rs` writes them into
//! `fuzz/corpus/`; the corpus test replays them as well, so they stay valid as the code changes.

use crate::fixture::busy_chain;
use commonware_codec::Encode;
use commonware_storage::mmr::Location;
use commonware_utils::non_empty_range;
use ledger::testing::{TestChain, account};
use node::{block::Block, relay};
use serde_json::{Value, json};
use types::{
    AssetId, Call, Digest, SignedTransaction,
    bank::{BankCall, Transfer},
    lending::{LendingCall, Repay},
    market::{MarketCall, TradeRef},
    staking::{KeyProof, RegisterValidator, StakingCall},
};

fn transactions(chain: &TestChain) -> Vec<SignedTransaction> {
    let transfer = Call::Bank(BankCall::Transfer(Transfer {
        to: account(1),
        asset: AssetId::NATIVE,
        amount: 12_500_000,
    }));
    let release = Call::Market(MarketCall::Release(TradeRef { trade: 1 }));
    let repay = Call::Lending(LendingCall::Repay(Repay {
        loan: 2,
        amount: 1_000_000,
    }));
    let node = ledger::testing::key(10_000);
    let register = Call::Staking(StakingCall::Register(RegisterValidator {
        node_key: account(10_000),
        address: types::Text::new("127.0.0.1:9000").expect("short"),
        bond: 10_000_000_000_000,
        key_proof: KeyProof::sign(&node, &chain.chain_id(), &account(1)),
    }));
    vec![
        chain.tx(0, transfer),
        chain.tx(0, release),
        chain.tx(2, repay),
        chain.tx(1, register),
    ]
}

/// The seed inputs of the target named `target`.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let chain = busy_chain();
    let txs = transactions(&chain);
    match target {
        "transaction" => txs.iter().map(|tx| tx.encode().to_vec()).collect(),
        "block" => {
            let mut block = Block::genesis(
                chain.time_ms,
                Digest([0; 32]),
                non_empty_range!(Location::new(0), Location::new(1)),
                None,
            );
            let empty = block.encode().to_vec();
            block.txs = txs;
            let full = block.encode().to_vec();
            // A block carrying the resharing's largest kind of payload: an epoch's info, here
            // the genesis one of a key dealt to four validators.
            let validators: Vec<_> = (0..4)
                .map(|seed| {
                    use commonware_cryptography::Signer as _;
                    commonware_cryptography::ed25519::PrivateKey::from_seed(seed).public_key()
                })
                .collect();
            let (key, _) = node::threshold::deal(
                <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(7),
                &validators,
            );
            block.reshare = Some(
                commonware_glue::dkg::types::Payload::EpochInfo(node::epochs::genesis_epoch_info(
                    &key,
                ))
                .into(),
            );
            vec![empty, full, block.encode().to_vec()]
        }
        "relay_batch" => vec![relay::encode(&txs), relay::encode(&txs[..1])],
        "rpc_params" => rpc_params(&txs),
        "web_action" => std::iter::once(Vec::new())
            .chain(WEB_ACTIONS.iter().map(|line| {
                line.replace("<address>", &account(1).to_address())
                    .split(' ')
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes()
            }))
            .collect(),
        "ledger_apply" => vec![Vec::new(), vec![0; 64], (0..=255).collect()],
        _ => panic!("no target named {target}"),
    }
}

/// Each method with each of a few well-formed parameter lists: the target prefixes the method's
/// index.
fn rpc_params(txs: &[SignedTransaction]) -> Vec<Vec<u8>> {
    let tx_hex = hex(&txs[0].encode());
    let tx_id = hex(txs[0].id().as_ref());
    let address = account(0).to_address();
    let params: Vec<Value> = vec![
        json!([]),
        json!([address]),
        json!([address, 10]),
        json!([1]),
        json!([3, 0]),
        json!([tx_hex]),
        json!([[tx_hex]]),
        json!([tx_id]),
        json!([{ "side": "sell", "asset": "USDX", "fiat": "EUR", "amount": "10" }]),
        json!([{ "state": "funding" }]),
    ];
    let methods = crate::rpc_params::methods();
    let mut seeds = Vec::new();
    for (index, _) in methods.iter().enumerate() {
        for params in &params {
            let mut seed = vec![u8::try_from(index).expect("fewer than 256 methods")];
            seed.extend(params.to_string().into_bytes());
            seeds.push(seed);
        }
    }
    seeds
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The command line's transaction commands, as the web interface's forms send them.
const WEB_ACTIONS: [&str; 24] = [
    "send <address> 12.5 USDX",
    "asset issue GOLD --name Gold --decimals 8",
    "asset mint 1 100 <address>",
    "asset burn 1 5",
    "profile set --name alice",
    "offer create sell 500 USDX --min 10 --price 0.95 --fiat EUR --method SEPA_INSTANT",
    "offer update 1 --price 0.97",
    "offer cancel 1",
    "trade take 7 25 USDX --method SEPA_INSTANT --revision 2",
    "trade paid 3",
    "trade release 3",
    "trade cancel 3",
    "trade dispute 3",
    "trade rate 3 5",
    "trade chat send 3 hello",
    "arbitrator register --bond 1000 --fee-bps 100 --languages en",
    "arbitrator rule 3 --to-buyer 25 --at-fault seller",
    "loan request 1000 USDX --apr-bps 1200 --term-days 90 --schedule 3 --collateral 500 EQA",
    "loan offer 5000 USDX --apr-bps 900 --term-days 30 --collateral-per-unit 1.5 EQA",
    "loan fund 1 250",
    "loan take-offer 1 500 --collateral 750",
    "loan repay 2 120.5",
    "loan repay 2 --all",
    "loan claim 2",
];
