"""Reads for the dashboard views. Every function returns plain values shaped for a
template and applies the privacy rule: a party's private profile, its utilities
and check evidence marked private reach only people allowed to see that party
(negotiator.permissions.may_see_private).

Query counts do not grow with rows: related rows are fetched per page in one
query each (tests/negotiator/test_query_counts.py holds this).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from negotiator import permissions
from negotiator.models import (
    FINAL_STATUSES,
    AuditEvent,
    Negotiation,
    NegotiationStatus,
    Offer,
    Participant,
    Playbook,
    PlaybookVersion,
    PolicyCheck,
)

LIST_PAGE_SIZE = 25
TIMELINE_PAGE_SIZE = 30
AUDIT_PAGE_SIZE = 200
KEY_TERMS = 3
# Columns a list or header never shows; engine_state grows with every offer.
HEAVY_FIELDS = ("engine_state", "plan")

ACTIVE_STATUSES = (NegotiationStatus.RUNNING,)
NEEDS_PERSON_STATUSES = (NegotiationStatus.ESCALATED, NegotiationStatus.PENDING_APPROVAL)

PARTY_COLOURS = ("#1f4fd1", "#c2410c", "#18794e", "#6b3fc4", "#b42318", "#0e7490")


# --------------------------------------------------------------------------
# Formatting helpers shared by the selectors
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueMeta:
    name: str
    label: str
    unit: str = ""
    kind: str = "numeric"


def issue_meta(issues: Iterable[Mapping[str, Any]] | None) -> dict[str, IssueMeta]:
    out = {}
    for item in issues or []:
        name = item.get("name", "")
        out[name] = IssueMeta(
            name=name,
            label=item.get("label") or name.replace("_", " ").capitalize(),
            unit=item.get("unit", ""),
            kind=item.get("type", "numeric"),
        )
    return out


def format_value(value: Any, unit: str = "") -> str:
    if isinstance(value, bool) or value is None:
        text = "—" if value is None else ("yes" if value else "no")
    elif isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            text = f"{value:,.2f}"
        else:
            text = f"{int(value):,}"
    else:
        text = str(value).replace("_", " ")
    if unit and value is not None:
        return f"{text} {unit}"
    return text


@dataclass(frozen=True)
class TermView:
    name: str
    label: str
    text: str
    changed: bool = False


def term_views(
    terms: Mapping[str, Any] | None,
    meta: Mapping[str, IssueMeta],
    previous: Mapping[str, Any] | None = None,
    limit: int | None = None,
) -> list[TermView]:
    items = list((terms or {}).items())
    order = {name: i for i, name in enumerate(meta)}
    items.sort(key=lambda kv: order.get(kv[0], len(order)))
    if limit is not None:
        items = items[:limit]
    out = []
    for name, value in items:
        m = meta.get(name) or IssueMeta(name, name.replace("_", " ").capitalize())
        changed = previous is not None and previous.get(name) != value
        out.append(TermView(name, m.label, format_value(value, m.unit), changed))
    return out


def progress_percent(current: int, maximum: int) -> int:
    if not maximum:
        return 0
    return max(0, min(100, round(100 * current / maximum)))


# --------------------------------------------------------------------------
# The list page
# --------------------------------------------------------------------------

SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "newest": ("Newest first", ("-created_at", "-id")),
    "oldest": ("Oldest first", ("created_at", "id")),
    "updated": ("Recently active", ("-updated_at", "-id")),
    "round": ("Most rounds", ("-current_round", "-id")),
    "title": ("Title A–Z", ("title", "id")),
}


@dataclass(frozen=True)
class ListFilters:
    status: str = ""
    q: str = ""
    sort: str = "newest"
    page: int = 1


@dataclass
class ListRow:
    negotiation: Negotiation
    parties: list[str]
    key_terms: list[TermView]
    latest_sender: str
    latest_performative: str
    progress: int

    @property
    def is_running(self) -> bool:
        return self.negotiation.status == NegotiationStatus.RUNNING


@dataclass
class ListResult:
    page: Page
    rows: list[ListRow]
    counts: dict[str, int]
    total: int
    filters: ListFilters

    @property
    def any_running(self) -> bool:
        return any(r.is_running for r in self.rows)

    @property
    def chips(self) -> list[tuple[str, str, int]]:
        chips = [("", "All", self.total)]
        chips += [
            (value, label, self.counts.get(value, 0))
            for value, label in NegotiationStatus.choices
            if value != NegotiationStatus.DRAFT or self.counts.get(value)
        ]
        return chips


def _search(queryset: QuerySet[Negotiation], q: str) -> QuerySet[Negotiation]:
    if not q:
        return queryset
    party = Participant.objects.filter(negotiation=OuterRef("pk")).filter(
        Q(label__icontains=q) | Q(role__icontains=q)
    )
    return queryset.filter(
        Q(title__icontains=q) | Q(playbook__name__icontains=q) | Q(Exists(party))
    )


def negotiation_list(filters: ListFilters, *, page_size: int = LIST_PAGE_SIZE) -> ListResult:
    base = _search(Negotiation.objects.all(), filters.q)
    counts = {
        row["status"]: row["n"] for row in base.order_by().values("status").annotate(n=Count("pk"))
    }
    total = sum(counts.values())
    rows_qs = base
    if filters.status:
        rows_qs = rows_qs.filter(status=filters.status)
    latest_offer = Offer.objects.filter(negotiation=OuterRef("pk")).order_by("-id").values("id")[:1]
    rows_qs = (
        rows_qs.select_related("playbook")
        .defer(*HEAVY_FIELDS, "playbook__description")
        .annotate(latest_offer_id=Subquery(latest_offer))
        .order_by(*SORTS.get(filters.sort, SORTS["newest"])[1])
    )
    # The chips already counted the rows: spare the paginator its COUNT(*).
    count = counts.get(filters.status, 0) if filters.status else total
    paginator = Paginator(rows_qs, page_size)
    paginator.count = count  # type: ignore[misc]
    page = paginator.get_page(filters.page)
    negotiations = list(page.object_list)
    return ListResult(
        page=page,
        rows=list_rows(negotiations),
        counts=counts,
        total=total,
        filters=filters,
    )


def list_rows(negotiations: Sequence[Negotiation]) -> list[ListRow]:
    """Rows for the list and home pages: parties and latest offer, one query each."""
    if not negotiations:
        return []
    ids = [n.pk for n in negotiations]
    parties: dict[int, list[str]] = defaultdict(list)
    for negotiation_id, label, role in Participant.objects.filter(
        negotiation_id__in=ids
    ).values_list("negotiation_id", "label", "role"):
        parties[negotiation_id].append(label or role)
    offer_ids = [n.latest_offer_id for n in negotiations if getattr(n, "latest_offer_id", None)]
    offers = {
        o["negotiation_id"]: o
        for o in Offer.objects.filter(pk__in=offer_ids).values(
            "negotiation_id", "terms", "sender", "performative"
        )
    }
    version_ids = {n.playbook_version_id for n in negotiations}
    metas = {
        pk: issue_meta(issues)
        for pk, issues in PlaybookVersion.objects.filter(pk__in=version_ids).values_list(
            "pk", "spec__issues"
        )
    }
    rows = []
    for n in negotiations:
        offer = offers.get(n.pk)
        meta = metas.get(n.playbook_version_id, {})
        terms = n.agreed_terms if n.agreed_terms else (offer["terms"] if offer else {})
        rows.append(
            ListRow(
                negotiation=n,
                parties=parties.get(n.pk, []),
                key_terms=term_views(terms, meta, limit=KEY_TERMS),
                latest_sender=offer["sender"] if offer else "",
                latest_performative=offer["performative"] if offer else "",
                progress=progress_percent(n.current_round, n.max_rounds),
            )
        )
    return rows


def _with_latest_offer(queryset: QuerySet[Negotiation]) -> QuerySet[Negotiation]:
    latest_offer = Offer.objects.filter(negotiation=OuterRef("pk")).order_by("-id").values("id")[:1]
    return (
        queryset.select_related("playbook")
        .defer(*HEAVY_FIELDS, "playbook__description")
        .annotate(latest_offer_id=Subquery(latest_offer))
    )


# --------------------------------------------------------------------------
# Home
# --------------------------------------------------------------------------


@dataclass
class PendingApproval:
    negotiation: Negotiation
    request_id: int | None
    due_at: datetime | None
    overdue: bool
    deal_value: float | None


@dataclass
class HomeSummary:
    counts: dict[str, int]
    total: int
    running: list[ListRow]
    escalated: list[ListRow]
    pending: list[PendingApproval]
    recent: list[ListRow]
    playbooks_ready: int

    @property
    def needs_person(self) -> int:
        return self.counts.get(NegotiationStatus.ESCALATED, 0) + self.counts.get(
            NegotiationStatus.PENDING_APPROVAL, 0
        )

    @property
    def status_cards(self) -> list[tuple[str, str, int]]:
        wanted = (
            NegotiationStatus.RUNNING,
            NegotiationStatus.ESCALATED,
            NegotiationStatus.PENDING_APPROVAL,
            NegotiationStatus.APPROVED,
        )
        cards = [(s.value, s.label, self.counts.get(s, 0)) for s in wanted]
        ended = sum(
            self.counts.get(s, 0)
            for s in (
                NegotiationStatus.REJECTED,
                NegotiationStatus.FAILED,
                NegotiationStatus.TIMED_OUT,
                NegotiationStatus.CANCELLED,
            )
        )
        cards.append(("ended", "Ended without a deal", ended))
        return cards


def home_summary(*, limit: int = 5) -> HomeSummary:
    counts = {
        row["status"]: row["n"]
        for row in Negotiation.objects.order_by().values("status").annotate(n=Count("pk"))
    }
    running = list(
        _with_latest_offer(Negotiation.objects.filter(status=NegotiationStatus.RUNNING)).order_by(
            "-started_at", "-id"
        )[:limit]
    )
    escalated = list(
        _with_latest_offer(Negotiation.objects.filter(status=NegotiationStatus.ESCALATED)).order_by(
            "-updated_at", "-id"
        )[:limit]
    )
    recent = list(
        _with_latest_offer(Negotiation.objects.filter(status__in=FINAL_STATUSES)).order_by(
            "-ended_at", "-id"
        )[:limit]
    )
    rows = {r.negotiation.pk: r for r in list_rows([*running, *escalated, *recent])}
    return HomeSummary(
        counts=counts,
        total=sum(counts.values()),
        running=[rows[n.pk] for n in running],
        escalated=[rows[n.pk] for n in escalated],
        pending=pending_approvals(limit=limit),
        recent=[rows[n.pk] for n in recent],
        playbooks_ready=Playbook.objects.exclude(current_version=None).count(),
    )


def pending_approvals(*, limit: int = 5) -> list[PendingApproval]:
    """Deals waiting for a person, with their open request when the approvals app has one."""
    negotiations = list(
        Negotiation.objects.filter(status=NegotiationStatus.PENDING_APPROVAL)
        .select_related("playbook")
        .defer(*HEAVY_FIELDS, "playbook__description")
        .order_by("-updated_at", "-id")[:limit]
    )
    requests = _open_requests([n.pk for n in negotiations])
    now = timezone.now()
    out = []
    for n in negotiations:
        request = requests.get(n.pk)
        due = getattr(request, "due_at", None)
        out.append(
            PendingApproval(
                negotiation=n,
                request_id=getattr(request, "pk", None),
                due_at=due,
                overdue=bool(due and due < now),
                deal_value=n.deal_value,
            )
        )
    return out


def _open_requests(negotiation_ids: Sequence[int]) -> dict[int, Any]:
    if not negotiation_ids:
        return {}
    try:
        from approvals.models import ApprovalRequest
    except ImportError:  # pragma: no cover - the app ships with the product
        return {}
    return {
        r.negotiation_id: r
        for r in ApprovalRequest.objects.filter(
            negotiation_id__in=negotiation_ids, status="pending"
        ).only("pk", "negotiation_id", "due_at", "status")
    }


# --------------------------------------------------------------------------
# One negotiation
# --------------------------------------------------------------------------


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

    @property
    def verdict(self) -> str:
        order = {"block": 4, "escalate": 3, "warn": 2, "approval": 1, "pass": 0}
        worst = max((order.get(c.outcome, 0) for c in self.checks), default=0)
        return {v: k for k, v in order.items()}[worst]

    @property
    def failed(self) -> list[CheckView]:
        return [c for c in self.checks if c.outcome != "pass"]

    @property
    def passed_count(self) -> int:
        return sum(1 for c in self.checks if c.outcome == "pass")


def negotiation_for_page(pk: int) -> Negotiation:
    """The negotiation with what its header needs; raises Negotiation.DoesNotExist."""
    return (
        Negotiation.objects.select_related("playbook", "playbook_version", "started_by")
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
            )
        )
    return out


def _check_outcome(check: PolicyCheck) -> str:
    if check.passed:
        return "pass"
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


def _previous_terms(negotiation_id: int, before_id: int) -> dict[str, dict[str, Any]]:
    """Each sender's last terms before an offer id, in one query."""
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
    previous = _previous_terms(negotiation.pk, offers[0].pk)
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


