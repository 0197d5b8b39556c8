"""Known data for the outcomes tests: negotiations written row by row with fixed
times, offers, checks, approval requests and escalations, so every figure can be
computed by hand (the numbers are worked out in tests/analytics/test_outcomes.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import Group
from django.db import transaction

from approvals.models import ApprovalRequest, ApprovalRoute
from negotiator.audit import audit_append
from negotiator.models import (
    Negotiation,
    Offer,
    Participant,
    Playbook,
    PolicyCheck,
    PolicyVersion,
)
from negotiator.playbook_io import playbook_import
from tests.negotiator.conftest import load_playbook_document

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def negotiation_write(
    playbook: Playbook,
    *,
    status: str,
    offers: list[tuple[int, str, str, dict, float]],
    agreed_terms: dict | None = None,
    created: datetime = T0,
    started: datetime | None = T0,
    title: str = "",
) -> Negotiation:
    """A negotiation with its participants (from the playbook's roles) and offers
    (round, sender, performative, terms, minutes after T0)."""
    version = playbook.current_version
    n = Negotiation.objects.create(
        playbook=playbook,
        playbook_version=version,
        team=playbook.team,
        title=title,
        status=status,
        max_rounds=version.spec["limits"]["max_rounds"],
        started_at=started,
        agreed_terms=agreed_terms,
        deal_value=agreed_terms["price"] if agreed_terms and "price" in agreed_terms else None,
    )
    Negotiation.objects.filter(pk=n.pk).update(created_at=created)
    for order, role in enumerate(version.spec["roles"]):
        group = Group.objects.get_or_create(name=role["owner_group"])[0]
        Participant.objects.create(
            negotiation=n,
            role=role["name"],
            strategy=role["strategy"],
            profile=role["profile"],
            owner_group=group,
            order=order,
        )
    agreed_offer = None
    for rnd, sender, performative, terms, at in offers:
        offer = Offer.objects.create(
            negotiation=n,
            round=rnd,
            sender=sender,
            performative=performative,
            terms=terms,
            fixed_terms_hash="x",
            engine_id=f"{n.pk}-{rnd}-{sender}",
        )
        Offer.objects.filter(pk=offer.pk).update(created_at=minutes(at))
        if agreed_terms is not None and terms == agreed_terms and performative != "accept":
            agreed_offer = offer
    if agreed_offer is not None:
        Negotiation.objects.filter(pk=n.pk).update(agreed_offer=agreed_offer)
    n.refresh_from_db()
    return n


def check_write(negotiation: Negotiation, policy_name: str, passed: bool) -> PolicyCheck:
    version = PolicyVersion.objects.filter(
        policy__name=policy_name, policy__playbook=negotiation.playbook
    ).first()
    return PolicyCheck.objects.create(
        negotiation=negotiation,
        offer_id=negotiation.agreed_offer_id,
        policy_version=version,
        round=0,
        sender="buyer",
        stage="send",
        terms=negotiation.agreed_terms,
        passed=passed,
        severity=version.severity,
        message="",
    )


def request_write(
    negotiation: Negotiation, *, status: str, opened: float, decided: float | None
) -> ApprovalRequest:
    approvers = Group.objects.get_or_create(name="Approvers")[0]
    route = ApprovalRoute.objects.get_or_create(
        name="Every deal", defaults={"condition_kind": "always", "approver_group": approvers}
    )[0]
    request = ApprovalRequest.objects.create(
        negotiation=negotiation,
        terms=negotiation.agreed_terms or {},
        route=route,
        status=status,
        approver_group=approvers,
        due_at=minutes(opened + 600),
        window_started_at=minutes(opened),
        decided_at=minutes(decided) if decided is not None else None,
    )
    ApprovalRequest.objects.filter(pk=request.pk).update(created_at=minutes(opened))
    return request


def escalation_write(negotiation: Negotiation, cause: str) -> None:
    with transaction.atomic():
        audit_append(
            negotiation=negotiation,
            kind="negotiation.status_changed",
            actor="system",
            payload={"from": "running", "to": "escalated", "reason": "test", "cause": cause},
        )


def procurement_world() -> dict:
    """Four procurement negotiations (team Procurement) and one media buy (Marketing)."""
    procurement = playbook_import(load_playbook_document("procurement"))
    media = playbook_import(load_playbook_document("media"))
    deal1 = {"price": 100000, "delivery_days": 20, "warranty_months": 12}
    n1 = negotiation_write(
        procurement,
        status="approved",
        title="N1",
        agreed_terms=deal1,
        offers=[
            (
                0,
                "seller",
                "propose",
                {"price": 120000, "delivery_days": 20, "warranty_months": 12},
                1,
            ),
            (
                0,
                "buyer",
                "counter",
                {"price": 90000, "delivery_days": 20, "warranty_months": 12},
                2,
            ),
            (
                1,
                "seller",
                "counter",
                {"price": 110000, "delivery_days": 20, "warranty_months": 12},
                10,
            ),
            (2, "buyer", "counter", deal1, 20),
            (3, "seller", "accept", deal1, 30),
        ],
    )
    check_write(n1, "Delivery SLA", True)
    request_write(n1, status="approved", opened=30, decided=40)
    deal2 = {"price": 110000, "delivery_days": 40, "warranty_months": 12}
    n2 = negotiation_write(
        procurement,
        status="pending_approval",
        title="N2",
        agreed_terms=deal2,
        offers=[
            (
                0,
                "seller",
                "propose",
                {"price": 125000, "delivery_days": 40, "warranty_months": 12},
                1,
            ),
            (
                0,
                "buyer",
                "counter",
                {"price": 85000, "delivery_days": 40, "warranty_months": 12},
                2,
            ),
            (1, "seller", "counter", deal2, 5),
            (1, "buyer", "accept", deal2, 10),
        ],
    )
    check_write(n2, "Delivery SLA", False)
    request_write(n2, status="changes_requested", opened=10, decided=25)
    n3 = negotiation_write(
        procurement,
        status="failed",
        title="N3",
        offers=[
            (0, "seller", "propose", {"price": 124000, "delivery_days": 5, "warranty_months": 6}, 1)
        ],
    )
    escalation_write(n3, "policy_escalation")
    n4 = negotiation_write(procurement, status="running", title="N4", offers=[])
    theirs = negotiation_write(
        media,
        status="failed",
        title="Media N5",
        offers=[],
        created=minutes(5),
    )
    escalation_write(theirs, "stalled")
    return {"procurement": procurement, "media": media, "n": [n1, n2, n3, n4], "theirs": theirs}


def tiny_playbook(name: str = "Tiny price") -> Playbook:
    """One issue, price 0..100 in steps of 25; the buyer's utility falls linearly,
    the seller's rises; reservations 0. Every outcome is on the Pareto frontier and
    the Nash point is price 50 (utilities 0.5, 0.5)."""
    doc = copy.deepcopy(load_playbook_document("procurement"))
    doc["name"] = name
    doc["issues"] = [
        {
            "name": "price",
            "label": "Price",
            "type": "numeric",
            "lower": 0,
            "upper": 100,
            "step": 25,
            "integer": True,
            "unit": "USD",
        }
    ]
    doc["policies"] = []
    doc["value_expression"] = "price"
    for role, direction in zip(doc["roles"], ("decreasing", "increasing"), strict=True):
        role["profile"] = {
            "weights": {"cost": 1.0},
            "criteria": {
                "cost": [{"issue": "price", "function": {"type": "linear", "direction": direction}}]
            },
            "reservation": 0.0,
            "private_values": {},
        }
    return playbook_import(doc)
