//! Fault injection for tests: makes a chosen call panic inside the ledger, to prove that a panic
//! in one transaction's call fails that transaction alone and the chain goes on.
//!
//! Compiled only for the ledger's own tests and with the `fault-injection` feature, and inert
//! until a test arms it. The trigger is process-wide, so every validator of a simulation running
//! in one process panics on the same transaction, as real validators running the same buggy code
//! would.

use std::sync::atomic::{AtomicU64, Ordering};
use types::{Call, bank::BankCall};

/// A transfer of exactly this many minor units panics; zero (the default) disarms the trigger.
static PANIC_ON_TRANSFER_AMOUNT: AtomicU64 = AtomicU64::new(0);

/// Makes every transfer of exactly `amount` minor units panic (0 disarms).
pub fn panic_on_transfer_amount(amount: u64) {
    PANIC_ON_TRANSFER_AMOUNT.store(amount, Ordering::SeqCst);
}

/// Panics if `call` is the armed transfer.
pub(crate) fn check(call: &Call) {
    let armed = PANIC_ON_TRANSFER_AMOUNT.load(Ordering::SeqCst);
    if armed == 0 {
        return;
    }
    if let Call::Bank(BankCall::Transfer(transfer)) = call
        && transfer.amount == u128::from(armed)
    {
        panic!("injected fault: a transfer of {armed} minor units");
    }
}

/// The block height at which the start-of-block step panics; zero disarms.
static PANIC_AT_BEGIN_BLOCK_HEIGHT: AtomicU64 = AtomicU64::new(0);

/// Makes the start-of-block step of the block at `height` panic (0 disarms).
pub fn panic_at_begin_block(height: u64) {
    PANIC_AT_BEGIN_BLOCK_HEIGHT.store(height, Ordering::SeqCst);
}

/// Panics if the start-of-block step of `height` is armed to.
pub(crate) fn check_begin_block(height: u64) {
    let armed = PANIC_AT_BEGIN_BLOCK_HEIGHT.load(Ordering::SeqCst);
    if armed != 0 && armed == height {
        panic!("injected fault: the start of block {height}");
    }
}

thread_local! {
    /// The block height at which the staking module's committee election panics, on this
    /// thread only; zero disarms. Per thread, because chains of other tests running at the same
    /// time reach the same heights (every test chain's epochs start at the same heights).
    static PANIC_AT_EPOCH_STEP_HEIGHT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Makes the committee election of the epoch's first block at `height` panic when that block is
/// applied on this thread (0 disarms).
pub fn panic_at_epoch_step(height: u64) {
    PANIC_AT_EPOCH_STEP_HEIGHT.with(|armed| armed.set(height));
}

/// Panics if the committee election of `height` is armed to on this thread.
pub(crate) fn check_epoch_step(height: u64) {
    let armed = PANIC_AT_EPOCH_STEP_HEIGHT.with(std::cell::Cell::get);
    if armed != 0 && armed == height {
        panic!("injected fault: the committee election of block {height}");
    }
}
