"""Reads for the tender pages: the tenders a user may see (the team rule of
negotiator.permissions), one tender's page (bidders, standings, screens as
traffic lights, award and why), and the home page's recent tenders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet
from django.http import Http404

from approvals.models import ApprovalRequest
from negotiator import permissions
from negotiator.engine.screens import ESCALATE, WARN
from negotiator.selectors.formatting import issue_meta, term_views
from tenders.models import BidderKind, Tender, TenderPlaybook, TenderStatus
from tenders.services.setup import scoring_rule, tender_config_parse

OUTSIDE_LABELS = {BidderKind.PERSON: "outside person", BidderKind.REMOTE_AGENT: "outside agent"}
SCREEN_ORDER = (
    "suspicion",
    "cv",
    "kurtosis",
    "skewness",
    "relative_distance",
    "percent_difference",
    "near_identical",
    "rotation",
    "cover_bidding",
    "shared_owner",
    "outlier",
    "sniping",
)
LIGHTS = {"pass": "green", WARN: "amber", ESCALATE: "red", "block": "red", "none": "grey"}


def tenders_visible_to(user) -> QuerySet[Tender]:
    teams = permissions.visible_team_ids(user)
    tenders = Tender.objects.select_related("playbook")
    return tenders if teams is None else tenders.filter(team_id__in=teams)


def tender_for(user, pk: int) -> Tender:
    """A tender the user may see, or 404 (the same as for an id that does not exist)."""
    tender = tenders_visible_to(user).filter(pk=pk).first()
    if tender is None:
        raise Http404("No such tender")
    return tender


def tender_list(user, *, status: str = "", limit: int = 100) -> list[Tender]:
    tenders = tenders_visible_to(user).annotate(n_bidders=Count("bidders", distinct=True))
    if status in TenderStatus.values:
        tenders = tenders.filter(status=status)
    return list(tenders.order_by("-created_at", "-id")[:limit])


def templates_startable_by(user) -> list[TenderPlaybook]:
    teams = permissions.visible_team_ids(user)
    templates = TenderPlaybook.objects.select_related("playbook").filter(
        playbook__current_version__isnull=False
    )
    if teams is not None:
        templates = templates.filter(playbook__team_id__in=teams)
    return list(templates.order_by("playbook__name"))


@dataclass(frozen=True)
class Standing:
    supplier: str
    strategy: str
    private_cost: float | None  # shown to auditors only
    bids: int
    last_price: float | None
    score: float | None
    rank: int | None
    policy: str
    winner: bool


def standings(tender: Tender, user) -> list[Standing]:
    show_private = permissions.is_auditor(user)
    rows = list(tender.bidders.select_related("supplier"))
    latest: dict[int, Any] = {}
    counts: dict[int, int] = {}
    for bid in tender.bids.filter(accepted=True).order_by("at", "id"):
        latest[bid.bidder_id] = bid
        counts[bid.bidder_id] = counts.get(bid.bidder_id, 0) + 1
    ranked = sorted(latest.values(), key=lambda b: (-b.score, b.at, b.pk))
    rank = {b.bidder_id: i + 1 for i, b in enumerate(ranked)}
    out = []
    for row in rows:
        bid = latest.get(row.pk)
        out.append(
            Standing(
                supplier=row.supplier.name,
                strategy=(
                    "scripted"
                    if row.fixed_price is not None
                    else (OUTSIDE_LABELS.get(row.kind) or row.strategy)
                ),
                private_cost=row.private_cost if show_private else None,
                bids=counts.get(row.pk, 0),
                last_price=bid.price if bid else None,
                score=bid.score if bid else None,
                rank=rank.get(row.pk),
                policy=(bid.reason.split(":")[0] if bid and bid.reason else "allow") if bid else "",
                winner=row.supplier.name == tender.award_supplier,
            )
        )
    return sorted(out, key=lambda s: (s.rank is None, s.rank or 0, s.supplier))


@dataclass(frozen=True)
class OutsideBidder:
    """An outside bidder as its operators see it: who, how it bids, whether its
    bid for the open round is in, and its credentials (never a secret)."""

    id: int
    supplier: str
    kind: str
    contact: str
    bid_in: bool
    note: str
    credentials: list


def outside_bidders(tender: Tender) -> list[OutsideBidder]:
    rows = (
        tender.bidders.select_related("supplier")
        .exclude(kind=BidderKind.BUILTIN)
        .prefetch_related("credentials")
    )
    return [
        OutsideBidder(
            id=row.pk,
            supplier=row.supplier.name,
            kind=row.get_kind_display(),
            contact=", ".join(x for x in (row.contact_name, row.contact_email) if x),
            bid_in=row.pending_round == tender.round and tender.status == TenderStatus.RUNNING,
            note=row.note,
            credentials=list(row.credentials.all()),
        )
        for row in rows
    ]


def screen_rows(tender: Tender) -> list[dict[str, Any]]:
    """Each screen with its traffic light: green passed, amber a warning, red a flag
    that holds the award for a person, grey not measured."""
    rows = []
    screens = (tender.screening or {}).get("screens", {})
    # The engine's order (the stored JSON object does not keep it).
    ordered = [screens[n] for n in SCREEN_ORDER if n in screens]
    for screen in ordered + [v for k, v in screens.items() if k not in SCREEN_ORDER]:
        if screen["value"] is None:
            light = "none"
        elif screen["flagged"]:
            light = screen["severity"]
        else:
            light = "pass"
        rows.append({**screen, "light": LIGHTS[light], "light_label": light})
    return rows


def best_now(tender: Tender) -> dict[str, Any] | None:
    bid = (
        tender.bids.filter(accepted=True)
        .select_related("bidder__supplier")
        .order_by("-score", "at", "id")
        .first()
    )
    if bid is None:
        return None
    return {"supplier": bid.bidder.supplier.name, "price": bid.price, "score": bid.score}


def tender_page(tender: Tender, user) -> dict[str, Any]:
    config = tender_config_parse(tender.config)
    spec = tender.playbook_version.spec
    request = (
        ApprovalRequest.objects.filter(negotiation_id=tender.award_negotiation_id)
        .order_by("-id")
        .first()
        if tender.award_negotiation_id
        else None
    )
    return {
        "tender": tender,
        "config": config,
        "rules": config.rules,
        "scoring_weights": scoring_rule(spec, config).profile.issue_weights(),
        "issues": spec.get("issues", []),
        # The award's terms as people read them: labels and units, not keys.
        "award_terms": term_views(tender.award_terms, issue_meta(spec.get("issues"))),
        "standings": standings(tender, user),
        "screens": screen_rows(tender),
        "best": best_now(tender),
        "approval_request": request,
        "show_private": permissions.is_auditor(user),
    }


def tenders_recent(user, limit: int = 5) -> dict[str, Any]:
    visible = tenders_visible_to(user)
    return {
        "recent": list(visible.order_by("-created_at", "-id")[:limit]),
        "running": visible.filter(status=TenderStatus.RUNNING).count(),
        "waiting": visible.filter(
            status__in=[TenderStatus.PENDING_APPROVAL, TenderStatus.ESCALATED]
        ).count(),
        "flagged": visible.filter(flagged=True).count(),
    }


def tenders_by_playbook(user, limit: int = 500) -> list[tuple[Any, list[Tender]]]:
    """The user's recent tenders grouped by playbook (for the playbook metrics)."""
    groups: dict[int, tuple[Any, list[Tender]]] = {}
    tenders = tenders_visible_to(user).prefetch_related("bidders").order_by("-created_at")[:limit]
    for tender in tenders:
        groups.setdefault(tender.playbook_id, (tender.playbook, []))[1].append(tender)
    return sorted(groups.values(), key=lambda g: g[0].name)
