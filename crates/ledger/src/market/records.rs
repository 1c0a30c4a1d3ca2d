//! The market's state: records, their keys, and typed reads and writes.

use crate::{index, state::read, state::write, store::Store};
use types::{
    AccountId, AssetId, Text,
    codec::{Buf, CodecError, EncodeSize, RangeCfg, Read, Write},
    impl_codec,
    market::{
        DisputeReason, Fiat, MAX_DISPUTE_NOTE_BYTES, MAX_OFFER_METHODS, MAX_TERMS_BYTES, Party,
        PaymentMethod, Side,
    },
};

/// Table tags of the market (0x10-0x2f).
pub mod table {
    pub const OFFER: u8 = 0x10;
    pub const TRADE: u8 = 0x11;
    pub const COUNTERS: u8 = 0x12;
    pub const ARBITRATOR: u8 = 0x13;
    pub const ARBITRATOR_LIST: u8 = 0x14;
    pub const REPUTATION: u8 = 0x15;
    pub const MESSAGE: u8 = 0x16;
    pub const COMMITMENT: u8 = 0x17;
    pub const COMMITMENT_USER: u8 = 0x18;
    pub const PROFILE: u8 = 0x19;
    pub const REVEALED_KEY: u8 = 0x1a;
    pub const PARAMS: u8 = 0x1b;
    pub const PENDING_PICKS: u8 = 0x1c;
    pub const COUNTERPARTY: u8 = 0x1d;
}

/// How many recent durations a record keeps to report a median.
pub const RECENT_DURATIONS: usize = 64;
/// The most accounts a trade's dispute can be reassigned away from.
pub const MAX_REASSIGNMENTS: usize = 16;
/// The most assets a reputation keeps volumes for.
pub const MAX_VOLUME_ASSETS: usize = 64;
/// The most arbitrator picks one block can ask for. Each `open_dispute` or `reassign` asks for
/// at most one and the list is emptied at the start of every block, so it holds one block's
/// requests: twice the most transactions a block carries (4,096 at the node), so it never fills
/// in practice. Should it fill, further requests fail with a named error.
pub const MAX_PENDING_PICKS: usize = 8_192;

fn key_u64(tag: u8, id: u64) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

fn key_account(tag: u8, account: &AccountId) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(account.as_bytes());
    key
}

/// An open offer. Closed offers are deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub id: u64,
    pub maker: AccountId,
    pub side: Side,
    pub asset: AssetId,
    pub fiat: Fiat,
    pub price: u128,
    pub min_amount: u128,
    /// What can still be taken.
    pub max_amount: u128,
    pub methods: Vec<PaymentMethod>,
    pub payment_window_secs: u32,
    pub terms: Text<MAX_TERMS_BYTES>,
    pub buyer_deposit_bps: u16,
    pub seller_deposit_bps: u16,
    pub min_taker_trades: u32,
    pub min_taker_tier: u8,
    /// The asset this offer holds in escrow for takers (a Sell offer's `max_amount`).
    pub amount_locked: u128,
    /// The maker's deposit this offer holds for its remaining amount.
    pub deposit_locked: u128,
    pub created_ms: u64,
    /// The version of the terms: 0 at creation, one more at every update. Takes name the
    /// revision they agreed to; they do not change it (a take only lowers `max_amount`, which
    /// every take checks its amount against).
    pub revision: u64,
}
impl_codec!(Offer {
    id,
    maker,
    side,
    asset,
    fiat,
    price,
    min_amount,
    max_amount,
    methods: (RangeCfg::new(1..=MAX_OFFER_METHODS), ()),
    payment_window_secs,
    terms,
    buyer_deposit_bps,
    seller_deposit_bps,
    min_taker_trades,
    min_taker_tier,
    amount_locked,
    deposit_locked,
    created_ms,
    revision
});

