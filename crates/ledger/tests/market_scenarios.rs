//! Random market scenarios with random timing (property tests), and a 1,000-trade scenario whose
//! reputation counters are checked against an independent tally kept by this test.

use ledger::{
    Event, Outcome,
    audit::check_conservation,
    market::{Db, MarketEvent, TradeState},
    state::{self, Module},
    testing::{TestChain, account},
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use types::{
    AssetId, Call, Symbol, Text,
    bank::{BankCall, IssueAsset, Mint},
    market::*,
};

const TRADERS: u64 = 5;
const ARBITERS: [u64; 2] = [5, 6];
const ISSUER: u64 = 7;
const DAY_MS: u64 = 86_400_000;

fn setup() -> (TestChain, AssetId) {
    let mut chain = TestChain::new(8, 100_000_000_000_000);
    let receipt = chain.bank(
        ISSUER,
        BankCall::IssueAsset(IssueAsset {
            symbol: Symbol::new("USDX").unwrap(),
            name: Text::new("Dollar").unwrap(),
            decimals: 6,
            max_supply: None,
        }),
    );
    let usd = match &receipt.events[..] {
        [Event::AssetIssued { asset, .. }] => *asset,
        other => panic!("{other:?}"),
    };
    for holder in 0..TRADERS {
        let mint = BankCall::Mint(Mint {
            asset: usd,
            to: account(holder),
            amount: 1_000_000_000_000,
        });
        assert!(chain.bank(ISSUER, mint).is_success());
    }
    for arbiter in ARBITERS {
        let register = MarketCall::RegisterArbitrator(RegisterArbitrator {
            bond: 1_000_000_000_000,
            fee_bps: 100,
            languages: Text::new("en").unwrap(),
        });
        assert!(chain.submit(arbiter, Call::Market(register)).is_success());
    }
    (chain, usd)
}

fn offer(usd: AssetId, side: Side, max: u128, deposit_bps: u16) -> CreateOffer {
    CreateOffer {
        side,
        asset: usd,
        fiat: Fiat::new("EUR").unwrap(),
        price: 90,
        min_amount: 1_000_000,
        max_amount: max,
        // SEPA Instant (index 1): a one-day window.
        methods: vec![PaymentMethod::Registered(1)],
        payment_window_secs: 3_600,
        terms: Text::new("").unwrap(),
        buyer_deposit_bps: deposit_bps,
        seller_deposit_bps: deposit_bps,
        min_taker_trades: 0,
        min_taker_tier: 0,
    }
}

/// The signer of each possible step of a trade.
#[derive(Clone, Copy, Debug)]
enum Step {
    Create {
        maker: u64,
        sell: bool,
        max: u128,
        deposit_bps: u16,
    },
    Take {
        taker: u64,
        pick: usize,
        amount: u128,
    },
    Pay {
        pick: usize,
    },
    Release {
        pick: usize,
    },
    Cancel {
        pick: usize,
    },
    Timeout {
        pick: usize,
    },
    Dispute {
        pick: usize,
        by_buyer: bool,
    },
    Rule {
        pick: usize,
        to_buyer_pct: u8,
        buyer_at_fault: bool,
    },
    Reassign {
        pick: usize,
        by: u64,
    },
    CancelOffer {
        pick: usize,
    },
    Wait {
        ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..TRADERS, any::<bool>(), 1_000_000u128..500_000_000, 300u16..3_000)
            .prop_map(|(maker, sell, max, deposit_bps)| Step::Create { maker, sell, max, deposit_bps }),
        4 => (0..TRADERS, any::<usize>(), 1_000_000u128..500_000_000)
            .prop_map(|(taker, pick, amount)| Step::Take { taker, pick, amount }),
        3 => any::<usize>().prop_map(|pick| Step::Pay { pick }),
        2 => any::<usize>().prop_map(|pick| Step::Release { pick }),
        1 => any::<usize>().prop_map(|pick| Step::Cancel { pick }),
        1 => any::<usize>().prop_map(|pick| Step::Timeout { pick }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, by_buyer)| Step::Dispute { pick, by_buyer }),
        2 => (any::<usize>(), 0u8..=100, any::<bool>())
            .prop_map(|(pick, to_buyer_pct, buyer_at_fault)| Step::Rule { pick, to_buyer_pct, buyer_at_fault }),
        1 => (any::<usize>(), 0..TRADERS).prop_map(|(pick, by)| Step::Reassign { pick, by }),
        1 => any::<usize>().prop_map(|pick| Step::CancelOffer { pick }),
        2 => (0u64..3 * DAY_MS).prop_map(|ms| Step::Wait { ms }),
    ]
}