def offers_after(negotiation_id: int, after: int, *, limit: int = 200) -> list[Offer]:
    return list(_offers_queryset(negotiation_id).filter(id__gt=after).order_by("id")[:limit])


def approval_requests_of(negotiation: Negotiation, *, limit: int = 5) -> list[Any]:
    manager = getattr(negotiation, "approval_requests", None)
    if manager is None:
        return []
    return list(manager.select_related("approver_group").order_by("-id")[:limit])


# --------------------------------------------------------------------------
# Charts (server-rendered SVG coordinates)
# --------------------------------------------------------------------------

CHART_W, CHART_H = 340, 200
CHART_PAD_L, CHART_PAD_R, CHART_PAD_T, CHART_PAD_B = 34, 8, 8, 22


@dataclass
class ChartLine:
    label: str
    colour: str
    points: str
    last: tuple[float, float] | None
    reservation_y: float | None


@dataclass
class ConcessionChart:
    lines: list[ChartLine]
    hidden: list[str]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    width: int = CHART_W
    height: int = CHART_H
    plot_left: int = CHART_PAD_L
    plot_right: int = CHART_W - CHART_PAD_R
    plot_top: int = CHART_PAD_T
    plot_bottom: int = CHART_H - CHART_PAD_B


def _x(round_number: float, max_round: float) -> float:
    span = CHART_W - CHART_PAD_L - CHART_PAD_R
    return round(CHART_PAD_L + span * (round_number / max_round if max_round else 0), 1)


