//! Chain parameters, fixed at genesis.

use std::collections::BTreeMap;
use types::{Text, codec::RangeCfg, impl_codec};

/// The most distinct call kinds a fee schedule may name.
pub const MAX_FEE_ENTRIES: usize = 128;

/// Fees, in EQA minor units. A transaction pays at least `call_fee(kind) + fee_per_byte * size`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Params {
    pub fee_per_byte: u128,
    /// The fee for a call kind that has no entry in `call_fees`.
    pub default_call_fee: u128,
    /// Fees per call kind, keyed by names such as `bank.transfer`.
    pub call_fees: BTreeMap<Text<48>, u128>,
}
impl_codec!(Params {
    fee_per_byte,
    default_call_fee,
    call_fees: (RangeCfg::new(0..=MAX_FEE_ENTRIES), ((), ()))
});

impl Params {
    pub fn call_fee(&self, kind: &str) -> u128 {
        self.call_fees
            .get(kind)
            .copied()
            .unwrap_or(self.default_call_fee)
    }

    /// The least fee a transaction of `kind` and `size_bytes` must offer. `None` when the product
    /// does not fit in a `u128`, which no fee can then meet.
    pub fn required_fee(&self, kind: &str, size_bytes: usize) -> Option<u128> {
        let size = u128::try_from(size_bytes).ok()?;
        self.fee_per_byte
            .checked_mul(size)?
            .checked_add(self.call_fee(kind))
    }
}
