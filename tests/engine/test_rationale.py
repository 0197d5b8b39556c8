"""Rationales of built-in offers: what changed and why, never a private number."""

import numpy as np
import pytest

from negotiator.engine.disclosure import find_disclosures
from negotiator.engine.outcomes import NumericIssue, OrdinalIssue, OutcomeSpace
from negotiator.engine.preferences import IssueValue, LinearValue, PreferenceProfile, TableValue
from negotiator.engine.protocol import NegotiationSetup, Party, run
from negotiator.engine.rationale import move_sentence, private_numbers
from negotiator.engine.strategies import STRATEGIES, PartyView, make_strategy

SPACE = OutcomeSpace(
    (
        NumericIssue("price", 40000, 60000, step=1000, integer=True, unit="USD"),
        NumericIssue("delivery_days", 10, 40, step=5, integer=True, unit="days"),
        OrdinalIssue("support", ("basic", "standard", "premium")),
    )
)

# distinctive private numbers: none of them is a step of any issue
BUYER_PRIVATE = {"budget_cap": 57_340, "reservation_price": 55_170, "target_days": 17.3}
SELLER_PRIVATE = {"unit_cost": 43_210, "floor_price": 44_890}


def buyer(reservation=0.4137, private=None):
    return PreferenceProfile(
        weights={"cost": 0.5731, "speed": 0.2649, "quality": 0.162},
        criteria={
            "cost": (IssueValue("price", LinearValue(increasing=False)),),
            "speed": (IssueValue("delivery_days", LinearValue(increasing=False)),),
            "quality": (
                IssueValue("support", TableValue({"basic": 0, "standard": 0.55, "premium": 1})),
            ),
        },
        reservation=reservation,
        private_values=BUYER_PRIVATE if private is None else private,
    )


def seller(reservation=0.3271):
    return PreferenceProfile(
        weights={"cost": 0.6183, "speed": 0.2417, "quality": 0.14},
        criteria={
            "cost": (IssueValue("price", LinearValue(increasing=True)),),
            "speed": (IssueValue("delivery_days", LinearValue(increasing=True)),),
            "quality": (
                IssueValue("support", TableValue({"basic": 1, "standard": 0.6, "premium": 0})),
            ),
        },
        reservation=reservation,
        private_values=SELLER_PRIVATE,
    )


def setup(buyer_profile=None):
    return NegotiationSetup(
        space=SPACE,
        parties=(Party("buyer", buyer_profile or buyer()), Party("seller", seller())),
        max_rounds=30,
    )


def outcome(price, days, support):
    return SPACE.index_of((price, days, support))


def view(s, history, *, party=0, t=0.4):
    """A view of ``party`` after ``history`` [(sender index, outcome index), ...]."""
    senders = np.array([h[0] for h in history], dtype=np.int64)
    outcomes = np.array([h[1] for h in history], dtype=np.int64)
    return PartyView(
        name=s.party_names[party],
        party_index=party,
        profile=s.parties[party].profile,
        space=SPACE,
        table=s.tables[party],
        history=(),
        proposal_senders=senders,
        proposal_outcomes=outcomes,
        standing=None,
        standing_outcome=None,
        round=12,
        max_rounds=30,
        t=t,
        seed=0,
    )


def test_a_trade_says_what_we_gave_and_what_we_asked_in_exchange():
    s = setup()
    history = [(0, outcome(45000, 10, "premium")), (1, outcome(60000, 40, "basic"))]
    text = move_sentence(view(s, history), outcome(47000, 20, "premium"), schedule="default")
    assert text == (
        "Raised price by 2,000 USD and raised delivery days by 10 "
        "(a step on our default concession schedule as the deadline draws nearer)."
    )
    text = move_sentence(view(s, history), outcome(48000, 5 + 5, "standard"), schedule="default")
    assert text == (
        "Raised price by 3,000 USD and changed support from premium to standard "
        "(a step on our default concession schedule as the deadline draws nearer)."
    )
    previous = [(0, outcome(45000, 20, "premium")), (1, outcome(60000, 40, "basic"))]
    text = move_sentence(view(s, previous), outcome(47000, 15, "premium"), schedule="default")
    assert text.startswith(
        "Raised price by 2,000 USD in exchange for delivery days going down by 5 ("
    )


