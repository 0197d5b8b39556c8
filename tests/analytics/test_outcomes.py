"""The outcomes page, its CSV and its figures against hand-computed values.

Known data (tests/analytics/known_data.py), team Procurement:

- N1 approved: seller opens 120,000, buyer opens 90,000, agreed 100,000; the
  accepting message in round 3 at 30 min; approved at 40 min (request opened at
  30); its SLA check passed.
- N2 pending approval: seller opens 125,000, buyer 85,000, agreed 110,000; accepted
  in round 1 at 10 min; request opened at 10, sent back (changes) at 25; SLA failed.
- N3 failed, escalated once by a policy. N4 running.
- A media buy of team Marketing that the Procurement member must never see.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date

import pytest

from analytics.selectors.outcomes import OutcomeFilters, negotiation_outcomes
from analytics.selectors.quality import agreement_quality
from analytics.selectors.report import outcomes_report
from tests.analytics.known_data import negotiation_write, procurement_world, tiny_playbook
from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    data = procurement_world()
    data["member"] = make_user("mia", "Procurement", "Operators")
    data["auditor"] = make_user("audrey", "Auditors")
    return data


def text(response) -> str:
    return b"".join(response.streaming_content).decode()


def figures(user, **filters):
    return outcomes_report(user=user, filters=OutcomeFilters(**filters)).figures


def test_savings_against_ask_target_and_budget_are_the_hand_computed_means(world):
    f = figures(world["member"])
    # N1: (120000-100000)/120000 = 0.1666…; N2: (125000-110000)/125000 = 0.12
    assert f["savings_ask"].value == pytest.approx((20000 / 120000 + 15000 / 125000) / 2)
    # our opening: N1 (90000-100000)/90000; N2 (85000-110000)/85000
    assert f["savings_target"].value == pytest.approx((-10000 / 90000 - 25000 / 85000) / 2)
    # budget_cap 115000: (15000 + 5000) / 115000 / 2
    assert f["savings_budget"].value == pytest.approx((15000 / 115000 + 5000 / 115000) / 2)
    assert f["savings_ask"].text == "14.3%"
    assert f["savings_ask"].count == 2


def test_sla_adherence_agreement_rate_cycle_times_and_rounds(world):
    f = figures(world["member"])
    assert f["sla_adherence"].value == 0.5  # N1 passed, N2 failed
    assert f["agreement_rate"].value == pytest.approx(2 / 3)  # N1, N2 of N1..N3 (N4 runs)
    assert f["cycle_agreement"].value == 20 * 60  # median of 30 and 10 minutes
    assert f["cycle_approval"].value == 40 * 60  # N1 only
    assert f["rounds"].value == 3  # median of 4 (rounds 0..3) and 2 (rounds 0..1)
    assert f["cycle_agreement"].text == "20.0 min"


def test_escalations_approval_speed_and_reversals(world):
    report = outcomes_report(user=world["member"], filters=OutcomeFilters())
    f = report.figures
    assert f["escalation_rate"].value == 0.25  # N3 of four started
    assert [(c, n, rate) for c, _, n, rate in report.causes] == [("policy_escalation", 1, 0.25)]
    # decisions after 10 (N1) and 15 (N2) minutes: median 12.5 min, p90 = 10 + 0.9 * 5
    assert f["approval_median"].value == 750
    assert f["approval_p90"].value == pytest.approx(870)
    assert f["approvals_reversed"].value == 0.5


def test_the_weekly_series_counts_negotiations_and_the_agreement_rate(world):
    report = outcomes_report(user=world["member"], filters=OutcomeFilters())
    # all four were created on Monday 2 March 2026; N1, N2 of the three that ended agreed
    assert report.weekly() == {
        "labels": ["2026-03-02"],
        "negotiations": [4],
        "agreement_rate": [66.67],
    }


def test_the_pattern_places_say_not_yet_used_without_data(world):
    report = outcomes_report(user=world["member"], filters=OutcomeFilters())
    assert [(p.metric, p.text) for p in report.patterns] == [
        ("Feasible-plan rate", "not yet used"),
        ("Consensus time", "not yet used"),
        ("Fraud flag rate", "not yet used"),
        ("ROI", "not yet used"),
    ]


def test_filters_narrow_by_playbook_pattern_and_period(world):
    auditor = world["auditor"]
    assert len(negotiation_outcomes(user=auditor, filters=OutcomeFilters())) == 5
    media = OutcomeFilters(playbook=world["media"].pk)
    assert [r.title for r in negotiation_outcomes(user=auditor, filters=media)] == ["Media N5"]
    bundle = OutcomeFilters(pattern="bundle")
    assert [r.title for r in negotiation_outcomes(user=auditor, filters=bundle)] == ["Media N5"]
    later = OutcomeFilters(start=date(2026, 3, 3))
    assert negotiation_outcomes(user=auditor, filters=later) == []
    day = OutcomeFilters(start=date(2026, 3, 2), end=date(2026, 3, 2))
    assert len(negotiation_outcomes(user=auditor, filters=day)) == 5


def test_another_teams_negotiations_never_count(world):
    rows = negotiation_outcomes(user=world["member"], filters=OutcomeFilters())
    assert [r.title for r in rows] == ["N1", "N2", "N3", "N4"]
    stranger = make_user("olga", "Marketing")
    f = figures(stranger)
    assert f["agreement_rate"].value == 0.0 and f["agreement_rate"].count == 1


def test_quality_is_hidden_from_who_may_not_see_both_profiles(world):
    # the member is in Procurement (buyer) but not Sales (seller)
    report = outcomes_report(user=world["member"], filters=OutcomeFilters())
    assert report.quality_hidden == 2 and report.figures["quality"].value is None
    seen = outcomes_report(user=world["auditor"], filters=OutcomeFilters())
    assert seen.quality_hidden == 0 and seen.figures["quality"].count == 2


@pytest.mark.parametrize(
    ("price", "nash_distance", "score"),
    [(50, 0.0, 1.0), (75, math.sqrt(0.125), 0.5), (100, math.sqrt(0.5), 0.0)],
)
def test_quality_score_is_the_distance_to_the_frontier_and_the_nash_point(
    db, price, nash_distance, score
):
    playbook = tiny_playbook()
    deal = {"price": price}
    n = negotiation_write(
        playbook,
        status="approved",
        agreed_terms=deal,
        offers=[(0, "seller", "propose", deal, 1), (0, "buyer", "accept", deal, 2)],
    )
    quality = agreement_quality(user=make_user("root", superuser=True), negotiation=n)
    # every outcome is Pareto-optimal; the Nash point is (0.5, 0.5)
    assert quality.pareto_distance == pytest.approx(0.0)
    assert quality.nash_distance == pytest.approx(nash_distance)
    assert quality.score == pytest.approx(score)


def test_the_page_shows_each_figure_with_its_definition(client, world):
    client.force_login(world["member"])
    page = client.get("/outcomes/").content.decode()
    for text in ("14.3%", "66.7%", "20.0 min", "40.0 min", "50.0%", "25.0%", "12.5 min"):
        assert text in page, text
    assert "Counterpart&#x27;s opening ask minus the agreed deal value" in page
    assert "not yet used" in page
    assert "Media N5" not in page
    assert 'id="outcomes-data"' in page and "<script>" not in page


def test_the_page_is_empty_but_finished_without_negotiations(client, db):
    client.force_login(make_user("nobody", "Procurement"))
    page = client.get("/outcomes/").content.decode()
    assert "No negotiations match" in page


def test_bad_filters_are_a_clear_error_not_a_500(client, world):
    client.force_login(world["member"])
    response = client.get("/outcomes/?start=yesterday&playbook=abc")
    assert response.status_code == 400
    assert "Enter a valid date" in response.content.decode()


def test_the_csv_export_has_one_row_per_negotiation_with_the_same_filters(client, world):
    client.force_login(world["member"])
    response = client.get(f"/outcomes/export.csv?playbook={world['procurement'].pk}")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text(response))))
    assert [r["title"] for r in rows] == ["N1", "N2", "N3", "N4"]
    assert rows[0]["savings_vs_ask"] == "0.166667"
    assert rows[0]["rounds_to_agreement"] == "4"
    assert rows[0]["cycle_to_approval_s"] == "2400"
    assert rows[1]["sla_adherence"] == "no"
    assert rows[0]["quality_score"] == "hidden"
    assert rows[2]["escalations"] == "policy_escalation"
    bundle = text(client.get("/outcomes/export.csv?pattern=bundle"))
    assert bundle.count("\n") == 1  # the header only: the media buy is another team's


def test_the_negotiation_page_shows_the_quality_to_who_may_see_both_profiles(client, db):
    playbook = tiny_playbook()
    deal = {"price": 75}
    n = negotiation_write(
        playbook,
        status="approved",
        agreed_terms=deal,
        offers=[(0, "seller", "propose", deal, 1), (0, "buyer", "accept", deal, 2)],
    )
    client.force_login(make_user("audrey", "Auditors"))
    page = client.get(f"/negotiations/{n.pk}/").content.decode()
    assert 'id="agreement-quality"' in page
    assert '<span class="stat-value" data-quality="score">0.500</span>' in page
    assert '<span class="stat-value" data-quality="nash">0.354</span>' in page
    client.force_login(make_user("mia", "Procurement"))  # the buyer's team only
    page = client.get(f"/negotiations/{n.pk}/").content.decode()
    assert 'id="agreement-quality"' in page and 'data-quality="score"' not in page
    assert "shown only to people who may see them all" in page


def test_a_tenders_award_record_is_not_counted_as_a_negotiation(world):
    """A tender's award travels through a negotiation row (for the approval gate);
    it is counted once, in the auction place, not among the bargaining figures."""
    from negotiator.services.roles import roles_ensure
    from tenders.services.lifecycle import tender_create
    from tenders.services.setup import tender_playbook_import
    from tests.tenders.conftest import run_tender, tender_document

    roles_ensure()
    before = figures(world["auditor"])
    tender = run_tender(tender_create(template=tender_playbook_import(tender_document()), seed=1))
    assert tender.award_negotiation_id is not None
    after = figures(world["auditor"])
    for key in ("agreement_rate", "savings_ask", "cycle_agreement", "rounds"):
        assert (after[key].value, after[key].count) == (before[key].value, before[key].count), key
    report = outcomes_report(user=world["auditor"], filters=OutcomeFilters())
    assert {p.metric: p.text for p in report.patterns}["Fraud flag rate"] != "not yet used"
