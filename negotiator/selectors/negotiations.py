"""One negotiation's page: its parties (private parts only for those allowed), the
offer timeline with policy checks, and the live poll."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Max, Min, Prefetch, QuerySet, Subquery

from negotiator import agreement_hooks, permissions
from negotiator.models import (
    FINAL_STATUSES,
    Negotiation,
    Offer,
    Participant,
    PolicyCheck,
    SeatKind,
)
from negotiator.selectors.formatting import IssueMeta, TermView, issue_meta, term_views
from negotiator.selectors.seats import SEAT_BADGES
from negotiator.selectors.visibility import negotiations_visible_to

TIMELINE_PAGE_SIZE = 30


PARTY_COLOURS = ("#1f4fd1", "#c2410c", "#18794e", "#6b3fc4", "#b42318", "#0e7490")


@dataclass
class PartyView:
    role: str
    label: str
    strategy: str
    owner_group: str
    visible: bool
    colour: str
    reservation: float | None = None
    weights: dict[str, float] = field(default_factory=dict)
    private_values: dict[str, Any] = field(default_factory=dict)
    seat: str = SeatKind.BUILTIN

    @property
    def seat_badge(self) -> str:
        """'outside agent' / 'outside person'; empty for our own strategy."""
        return SEAT_BADGES.get(self.seat, "")


@dataclass
class CheckView:
    name: str
    outcome: str  # pass, warn, escalate, block
    stage: str
    message: str
    evidence: dict[str, Any] | None
    hidden: bool


@dataclass
class OfferView:
    id: int
    round: int
    sender: str
    sender_label: str
    colour: str
    performative: str
    terms: list[TermView]
    rationale: str
    expires_at_round: int | None
    expires_at: datetime | None
    created_at: datetime
    checks: list[CheckView]
    utilities: list[tuple[str, float]]
    outside: str = ""  # the sender's outside seat ('outside person'); empty for ours

    @property
    def verdict(self) -> str:
        order = {"block": 5, "escalate": 4, "warn": 3, "waived": 2, "approval": 1, "pass": 0}
        worst = max((order.get(c.outcome, 0) for c in self.checks), default=0)
        return {v: k for k, v in order.items()}[worst]

    @property
    def failed(self) -> list[CheckView]:
        return [c for c in self.checks if c.outcome != "pass"]

    @property
    def passed_count(self) -> int:
        return sum(1 for c in self.checks if c.outcome == "pass")


def negotiation_for_page(pk: int, *, user) -> Negotiation:
    """The negotiation with what its header needs; raises Negotiation.DoesNotExist,
    also when it belongs to a team this user is not in."""
    return (
        negotiations_visible_to(user)
        .select_related("playbook", "playbook_version", "started_by")
        .defer("engine_state", "playbook__description")
        .get(pk=pk)
    )


def parties_of(negotiation: Negotiation, user) -> list[PartyView]:
    participants = list(
        Participant.objects.filter(negotiation=negotiation).select_related("owner_group")
    )
    out = []
    for i, p in enumerate(participants):
        visible = permissions.may_see_private(user, p)
        profile = p.profile or {}
        out.append(
            PartyView(
                role=p.role,
                label=p.label or p.role,
                strategy=p.strategy,
                owner_group=p.owner_group.name if p.owner_group_id else "",
                visible=visible,
                colour=PARTY_COLOURS[i % len(PARTY_COLOURS)],
                reservation=profile.get("reservation") if visible else None,
                weights=dict(profile.get("weights") or {}) if visible else {},
                private_values=dict(profile.get("private_values") or {}) if visible else {},
                seat=p.seat,
            )
        )
    return out


def _check_outcome(check: PolicyCheck) -> str:
    if check.passed:
        return "pass"
    if check.waived_by_id:  # failed, let through by an approved override: never "pass"
        return "waived"
    # An approval threshold never stops an offer: it marks a deal a person must
    # approve once agreed, so it is shown as such rather than as its severity.
    if check.policy_version_id and check.policy_version.kind == "approval_threshold":
        return "approval"
    return check.severity


def check_view(check: PolicyCheck, visible: frozenset[str]) -> CheckView:
    evidence = dict(check.evidence or {})
    hidden = bool(evidence.get("private")) and check.sender not in visible
    name = check.policy_version.name if check.policy_version_id else "Policy"
    return CheckView(
        name=name,
        outcome=_check_outcome(check),
        stage=check.stage,
        message=f"Details are private to the {check.sender}." if hidden else check.message,
        evidence=None if hidden else evidence,
        hidden=hidden,
    )


def first_proposals(ids: Sequence[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """Each party's first proposal (its terms) per negotiation, parties in the order
    they first proposed (portable: the embedded SQLite default has no DISTINCT ON)."""
    proposals = Offer.objects.filter(negotiation_id__in=ids, performative__in=PROPOSALS)
    firsts = proposals.values("negotiation_id", "sender").annotate(first=Min("id"))
    rows = (
        Offer.objects.filter(id__in=firsts.values("first"))
        .order_by("id")
        .values_list("negotiation_id", "sender", "terms")
    )
    out: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for pk, sender, terms in rows:
        out[pk][sender] = terms
    return out


PROPOSALS = ("propose", "counter")
_RECENT = 20  # offers read back to find each sender's previous one (the common case)


def _previous_terms(
    negotiation_id: int, before_id: int, senders: frozenset[str]
) -> dict[str, dict[str, Any]]:
    """Each sender's last terms before an offer id: from the last few offers (one
    short index scan: parties take turns), else from an aggregate over them all."""
    recent = (
        Offer.objects.filter(negotiation_id=negotiation_id, id__lt=before_id)
        .order_by("-id")
        .values_list("sender", "terms")[:_RECENT]
    )
    found: dict[str, dict[str, Any]] = {}
    for sender, terms in recent:
        found.setdefault(sender, terms)
    if len(recent) < _RECENT or senders <= set(found):
        return found
    last_ids = (
        Offer.objects.filter(negotiation_id=negotiation_id, id__lt=before_id)
        .order_by()
        .values("sender")
        .annotate(last=Max("id"))
        .values("last")
    )
    return dict(Offer.objects.filter(pk__in=Subquery(last_ids)).values_list("sender", "terms"))


def offer_views(
    negotiation: Negotiation,
    offers: Sequence[Offer],
    parties: Sequence[PartyView],
    meta: Mapping[str, IssueMeta],
) -> list[OfferView]:
    """Offers (ascending, checks prefetched) as timeline items, terms diffed against
    the same sender's previous offer."""
    if not offers:
        return []
    by_role = {p.role: p for p in parties}
    visible = frozenset(p.role for p in parties if p.visible)
    previous = _previous_terms(negotiation.pk, offers[0].pk, frozenset(by_role))
    out = []
    for offer in offers:
        party = by_role.get(offer.sender)
        prior = previous.get(offer.sender)
        out.append(
            OfferView(
                id=offer.pk,
                round=offer.round,
                sender=offer.sender,
                sender_label=party.label if party else offer.sender,
                colour=party.colour if party else "#5d6678",
                performative=offer.performative,
                terms=term_views(offer.terms, meta, prior),
                rationale=offer.rationale,
                expires_at_round=offer.expires_at_round,
                expires_at=offer.expires_at,
                created_at=offer.created_at,
                checks=[check_view(c, visible) for c in offer.checks.all()],
                utilities=[
                    (p.label, (offer.utilities or {})[p.role])
                    for p in parties
                    if p.role in visible and p.role in (offer.utilities or {})
                ],
                outside=party.seat_badge if party else "",
            )
        )
        if offer.terms:
            previous[offer.sender] = offer.terms
    return out


