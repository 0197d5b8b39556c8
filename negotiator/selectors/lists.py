"""The negotiation list (filters, search, sort, pages) and the home page summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from negotiator import agreement_hooks
from negotiator.models import (
    FINAL_STATUSES,
    Negotiation,
    NegotiationStatus,
    Offer,
    Participant,
    PlaybookVersion,
)
from negotiator.selectors.formatting import TermView, issue_meta, progress_percent, term_views
from negotiator.selectors.visibility import negotiations_visible_to, playbooks_visible_to

LIST_PAGE_SIZE = 25


KEY_TERMS = 3


# Columns a list or header never shows; engine_state grows with every offer.
HEAVY_FIELDS = ("engine_state", "plan")


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


def negotiations_search(queryset: QuerySet[Negotiation], q: str) -> QuerySet[Negotiation]:
    """The negotiations whose title, playbook or a party's label or role contains q."""
    if not q:
        return queryset
    party = Participant.objects.filter(negotiation=OuterRef("pk")).filter(
        Q(label__icontains=q) | Q(role__icontains=q)
    )
    return queryset.filter(
        Q(title__icontains=q) | Q(playbook__name__icontains=q) | Q(Exists(party))
    )


def negotiation_list(filters: ListFilters, *, user, page_size: int = LIST_PAGE_SIZE) -> ListResult:
    """The page of negotiations this user sees (counts included: the chips count
    only what the rows could show)."""
    base = negotiations_search(negotiations_visible_to(user), filters.q)
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


def home_summary(*, user, limit: int = 5) -> HomeSummary:
    """What this user's teams are negotiating (everything for Auditors and superusers)."""
    visible = negotiations_visible_to(user)
    counts = {
        row["status"]: row["n"]
        for row in visible.order_by().values("status").annotate(n=Count("pk"))
    }
    running = list(
        _with_latest_offer(visible.filter(status=NegotiationStatus.RUNNING)).order_by(
            "-started_at", "-id"
        )[:limit]
    )
    escalated = list(
        _with_latest_offer(visible.filter(status=NegotiationStatus.ESCALATED)).order_by(
            "-updated_at", "-id"
        )[:limit]
    )
    recent = list(
        _with_latest_offer(visible.filter(status__in=FINAL_STATUSES)).order_by("-ended_at", "-id")[
            :limit
        ]
    )
    rows = {r.negotiation.pk: r for r in list_rows([*running, *escalated, *recent])}
    return HomeSummary(
        counts=counts,
        total=sum(counts.values()),
        running=[rows[n.pk] for n in running],
        escalated=[rows[n.pk] for n in escalated],
        pending=pending_approvals(user=user, limit=limit),
        recent=[rows[n.pk] for n in recent],
        playbooks_ready=playbooks_visible_to(user).exclude(current_version=None).count(),
    )


def pending_approvals(*, user, limit: int = 5) -> list[PendingApproval]:
    """Deals of the user's teams waiting for a person, with their open request when
    the approvals app has one."""
    negotiations = list(
        negotiations_visible_to(user)
        .filter(status=NegotiationStatus.PENDING_APPROVAL)
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
    gate = agreement_hooks.gate()
    if not negotiation_ids or gate is None:
        return {}
    return gate.open_requests(negotiation_ids)
