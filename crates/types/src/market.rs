//! Calls of the market module: fiat offers, escrowed trades, disputes, chat and reputation.

use crate::{
    AssetId, Text,
    codec::{Buf, CodecError, EncodeSize, RangeCfg, Read, Write},
    impl_codec, impl_codec_enum,
};
use bytes::BufMut;
use std::fmt;

/// The most payment methods one offer may accept.
pub const MAX_OFFER_METHODS: usize = 8;
/// The longest terms text of an offer, in bytes.
pub const MAX_TERMS_BYTES: usize = 1024;
/// The largest chat message, in bytes of ciphertext.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// The largest revealed conversation key, in bytes of ciphertext.
pub const MAX_REVEALED_KEY_BYTES: usize = 256;
/// The longest note a party may add to a dispute, in bytes. The note is public.
pub const MAX_DISPUTE_NOTE_BYTES: usize = 280;

/// An ISO 4217 currency code such as `EUR`: three upper-case letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fiat([u8; 3]);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid currency code {0:?}: use three upper-case letters, such as EUR")]
pub struct FiatError(pub String);

impl Fiat {
    pub fn new(code: &str) -> Result<Self, FiatError> {
        let bytes: [u8; 3] = code
            .as_bytes()
            .try_into()
            .map_err(|_| FiatError(code.to_string()))?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(FiatError(code.to_string()));
        }
        Ok(Self(bytes))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("validated ASCII")
    }
}

impl fmt::Display for Fiat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Write for Fiat {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }
}

impl EncodeSize for Fiat {
    fn encode_size(&self) -> usize {
        3
    }
}

impl Read for Fiat {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let bytes = <[u8; 3]>::read_cfg(buf, &())?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(CodecError::Invalid("Fiat", "not three upper-case letters"));
        }
        Ok(Self(bytes))
    }
}

/// Whether the maker sells the asset for fiat or buys it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Sell,
    Buy,
}

impl Write for Side {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u8(match self {
            Side::Sell => 0,
            Side::Buy => 1,
        });
    }
}

impl EncodeSize for Side {
    fn encode_size(&self) -> usize {
        1
    }
}

impl Read for Side {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read_cfg(buf, &())? {
            0 => Ok(Side::Sell),
            1 => Ok(Side::Buy),
            other => Err(CodecError::InvalidEnum(other)),
        }
    }
}

/// A way to pay fiat: a method from the chain's registry (by its index), or free text, which
/// gets the strictest limits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PaymentMethod {
    Registered(u16),
    Custom(Text<48>),
}
impl_codec_enum!(PaymentMethod { 0 => Registered, 1 => Custom });

fn methods_cfg() -> (RangeCfg<usize>, ()) {
    (RangeCfg::new(1..=MAX_OFFER_METHODS), ())
}

/// Publishes an offer. A Sell offer locks `max_amount` plus the seller deposit on it at once, so
/// it can be taken while the maker is offline; a Buy offer locks the maker's buyer deposit on
/// `max_amount`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateOffer {
    pub side: Side,
    pub asset: AssetId,
    pub fiat: Fiat,
    /// Fiat minor units per whole unit of the asset (cents per coin).
    pub price: u128,
    pub min_amount: u128,
    pub max_amount: u128,
    pub methods: Vec<PaymentMethod>,
    pub payment_window_secs: u32,
    pub terms: Text<MAX_TERMS_BYTES>,
    pub buyer_deposit_bps: u16,
    pub seller_deposit_bps: u16,
    /// Takers need at least this many completed trades.
    pub min_taker_trades: u32,
    /// Takers need at least this merchant tier (0 = anyone).
    pub min_taker_tier: u8,
}
impl_codec!(CreateOffer {
    side,
    asset,
    fiat,
    price,
    min_amount,
    max_amount,
    methods: methods_cfg(),
    payment_window_secs,
    terms,
    buyer_deposit_bps,
    seller_deposit_bps,
    min_taker_trades,
    min_taker_tier
});

/// Changes an open offer's price, limits, methods, window or terms. Raising a Sell offer's
/// `max_amount` locks the difference; lowering it releases it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateOffer {
    pub offer: u64,
    pub price: u128,
    pub min_amount: u128,
    pub max_amount: u128,
    pub methods: Vec<PaymentMethod>,
    pub payment_window_secs: u32,
    pub terms: Text<MAX_TERMS_BYTES>,
}
impl_codec!(UpdateOffer {
    offer,
    price,
    min_amount,
    max_amount,
    methods: methods_cfg(),
    payment_window_secs,
    terms
});

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferRef {
    pub offer: u64,
}
impl_codec!(OfferRef { offer });

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradeRef {
    pub trade: u64,
}
impl_codec!(TradeRef { trade });