fn pick<T: Copy>(items: &[T], index: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[index % items.len()])
}

fn arbiter_index(chain: &TestChain, trade: u64) -> Option<u64> {
    let arbitrator = Db::trade(&chain.store, trade)?.arbitrator?;
    ARBITERS.into_iter().find(|a| account(*a) == arbitrator)
}

/// Plays `steps`, checking after each block that conservation holds (the harness does) and that
/// no trade is settled twice; returns the chain and how often each trade settled.
fn play(steps: &[Step]) -> (TestChain, AssetId, BTreeMap<u64, u32>) {
    let (mut chain, usd) = setup();
    let mut offers: Vec<u64> = Vec::new();
    let mut trades: Vec<u64> = Vec::new();
    let mut settled: BTreeMap<u64, u32> = BTreeMap::new();
    for step in steps {
        let trade_of = |p: usize| pick(&trades, p);
        let call: Option<(u64, MarketCall)> =
            match *step {
                Step::Create {
                    maker,
                    sell,
                    max,
                    deposit_bps,
                } => Some((
                    maker,
                    MarketCall::CreateOffer(offer(
                        usd,
                        if sell { Side::Sell } else { Side::Buy },
                        max,
                        deposit_bps,
                    )),
                )),
                Step::Take {
                    taker,
                    pick: p,
                    amount,
                } => pick(&offers, p).map(|offer| {
                    (
                        taker,
                        MarketCall::TakeOffer(TakeOffer {
                            offer,
                            revision: 0,
                            amount,
                            method: PaymentMethod::Registered(1),
                        }),
                    )
                }),
                Step::Pay { pick: p } => trade_of(p)
                    .and_then(|id| Db::trade(&chain.store, id))
                    .map(|trade| {
                        let buyer = (0..TRADERS).find(|i| account(*i) == trade.buyer).unwrap();
                        (
                            buyer,
                            MarketCall::MarkPaid(MarkPaid {
                                trade: trade.id,
                                payer_commitment: None,
                            }),
                        )
                    }),
                Step::Release { pick: p } => trade_of(p)
                    .and_then(|id| Db::trade(&chain.store, id))
                    .map(|trade| {
                        let seller = (0..TRADERS).find(|i| account(*i) == trade.seller).unwrap();
                        (seller, MarketCall::Release(TradeRef { trade: trade.id }))
                    }),
                Step::Cancel { pick: p } => trade_of(p)
                    .and_then(|id| Db::trade(&chain.store, id))
                    .map(|trade| {
                        let buyer = (0..TRADERS).find(|i| account(*i) == trade.buyer).unwrap();
                        (buyer, MarketCall::CancelTrade(TradeRef { trade: trade.id }))
                    }),
                Step::Timeout { pick: p } => trade_of(p)
                    .and_then(|id| Db::trade(&chain.store, id))
                    .map(|trade| {
                        let seller = (0..TRADERS).find(|i| account(*i) == trade.seller).unwrap();
                        (
                            seller,
                            MarketCall::ClaimTimeout(TradeRef { trade: trade.id }),
                        )
                    }),
                Step::Dispute { pick: p, by_buyer } => trade_of(p)
                    .and_then(|id| Db::trade(&chain.store, id))
                    .map(|trade| {
                        let party = if by_buyer { trade.buyer } else { trade.seller };
                        let signer = (0..TRADERS).find(|i| account(*i) == party).unwrap();
                        (
                            signer,
                            MarketCall::OpenDispute(types::market::OpenDispute::other(trade.id)),
                        )
                    }),
                Step::Rule {
                    pick: p,
                    to_buyer_pct,
                    buyer_at_fault,
                } => trade_of(p).and_then(|id| {
                    let trade = Db::trade(&chain.store, id)?;
                    let arbiter = arbiter_index(&chain, id)?;
                    Some((
                        arbiter,
                        MarketCall::Rule(Rule {
                            trade: id,
                            amount_to_buyer: trade.amount * u128::from(to_buyer_pct) / 100,
                            at_fault: if buyer_at_fault {
                                Party::Buyer
                            } else {
                                Party::Seller
                            },
                        }),
                    ))
                }),
                Step::Reassign { pick: p, by } => {
                    trade_of(p).map(|trade| (by, MarketCall::Reassign(TradeRef { trade })))
                }
                Step::CancelOffer { pick: p } => pick(&offers, p)
                    .and_then(|id| Db::offer(&chain.store, id))
                    .map(|offer| {
                        let maker = (0..TRADERS).find(|i| account(*i) == offer.maker).unwrap();
                        (maker, MarketCall::CancelOffer(OfferRef { offer: offer.id }))
                    }),
                Step::Wait { ms } => {
                    chain.advance_ms(ms);
                    None
                }
            };
        let Some((signer, call)) = call else { continue };
        let receipt = chain.submit(signer, Call::Market(call));
        assert!(
            !matches!(receipt.outcome, Outcome::Rejected(_)),
            "{receipt:?}"
        );
        for event in &receipt.events {
            match event {
                Event::Market(MarketEvent::OfferCreated { offer, .. }) => offers.push(*offer),
                Event::Market(MarketEvent::TradeOpened { trade, .. }) => trades.push(*trade),
                Event::Market(MarketEvent::Settled { trade, .. }) => {
                    let count = settled.entry(*trade).or_default();
                    *count += 1;
                    assert_eq!(*count, 1, "trade {trade} settled twice");
                    assert!(Db::trade(&chain.store, *trade).unwrap().state.is_final());
                }
                _ => {}
            }
        }
    }
    (chain, usd, settled)
}