/// Where a trade is in its life. Completed, Cancelled, TimedOut and Resolved are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TradeState {
    AwaitingPayment,
    Paid,
    Completed,
    Cancelled,
    TimedOut,
    Disputed,
    Resolved,
}

impl TradeState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Cancelled | Self::TimedOut | Self::Resolved
        )
    }

    fn tag(self) -> u8 {
        match self {
            Self::AwaitingPayment => 0,
            Self::Paid => 1,
            Self::Completed => 2,
            Self::Cancelled => 3,
            Self::TimedOut => 4,
            Self::Disputed => 5,
            Self::Resolved => 6,
        }
    }
}

impl Write for TradeState {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        buf.put_u8(self.tag());
    }
}

impl EncodeSize for TradeState {
    fn encode_size(&self) -> usize {
        1
    }
}

impl Read for TradeState {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(match u8::read_cfg(buf, &())? {
            0 => Self::AwaitingPayment,
            1 => Self::Paid,
            2 => Self::Completed,
            3 => Self::Cancelled,
            4 => Self::TimedOut,
            5 => Self::Disputed,
            6 => Self::Resolved,
            other => return Err(CodecError::InvalidEnum(other)),
        })
    }
}

/// A trade: the escrow of `amount + buyer_deposit + seller_deposit` and its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trade {
    pub id: u64,
    pub offer: u64,
    pub maker: AccountId,
    pub buyer: AccountId,
    pub seller: AccountId,
    pub asset: AssetId,
    pub fiat: Fiat,
    pub price: u128,
    pub amount: u128,
    /// What the buyer pays off-ledger, in fiat minor units (rounded up).
    pub fiat_amount: u128,
    pub method: PaymentMethod,
    pub buyer_deposit: u128,
    pub seller_deposit: u128,
    pub state: TradeState,
    pub created_ms: u64,
    pub payment_deadline_ms: u64,
    pub paid_ms: Option<u64>,
    /// After this the buyer may open a dispute if the seller has not released.
    pub release_deadline_ms: u64,
    pub payer_commitment: Option<[u8; 32]>,
    pub disputed_ms: Option<u64>,
    pub dispute_opened_by: Option<Party>,
    /// Why the dispute was opened, and the opener's public note.
    pub dispute_reason: Option<DisputeReason>,
    pub dispute_note: Text<MAX_DISPUTE_NOTE_BYTES>,
    pub arbitrator: Option<AccountId>,
    /// Set while the trade waits for an arbitrator to be picked at the start of the next block
    /// (see `disputes::begin_block`).
    pub arbitrator_pending: bool,
    pub assigned_ms: u64,
    /// While disputed: the assigned arbitrator must rule by then, or anyone may reassign. With
    /// nobody assigned, the dispute ends without a ruling once it has passed. It moves only
    /// when an arbitrator is actually assigned.
    pub ruling_deadline_ms: u64,
    /// Arbitrators this dispute was taken away from; never chosen again for it.
    pub reassigned: Vec<AccountId>,
    /// Messages posted to the trade so far, by anyone: the next message's index.
    pub messages: u32,
    /// Messages posted by each author. Each has its own allowance, so no author can use up
    /// another's; the arbitrator's count starts again for each newly assigned arbitrator.
    pub messages_by_buyer: u32,
    pub messages_by_seller: u32,
    pub messages_by_arbitrator: u32,
    pub rated_by_buyer: bool,
    pub rated_by_seller: bool,
    pub settled_ms: Option<u64>,
    /// How the escrow was paid out, once the trade is final.
    pub settlement: Option<Settlement>,
    /// Set when the trade completes as one that counts toward reputation: marked paid before
    /// release and worth at least the market's `min_counted_trade_value` (see
    /// `reputation::counts`). Only such trades count toward tiers and the new-account limits,
    /// and only their ratings enter the parties' averages.
    pub counted: bool,
}
impl_codec!(Trade {
    id,
    offer,
    maker,
    buyer,
    seller,
    asset,
    fiat,
    price,
    amount,
    fiat_amount,
    method,
    buyer_deposit,
    seller_deposit,
    state,
    created_ms,
    payment_deadline_ms,
    paid_ms,
    release_deadline_ms,
    payer_commitment,
    disputed_ms,
    dispute_opened_by,
    dispute_reason,
    dispute_note,
    arbitrator,
    arbitrator_pending,
    assigned_ms,
    ruling_deadline_ms,
    reassigned: (RangeCfg::new(0..=MAX_REASSIGNMENTS), ()),
    messages,
    messages_by_buyer,
    messages_by_seller,
    messages_by_arbitrator,
    rated_by_buyer,
    rated_by_seller,
    settled_ms,
    settlement,
    counted
});

