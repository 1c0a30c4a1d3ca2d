//! Call generators. Every actor may send any call at any time: each generator usually aims at a
//! live record with the party that may act on it, and otherwise sends the call from someone else,
//! at a record that does not exist, or with amounts at the edges (0, 1, `u128::MAX`, one above or
//! below a balance or a limit).

use super::{
    dice::Dice,
    lending_calls, market_calls,
    plan::{Envelope, TxPlan},
    staking_calls,
    view::View,
    world::{ACTORS, EQA, GOLD, Setup, USDX, WEI},
};
use crate::{state, store::MemoryStore};
use types::{
    AccountId, AssetId, Call, Symbol, Text,
    bank::{BankCall, Burn, IssueAsset, Mint, Transfer},
    codec::{Encode, decode},
};

/// What the generators see: the state at the start of the block, and a record the block's
/// calls crowd around, so that calls on one record race each other inside a block.
///
/// Most transactions are *sane*: the right party acts on a live record with amounts it can
/// afford, so cases reach deep states. A *sloppy* one (a quarter of them) takes liberties field
/// by field: another signer, an id that does not exist, amounts and terms at the edges.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub dice: &'a mut Dice,
    pub view: &'a View,
    pub setup: &'a Setup,
    pub store: &'a MemoryStore,
    /// A trade, offer, loan and credit offer id the block's calls prefer.
    pub focus: Focus,
    /// Whether the transaction being generated takes liberties.
    pub sloppy: bool,
    /// Whether the block's parties flood the focus trade's chat.
    pub flood: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Focus {
    pub offer: Option<u64>,
    pub trade: Option<u64>,
    pub loan: Option<u64>,
    pub credit: Option<u64>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        dice: &'a mut Dice,
        view: &'a View,
        setup: &'a Setup,
        store: &'a MemoryStore,
    ) -> Self {
        let flood = dice.chance(5);
        let focus = Focus {
            offer: dice.pick(&view.offers).map(|o| o.id),
            trade: {
                let live: Vec<u64> = view.live_trades().map(|t| t.id).collect();
                dice.pick(&live).copied()
            },
            loan: dice.pick(&view.loans).map(|l| l.id),
            credit: dice.pick(&view.credit_offers).map(|o| o.id),
        };
        Self {
            dice,
            view,
            setup,
            store,
            focus,
            sloppy: false,
            flood,
        }
    }

    pub fn now(&self) -> u64 {
        self.view.now_ms
    }

    /// Whether this field of a sloppy transaction goes to an edge.
    pub fn edgy(&mut self) -> bool {
        self.sloppy && self.dice.chance(40)
    }

    pub fn actor(&mut self) -> u64 {
        self.dice.below(ACTORS)
    }

    /// The actor who signs for `rightful`, or (when sloppy, half the time) anyone.
    pub fn signer_for(&mut self, rightful: &AccountId) -> u64 {
        match self.setup.actor(rightful) {
            Some(actor) if actor < ACTORS && !(self.sloppy && self.dice.chance(50)) => actor,
            _ => self.actor(),
        }
    }

    /// One of `others`' actors, or (when sloppy, half the time) anyone.
    pub fn signer_among(&mut self, others: &[AccountId]) -> u64 {
        match self.dice.pick(others).copied() {
            Some(account) => self.signer_for(&account),
            None => self.actor(),
        }
    }

    /// Anyone but `not` (sloppy: anyone at all).
    pub fn actor_other_than(&mut self, not: &AccountId) -> u64 {
        let actor = self.actor();
        if self.setup.account(actor) == *not && !self.sloppy {
            (actor + 1) % ACTORS
        } else {
            actor
        }
    }

    /// An account to name in a call: an actor, or one that never signs.
    pub fn account(&mut self) -> AccountId {
        if self.dice.chance(8) {
            self.setup.stranger
        } else {
            let actor = self.actor();
            self.setup.account(actor)
        }
    }

    pub fn balance(&self, actor: u64, asset: AssetId) -> u128 {
        state::balance(self.store, &self.setup.account(actor), asset)
    }

    pub fn decimals(&self, asset: AssetId) -> u8 {
        state::asset(self.store, asset).map_or(0, |info| info.decimals)
    }

    /// One whole unit of `asset` in minor units.
    pub fn unit(&self, asset: AssetId) -> u128 {
        types::amount::unit(self.decimals(asset)).unwrap_or(1)
    }

    /// An asset to trade or lend: mostly the genesis assets, sometimes one issued during the
    /// case; when sloppy, sometimes one that does not exist.
    pub fn asset(&mut self) -> AssetId {
        let issued = self
            .view
            .next_asset
            .saturating_sub(super::world::GENESIS_ASSETS);
        let missing = if self.sloppy { 8 } else { 0 };
        match self
            .dice
            .weighted(&[40, 15, 15, 10, if issued > 0 { 10 } else { 0 }, missing])
        {
            0 => USDX,
            1 => GOLD,
            2 => WEI,
            3 => EQA,
            4 => AssetId(super::world::GENESIS_ASSETS + self.dice.below(u64::from(issued)) as u32),
            _ => {
                if self.dice.chance(50) {
                    AssetId(self.view.next_asset)
                } else {
                    AssetId(u32::MAX)
                }
            }
        }
    }

    /// A modest amount of `asset` (between a tenth and forty whole units, and not above the
    /// actor's balance when it has some), or an edge around it and the balance.
    pub fn amount(&mut self, asset: AssetId, actor: u64) -> u128 {
        let unit = self.unit(asset);
        let balance = self.balance(actor, asset);
        let modest = unit
            .saturating_mul(self.dice.between(1, 40))
            .checked_div(self.dice.between(1, 10))
            .unwrap_or(1)
            .max(1);
        if self.edgy() {
            self.dice.edge(&[modest, balance])
        } else if balance > 0 {
            modest.min(balance)
        } else {
            modest
        }
    }

    /// One of `wanted`, the block's focus when it is one, any of `all` when none is wanted; or
    /// (at an edge) an id that does not exist.
    pub fn id(&mut self, focus: Option<u64>, wanted: &[u64], all: &[u64], last: u64) -> u64 {
        if self.edgy() || all.is_empty() {
            return match self.dice.below(3) {
                0 => 0,
                1 => last.saturating_add(1),
                _ => u64::MAX,
            };
        }
        if let Some(focus) = focus
            && wanted.contains(&focus)
            && self.dice.chance(40)
        {
            return focus;
        }
        match self.dice.pick(wanted) {
            Some(id) => *id,
            None => *self.dice.pick(all).expect("not empty"),
        }
    }

    /// A time ahead of now, from an hour to three weeks; or (at an edge) the past, now, or the
    /// next millisecond.
    pub fn deadline(&mut self) -> u64 {
        const HOUR_MS: u64 = 3_600_000;
        let now = self.now();
        if self.edgy() {
            return match self.dice.below(3) {
                0 => now.saturating_sub(1),
                1 => now,
                _ => now.saturating_add(1),
            };
        }
        now.saturating_add(self.dice.between(1, 21 * 24) as u64 * HOUR_MS)
    }
}