/// After every deadline, drives every unfinished trade to an end using only the exits the rules
/// give (claim the timeout, dispute, reassign, rule) and closes every offer, then checks that the
/// market holds nothing but the arbitrators' bonds.
fn finish_everything(chain: &mut TestChain, usd: AssetId) {
    let last = Db::last_trade_id(&chain.store);
    for round in 0..6 {
        chain.advance_ms(10 * DAY_MS);
        for id in 1..=last {
            let Some(trade) = Db::trade(&chain.store, id) else {
                continue;
            };
            let seller = (0..TRADERS).find(|i| account(*i) == trade.seller).unwrap();
            let call = match trade.state {
                TradeState::AwaitingPayment => {
                    Some((seller, MarketCall::ClaimTimeout(TradeRef { trade: id })))
                }
                TradeState::Paid => Some((
                    seller,
                    MarketCall::OpenDispute(types::market::OpenDispute::other(id)),
                )),
                TradeState::Disputed => match arbiter_index(chain, id) {
                    // Alternate between the arbitrator ruling and anyone reassigning after the
                    // deadline, so both exits are exercised.
                    Some(arbiter) if round % 2 == 0 => Some((
                        arbiter,
                        MarketCall::Rule(Rule {
                            trade: id,
                            amount_to_buyer: trade.amount / 2,
                            at_fault: Party::Seller,
                        }),
                    )),
                    _ => Some((seller, MarketCall::Reassign(TradeRef { trade: id }))),
                },
                _ => None,
            };
            if let Some((signer, call)) = call {
                chain.submit(signer, Call::Market(call));
            }
        }
    }
    for id in 1..=Db::last_offer_id(&chain.store) {
        if let Some(offer) = Db::offer(&chain.store, id) {
            let maker = (0..TRADERS).find(|i| account(*i) == offer.maker).unwrap();
            assert!(
                chain
                    .submit(
                        maker,
                        Call::Market(MarketCall::CancelOffer(OfferRef { offer: id }))
                    )
                    .is_success()
            );
        }
    }
    for id in 1..=last {
        let trade = Db::trade(&chain.store, id).unwrap();
        assert!(
            trade.state.is_final(),
            "trade {id} is stuck in {:?}",
            trade.state
        );
    }
    assert_eq!(
        state::held(&chain.store, Module::Market, usd),
        0,
        "no funds stuck in escrow"
    );
    let bonds: u128 = Db::arbitrators(&chain.store)
        .iter()
        .map(|a| Db::arbitrator(&chain.store, a).unwrap().bond)
        .sum();
    assert_eq!(
        state::held(&chain.store, Module::Market, AssetId::NATIVE),
        bonds
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_scenarios_conserve_settle_once_and_never_strand_funds(
        steps in proptest::collection::vec(step(), 10..80)
    ) {
        let (mut chain, usd, _) = play(&steps);
        finish_everything(&mut chain, usd);
        check_conservation(&chain.store).unwrap();
    }
}

/// A small deterministic generator, so the scenario is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[derive(Default, Debug, PartialEq, Eq)]
struct Tally {
    completed_as_buyer: u32,
    completed_as_seller: u32,
    volume: u128,
    cancellations: u32,
    timeouts: u32,
    disputes_opened: u32,
    disputes_won: u32,
    disputes_lost: u32,
    rating_sum: u32,
    rating_count: u32,
    counted_trades: u32,
}

#[test]
fn a_thousand_trades_give_exactly_the_tallied_reputation() {
    let (mut chain, usd) = setup();
    chain.check_conservation = false;
    let mut rng = Lcg(42);
    let mut tally: BTreeMap<u64, Tally> = (0..TRADERS).map(|i| (i, Tally::default())).collect();
    let submit = |chain: &mut TestChain, signer: u64, call: MarketCall| -> Vec<MarketEvent> {
        let receipt = chain.submit(signer, Call::Market(call));
        assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
        receipt
            .events
            .into_iter()
            .filter_map(|e| match e {
                Event::Market(e) => Some(e),
                _ => None,
            })
            .collect()
    };
    for round in 0..1_000u32 {
        let maker = rng.next(TRADERS);
        let taker = (maker + 1 + rng.next(TRADERS - 1)) % TRADERS;
        let sell = rng.next(2) == 0;
        let amount = 1_000_000 + u128::from(rng.next(400)) * 1_000_000;
        let events = submit(
            &mut chain,
            maker,
            MarketCall::CreateOffer(offer(
                usd,
                if sell { Side::Sell } else { Side::Buy },
                amount,
                1_000,
            )),
        );
        let MarketEvent::OfferCreated {
            offer: offer_id, ..
        } = events[0]
        else {
            panic!()
        };
        let events = submit(
            &mut chain,
            taker,
            MarketCall::TakeOffer(TakeOffer {
                offer: offer_id,
                revision: 0,
                amount,
                method: PaymentMethod::Registered(1),
            }),
        );
        let trade = events
            .iter()
            .find_map(|e| match e {
                MarketEvent::TradeOpened { trade, .. } => Some(*trade),
                _ => None,
            })
            .unwrap();
        let (buyer, seller) = if sell { (taker, maker) } else { (maker, taker) };
        // A released trade counts when it was marked paid (these all are) and is worth at
        // least 10.00 EUR at the offers' 0.90; only ratings of counted trades are averaged.
        let counted = (amount * 90).div_ceil(1_000_000) >= 1_000;
        let rate = |chain: &mut TestChain,
                    tally: &mut BTreeMap<u64, Tally>,
                    rater: u64,
                    rated: u64,
                    stars: u8| {
            submit(chain, rater, MarketCall::Rate(Rate { trade, stars }));
            if counted {
                let entry = tally.get_mut(&rated).unwrap();
                entry.rating_sum += u32::from(stars);
                entry.rating_count += 1;
            }
        };
        match rng.next(6) {
            0 | 1 => {
                submit(
                    &mut chain,
                    buyer,
                    MarketCall::MarkPaid(MarkPaid {
                        trade,
                        payer_commitment: None,
                    }),
                );
                chain.advance_ms(rng.next(3_600_000));
                submit(&mut chain, seller, MarketCall::Release(TradeRef { trade }));
                tally.get_mut(&buyer).unwrap().completed_as_buyer += 1;
                tally.get_mut(&seller).unwrap().completed_as_seller += 1;
                tally.get_mut(&buyer).unwrap().volume += amount;
                tally.get_mut(&seller).unwrap().volume += amount;
                if counted {
                    tally.get_mut(&buyer).unwrap().counted_trades += 1;
                    tally.get_mut(&seller).unwrap().counted_trades += 1;
                }
                let stars = 1 + rng.next(5) as u8;
                rate(&mut chain, &mut tally, buyer, seller, stars);
                if rng.next(2) == 0 {
                    let stars = 1 + rng.next(5) as u8;
                    rate(&mut chain, &mut tally, seller, buyer, stars);
                }
            }
            2 => {
                submit(
                    &mut chain,
                    buyer,
                    MarketCall::CancelTrade(TradeRef { trade }),
                );
                tally.get_mut(&buyer).unwrap().cancellations += 1;
            }
            3 => {
                chain.advance_ms(DAY_MS + 1);
                submit(
                    &mut chain,
                    seller,
                    MarketCall::ClaimTimeout(TradeRef { trade }),
                );
                tally.get_mut(&buyer).unwrap().timeouts += 1;
            }
            outcome => {
                submit(
                    &mut chain,
                    buyer,
                    MarketCall::MarkPaid(MarkPaid {
                        trade,
                        payer_commitment: None,
                    }),
                );
                submit(
                    &mut chain,
                    seller,
                    MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
                );
                tally.get_mut(&seller).unwrap().disputes_opened += 1;
                // The arbitrator is picked at the start of the next block.
                chain.apply(&[]);
                let arbiter = arbiter_index(&chain, trade).unwrap();
                let buyer_at_fault = outcome == 4;
                submit(
                    &mut chain,
                    arbiter,
                    MarketCall::Rule(Rule {
                        trade,
                        amount_to_buyer: if buyer_at_fault { 0 } else { amount },
                        at_fault: if buyer_at_fault {
                            Party::Buyer
                        } else {
                            Party::Seller
                        },
                    }),
                );
                let (loser, winner) = if buyer_at_fault {
                    (buyer, seller)
                } else {
                    (seller, buyer)
                };
                tally.get_mut(&loser).unwrap().disputes_lost += 1;
                tally.get_mut(&winner).unwrap().disputes_won += 1;
            }
        }
        if round % 100 == 99 {
            check_conservation(&chain.store).unwrap();
        }
    }
    for (index, expected) in &tally {
        let r = Db::reputation(&chain.store, &account(*index));
        let volume = r
            .volume
            .iter()
            .find(|(a, _)| *a == usd)
            .map_or(0, |(_, v)| *v);
        let actual = Tally {
            completed_as_buyer: r.completed_as_buyer,
            completed_as_seller: r.completed_as_seller,
            volume,
            cancellations: r.cancellations,
            timeouts: r.timeouts,
            disputes_opened: r.disputes_opened,
            disputes_won: r.disputes_won,
            disputes_lost: r.disputes_lost,
            rating_sum: r.rating_sum,
            rating_count: r.rating_count,
            counted_trades: r.counted_trades,
        };
        assert_eq!(&actual, expected, "account {index}");
    }
    assert_eq!(state::held(&chain.store, Module::Market, usd), 0);
}