/// Takes `amount` of an offer, paying with `method` (one of the offer's).
///
/// `revision` names the version of the offer's terms the taker agreed to (an offer starts at
/// revision 0 and every update adds one). A take of any other revision fails, so a maker who
/// changes the price ahead of a take, even in the same block, cannot bind the taker to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakeOffer {
    pub offer: u64,
    pub revision: u64,
    pub amount: u128,
    pub method: PaymentMethod,
}
impl_codec!(TakeOffer {
    offer,
    revision,
    amount,
    method
});

/// The buyer says the fiat is sent. `payer_commitment` is an optional hash of the paying
/// account's identifier (for example of the IBAN), which lets sellers see how many different
/// Equa accounts have paid from it: a defence against triangulation fraud.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkPaid {
    pub trade: u64,
    pub payer_commitment: Option<[u8; 32]>,
}
impl_codec!(MarkPaid {
    trade,
    payer_commitment
});

/// Why a party opens a dispute. Some reasons belong to one side: only a buyer can say it paid
/// and was not released to, only a seller that the payment did not arrive or was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DisputeReason {
    /// The buyer paid and the seller does not release.
    PaidNotReleased,
    /// The seller has not received the payment the buyer marked sent.
    PaymentNotReceived,
    /// The payment arrived with a different amount.
    WrongAmount,
    /// The payment came from an account that is not the buyer's.
    ThirdPartyPayment,
    /// The other party does not answer.
    Unresponsive,
    Other,
}

impl DisputeReason {
    pub const ALL: [DisputeReason; 6] = [
        DisputeReason::PaidNotReleased,
        DisputeReason::PaymentNotReceived,
        DisputeReason::WrongAmount,
        DisputeReason::ThirdPartyPayment,
        DisputeReason::Unresponsive,
        DisputeReason::Other,
    ];

    /// The only side that may give this reason, or `None` when either may.
    pub fn side(self) -> Option<Party> {
        match self {
            DisputeReason::PaidNotReleased => Some(Party::Buyer),
            DisputeReason::PaymentNotReceived
            | DisputeReason::WrongAmount
            | DisputeReason::ThirdPartyPayment => Some(Party::Seller),
            DisputeReason::Unresponsive | DisputeReason::Other => None,
        }
    }

    /// The name used on the command line and in the API.
    pub fn name(self) -> &'static str {
        match self {
            DisputeReason::PaidNotReleased => "paid-not-released",
            DisputeReason::PaymentNotReceived => "payment-not-received",
            DisputeReason::WrongAmount => "wrong-amount",
            DisputeReason::ThirdPartyPayment => "third-party-payment",
            DisputeReason::Unresponsive => "unresponsive",
            DisputeReason::Other => "other",
        }
    }

    /// The reason in words.
    pub fn words(self) -> &'static str {
        match self {
            DisputeReason::PaidNotReleased => "the buyer paid and the seller does not release",
            DisputeReason::PaymentNotReceived => "the seller has not received the payment",
            DisputeReason::WrongAmount => "the payment arrived with a different amount",
            DisputeReason::ThirdPartyPayment => "the payment came from someone else's account",
            DisputeReason::Unresponsive => "the other party does not answer",
            DisputeReason::Other => "another reason (see the note)",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.name() == name)
    }

    fn tag(self) -> u8 {
        match self {
            DisputeReason::PaidNotReleased => 0,
            DisputeReason::PaymentNotReceived => 1,
            DisputeReason::WrongAmount => 2,
            DisputeReason::ThirdPartyPayment => 3,
            DisputeReason::Unresponsive => 4,
            DisputeReason::Other => 5,
        }
    }
}

impl Write for DisputeReason {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.tag());
    }
}

impl EncodeSize for DisputeReason {
    fn encode_size(&self) -> usize {
        1
    }
}

impl Read for DisputeReason {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let tag = u8::read_cfg(buf, &())?;
        Self::ALL
            .into_iter()
            .find(|reason| reason.tag() == tag)
            .ok_or(CodecError::InvalidEnum(tag))
    }
}

/// Opens a dispute on a paid trade, saying why. The reason and the note are public: details
/// belong in the encrypted chat, which a party can reveal to the arbitrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenDispute {
    pub trade: u64,
    pub reason: DisputeReason,
    pub note: Text<MAX_DISPUTE_NOTE_BYTES>,
}
impl_codec!(OpenDispute {
    trade,
    reason,
    note
});

impl OpenDispute {
    /// A dispute for a reason either side may give, with no note.
    pub fn other(trade: u64) -> Self {
        Self {
            trade,
            reason: DisputeReason::Other,
            note: Text::default(),
        }
    }
}

/// Who a ruling finds at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Party {
    Buyer,
    Seller,
}

impl Write for Party {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u8(match self {
            Party::Buyer => 0,
            Party::Seller => 1,
        });
    }
}

impl EncodeSize for Party {
    fn encode_size(&self) -> usize {
        1
    }
}