def _offers_queryset(negotiation_id: int) -> QuerySet[Offer]:
    checks = PolicyCheck.objects.select_related("policy_version").only(
        "offer_id",
        "sender",
        "stage",
        "passed",
        "severity",
        "message",
        "evidence",
        "policy_version__name",
        "policy_version__kind",
    )
    return (
        Offer.objects.filter(negotiation_id=negotiation_id)
        .defer("fixed_terms_hash", "assumptions", "dependencies", "engine_id", "in_reply_to")
        .prefetch_related(Prefetch("checks", queryset=checks.order_by("id")))
    )


def timeline_latest(
    negotiation: Negotiation, parties: Sequence[PartyView], *, limit: int = TIMELINE_PAGE_SIZE
) -> tuple[list[OfferView], bool]:
    """The newest `limit` offers (ascending) and whether earlier ones exist."""
    rows = list(_offers_queryset(negotiation.pk).order_by("-id")[: limit + 1])
    has_earlier = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    meta = issue_meta(negotiation.playbook_version.spec.get("issues"))
    return offer_views(negotiation, rows, parties, meta), has_earlier


def timeline_before(
    negotiation: Negotiation,
    parties: Sequence[PartyView],
    before: int,
    *,
    limit: int = TIMELINE_PAGE_SIZE,
) -> tuple[list[OfferView], bool]:
    rows = list(_offers_queryset(negotiation.pk).filter(id__lt=before).order_by("-id")[: limit + 1])
    has_earlier = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    meta = issue_meta(negotiation.playbook_version.spec.get("issues"))
    return offer_views(negotiation, rows, parties, meta), has_earlier


@dataclass(frozen=True)
class PollHead:
    """What the live poll needs to decide whether anything changed (two small queries)."""

    status: str
    current_round: int
    has_new_offers: bool

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


def poll_head(pk: int, *, after: int, user) -> PollHead | None:
    """None when there is no such negotiation or this user may not see it."""
    head = negotiations_visible_to(user).filter(pk=pk).values("status", "current_round").first()
    if head is None:
        return None
    has_new = Offer.objects.filter(negotiation_id=pk, id__gt=after).exists()
    return PollHead(head["status"], head["current_round"], has_new)


def offers_after(negotiation_id: int, after: int, *, limit: int = 200) -> list[Offer]:
    return list(_offers_queryset(negotiation_id).filter(id__gt=after).order_by("id")[:limit])


def approval_requests_of(negotiation: Negotiation, *, limit: int = 5) -> list[Any]:
    gate = agreement_hooks.gate()
    return gate.requests_of(negotiation, limit=limit) if gate is not None else []