def _y(utility: float) -> float:
    span = CHART_H - CHART_PAD_T - CHART_PAD_B
    return round(CHART_PAD_T + span * (1 - max(0.0, min(1.0, utility))), 1)


def concession_chart(negotiation: Negotiation, parties: Sequence[PartyView]) -> ConcessionChart:
    """Each visible party's utility of its own offers over rounds. Other parties'
    lines are not drawn (their utilities are private); `hidden` names them."""
    visible = {p.role: p for p in parties if p.visible}
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    max_round = max(negotiation.max_rounds, 1)
    if visible:
        for rnd, sender, utilities in (
            Offer.objects.filter(negotiation_id=negotiation.pk, sender__in=list(visible))
            .exclude(terms={})
            .order_by("id")
            .values_list("round", "sender", "utilities")
        ):
            value = (utilities or {}).get(sender)
            if value is not None:
                series[sender].append((rnd, float(value)))
                max_round = max(max_round, rnd + 1)
    lines = []
    for role, party in visible.items():
        points = series.get(role, [])
        coords = [(_x(r, max_round), _y(u)) for r, u in points]
        lines.append(
            ChartLine(
                label=party.label,
                colour=party.colour,
                points=" ".join(f"{x},{y}" for x, y in coords),
                last=coords[-1] if coords else None,
                reservation_y=_y(party.reservation) if party.reservation is not None else None,
            )
        )
    step = max(1, math.ceil(max_round / 6))
    x_ticks = [(_x(r, max_round), str(r)) for r in range(0, max_round + 1, step)]
    y_ticks = [(_y(v / 4), f"{v / 4:.2f}") for v in range(5)]
    return ConcessionChart(
        lines=lines,
        hidden=[p.label for p in parties if not p.visible],
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )


@dataclass
class OutcomeChart:
    x_label: str
    y_label: str
    frontier: str
    nash: tuple[float, float] | None
    agreement: tuple[float, float] | None
    # colour -> SVG path of zero-length segments (drawn as dots by round line caps):
    # one element per party instead of one per offer keeps long timelines cheap.
    offers: list[tuple[str, str]]
    size: int = 300


OUTCOME_SIZE, OUTCOME_PAD = 300, 34


def _o(value: float, flip: bool = False) -> float:
    span = OUTCOME_SIZE - 2 * OUTCOME_PAD
    v = max(0.0, min(1.0, value))
    return round(OUTCOME_PAD + span * ((1 - v) if flip else v), 1)


def outcome_chart(negotiation: Negotiation, parties: Sequence[PartyView]) -> OutcomeChart | None:
    """The agreement against the Pareto frontier and the Nash point, in the utility
    space of two parties. Only for viewers who may see both profiles."""
    if len(parties) != 2 or not all(p.visible for p in parties):
        return None
    import numpy as np

    from negotiator import bridge
    from negotiator.audit import canonical_json
    from negotiator.engine import analysis

    participants = list(
        Participant.objects.filter(negotiation=negotiation).values_list("role", "profile")
    )
    spec = negotiation.playbook_version.spec
    key = (
        "dashboard",
        negotiation.playbook_version.digest,
        tuple((role, canonical_json(profile)) for role, profile in participants),
    )
    try:
        setup = bridge.SETUPS.get(
            key,
            lambda: bridge.setup_from_spec(
                spec, participants, max_rounds=max(negotiation.max_rounds, 1), deadline=None
            ),
        )
        utilities = np.asarray(setup.utilities)
        frontier_idx = analysis.pareto_frontier(utilities)
        reservations = [p.profile.reservation for p in setup.parties]
        nash_idx = analysis.nash_point(utilities, reservations)
    except (ValueError, KeyError, TypeError):
        return None
    roles = [role for role, _ in participants]
    frontier = sorted((float(utilities[i, 0]), float(utilities[i, 1])) for i in frontier_idx)
    agreement = None
    if negotiation.agreed_offer_id:
        agreed = (
            Offer.objects.filter(pk=negotiation.agreed_offer_id)
            .values_list("utilities", flat=True)
            .first()
        )
        if agreed and all(r in agreed for r in roles):
            agreement = (_o(agreed[roles[0]]), _o(agreed[roles[1]], flip=True))
    dots: dict[str, list[str]] = defaultdict(list)
    colours = {p.role: p.colour for p in parties}
    for sender, utils in (
        Offer.objects.filter(negotiation_id=negotiation.pk)
        .exclude(terms={})
        .order_by("-id")
        .values_list("sender", "utilities")[:400]
    ):
        if utils and all(r in utils for r in roles):
            x, y = _o(utils[roles[0]]), _o(utils[roles[1]], flip=True)
            dots[colours.get(sender, "#5d6678")].append(f"M{x},{y}h0")
    offers = [(colour, "".join(sorted(set(path)))) for colour, path in dots.items()]
    nash = None
    if nash_idx is not None:
        nash = (_o(float(utilities[nash_idx, 0])), _o(float(utilities[nash_idx, 1]), flip=True))
    return OutcomeChart(
        x_label=parties[0].role,
        y_label=parties[1].role,
        frontier=" ".join(f"{_o(a)},{_o(b, flip=True)}" for a, b in frontier),
        nash=nash,
        agreement=agreement,
        offers=offers,
    )