/// One random transaction.
pub fn tx(ctx: &mut Ctx) -> TxPlan {
    ctx.sloppy = ctx.dice.chance(25);
    let flood = ctx.flood && ctx.focus.trade.is_some() && ctx.dice.chance(80);
    let (signer, call) = match ctx.dice.weighted(&[6, 43, 37, 14]) {
        _ if flood => market_calls::flood(ctx),
        0 => bank(ctx),
        1 => market_calls::call(ctx),
        2 => lending_calls::call(ctx),
        _ => staking_calls::call(ctx),
    };
    // Every call the ledger is given must be one a node could have decoded: the ledger relies on
    // the codec's bounds (message sizes, method counts) and never sees anything else.
    let encoded = call.encode();
    assert!(
        decode::<Call>(&encoded).is_ok_and(|decoded| decoded == call),
        "the generator made a call that does not decode: {call:?}"
    );
    TxPlan {
        signer,
        call,
        envelope: envelope(ctx.dice),
    }
}

fn envelope(dice: &mut Dice) -> Envelope {
    match dice.weighted(&[88, 3, 2, 1, 2, 1, 1, 1, 1]) {
        0 => Envelope::Valid,
        1 => Envelope::Overpaid(dice.between(1, 1_000_000)),
        2 => Envelope::StaleNonce,
        3 => Envelope::FutureNonce,
        4 => Envelope::FeeTooLow,
        5 => Envelope::FeeUnaffordable,
        6 => Envelope::WrongKey,
        7 => Envelope::WrongChain,
        _ => Envelope::Expired,
    }
}

fn bank(ctx: &mut Ctx) -> (u64, Call) {
    let signer = ctx.actor();
    let call = match ctx.dice.below(6) {
        0..=2 => {
            let asset = ctx.asset();
            let to = if ctx.edgy() {
                ctx.setup.account(signer)
            } else {
                ctx.account()
            };
            BankCall::Transfer(Transfer {
                to,
                asset,
                amount: ctx.amount(asset, signer),
            })
        }
        3 => {
            let edgy = ctx.edgy();
            BankCall::IssueAsset(IssueAsset {
                symbol: Symbol::new(&format!("TK{}", ctx.dice.below(4))).expect("a valid symbol"),
                name: Text::new("token").expect("short"),
                decimals: if edgy {
                    *ctx.dice.pick(&[18u8, 19, u8::MAX]).expect("not empty")
                } else {
                    *ctx.dice.pick(&[0u8, 2, 6, 9]).expect("not empty")
                },
                max_supply: match ctx.dice.below(3) {
                    0 => None,
                    _ if edgy => Some(ctx.dice.edge(&[0, u128::MAX])),
                    _ => Some(ctx.dice.between(1, u128::from(u64::MAX))),
                },
            })
        }
        4 => {
            let asset = ctx.asset();
            let issuer = state::asset(ctx.store, asset).and_then(|info| info.issuer);
            let signer = issuer.map_or(signer, |issuer| ctx.signer_for(&issuer));
            let room = state::asset(ctx.store, asset).map_or(0, |info| {
                info.max_supply
                    .unwrap_or(u128::MAX)
                    .saturating_sub(info.supply)
            });
            let amount = ctx.amount(asset, signer);
            let amount = if ctx.edgy() {
                ctx.dice.edge(&[amount, room])
            } else {
                amount.min(room)
            };
            let to = ctx.account();
            return (
                signer,
                Call::Bank(BankCall::Mint(Mint { asset, to, amount })),
            );
        }
        _ => {
            let asset = ctx.asset();
            let issuer = state::asset(ctx.store, asset).and_then(|info| info.issuer);
            let signer = issuer.map_or(signer, |issuer| ctx.signer_for(&issuer));
            let balance = ctx.balance(signer, asset);
            let amount = if ctx.edgy() {
                ctx.dice.edge(&[balance, ctx.unit(asset)])
            } else {
                ctx.dice.between(1, balance.max(1))
            };
            return (signer, Call::Bank(BankCall::Burn(Burn { asset, amount })));
        }
    };
    (signer, Call::Bank(call))
}
