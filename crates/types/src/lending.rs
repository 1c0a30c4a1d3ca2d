//! Calls of the lending module: loan requests funded by many lenders, lender-side credit offers,
//! repayment, claims and default.

use crate::{
    AssetId,
    codec::{Buf, CodecError, EncodeSize, Read, Write},
    impl_codec, impl_codec_enum,
};
use bytes::BufMut;

/// The most instalments a loan may have.
pub const MAX_INSTALMENTS: u16 = 360;

/// How principal is repaid: all at the end of the term, or in `n` equal payments (amortised).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Schedule {
    Bullet,
    Instalments(u16),
}

impl Schedule {
    /// The number of payments.
    pub fn count(self) -> u16 {
        match self {
            Schedule::Bullet => 1,
            Schedule::Instalments(n) => n,
        }
    }
}

impl Write for Schedule {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Schedule::Bullet => buf.put_u8(0),
            Schedule::Instalments(n) => {
                buf.put_u8(1);
                n.write(buf);
            }
        }
    }
}

impl EncodeSize for Schedule {
    fn encode_size(&self) -> usize {
        match self {
            Schedule::Bullet => 1,
            Schedule::Instalments(_) => 3,
        }
    }
}

impl Read for Schedule {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read_cfg(buf, &())? {
            0 => Ok(Schedule::Bullet),
            1 => Ok(Schedule::Instalments(u16::read_cfg(buf, &())?)),
            other => Err(CodecError::InvalidEnum(other)),
        }
    }
}

/// Collateral: an amount of an asset locked for the life of a loan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Collateral {
    pub asset: AssetId,
    pub amount: u128,
}
impl_codec!(Collateral { asset, amount });

/// Asks lenders for a loan. The collateral, if any, is locked now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLoan {
    pub asset: AssetId,
    pub principal: u128,
    /// Yearly interest rate in basis points.
    pub rate_bps: u32,
    pub term_days: u32,
    pub schedule: Schedule,
    pub collateral: Option<Collateral>,
    pub funding_deadline_ms: u64,
    /// After the deadline the borrower may accept any funding of at least this much.
    pub min_fill: u128,
}
impl_codec!(RequestLoan {
    asset,
    principal,
    rate_bps,
    term_days,
    schedule,
    collateral,
    funding_deadline_ms,
    min_fill
});

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoanRef {
    pub loan: u64,
}
impl_codec!(LoanRef { loan });

/// Lends part of a requested loan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fund {
    pub loan: u64,
    pub amount: u128,
}
impl_codec!(Fund { loan, amount });

/// Offers credit from the lender side: anyone may borrow up to `amount` on these terms by
/// locking enough collateral, in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferCredit {
    pub asset: AssetId,
    pub amount: u128,
    pub min_amount: u128,
    pub rate_bps: u32,
    pub term_days: u32,
    pub schedule: Schedule,
    /// The collateral asset, if collateral is required.
    pub collateral_asset: Option<AssetId>,
    /// Collateral minor units required per whole unit borrowed (like a price).
    pub collateral_per_unit: u128,
    pub expires_ms: u64,
}
impl_codec!(OfferCredit {
    asset,
    amount,
    min_amount,
    rate_bps,
    term_days,
    schedule,
    collateral_asset,
    collateral_per_unit,
    expires_ms
});

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditRef {
    pub offer: u64,
}
impl_codec!(CreditRef { offer });

/// Borrows `amount` from a credit offer, locking `collateral_amount` of its collateral asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakeCredit {
    pub offer: u64,
    pub amount: u128,
    pub collateral_amount: u128,
}
impl_codec!(TakeCredit {
    offer,
    amount,
    collateral_amount
});

/// Pays up to `amount` towards a loan: late fees, then interest, then principal due, then
/// principal early. Only what is owed is taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repay {
    pub loan: u64,
    pub amount: u128,
}
impl_codec!(Repay { loan, amount });

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LendingCall {
    RequestLoan(RequestLoan),
    CancelRequest(LoanRef),
    Fund(Fund),
    Withdraw(LoanRef),
    Accept(LoanRef),
    Expire(LoanRef),
    OfferCredit(OfferCredit),
    CancelCredit(CreditRef),
    TakeCredit(TakeCredit),
    Repay(Repay),
    Claim(LoanRef),
    DeclareDefault(LoanRef),
}
impl_codec_enum!(LendingCall {
    0 => RequestLoan,
    1 => CancelRequest,
    2 => Fund,
    3 => Withdraw,
    4 => Accept,
    5 => Expire,
    6 => OfferCredit,
    7 => CancelCredit,
    8 => TakeCredit,
    9 => Repay,
    10 => Claim,
    11 => DeclareDefault,
});

impl LendingCall {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RequestLoan(_) => "lending.request",
            Self::CancelRequest(_) => "lending.cancel_request",
            Self::Fund(_) => "lending.fund",
            Self::Withdraw(_) => "lending.withdraw",
            Self::Accept(_) => "lending.accept",
            Self::Expire(_) => "lending.expire",
            Self::OfferCredit(_) => "lending.offer_credit",
            Self::CancelCredit(_) => "lending.cancel_credit",
            Self::TakeCredit(_) => "lending.take_credit",
            Self::Repay(_) => "lending.repay",
            Self::Claim(_) => "lending.claim",
            Self::DeclareDefault(_) => "lending.declare_default",
        }
    }
}