# --------------------------------------------------------------------------
# Audit trail, with the privacy rule applied to payloads
# --------------------------------------------------------------------------

PRIVATE_KEYS = frozenset(
    {"profile", "private_values", "reservation", "reservation_value", "weights", "criteria"}
)
HIDDEN = "[private]"


@dataclass(frozen=True)
class Redactor:
    """Strips what a viewer may not see from audit payloads (and other JSON)."""

    roles: frozenset[str]
    visible: frozenset[str]
    private_checks: frozenset[tuple[int, str, int]] = frozenset()

    @property
    def sees_all(self) -> bool:
        return self.roles <= self.visible

    def allowed(self, role: str | None) -> bool:
        if role in self.roles:
            return role in self.visible
        return self.sees_all

    def payload(self, kind: str, payload: Any) -> Any:
        if self.sees_all:
            return payload
        cleaned = self._walk(payload, None)
        if kind in ("policy.checked", "offer.blocked") and isinstance(cleaned, dict):
            party = cleaned.get("party")
            rnd = cleaned.get("round")
            if not self.allowed(party):
                for check in cleaned.get("checks") or []:
                    if (rnd, party, check.get("policy_id")) in self.private_checks:
                        check["message"] = f"Details are private to the {party}."
        return cleaned

    def _walk(self, value: Any, role: str | None) -> Any:
        if isinstance(value, list):
            return [self._walk(v, role) for v in value]
        if not isinstance(value, dict):
            return value
        own = value.get("role") or value.get("party") or value.get("sender")
        role = own if isinstance(own, str) else role
        allowed = self.allowed(role)
        if value.get("private") is True and not allowed:
            return {"private": True, "hidden": "private to the sending party"}
        out = {}
        for key, item in value.items():
            if key == "utilities" and isinstance(item, dict):
                out[key] = {r: u for r, u in item.items() if self.allowed(r)}
            elif key in PRIVATE_KEYS and not allowed:
                out[key] = HIDDEN
            elif key == "evidence" and isinstance(item, dict) and item.get("private"):
                out[key] = item if allowed else {"hidden": "private to the sending party"}
            else:
                out[key] = self._walk(item, role)
        return out


