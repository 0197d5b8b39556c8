"""Bid-rigging screens: values on known bids, flags on known patterns, thresholds."""

import math

import numpy as np
import pytest

from negotiator.engine.screens import (
    Bid,
    ScreenConfig,
    SupplierRecord,
    TenderBids,
    bid_statistics,
    config_from_dict,
    rotation_evenness,
    tender_screen,
    tenders_screen,
)


def tender(tid, amounts, date="2025-01-01", winner=None, item="", times=None):
    bids = tuple(
        Bid(s, a, seconds_before_close=None if times is None else times[i])
        for i, (s, a) in enumerate(amounts.items())
    )
    return TenderBids(tid, bids, date=date, item=item, winner=winner)


def by_name(screening):
    return {r.name: r for r in screening.results}


def test_bid_statistics_match_the_textbook_formulas():
    bids = [100.0, 120.0, 121.0, 123.0, 140.0]
    x = np.array(bids)
    sd = x.std()
    stats = bid_statistics(bids)
    assert stats.cv == pytest.approx(sd / x.mean())
    assert stats.skewness == pytest.approx(((x - x.mean()) ** 3).mean() / sd**3)
    assert stats.kurtosis == pytest.approx(((x - x.mean()) ** 4).mean() / sd**4 - 3)
    assert stats.relative_distance == pytest.approx(20.0 / np.array(bids[1:]).std())
    assert stats.percent_difference == pytest.approx(0.2)


def test_too_few_bids_leave_the_screens_without_a_value():
    stats = bid_statistics([100.0, 105.0])
    assert (stats.cv, stats.kurtosis, stats.relative_distance) == (None, None, None)
    assert stats.percent_difference == pytest.approx(0.05)


def test_a_designated_winner_with_cover_bids_is_flagged_for_a_person():
    rigged = tender("R", {"a": 100.0, "b": 118.0, "c": 118.5, "d": 119.0, "e": 119.2})
    result = tender_screen(rigged)
    screens = by_name(result)
    assert screens["suspicion"].flagged
    assert screens["relative_distance"].flagged
    assert result.needs_person
    assert "cover bids" in screens["suspicion"].sentence


def test_a_competitive_spread_of_bids_is_not_flagged():
    fair = tender("F", {"a": 100.0, "b": 104.0, "c": 109.0, "d": 113.0, "e": 121.0})
    result = tender_screen(fair)
    assert result.flags == ()
    assert not result.needs_person
    assert result.suspicion < ScreenConfig().suspicion_above


def test_identical_bids_escalate():
    result = tender_screen(tender("I", {"a": 100.0, "b": 100.0, "c": 130.0}))
    screen = by_name(result)["near_identical"]
    assert screen.flagged and screen.severity == "escalate"
    assert "a and b" in screen.sentence


def test_rotation_evenness_is_one_for_turns_and_zero_for_one_winner():
    assert rotation_evenness(list("abcabc")) == pytest.approx(1.0)
    assert rotation_evenness(list("aaaaaa")) == 0.0
    assert rotation_evenness(list("aabbcc")) == pytest.approx(0.4)
    assert rotation_evenness(list("ababaa")) < 0.9


def test_a_stable_group_taking_turns_is_flagged_as_rotation():
    history = [
        tender(
            f"T{i}",
            {s: (100.0 if s == w else 112.0 + j) for j, s in enumerate("abc")},
            date=f"2025-01-{i + 1:02d}",
        )
        for i, w in enumerate("abcabc")
    ]
    results = tenders_screen(history)
    rotation = by_name(results[-1])["rotation"]
    assert rotation.flagged and rotation.value == pytest.approx(1.0)
    assert "took turns" in rotation.sentence


def test_a_group_that_met_too_rarely_is_not_judged_for_rotation():
    history = [tender(f"T{i}", {"a": 100.0, "b": 110.0, "c": 120.0}) for i in range(2)]
    rotation = by_name(tenders_screen(history)[0])["rotation"]
    assert rotation.value is None and not rotation.flagged


def test_losers_by_the_same_margin_every_time_are_cover_bidders():
    history = []
    for i in range(6):
        base = 100.0 + 10 * i
        bids = {"w": base, "c1": base * 1.05, "c2": base * 1.08, "x": base * (1.3 + 0.1 * (i % 3))}
        history.append(tender(f"T{i}", bids, date=f"2025-02-{i + 1:02d}"))
    cover = by_name(tenders_screen(history)[-1])["cover_bidding"]
    assert cover.flagged and cover.value == 2.0
    assert "c1" in cover.sentence and "c2" in cover.sentence and "x (" not in cover.sentence


def test_a_price_far_from_the_items_history_is_an_outlier():
    history = [tender(f"H{i}", {"a": 100.0 + i, "b": 103.0 + i}, item="bolt") for i in range(5)]
    odd = tender("odd", {"a": 100.0, "b": 400.0}, item="bolt")
    outlier = by_name(tenders_screen([*history, odd])[-1])["outlier"]
    assert outlier.flagged and outlier.severity == "warn"
    assert "b's price per unit" in outlier.sentence


def test_a_winning_bid_in_the_last_seconds_is_sniping():
    late = tender("S", {"a": 100.0, "b": 110.0, "c": 120.0}, times=[5.0, 900.0, 800.0])
    assert by_name(tender_screen(late))["sniping"].flagged
    early = tender("E", {"a": 100.0, "b": 110.0, "c": 120.0}, times=[500.0, 30.0, 800.0])
    assert not by_name(tender_screen(early))["sniping"].flagged


def test_bidders_sharing_an_owner_in_the_registry_escalate():
    registry = {
        "a": SupplierRecord("a", owner="Holding One", contact="a@x.example"),
        "b": SupplierRecord("b", owner="holding one ", contact="b@y.example"),
        "c": SupplierRecord("c", owner="Other", contact="a@x.example"),
    }
    result = tender_screen(tender("O", {"a": 100.0, "b": 110.0, "c": 125.0}), registry=registry)
    shared = by_name(result)["shared_owner"]
    assert shared.flagged and shared.value == 2.0 and result.needs_person
    assert "a and b share an owner" in shared.sentence
    assert "a and c share a contact" in shared.sentence


def test_a_structural_flag_makes_the_tender_suspicious_whatever_the_spread():
    result = tender_screen(tender("I", {"a": 100.0, "b": 100.0, "c": 150.0, "d": 190.0}))
    assert result.suspicion >= 0.75


def test_screen_settings_from_a_playbook_are_checked():
    config = config_from_dict({"cv_below": 0.08, "severities": {"outlier": "escalate"}})
    assert config.cv_below == 0.08 and config.severity("outlier") == "escalate"
    assert config.severity("rotation") == "escalate"
    for bad in (
        {"cv_below": "x"},
        {"nope": 1},
        {"cv_below": math.inf},
        {"severities": {"cv": "?"}},
    ):
        with pytest.raises(ValueError):
            config_from_dict(bad)


def test_every_screen_has_a_sentence_and_json_safe_values():
    result = tender_screen(tender("J", {"a": 100.0, "b": 100.5, "c": 100.7, "d": 100.9}))
    for screen in result.results:
        assert screen.sentence.endswith(".")
        value = screen.to_dict()["value"]
        assert value is None or math.isfinite(value)
