//! `equa_listBlocks` pages: newest first, only blocks with transactions when asked, a bounded
//! number of heights looked at per call, and a continuation that ends where the kept blocks end.

use rpc::{
    Backend, SubmitError,
    views::{BlockView, BlocksPageView, ReceiptView, StatusView},
};
use std::sync::Arc;
use types::{SignedTransaction, TxId};

/// Blocks `first..=last` are kept; every `busy`-th height carries one transaction.
struct Kept {
    first: u64,
    last: u64,
    busy: u64,
}

impl Backend for Kept {
    fn status(&self) -> StatusView {
        unimplemented!("not asked by these tests")
    }

    fn state(&self) -> Arc<ledger::MemoryStore> {
        unimplemented!("not asked by these tests")
    }

    fn block(&self, height: u64) -> Option<BlockView> {
        (self.first..=self.last)
            .contains(&height)
            .then(|| BlockView {
                height,
                digest: String::new(),
                parent: String::new(),
                timestamp_ms: height,
                proposer: String::new(),
                state_root: String::new(),
                transactions: if height.is_multiple_of(self.busy) {
                    vec![format!("0x{height:064x}")]
                } else {
                    Vec::new()
                },
            })
    }

    fn receipt(&self, _: &TxId) -> Option<ReceiptView> {
        None
    }

    fn submit(&self, _: SignedTransaction) -> Result<TxId, SubmitError> {
        Err(SubmitError::Busy("read only".into()))
    }
}

fn heights(page: &BlocksPageView) -> Vec<u64> {
    page.blocks.iter().map(|b| b.height).collect()
}

#[test]
fn the_latest_blocks_come_newest_first_a_page_at_a_time() {
    let chain = Kept {
        first: 1,
        last: 100,
        busy: 7,
    };
    let page = BlocksPageView::read(&chain, 101, false);
    assert_eq!(heights(&page), (81..=100).rev().collect::<Vec<_>>());
    assert_eq!(page.next_before, Some(81));
    let older = BlocksPageView::read(&chain, 81, false);
    assert_eq!(older.blocks[0].height, 80);
    let last = BlocksPageView::read(&chain, 5, false);
    assert_eq!(heights(&last), [4, 3, 2, 1]);
    assert_eq!(last.next_before, None, "height 1 is the first block");
}

#[test]
fn blocks_with_transactions_are_found_across_empty_ones_within_a_bounded_search() {
    // Blocks 501..=3000 are kept; one in 300 carries a transaction.
    let chain = Kept {
        first: 501,
        last: 3_000,
        busy: 300,
    };
    let page = BlocksPageView::read(&chain, 3_001, true);
    // One call looks at 1,000 heights at most: 3000 down to 2001.
    assert_eq!(heights(&page), [3_000, 2_700, 2_400, 2_100]);
    assert_eq!(page.next_before, Some(2_001));
    let page = BlocksPageView::read(&chain, 2_001, true);
    assert_eq!(heights(&page), [1_800, 1_500, 1_200]);
    assert_eq!(page.next_before, Some(1_001));
    // The search ends where the kept blocks end.
    let page = BlocksPageView::read(&chain, 1_001, true);
    assert_eq!(heights(&page), [900, 600]);
    assert_eq!(page.next_before, None);
    assert!(page.blocks.iter().all(|b| !b.transactions.is_empty()));
}

#[test]
fn edge_values_of_before_give_an_empty_last_page() {
    let chain = Kept {
        first: 1,
        last: 100,
        busy: 7,
    };
    for before in [0, 1] {
        let page = BlocksPageView::read(&chain, before, false);
        assert!(page.blocks.is_empty(), "before {before}");
        assert_eq!(page.next_before, None, "before {before}");
    }
    // Above the kept blocks: the search starts at the newest one kept.
    let page = BlocksPageView::read(&chain, 150, true);
    assert_eq!(
        heights(&page),
        [98, 91, 84, 77, 70, 63, 56, 49, 42, 35, 28, 21, 14, 7]
    );
    assert_eq!(page.next_before, None);
}
