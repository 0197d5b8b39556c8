"""Metrics per tender and per playbook: savings, bidders, flag rate, ROI with the
configured cost per escalation minute."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tenders.selectors.metrics import playbook_metrics, tender_metrics
from tenders.services.lifecycle import tender_create
from tests.negotiator.test_views import make_user
from tests.tenders.conftest import RING, run_tender

pytestmark = pytest.mark.django_db


def test_a_flagged_tender_costs_the_person_minutes_it_needs(template, default_route):
    tender = run_tender(
        tender_create(template=template, bidders=RING, overrides={"format": "first_score"})
    )
    m = tender_metrics(tender)
    # tender.json: reserve 150,000; the ring's winner bids 138,000; run cost 150;
    # 20 person minutes at 2.5 per minute.
    assert (m.reserve, m.price, m.bidders, m.bids) == (150_000, 138_000, 4, 4)
    assert m.savings_vs_reserve == 12_000
    assert m.median_bid == pytest.approx((144_900 + 145_300) / 2)
    assert m.savings_vs_median == pytest.approx(m.median_bid - 138_000)
    assert m.cost == 150 + 20 * 2.5 and m.roi == pytest.approx(12_000 / 200)
    assert m.flagged and m.flags >= 3


def test_an_automatic_award_costs_only_the_run(template, auto_route):
    tender = run_tender(tender_create(template=template, seed=1))
    m = tender_metrics(tender)
    assert tender.escalation_minutes == 0 and m.cost == 150
    assert m.savings_vs_reserve == pytest.approx(150_000 - tender.award_terms["price"])


def test_playbook_metrics_sum_decided_tenders_with_the_flag_rate(client, template, default_route):
    flagged = run_tender(
        tender_create(template=template, bidders=RING, overrides={"format": "first_score"})
    )
    clean = run_tender(tender_create(template=template, seed=1))
    tender_create(template=template, title="still bidding")  # not decided: not counted
    m = playbook_metrics([flagged, clean])
    assert m.tenders == 2 and m.flag_rate == pytest.approx(0.5 if not clean.flagged else 1.0)
    assert m.cost == pytest.approx(tender_metrics(flagged).cost + tender_metrics(clean).cost)
    client.force_login(make_user("mia", "Procurement"))
    page = client.get(reverse("tenders:list")).content.decode()
    assert 'id="playbook-metrics"' in page and template.playbook.name in page


def test_the_outcomes_page_shows_the_fraud_flag_rate_and_roi_of_decided_tenders(
    client, template, default_route
):
    from analytics.selectors.outcomes import OutcomeFilters
    from analytics.selectors.report import outcomes_report

    flagged = run_tender(
        tender_create(template=template, bidders=RING, overrides={"format": "first_score"})
    )
    tender_create(template=template, title="still bidding")  # not decided: not counted
    user = make_user("olga", "Procurement")
    slots = {m.metric: m for m in outcomes_report(user=user, filters=OutcomeFilters()).patterns}
    # One decided tender, flagged: 100 %; ROI 12,000 saved against the reserve / 200 cost.
    assert slots["Fraud flag rate"].value == 1.0 and slots["Fraud flag rate"].text == "100.0%"
    assert slots["ROI"].value == pytest.approx(12_000 / 200) and slots["ROI"].text == "60.0×"
    assert tender_metrics(flagged).roi == pytest.approx(60.0)
    other = outcomes_report(user=user, filters=OutcomeFilters(pattern="concession")).patterns
    assert {m.metric: m.text for m in other}["ROI"] == "not yet used"
    outsider = make_user("ned", "Marketing")
    slots = {m.metric: m for m in outcomes_report(user=outsider, filters=OutcomeFilters()).patterns}
    assert slots["Fraud flag rate"].text == "not yet used"  # another team's tenders
