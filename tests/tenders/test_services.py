"""Tenders end to end in-process: import, bidding, award, screens and the gate."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalRequest, ApprovalStatus
from negotiator.models import AuditEvent, NegotiationStatus, Playbook
from negotiator.services.errors import ServiceError
from tenders.models import Supplier, Tender, TenderPlaybook, TenderStatus
from tenders.services.lifecycle import tender_create
from tenders.services.rounds import tender_run_round
from tenders.services.setup import tender_playbook_import
from tests.tenders.conftest import RING, run_tender, tender_document

pytestmark = pytest.mark.django_db


def test_the_shipped_tender_file_imports_playbook_settings_bidders_and_suppliers(template):
    assert template.playbook.pattern == "auction"
    assert template.config["format"] == "reverse_english"
    assert len(template.bidders) == 8
    apex = Supplier.objects.get(name="Apex Industrial Supply")
    assert apex.owner == "Apex Holdings"
    assert tender_playbook_import(tender_document()).pk == template.pk  # idempotent


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tender"].update(format="dutch"), "tender.format must be one of"),
        (lambda d: d["tender"].update(reserve_price=float("inf")), "tender.reserve_price"),
        (lambda d: d["tender"].update(colour=1), "tender.colour is not a tender setting"),
        (lambda d: d["bidders"][0].update(strategy="bribe"), "unknown strategy 'bribe'"),
        (lambda d: d["bidders"][0].update(cost=-1), "cost must be a positive number"),
        (lambda d: d["bidders"][0]["terms"].pop("warranty_months"), "terms must give exactly"),
        (lambda d: d["tender"]["screens"].update(cv_below="low"), "screens.cv_below"),
        (lambda d: d.update(format="x"), "a tender file has format"),
    ],
)
def test_a_bad_tender_file_says_why_and_imports_nothing(db, change, message):
    document = tender_document()
    change(document)
    with pytest.raises(ServiceError, match=message):
        tender_playbook_import(document)
    assert not TenderPlaybook.objects.exists()
    assert not Playbook.objects.filter(name=document["playbook"]["name"]).exists()


def test_second_score_winner_gets_terms_worth_the_second_best_score(template, default_route):
    tender = run_tender(
        tender_create(template=template, overrides={"format": "second_score"}, seed=4)
    )
    assert tender.award_supplier
    assert tender.award_score == pytest.approx(tender.second_score, abs=1e-6)
    own = tender.bids.get(bidder__supplier__name=tender.award_supplier)
    assert tender.award_terms["price"] >= own.price


def test_a_clean_tender_is_awarded_automatically_by_an_explicit_route(template, auto_route):
    tender = run_tender(tender_create(template=template, seed=1))
    assert tender.status == TenderStatus.AWARDED, tender.award_reason
    assert not tender.flagged
    assert tender.award_terms["price"] <= 140_000
    assert tender.award_negotiation.status == NegotiationStatus.APPROVED
    assert "approved automatically" in tender.award_reason
    # Reverse English: every standing bid beat the one before by the decrement.
    prices = list(
        tender.bids.filter(accepted=True).order_by("at", "id").values_list("price", flat=True)
    )
    assert len(prices) > 5


def test_a_planted_ring_waits_for_a_person_who_sees_the_flags(template, auto_route, default_route):
    tender = run_tender(
        tender_create(template=template, bidders=RING, overrides={"format": "first_score"}, seed=2)
    )
    assert tender.status == TenderStatus.PENDING_APPROVAL
    assert tender.flagged and tender.award_supplier == "Apex Industrial Supply"
    request = ApprovalRequest.objects.get(negotiation=tender.award_negotiation)
    screens = [r for r in request.reasons["policy_results"] if r["policy"] == "Bid-rigging screens"]
    assert len(screens) == 1 and screens[0]["severity"] == "escalate"
    flagged = {f["name"] for f in screens[0]["evidence"]["screens"]}
    assert {"shared_owner", "suspicion"} <= flagged
    assert all(f["sentence"] for f in screens[0]["evidence"]["screens"])


def test_the_tender_follows_the_persons_decision(template, default_route, django_user_model):
    from approvals.services.decisions import approval_decide

    tender = run_tender(
        tender_create(template=template, bidders=RING, overrides={"format": "first_score"}, seed=2)
    )
    request = ApprovalRequest.objects.get(negotiation=tender.award_negotiation)
    person = django_user_model.objects.create_user("anna", password="pw-long-enough-1")
    person.groups.add(default_route.approver_group)
    approval_decide(request=request, user=person, decision="reject", comment="ring")
    tender.refresh_from_db()
    request.refresh_from_db()
    assert request.status == ApprovalStatus.REJECTED
    assert tender.status == TenderStatus.REJECTED


def test_without_any_route_a_flagged_award_escalates_never_approves(template):
    tender = run_tender(
        tender_create(template=template, bidders=RING, overrides={"format": "first_score"}, seed=2)
    )
    assert tender.status == TenderStatus.ESCALATED
    assert tender.award_negotiation.status == NegotiationStatus.ESCALATED


def test_no_bid_under_the_reserve_means_no_award(template, auto_route):
    expensive = [dict(b, fixed_price=160_000.0 + i) for i, b in enumerate(RING)]
    tender = run_tender(
        tender_create(template=template, bidders=expensive, overrides={"format": "first_score"})
    )
    assert tender.status == TenderStatus.NO_AWARD
    assert "above the reserve" in tender.award_reason
    assert tender.award_negotiation.status == NegotiationStatus.CANCELLED


def test_a_bid_a_block_policy_refuses_never_wins(template, auto_route):
    bidders = [dict(b, fixed_price=None) for b in RING]
    bidders[0] = dict(
        RING[0], fixed_price=90_000.0, terms={"delivery_days": 10, "warranty_months": 6}
    )
    tender = run_tender(
        tender_create(template=template, bidders=bidders, overrides={"format": "first_score"})
    )
    refused = tender.bids.get(bidder__supplier__name="Apex Industrial Supply")
    assert refused.reason.startswith("block:") and "warranty_months" in refused.reason
    assert tender.award_supplier != "Apex Industrial Supply"


def test_a_round_runs_once_however_often_its_task_arrives(template, auto_route):
    tender = tender_create(template=template, seed=3)
    assert tender_run_round(tender_id=tender.pk, round_number=0)
    assert not tender_run_round(tender_id=tender.pk, round_number=0)
    assert Tender.objects.get(pk=tender.pk).round == 1


def test_private_costs_never_reach_the_audit_trail(template, default_route):
    tender = run_tender(
        tender_create(template=template, bidders=RING, overrides={"format": "first_score"}, seed=2)
    )
    events = AuditEvent.objects.filter(negotiation=tender.award_negotiation)
    kinds = set(events.values_list("kind", flat=True))
    trail = " ".join(events.values_list("payload_json", flat=True))
    assert {"tender.created", "tender.round_played", "tender.closed"} <= kinds
    assert "100000" not in trail and "private_cost" not in trail
