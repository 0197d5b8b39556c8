"""Demo data for coalition negotiations: the marketing playbook with one negotiation
in each state — a first draft whose constraints conflict (its start refused, the
conflict shown in words), a plan waiting for approval, an approved plan, one
escalated at an operator's round limit naming who blocks, and a live one — and the
scheduling playbook with one certified dock plan.

Idempotent like demo.loader: negotiations are found by title; the infeasible
first draft is imported as the marketing playbook's first version only when its
negotiation does not exist yet, so later runs change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from negotiator.models import Negotiation, NegotiationStatus
from negotiator.playbook_io import playbook_import
from negotiator.services.coalition import coalition_run_round
from negotiator.services.lifecycle import LimitOverrides, negotiation_create
from negotiator.services.scheduling import rounds_held

PLAYBOOK_DIR = Path(settings.BASE_DIR) / "playbooks"
PREFIX = "Demo · "
DRAFT = f"{PREFIX}Q3 plan, first draft (constraints conflict)"
PENDING = f"{PREFIX}Q3 plan, waiting for approval"
APPROVED = f"{PREFIX}Q3 plan, approved"
ESCALATED = f"{PREFIX}Q3 plan, escalated at its round limit"
LIVE = f"{PREFIX}Q3 plan, live"
DOCKS = f"{PREFIX}Cross-dock slots, Tuesday"


def _document(name: str) -> dict:
    return json.loads((PLAYBOOK_DIR / name).read_text())


def first_draft(document: dict) -> dict:
    """The planner's first draft: minimums for search and video that, with the
    budget cap, no plan can meet."""
    draft = json.loads(json.dumps(document))
    constraints = draft["plan_model"]["constraints"]
    for c in constraints:
        if c["id"] == "video-minimum":
            c["min"] = 150000
            c["text"] = "Video needs at least 150,000 USD (first draft's reach target)"
    constraints.append(
        {
            "id": "search-minimum",
            "kind": "item_range",
            "category": "channel",
            "allocation": "spend",
            "item": "search",
            "min": 150000,
            "text": "Search keeps at least 150,000 USD (last quarter's level)",
        }
    )
    return draft


def _played(negotiation: Negotiation, limit: int = 100) -> Negotiation:
    for _ in range(limit):
        negotiation.refresh_from_db()
        if negotiation.status != NegotiationStatus.RUNNING:
            break
        coalition_run_round(negotiation_id=negotiation.pk, round_number=negotiation.current_round)
    return negotiation


def coalition_demo_load(user, approve: Callable[[Negotiation], Negotiation]) -> list[str]:
    """Load what is missing; returns 'title (status)' for each negotiation made."""
    made: list[Negotiation] = []
    marketing = _document("marketing.json")
    with rounds_held():
        if not Negotiation.objects.filter(title=DRAFT).exists():
            draft = playbook_import(first_draft(marketing))
            made.append(negotiation_create(playbook=draft, user=user, title=DRAFT, seed=1))
        playbook = playbook_import(marketing)
        for title, seed, overrides in (
            (PENDING, 7, None),
            (APPROVED, 11, None),
            (ESCALATED, 3, LimitOverrides(max_rounds=6)),
        ):
            if Negotiation.objects.filter(title=title).exists():
                continue
            negotiation = _played(
                negotiation_create(
                    playbook=playbook, user=user, title=title, seed=seed, overrides=overrides
                )
            )
            made.append(approve(negotiation) if title == APPROVED else negotiation)
        docks = playbook_import(_document("scheduling.json"))
        if not Negotiation.objects.filter(title=DOCKS).exists():
            made.append(_played(negotiation_create(playbook=docks, user=user, title=DOCKS, seed=4)))
    if not Negotiation.objects.filter(title=LIVE).exists():  # the worker plays it, 3 s a round
        made.append(
            negotiation_create(
                playbook=playbook,
                user=user,
                title=LIVE,
                seed=5,
                overrides=LimitOverrides(pace_seconds=3.0),
            )
        )
    for negotiation in made:
        negotiation.refresh_from_db()
    return [f"{n.title} ({n.get_status_display().lower()})" for n in made]