impl Read for Party {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read_cfg(buf, &())? {
            0 => Ok(Party::Buyer),
            1 => Ok(Party::Seller),
            other => Err(CodecError::InvalidEnum(other)),
        }
    }
}

/// The arbitrator's decision: `amount_to_buyer` of the traded amount goes to the buyer and the
/// rest back to the seller. The party `at_fault` pays the arbitrator's fee from its deposit and
/// the rest of that deposit compensates the other party; the other party's deposit is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub trade: u64,
    pub amount_to_buyer: u128,
    pub at_fault: Party,
}
impl_codec!(Rule {
    trade,
    amount_to_buyer,
    at_fault
});

/// Offers to arbitrate disputes: locks `bond` EQA; takes `fee_bps` of a disputed trade's amount,
/// paid from the at-fault party's deposit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterArbitrator {
    pub bond: u128,
    pub fee_bps: u16,
    /// Languages spoken, as text such as "en, es".
    pub languages: Text<64>,
}
impl_codec!(RegisterArbitrator {
    bond,
    fee_bps,
    languages
});

/// An encrypted chat message in a trade (ciphertext only; the ledger never sees the text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostMessage {
    pub trade: u64,
    pub ciphertext: Vec<u8>,
}
impl_codec!(PostMessage {
    trade,
    ciphertext: (RangeCfg::new(1..=MAX_MESSAGE_BYTES), ())
});

/// A party hands the trade's conversation key, encrypted to the arbitrator, to the arbitrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevealKey {
    pub trade: u64,
    pub encrypted_key: Vec<u8>,
}
impl_codec!(RevealKey {
    trade,
    encrypted_key: (RangeCfg::new(1..=MAX_REVEALED_KEY_BYTES), ())
});

/// Rates the other party of a finished trade, 1 to 5 stars.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rate {
    pub trade: u64,
    pub stars: u8,
}
impl_codec!(Rate { trade, stars });

/// Publishes the account's chat key (X25519) and a display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetProfile {
    pub chat_key: [u8; 32],
    pub name: Text<32>,
}
impl_codec!(SetProfile { chat_key, name });

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarketCall {
    CreateOffer(CreateOffer),
    UpdateOffer(UpdateOffer),
    CancelOffer(OfferRef),
    TakeOffer(TakeOffer),
    MarkPaid(MarkPaid),
    Release(TradeRef),
    CancelTrade(TradeRef),
    ClaimTimeout(TradeRef),
    OpenDispute(OpenDispute),
    Rule(Rule),
    Reassign(TradeRef),
    RegisterArbitrator(RegisterArbitrator),
    UnregisterArbitrator(Nothing),
    WithdrawBond(Nothing),
    PostMessage(PostMessage),
    RevealKey(RevealKey),
    Rate(Rate),
    SetProfile(SetProfile),
}
impl_codec_enum!(MarketCall {
    0 => CreateOffer,
    1 => UpdateOffer,
    2 => CancelOffer,
    3 => TakeOffer,
    4 => MarkPaid,
    5 => Release,
    6 => CancelTrade,
    7 => ClaimTimeout,
    8 => OpenDispute,
    9 => Rule,
    10 => Reassign,
    11 => RegisterArbitrator,
    12 => UnregisterArbitrator,
    13 => WithdrawBond,
    14 => PostMessage,
    15 => RevealKey,
    16 => Rate,
    17 => SetProfile,
});

/// The empty argument of calls that need none.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Nothing;

impl Write for Nothing {
    fn write(&self, _: &mut impl BufMut) {}
}

impl EncodeSize for Nothing {
    fn encode_size(&self) -> usize {
        0
    }
}

impl Read for Nothing {
    type Cfg = ();
    fn read_cfg(_: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Nothing)
    }
}

impl MarketCall {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CreateOffer(_) => "market.create_offer",
            Self::UpdateOffer(_) => "market.update_offer",
            Self::CancelOffer(_) => "market.cancel_offer",
            Self::TakeOffer(_) => "market.take_offer",
            Self::MarkPaid(_) => "market.mark_paid",
            Self::Release(_) => "market.release",
            Self::CancelTrade(_) => "market.cancel_trade",
            Self::ClaimTimeout(_) => "market.claim_timeout",
            Self::OpenDispute(_) => "market.open_dispute",
            Self::Rule(_) => "market.rule",
            Self::Reassign(_) => "market.reassign",
            Self::RegisterArbitrator(_) => "market.register_arbitrator",
            Self::UnregisterArbitrator(_) => "market.unregister_arbitrator",
            Self::WithdrawBond(_) => "market.withdraw_bond",
            Self::PostMessage(_) => "market.post_message",
            Self::RevealKey(_) => "market.reveal_key",
            Self::Rate(_) => "market.rate",
            Self::SetProfile(_) => "market.set_profile",
        }
    }
}
