"""Demo tenders for `make run`: the shipped tender playbook (playbooks/tender.json)
and tenders in each state: awarded, waiting for approval, a bid-rigging ring
caught by the screens (three earlier rounds rejected, the fourth flagged with
rotation, shared owners and cover bids), no award, and one bidding live.

Idempotent: found by title, never created twice; a live one is started only when
no demo tender is bidding."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from approvals.models import ApprovalRequest
from approvals.services.decisions import approval_decide
from negotiator.services.scheduling import rounds_held
from tenders.models import Tender, TenderPlaybook, TenderStatus
from tenders.services.lifecycle import tender_create
from tenders.services.rounds import tender_run_round
from tenders.services.setup import tender_playbook_import

TENDER_FILE = Path(settings.BASE_DIR) / "playbooks" / "tender.json"
PREFIX = "Demo · tender: "
RING = ("Apex Industrial Supply", "Summit Fasteners", "Keystone Bolt Co", "Lakeside Components")
TERMS = {"delivery_days": 30, "warranty_months": 24}


def ring_bidders(winner: int, base: float) -> list[dict]:
    """The ring's bids: the designated winner, and cover bids a steady 3-4 % above."""
    out = []
    for i, name in enumerate(RING):
        price = base if i == winner else base * (1.03 + 0.004 * ((i - winner) % 4))
        out.append(
            {
                "supplier": name,
                "strategy": "truthful",
                "cost": 100_000.0,
                "terms": TERMS,
                "fixed_price": round(price, 2),
            }
        )
    return out


def _played(template: TenderPlaybook, title: str, user, **kwargs) -> Tender:
    with rounds_held():
        tender = tender_create(template=template, title=title, user=user, **kwargs)
        for _ in range(500):
            tender.refresh_from_db()
            if not tender_run_round(tender_id=tender.pk, round_number=tender.round):
                break
    tender.refresh_from_db()
    return tender


def _decide(tender: Tender, decision: str, comment: str) -> None:
    approver = get_user_model().objects.filter(username="approver").first()
    request = ApprovalRequest.objects.filter(
        negotiation=tender.award_negotiation, status="pending"
    ).first()
    if approver is not None and request is not None:
        with rounds_held():
            approval_decide(request=request, user=approver, decision=decision, comment=comment)


def _wanted(template: TenderPlaybook, user) -> list[str]:
    made = []

    def once(title: str, then=None, **kwargs) -> None:
        if Tender.objects.filter(title=PREFIX + title).exists():
            return
        tender = _played(template, PREFIX + title, user, **kwargs)
        if then:
            then(tender)
        tender.refresh_from_db()
        made.append(f"{tender.title} ({tender.get_status_display().lower()})")

    once(
        "bolts Q1, awarded",
        seed=1,
        then=lambda t: _decide(t, "approve", "Best score, clean screens. Approved."),
    )
    once(
        "bolts Q1 second-score, waiting for approval", seed=2, overrides={"format": "second_score"}
    )
    for i, quarter in enumerate(("Q2 lot A", "Q2 lot B", "Q2 lot C")):
        once(
            f"bolts {quarter}, ring rejected",
            seed=10 + i,
            bidders=ring_bidders(i, 138_000 + 900 * i),
            overrides={"format": "first_score"},
            then=lambda t: _decide(
                t, "reject", "Cover bids and shared owners: referred to compliance."
            ),
        )
    once(
        "bolts Q3, flagged for bid rigging",
        seed=13,
        bidders=ring_bidders(3, 140_500),
        overrides={"format": "first_score"},
    )
    above = [dict(b, fixed_price=155_000.0 + 1_000 * i) for i, b in enumerate(ring_bidders(0, 1))]
    once("bolts Q3 re-run, no award", seed=14, bidders=above, overrides={"format": "first_score"})
    return made


def tenders_demo_load(user) -> str:
    if not TENDER_FILE.exists():
        return ""
    template = tender_playbook_import(json.loads(TENDER_FILE.read_text()))
    made = _wanted(template, user)
    live = ""
    if not Tender.objects.filter(title__startswith=PREFIX, status=TenderStatus.RUNNING).exists():
        runs = Tender.objects.filter(title__startswith=f"{PREFIX}live").count()
        tender = tender_create(
            template=template,
            title=f"{PREFIX}live bolts order (run {runs + 1})",
            user=user,
            overrides={"pace_seconds": 3},
        )
        live = f"; live tender #{tender.pk} bidding at 3 s a round"
    return f"{len(made)} new demo tenders" + live