/// Who received what when a trade ended, as the ledger paid it: the three shares add up to the
/// trade's escrow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    pub to_buyer: u128,
    pub to_seller: u128,
    pub to_arbitrator: u128,
    /// The block that settled the trade.
    pub height: u64,
    /// The party a ruling found at fault; `None` for every other end, a dispute that ended
    /// without a ruling included.
    pub at_fault: Option<Party>,
}
impl_codec!(Settlement {
    to_buyer,
    to_seller,
    to_arbitrator,
    height,
    at_fault
});

impl Trade {
    /// Everything the trade holds in escrow.
    pub fn escrow(&self) -> u128 {
        self.amount
            .checked_add(self.buyer_deposit)
            .and_then(|sum| sum.checked_add(self.seller_deposit))
            .expect("escrow was locked, so it fits")
    }

    pub fn party(&self, account: &AccountId) -> Option<Party> {
        if account == &self.buyer {
            Some(Party::Buyer)
        } else if account == &self.seller {
            Some(Party::Seller)
        } else {
            None
        }
    }
}

/// A registered arbitrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arbitrator {
    pub account: AccountId,
    /// EQA the market holds as the arbitrator's bond.
    pub bond: u128,
    pub fee_bps: u16,
    pub languages: Text<64>,
    pub registered_ms: u64,
    /// Set by unregistering: no new cases, and the bond can be withdrawn from this time on.
    pub leaving_at_ms: Option<u64>,
    pub open_cases: u32,
    pub cases: u32,
    pub rulings: u32,
    pub reassignments: u32,
    pub recent_ruling_ms: Vec<u64>,
    /// The consensus round of the block that registered it (0 at genesis).
    pub registered_round: u128,
    /// The consensus round of the block that unregistered it.
    pub leaving_round: Option<u128>,
}
impl_codec!(Arbitrator {
    account,
    bond,
    fee_bps,
    languages,
    registered_ms,
    leaving_at_ms,
    open_cases,
    cases,
    rulings,
    reassignments,
    recent_ruling_ms: (RangeCfg::new(0..=RECENT_DURATIONS), ()),
    registered_round,
    leaving_round
});

/// What the ledger knows about an account's trading.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Reputation {
    pub completed_as_buyer: u32,
    pub completed_as_seller: u32,
    /// Traded volume per asset, in minor units.
    pub volume: Vec<(AssetId, u128)>,
    /// Trades the account cancelled as buyer before paying.
    pub cancellations: u32,
    /// Trades the account let time out as buyer (the seller claimed the deposit).
    pub timeouts: u32,
    pub disputes_opened: u32,
    pub disputes_won: u32,
    pub disputes_lost: u32,
    /// The most recent times from payment to release, as seller.
    pub recent_release_ms: Vec<u64>,
    pub first_trade_ms: Option<u64>,
    /// Ratings received on counted trades only.
    pub rating_sum: u32,
    pub rating_count: u32,
    /// Completed trades that count (see `Trade::counted`), as buyer or seller.
    pub counted_trades: u32,
    /// The fiat value of the counted trades, in fiat minor units, added up across currencies
    /// as the market's other fiat limits are (two decimals, no exchange rates).
    pub counted_volume: u128,
    /// Distinct accounts this one has completed a counted trade with. Each is counted once,
    /// through a marker per (account, counterparty) pair.
    pub counterparties: u32,
}
impl_codec!(Reputation {
    completed_as_buyer,
    completed_as_seller,
    volume: (RangeCfg::new(0..=MAX_VOLUME_ASSETS), ((), ())),
    cancellations,
    timeouts,
    disputes_opened,
    disputes_won,
    disputes_lost,
    recent_release_ms: (RangeCfg::new(0..=RECENT_DURATIONS), ()),
    first_trade_ms,
    rating_sum,
    rating_count,
    counted_trades,
    counted_volume,
    counterparties
});