def test_a_move_back_towards_our_side_says_so_and_why():
    s = setup()
    history = [
        (0, outcome(50000, 20, "standard")),
        (1, outcome(58000, 35, "basic")),
        (1, outcome(60000, 40, "basic")),  # the seller moved away from us
    ]
    text = move_sentence(view(s, history), outcome(48000, 20, "standard"), schedule="tit-for-tat")
    assert text == (
        "Asked for more than in our previous offer: lowered price by 2,000 USD "
        "(the counterpart's last offer moved away from ours, so we answer in kind)."
    )


def test_opening_and_unchanged_offers_have_their_own_sentences():
    s = setup()
    first = outcome(40000, 10, "premium")
    assert move_sentence(view(s, []), first, schedule="default").startswith("Opening offer:")
    kept = move_sentence(view(s, [(0, first), (1, 0)]), first, schedule="boulware")
    assert kept == (
        "Kept our previous terms: the counterpart's offer is not yet good enough for us "
        "and our schedule allows no further step yet."
    )


def test_a_step_equal_to_a_private_value_is_written_without_numbers():
    # the buyer's private value equals the price step it is about to describe
    s = setup(buyer(private={"max_discount": 2000}))
    history = [(0, outcome(45000, 10, "premium")), (1, outcome(60000, 40, "basic"))]
    v = view(s, history)
    from negotiator.engine.rationale import explain_move

    text = explain_move(v, outcome(47000, 10, "premium"), schedule="default")
    assert text == (
        "Raised price (a step on our default concession schedule as the deadline draws nearer)."
    )


def _private_tokens(profile):
    """Ways a careless rationale could print a profile's private numbers."""
    tokens = set()
    for value in private_numbers_of(profile).values():
        tokens |= {f"{value:.4f}", f"{value:.3f}", f"{value:.2f}", f"{value:,.0f}", f"{value:.0f}"}
        if value < 1:
            tokens |= {f"{value:.0%}", f"{value * 100:.1f}"}
    return {t for t in tokens if t not in {"0", "1", "0.00", "1.00"}}


def private_numbers_of(profile):
    class _V:  # private_numbers reads only the profile
        pass

    v = _V()
    v.profile = profile
    return private_numbers(v)


@pytest.mark.parametrize("first", sorted(STRATEGIES))
@pytest.mark.parametrize("second", ["default", "boulware", "tit-for-tat"])
def test_no_rationale_reveals_a_private_number(first, second):
    s = setup()
    profiles = {p.name: p.profile for p in s.parties}
    for seed in range(3):
        result = run(s, [make_strategy(first), make_strategy(second)], seed=seed)
        for offer in result.state.history:
            profile = profiles[offer.sender]
            assert not find_disclosures(
                [("rationale", offer.rationale)], private_numbers_of(profile)
            ), offer.rationale
            # a plain string search too, in case a number hides in another format
            for token in _private_tokens(profile):
                if len(token) >= 4:
                    assert token not in offer.rationale, (token, offer.rationale)
            for word in ("utility", "reservation", "weight"):
                assert word not in offer.rationale.lower(), offer.rationale


def test_a_default_negotiation_explains_every_counter_with_its_changes():
    s = setup()
    result = run(s, [make_strategy("default"), make_strategy("default")], seed=1)
    counters = [o for o in result.state.history if o.performative == "counter"]
    assert counters
    for offer in counters:
        assert offer.rationale.startswith(
            ("Raised", "Lowered", "Changed", "Kept our previous terms", "Asked for more", "Opening")
        ), offer.rationale
    assert any(" by " in o.rationale and "USD" in o.rationale for o in counters)
