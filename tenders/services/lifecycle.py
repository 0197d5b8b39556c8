"""A tender's life: creating it from a tender playbook (its bidders, its audit
chain), starting the bidding, and the one place its status changes.

Each tender keeps its audit trail on the chain of its award negotiation: a
negotiation of the auction playbook, created with the tender and left in draft
while bidders bid, which carries the award through the approval gate at the end.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from negotiator.audit import audit_append
from negotiator.services.errors import ServiceError, TransitionError
from negotiator.services.lifecycle import negotiation_create
from negotiator.services.roles import actor_of
from negotiator.services.scheduling import (
    countdown_clamp,
    rounds_are_held,
    task_enqueue_on_commit,
)
from tenders.models import BidderKind, Supplier, Tender, TenderBidder, TenderPlaybook, TenderStatus
from tenders.services.setup import bidders_parse, scoring_rule, tender_config_parse

TENDER_ROUND = "tenders.tasks.run_tender_round"

TRANSITIONS: dict[str, set[str]] = {
    TenderStatus.DRAFT: {TenderStatus.RUNNING, TenderStatus.CANCELLED},
    TenderStatus.RUNNING: {
        TenderStatus.PENDING_APPROVAL,
        TenderStatus.ESCALATED,
        TenderStatus.AWARDED,
        TenderStatus.NO_AWARD,
        TenderStatus.CANCELLED,
    },
    TenderStatus.PENDING_APPROVAL: {
        TenderStatus.AWARDED,
        TenderStatus.REJECTED,
        TenderStatus.ESCALATED,
        TenderStatus.NO_AWARD,
    },
    TenderStatus.ESCALATED: {
        TenderStatus.AWARDED,
        TenderStatus.REJECTED,
        TenderStatus.PENDING_APPROVAL,
        TenderStatus.NO_AWARD,
        TenderStatus.CANCELLED,
    },
}


def tender_audit(tender: Tender, kind: str, payload: dict[str, Any], *, user=None) -> None:
    """Append to the tender's chain (its award negotiation's)."""
    audit_append(
        negotiation=tender.award_negotiation_id,
        kind=kind,
        actor=actor_of(user),
        user=user,
        payload={"tender": tender.pk, **payload},
    )


def tender_transition(*, tender: Tender, to: str, reason: str = "", user=None) -> Tender:
    """Move a tender to another status, if allowed, and audit it."""
    source = tender.status
    if to not in TRANSITIONS.get(source, set()):
        raise TransitionError(
            f"A tender that is {tender.get_status_display().lower()} cannot become "
            f"{TenderStatus(to).label.lower()}."
        )
    tender.status = to
    if reason:
        tender.award_reason = reason
    fields = ["status", "award_reason", "updated_at"]
    if tender.is_final or to in (TenderStatus.PENDING_APPROVAL, TenderStatus.ESCALATED):
        tender.closed_at = tender.closed_at or timezone.now()
        fields.append("closed_at")
    tender.save(update_fields=fields)
    tender_audit(
        tender, "tender.status_changed", {"from": source, "to": to, "reason": reason}, user=user
    )
    return tender


def tender_create(
    *,
    template: TenderPlaybook,
    title: str = "",
    bidders: list[Mapping[str, Any]] | None = None,
    overrides: Mapping[str, Any] | None = None,
    seed: int | None = None,
    user=None,
    start: bool = True,
) -> Tender:
    """A tender under the template's playbook, with its bidders (the template's by
    default), started at once unless ``start`` is False. ServiceError says why not."""
    playbook = template.playbook
    version = playbook.current_version
    if version is None:
        raise ServiceError(f"Playbook '{playbook.name}' has no published version yet.")
    settings = {**template.config, **(overrides or {})}
    config = tender_config_parse(settings)
    scoring_rule(version.spec, config)
    rows = bidders_parse(bidders if bidders is not None else template.bidders, version.spec, config)
    if seed is not None and not 0 <= seed <= 2**63 - 1:
        raise ServiceError("The seed must be a whole number from 0 to 2**63-1.")
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    title = (title or f"{config.item or playbook.name} tender").strip()[:180]
    with transaction.atomic():
        award = negotiation_create(
            playbook=playbook, user=user, title=f"Tender award: {title}", seed=seed, start=False
        )
        tender = Tender.objects.create(
            playbook=playbook,
            playbook_version=version,
            team_id=playbook.team_id,
            title=title,
            item=config.item,
            quantity=config.quantity,
            config=settings,
            seed=seed,
            pace_seconds=config.pace_seconds,
            close_at=config.rules.duration_seconds,
            award_negotiation=award,
            started_by=user if getattr(user, "pk", None) else None,
        )
        _bidders_create(tender, rows)
        tender_audit(tender, "tender.created", _created_payload(tender, rows), user=user)
        if start:
            tender_start(tender=tender, user=user)
    return tender


def _bidders_create(tender: Tender, rows: list[dict]) -> None:
    suppliers = {s.name: s for s in Supplier.objects.filter(name__in=[r["supplier"] for r in rows])}
    for row in rows:
        if row["supplier"] not in suppliers:
            suppliers[row["supplier"]] = Supplier.objects.create(name=row["supplier"])
    TenderBidder.objects.bulk_create(
        [
            TenderBidder(
                tender=tender,
                supplier=suppliers[r["supplier"]],
                kind=r.get("kind", BidderKind.BUILTIN),
                strategy=r["strategy"],
                private_cost=r["cost"],
                terms=r["terms"],
                fixed_price=r.get("fixed_price"),
                order=i,
                contact_name=r.get("name", ""),
                contact_email=r.get("email", ""),
            )
            for i, r in enumerate(rows)
        ]
    )


def _created_payload(tender: Tender, rows: list[dict]) -> dict[str, Any]:
    # Private costs stay out of the trail: it is read by people who must not see them.
    return {
        "title": tender.title,
        "playbook": tender.playbook.name,
        "playbook_version": tender.playbook_version.number,
        "settings": tender.config,
        "seed": tender.seed,
        "bidders": [
            {"supplier": r["supplier"], "kind": r.get("kind", "builtin"), "strategy": r["strategy"]}
            for r in rows
        ],
    }


def tender_round_schedule(tender: Tender, *, countdown: float = 0.0) -> None:
    """The next round after ``countdown`` seconds; with outside bidders the round
    first stays open for their bids (the tender's outside_round_seconds), unless
    they have all bid sooner (tenders.services.outside)."""
    if tender.bidders.exclude(kind=BidderKind.BUILTIN).exists():
        window = tender_config_parse(tender.config).outside_round_seconds
        countdown = max(countdown, window)
        tender.round_opened_at = timezone.now()
        tender.save(update_fields=["round_opened_at", "updated_at"])
    if rounds_are_held():  # scheduling.rounds_held: the caller plays them itself
        return
    task_enqueue_on_commit(
        TENDER_ROUND, tender.pk, tender.round, countdown=countdown_clamp(countdown) or None
    )


def tender_start(*, tender: Tender, user=None) -> Tender:
    """Open the bidding: the first round (or the sealed bids) runs in the background."""
    with transaction.atomic():
        tender = Tender.objects.select_for_update().get(pk=tender.pk)
        tender.opened_at = timezone.now()
        tender.save(update_fields=["opened_at", "updated_at"])
        tender_transition(tender=tender, to=TenderStatus.RUNNING, user=user)
        tender_round_schedule(tender)
    return tender


def tender_cancel(*, tender: Tender, user=None, reason: str = "") -> Tender:
    with transaction.atomic():
        tender = Tender.objects.select_for_update().get(pk=tender.pk)
        return tender_transition(
            tender=tender, to=TenderStatus.CANCELLED, reason=reason or "cancelled", user=user
        )
