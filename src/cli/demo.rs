//! `equa demo`: applies a few blocks to a genesis in memory and prints what happened.
//!
//! It needs no network and no files beyond an optional genesis. The built-in genesis funds three
//! accounts whose keys are derived from fixed, public seeds (alice = 1, bob = 2, carol = 3).

use clap::Args;
use ledger::{
    BankError, BlockContext, CallError, Genesis, MemoryStore, Outcome, Receipt, apply_block, audit,
    state,
    testing::{account, key},
};
use std::path::PathBuf;
use types::{
    AccountId, AssetId, Call, SignedTransaction, Symbol, Text, Transaction, amount,
    bank::{BankCall, IssueAsset, Mint, Transfer},
};

const DEMO_GENESIS: &str = include_str!("../../examples/demo-genesis.toml");
const NAMES: [(&str, u64); 3] = [("alice", 1), ("bob", 2), ("carol", 3)];

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A genesis TOML file to start from instead of the built-in demo genesis. It must fund
    /// the demo accounts (see examples/demo-genesis.toml).
    #[arg(long)]
    genesis: Option<PathBuf>,
}

struct Demo {
    store: MemoryStore,
    genesis: Genesis,
    height: u64,
    time_ms: u64,
}

impl Demo {
    fn asset(&self, symbol: &str) -> Result<AssetId, String> {
        let symbol = Symbol::new(symbol).map_err(|e| e.to_string())?;
        state::asset_by_symbol(&self.store, &symbol)
            .ok_or_else(|| format!("the genesis has no {symbol} asset"))
    }

    fn amount(&self, text: &str, asset: AssetId) -> Result<u128, String> {
        let decimals = state::asset(&self.store, asset).map_or(0, |info| info.decimals);
        amount::parse(text, decimals).map_err(|e| e.to_string())
    }

    fn tx(&self, signer: u64, nonce_offset: u64, call: Call) -> SignedTransaction {
        let from = account(signer);
        let params = state::params(&self.store);
        let body = |fee| Transaction {
            chain_id: self.genesis.chain_id.clone(),
            signer: from,
            nonce: state::nonce(&self.store, &from) + nonce_offset,
            fee,
            expires_at_height: self.height + 10,
            call: call.clone(),
        };
        let size = SignedTransaction::sign(body(0), &key(signer)).size();
        let fee = params.required_fee(call.kind(), size).unwrap_or(u128::MAX);
        SignedTransaction::sign(body(fee), &key(signer))
    }

    fn block(&mut self, title: &str, txs: &[(&str, SignedTransaction)]) -> Result<(), String> {
        self.height += 1;
        self.time_ms += 2_000;
        let context = BlockContext {
            height: self.height,
            timestamp_ms: self.time_ms,
            proposer: account(4),
            round: u128::from(self.height).saturating_mul(2),
            seeded: true,
            randomness: [0; 32],
            offenses: Vec::new(),
            next_holders: None,
        };
        let signed: Vec<SignedTransaction> = txs.iter().map(|(_, tx)| tx.clone()).collect();
        let receipts =
            apply_block(&mut self.store, &context, &signed).map_err(|e| e.to_string())?;
        println!("\nblock {} — {title}", self.height);
        for ((label, _), receipt) in txs.iter().zip(&receipts) {
            println!("  {label}\n    -> {}", describe(receipt, &self.store));
        }
        audit::check_conservation(&self.store).map_err(|e| format!("conservation broken: {e}"))?;
        Ok(())
    }

    fn print_balances(&self) {
        println!("\nbalances after block {}:", self.height);
        let assets: Vec<(AssetId, state::AssetInfo)> = (0..state::next_asset_id(&self.store).0)
            .filter_map(|id| state::asset(&self.store, AssetId(id)).map(|info| (AssetId(id), info)))
            .collect();
        let mut holders: Vec<(String, AccountId)> = NAMES
            .iter()
            .map(|(name, seed)| (name.to_string(), account(*seed)))
            .collect();
        holders.push(("proposer (fees)".into(), account(4)));
        for (name, id) in holders {
            let held: Vec<String> = assets
                .iter()
                .map(|(asset, info)| {
                    let value = state::balance(&self.store, &id, *asset);
                    format!("{} {}", amount::format(value, info.decimals), info.symbol)
                })
                .collect();
            println!("  {name:<16} {}", held.join(", "));
        }
    }
}

