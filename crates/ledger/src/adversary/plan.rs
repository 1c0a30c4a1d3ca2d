//! A case as data: blocks of signed calls with their times. A plan is replayed exactly, so a
//! counterexample is its plan, and shrinking is removing parts of it.

use std::fmt;
use types::Call;

/// How a transaction's envelope is made: a correct one, or one of the ways admission must
/// refuse it (or, for `Overpaid`, accept it and charge the higher fee).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    Valid,
    /// The fee is this much above the least fee.
    Overpaid(u128),
    /// One unit below the least fee.
    FeeTooLow,
    /// A fee of `u128::MAX`, which no balance covers.
    FeeUnaffordable,
    /// The nonce before the signer's next one.
    StaleNonce,
    /// The nonce after the signer's next one.
    FutureNonce,
    /// Signed with another actor's key.
    WrongKey,
    WrongChain,
    /// Expires at the height before the block's.
    Expired,
}

impl Envelope {
    /// Whether a correctly nonced transaction with this envelope uses up its signer's nonce
    /// (when the fee turns out to be affordable).
    pub fn takes_nonce(self) -> bool {
        matches!(self, Self::Valid | Self::Overpaid(_))
    }
}

/// One transaction: which actor signs which call, in which envelope. The nonce is the signer's
/// next one at the time the block is built, adjusted by the envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxPlan {
    pub signer: u64,
    pub call: Call,
    pub envelope: Envelope,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockPlan {
    /// Absolute, so that removing earlier blocks keeps later ones at the same point relative to
    /// the deadlines they were aimed at.
    pub timestamp_ms: u64,
    pub txs: Vec<TxPlan>,
    /// Offenses consensus proved, which the block slashes before its transactions.
    pub offenses: Vec<crate::Offense>,
}

/// The random part of a case. The exit phase that follows it is derived from the state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The chain parameters the case runs under (an index into `world::PROFILES`).
    pub profile: usize,
    pub blocks: Vec<BlockPlan>,
}

impl Plan {
    pub fn tx_count(&self) -> usize {
        self.blocks.iter().map(|block| block.txs.len()).sum()
    }
}

/// Renders a plan with actors named by index instead of by address.
#[derive(Debug)]
pub struct Rendered<'a> {
    pub plan: &'a Plan,
    pub genesis_ms: u64,
    /// `(address, name)` pairs substituted into the calls' debug text.
    pub names: &'a [(String, String)],
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  chain parameters: {}",
            super::world::PROFILES
                .get(self.plan.profile)
                .map_or("unknown", |(name, _)| name)
        )?;
        for (index, block) in self.plan.blocks.iter().enumerate() {
            let offset = block.timestamp_ms.saturating_sub(self.genesis_ms);
            writeln!(
                f,
                "  block {} at genesis + {} ms ({}):",
                index + 1,
                offset,
                days(offset)
            )?;
            for tx in &block.txs {
                let mut call = format!("{:?}", tx.call);
                for (code, name) in [("[69, 85, 82]", "EUR"), ("[83, 69, 75]", "SEK")] {
                    call = call.replace(&format!("Fiat({code})"), &format!("Fiat({name})"));
                }
                for (address, name) in self.names {
                    call = call.replace(&format!("AccountId({address})"), name);
                }
                let envelope = match tx.envelope {
                    Envelope::Valid => String::new(),
                    other => format!(" [{other:?}]"),
                };
                writeln!(f, "    actor {}: {call}{envelope}", tx.signer)?;
            }
        }
        Ok(())
    }
}

fn days(ms: u64) -> String {
    const DAY_MS: u64 = 86_400_000;
    format!("day {} + {} ms", ms / DAY_MS, ms % DAY_MS)
}
