"""Negotiations for the REST API, by the pages' rules: only those the person sees
(negotiator.selectors.visibility; another team's is missing), utilities only for
the parties whose private data the person may see, and check evidence redacted
exactly as on the negotiation page (negotiator.selectors.negotiations.check_view)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q

from negotiator import agreement_hooks, permissions
from negotiator.models import Negotiation, Offer, Participant, PolicyCheck
from negotiator.selectors.negotiations import check_view, negotiation_for_page
from negotiator.selectors.visibility import negotiations_visible_to

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class NegotiationFilters:
    status: str = ""
    playbook: int | None = None
    q: str = ""
    created_after: datetime | None = None
    created_before: datetime | None = None
    page: int = 1
    page_size: int = 25


def negotiations_for_api(filters: NegotiationFilters, *, user) -> tuple[int, list[Negotiation]]:
    """(total matching, the requested page) of the negotiations this person sees,
    newest first."""
    qs = negotiations_visible_to(user)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.playbook is not None:
        qs = qs.filter(playbook_id=filters.playbook)
    if filters.created_after is not None:
        qs = qs.filter(created_at__gte=filters.created_after)
    if filters.created_before is not None:
        qs = qs.filter(created_at__lt=filters.created_before)
    if filters.q:
        party = Participant.objects.filter(negotiation=OuterRef("pk")).filter(
            Q(label__icontains=filters.q) | Q(role__icontains=filters.q)
        )
        qs = qs.filter(
            Q(title__icontains=filters.q)
            | Q(playbook__name__icontains=filters.q)
            | Q(Exists(party))
        )
    qs = (
        qs.select_related("playbook", "playbook_version", "team")
        .defer("engine_state", "plan", "playbook__description")
        .order_by("-created_at", "-id")
    )
    paginator = Paginator(qs, filters.page_size)
    total = paginator.count
    if (filters.page - 1) * filters.page_size >= max(total, 1) and filters.page > 1:
        return total, []
    return total, list(paginator.page(filters.page).object_list)


def negotiation_for_api(pk: int, *, user) -> Negotiation:
    """One negotiation this person sees; Negotiation.DoesNotExist otherwise (also
    for another team's)."""
    return negotiation_for_page(pk, user=user)


def seats_of(negotiation: Negotiation) -> list[Participant]:
    return list(Participant.objects.filter(negotiation=negotiation).select_related("owner_group"))


def currency_of(negotiation: Negotiation) -> str:
    return negotiation.playbook_version.spec.get("currency", "USD")


def _visible_roles(negotiation: Negotiation, user) -> frozenset[str]:
    participants = Participant.objects.filter(negotiation=negotiation).only("role", "owner_group")
    return permissions.visible_roles(user, participants)


def offers_for_api(
    negotiation: Negotiation, *, user, after: int = 0, limit: int = 50
) -> tuple[list[dict[str, Any]], bool]:
    """Offers after the cursor (ascending), public fields, utilities only for the
    parties this person may see; and whether more follow."""
    visible = _visible_roles(negotiation, user)
    rows = list(
        Offer.objects.filter(negotiation=negotiation, id__gt=after).order_by("id")[: limit + 1]
    )
    more = len(rows) > limit
    return [
        {
            "id": o.pk,
            "round": o.round,
            "sender": o.sender,
            "performative": o.performative,
            "terms": o.terms,
            "fixed_terms_hash": o.fixed_terms_hash,
            "expires_at_round": o.expires_at_round,
            "expires_at": o.expires_at,
            "in_reply_to": o.in_reply_to_id,
            "version": o.version,
            "rationale": o.rationale,
            "assumptions": o.assumptions,
            "dependencies": o.dependencies,
            "created_at": o.created_at,
            "utilities": {r: u for r, u in (o.utilities or {}).items() if r in visible},
        }
        for o in rows[:limit]
    ], more


def checks_for_api(
    negotiation: Negotiation, *, user, after: int = 0, limit: int = 100
) -> tuple[list[dict[str, Any]], bool]:
    """Policy checks after the cursor (ascending), redacted as on the page."""
    visible = _visible_roles(negotiation, user)
    rows = list(
        PolicyCheck.objects.filter(negotiation=negotiation, id__gt=after)
        .select_related("policy_version")
        .order_by("id")[: limit + 1]
    )
    more = len(rows) > limit
    out = []
    for check in rows[:limit]:
        shown = check_view(check, visible)
        version = check.policy_version
        out.append(
            {
                "id": check.pk,
                "offer_id": check.offer_id,
                "round": check.round,
                "sender": check.sender,
                "stage": check.stage,
                "policy": {
                    "id": version.policy_id,
                    "name": version.name,
                    "version": version.number,
                    "kind": version.kind,
                },
                "passed": check.passed,
                "severity": check.severity,
                "outcome": shown.outcome,
                "message": shown.message,
                "evidence": shown.evidence,
                "hidden": shown.hidden,
                "created_at": check.created_at,
            }
        )
    return out, more


def open_approval_of(negotiation: Negotiation) -> int | None:
    """The pending approval request's id, if the approvals app has one."""
    gate = agreement_hooks.gate()
    if gate is None:
        return None
    request = gate.open_requests([negotiation.pk]).get(negotiation.pk)
    return getattr(request, "pk", None)