fn describe(receipt: &Receipt, store: &MemoryStore) -> String {
    let fee = amount::format(receipt.fee_paid, 9);
    match &receipt.outcome {
        Outcome::Success => format!("success, fee {fee} EQA, {} event(s)", receipt.events.len()),
        Outcome::Failed(CallError::Bank(BankError::InsufficientBalance {
            asset,
            needed,
            available,
            ..
        })) => {
            let info = state::asset(store, *asset);
            let decimals = info.as_ref().map_or(0, |info| info.decimals);
            let symbol = info.map_or_else(|| asset.to_string(), |info| info.symbol.to_string());
            format!(
                "failed: insufficient balance: holds {} {symbol}, needs {} {symbol} (fee {fee} EQA paid)",
                amount::format(*available, decimals),
                amount::format(*needed, decimals),
            )
        }
        Outcome::Failed(error) => format!("failed: {error} (fee {fee} EQA paid)"),
        Outcome::Rejected(error) => format!("rejected: {error} (nothing changed)"),
    }
}

pub fn run(args: DemoArgs) -> Result<(), String> {
    let genesis = match &args.genesis {
        Some(path) => Genesis::load(path).map_err(|e| e.to_string())?,
        None => Genesis::from_toml(DEMO_GENESIS).map_err(|e| format!("built-in genesis: {e}"))?,
    };
    let mut store = MemoryStore::new();
    genesis.initialize(&mut store);
    for (name, seed) in NAMES {
        println!("{name:<6} {}", account(seed));
    }
    let mut demo = Demo {
        time_ms: genesis.genesis_time_ms,
        store,
        genesis,
        height: 0,
    };
    let (alice, bob, carol) = (1, 2, 3);
    let eqa = AssetId::NATIVE;
    let usdx = demo.asset("USDX")?;
    demo.print_balances();

    let send = |to: u64, asset: AssetId, amount: u128| {
        Call::Bank(BankCall::Transfer(Transfer {
            to: account(to),
            asset,
            amount,
        }))
    };
    let txs = [
        (
            "alice sends 250 USDX to bob",
            demo.tx(alice, 0, send(bob, usdx, demo.amount("250", usdx)?)),
        ),
        (
            "bob sends 12.5 EQA to carol",
            demo.tx(bob, 0, send(carol, eqa, demo.amount("12.5", eqa)?)),
        ),
        (
            "alice mints 1000 USDX for carol",
            demo.tx(
                alice,
                1,
                Call::Bank(BankCall::Mint(Mint {
                    asset: usdx,
                    to: account(carol),
                    amount: demo.amount("1000", usdx)?,
                })),
            ),
        ),
    ];
    demo.block("payments", &txs)?;

    let replay = txs[0].1.clone();
    let txs = [
        (
            "bob tries to send 500 USDX to carol but holds 250",
            demo.tx(bob, 0, send(carol, usdx, demo.amount("500", usdx)?)),
        ),
        ("someone replays alice's first transfer", replay),
        (
            "carol issues a new asset, GOLD",
            demo.tx(
                carol,
                0,
                Call::Bank(BankCall::IssueAsset(IssueAsset {
                    symbol: Symbol::new("GOLD").map_err(|e| e.to_string())?,
                    name: Text::new("Demo gold gram").map_err(|e| e.to_string())?,
                    decimals: 3,
                    max_supply: Some(1_000_000_000),
                })),
            ),
        ),
    ];
    demo.block("a failure, a rejection and a new asset", &txs)?;
    demo.print_balances();
    println!("\nevery block kept sum(balances) == supply for every asset");
    Ok(())
}