/// A chat message: ciphertext the ledger orders and signs, but cannot read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub sender: AccountId,
    pub at_ms: u64,
    pub ciphertext: Vec<u8>,
}
impl_codec!(Message {
    sender,
    at_ms,
    ciphertext: (RangeCfg::new(1..=types::market::MAX_MESSAGE_BYTES), ())
});

/// An account's public profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub chat_key: [u8; 32],
    pub name: Text<32>,
}
impl_codec!(Profile { chat_key, name });

/// A trade waiting for its arbitrator pick, and the consensus round of the block that asked.
/// The pick is made with the seed of a later round (see `disputes::begin_block`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingPick {
    pub trade: u64,
    pub round: u128,
}
impl_codec!(PendingPick { trade, round });

#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Counters {
    next_offer: u64,
    next_trade: u64,
}
impl_codec!(Counters {
    next_offer,
    next_trade
});

/// Typed access to the market's state.
#[derive(Debug)]
pub struct Db;

impl Db {
    pub fn offer(store: &(impl Store + ?Sized), id: u64) -> Option<Offer> {
        read(store, &key_u64(table::OFFER, id))
    }

    pub fn put_offer(store: &mut (impl Store + ?Sized), offer: &Offer) {
        write(store, &key_u64(table::OFFER, offer.id), offer);
        index::add(store, &offer.maker, index::Kind::Offer, offer.id);
    }

    pub fn delete_offer(store: &mut (impl Store + ?Sized), id: u64) {
        if let Some(offer) = Self::offer(store, id) {
            index::remove(store, &offer.maker, index::Kind::Offer, id);
        }
        store.delete(&key_u64(table::OFFER, id));
    }

    pub fn trade(store: &(impl Store + ?Sized), id: u64) -> Option<Trade> {
        read(store, &key_u64(table::TRADE, id))
    }

    pub fn put_trade(store: &mut (impl Store + ?Sized), trade: &Trade) {
        write(store, &key_u64(table::TRADE, trade.id), trade);
        for party in [Some(trade.buyer), Some(trade.seller), trade.arbitrator]
            .into_iter()
            .flatten()
        {
            index::add(store, &party, index::Kind::Trade, trade.id);
        }
    }

    fn counters(store: &(impl Store + ?Sized)) -> Counters {
        read(store, &[table::COUNTERS]).unwrap_or_default()
    }

    /// Allocates the next offer id (ids start at 1).
    pub fn next_offer_id(store: &mut (impl Store + ?Sized)) -> u64 {
        let mut counters = Self::counters(store);
        counters.next_offer = counters.next_offer.checked_add(1).expect("u64 offer ids");
        write(store, &[table::COUNTERS], &counters);
        counters.next_offer
    }

    /// Allocates the next trade id (ids start at 1).
    pub fn next_trade_id(store: &mut (impl Store + ?Sized)) -> u64 {
        let mut counters = Self::counters(store);
        counters.next_trade = counters.next_trade.checked_add(1).expect("u64 trade ids");
        write(store, &[table::COUNTERS], &counters);
        counters.next_trade
    }

    /// The highest trade id allocated so far.
    pub fn last_trade_id(store: &(impl Store + ?Sized)) -> u64 {
        Self::counters(store).next_trade
    }