def redactor_for(negotiation: Negotiation, user) -> Redactor:
    participants = list(
        Participant.objects.filter(negotiation=negotiation).only("role", "owner_group")
    )
    roles = frozenset(p.role for p in participants)
    visible = permissions.visible_roles(user, participants)
    private_checks: frozenset = frozenset()
    if not roles <= visible:
        private_checks = frozenset(
            PolicyCheck.objects.filter(negotiation=negotiation, evidence__private=True)
            .values_list("round", "sender", "policy_version__policy_id")
            .distinct()
        )
    return Redactor(roles=roles, visible=visible, private_checks=private_checks)


def audit_events(negotiation: Negotiation) -> QuerySet[AuditEvent]:
    from negotiator.audit import chain_of

    return AuditEvent.objects.filter(chain=chain_of(negotiation)).order_by("seq")


@dataclass
class AuditRow:
    seq: int
    kind: str
    actor: str
    created_at: datetime
    payload: Any
    hash: str


def audit_rows(events: Iterable[AuditEvent], redactor: Redactor) -> list[AuditRow]:
    return [
        AuditRow(
            seq=e.seq,
            kind=e.kind,
            actor=e.actor,
            created_at=e.created_at,
            payload=redactor.payload(e.kind, e.payload),
            hash=e.hash,
        )
        for e in events
    ]