    /// The highest offer id allocated so far.
    pub fn last_offer_id(store: &(impl Store + ?Sized)) -> u64 {
        Self::counters(store).next_offer
    }

    pub fn arbitrator(store: &(impl Store + ?Sized), account: &AccountId) -> Option<Arbitrator> {
        read(store, &key_account(table::ARBITRATOR, account))
    }

    pub fn put_arbitrator(store: &mut (impl Store + ?Sized), arbitrator: &Arbitrator) {
        write(
            store,
            &key_account(table::ARBITRATOR, &arbitrator.account),
            arbitrator,
        );
    }

    pub fn delete_arbitrator(store: &mut (impl Store + ?Sized), account: &AccountId) {
        store.delete(&key_account(table::ARBITRATOR, account));
    }

    /// Every registered arbitrator, in account order.
    pub fn arbitrators(store: &(impl Store + ?Sized)) -> Vec<AccountId> {
        read::<ArbitratorList>(store, &[table::ARBITRATOR_LIST])
            .map(|list| list.accounts)
            .unwrap_or_default()
    }

    /// How many trades wait for an arbitrator pick. The waiting list is a count under the
    /// table's bare tag and one key per position, so adding to it costs the same however long
    /// it is.
    pub fn pending_pick_count(store: &(impl Store + ?Sized)) -> u32 {
        read(store, &[table::PENDING_PICKS]).unwrap_or(0)
    }

    fn pending_pick_key(position: u32) -> Vec<u8> {
        let mut key = vec![table::PENDING_PICKS];
        key.extend_from_slice(&position.to_be_bytes());
        key
    }

    /// Trades waiting for an arbitrator pick, in the order they asked (see
    /// `disputes::begin_block` for when each is made).
    pub fn pending_picks(store: &(impl Store + ?Sized)) -> Vec<PendingPick> {
        (0..Self::pending_pick_count(store))
            .filter_map(|position| read(store, &Self::pending_pick_key(position)))
            .collect()
    }

    /// Adds `pick` to the waiting list; `false` (and nothing written) when the list already
    /// holds [`MAX_PENDING_PICKS`].
    pub fn push_pending_pick(store: &mut (impl Store + ?Sized), pick: PendingPick) -> bool {
        let count = Self::pending_pick_count(store);
        let Some(next) = count.checked_add(1) else {
            return false;
        };
        if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_PENDING_PICKS {
            return false;
        }
        write(store, &Self::pending_pick_key(count), &pick);
        write(store, &[table::PENDING_PICKS], &next);
        true
    }

    /// Replaces the waiting list with `picks` (at most [`MAX_PENDING_PICKS`] of them are
    /// kept); an empty list leaves no key behind.
    pub fn put_pending_picks(store: &mut (impl Store + ?Sized), picks: Vec<PendingPick>) {
        for position in 0..Self::pending_pick_count(store) {
            store.delete(&Self::pending_pick_key(position));
        }
        store.delete(&[table::PENDING_PICKS]);
        for pick in picks.into_iter().take(MAX_PENDING_PICKS) {
            Self::push_pending_pick(store, pick);
        }
    }

    pub fn put_arbitrators(store: &mut (impl Store + ?Sized), accounts: Vec<AccountId>) {
        write(
            store,
            &[table::ARBITRATOR_LIST],
            &ArbitratorList { accounts },
        );
    }

    pub fn reputation(store: &(impl Store + ?Sized), account: &AccountId) -> Reputation {
        read(store, &key_account(table::REPUTATION, account)).unwrap_or_default()
    }

    pub fn put_reputation(
        store: &mut (impl Store + ?Sized),
        account: &AccountId,
        reputation: &Reputation,
    ) {
        write(store, &key_account(table::REPUTATION, account), reputation);
    }

    fn message_key(trade: u64, index: u32) -> Vec<u8> {
        let mut key = key_u64(table::MESSAGE, trade);
        key.extend_from_slice(&index.to_be_bytes());
        key
    }

    pub fn message(store: &(impl Store + ?Sized), trade: u64, index: u32) -> Option<Message> {
        read(store, &Self::message_key(trade, index))
    }

    pub fn put_message(
        store: &mut (impl Store + ?Sized),
        trade: u64,
        index: u32,
        message: &Message,
    ) {
        write(store, &Self::message_key(trade, index), message);
    }

    /// How many distinct accounts have paid with `commitment`.
    pub fn commitment_users(store: &(impl Store + ?Sized), commitment: &[u8; 32]) -> u32 {
        let mut key = vec![table::COMMITMENT];
        key.extend_from_slice(commitment);
        read(store, &key).unwrap_or(0)
    }

    /// Records that `account` paid with `commitment`; counts each account once.
    pub fn record_commitment(
        store: &mut (impl Store + ?Sized),
        commitment: &[u8; 32],
        account: &AccountId,
    ) {
        let mut marker = vec![table::COMMITMENT_USER];
        marker.extend_from_slice(commitment);
        marker.extend_from_slice(account.as_bytes());
        if store.get(&marker).is_some() {
            return;
        }
        store.put(&marker, Vec::new());
        let users = Self::commitment_users(store, commitment).saturating_add(1);
        let mut key = vec![table::COMMITMENT];
        key.extend_from_slice(commitment);
        write(store, &key, &users);
    }

    /// Records that `account` completed a counted trade with `counterparty`; returns whether
    /// that is the first between them (each pair is one marker key, so storage grows with the
    /// pairs that actually traded, never with the trades).
    pub fn record_counterparty(
        store: &mut (impl Store + ?Sized),
        account: &AccountId,
        counterparty: &AccountId,
    ) -> bool {
        let mut marker = key_account(table::COUNTERPARTY, account);
        marker.extend_from_slice(counterparty.as_bytes());
        if store.get(&marker).is_some() {
            return false;
        }
        store.put(&marker, Vec::new());
        true
    }

    pub fn profile(store: &(impl Store + ?Sized), account: &AccountId) -> Option<Profile> {
        read(store, &key_account(table::PROFILE, account))
    }

    pub fn put_profile(store: &mut (impl Store + ?Sized), account: &AccountId, profile: &Profile) {
        write(store, &key_account(table::PROFILE, account), profile);
    }

    /// A reveal is kept per party and per arbitrator it was sealed to, so each arbitrator a
    /// dispute passes to can be given the conversation. A trade has at most
    /// `2 * (MAX_REASSIGNMENTS + 1)` of them.
    fn revealed_key(trade: u64, party: Party, arbitrator: &AccountId) -> Vec<u8> {
        let mut key = key_u64(table::REVEALED_KEY, trade);
        key.push(match party {
            Party::Buyer => 0,
            Party::Seller => 1,
        });
        key.extend_from_slice(arbitrator.as_bytes());
        key
    }

    /// The conversation key `party` revealed to `arbitrator` (sealed to it), if any.
    pub fn revealed(
        store: &(impl Store + ?Sized),
        trade: u64,
        party: Party,
        arbitrator: &AccountId,
    ) -> Option<Vec<u8>> {
        store.get(&Self::revealed_key(trade, party, arbitrator))
    }

    pub fn put_revealed(
        store: &mut (impl Store + ?Sized),
        trade: u64,
        party: Party,
        arbitrator: &AccountId,
        key: Vec<u8>,
    ) {
        store.put(&Self::revealed_key(trade, party, arbitrator), key);
    }
}

/// The most arbitrators a chain can have at once.
pub const MAX_ARBITRATORS: usize = 1024;

struct ArbitratorList {
    accounts: Vec<AccountId>,
}
impl_codec!(ArbitratorList {
    accounts: (RangeCfg::new(0..=MAX_ARBITRATORS), ())
});
