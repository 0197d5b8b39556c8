"""The outcomes page's figures: what the negotiations of a user's teams achieved,
per playbook and period, each with its definition; the same rows feed the CSV
export and the REST API. Team rule: negotiations_visible_to; private numbers
(budgets, quality) only where negotiator.permissions lets the viewer see them.

Every figure is computed here from the rows, never stored, so a definition shown
on the page is the code that made the number (DEFINITIONS)."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from django.db.models import Max, QuerySet

from analytics.selectors.quality import Quality, agreement_quality
from approvals.models import ApprovalRequest, ApprovalStatus
from negotiator import permissions
from negotiator.engine.measures import deal_measure
from negotiator.models import (
    AuditEvent,
    Negotiation,
    NegotiationStatus,
    Offer,
    Participant,
    PolicyCheck,
    PolicyKindChoice,
)
from negotiator.selectors.escalations import our_seat
from negotiator.selectors.negotiations import first_proposals
from negotiator.selectors.visibility import negotiations_visible_to

# Policy kinds that put agreed terms inside a band (delivery, quality, tiers):
# an agreement adheres to its SLA when every check of these kinds passed.
BAND_KINDS = (PolicyKindChoice.SLA, PolicyKindChoice.RANGE, PolicyKindChoice.ALLOWED_VALUES)
UNSETTLED = (NegotiationStatus.DRAFT, NegotiationStatus.RUNNING)
APPROVAL_OVERDUE = "approval_overdue"

DEFINITIONS: dict[str, str] = {
    "savings_ask": "Counterpart's opening ask minus the agreed deal value (the playbook's value "
    "rule), as a share of the ask; the mean over agreements. Positive: we did better than "
    "their first offer. The sign follows our side (a seller's savings are a higher price).",
    "savings_target": "Our own opening offer (the target our agent aimed at) minus the agreed "
    "value, as a share of the target; usually negative: what we conceded.",
    "savings_budget": "The budget (budget_cap in our seat's private values) minus the agreed "
    "value, as a share of the budget; only agreements whose budget you may see.",
    "sla_adherence": "Agreements whose agreed terms passed every SLA, range and allowed-values "
    "policy check, out of the agreements that had such checks.",
    "agreement_rate": "Negotiations that reached an agreement out of those that ended "
    "(everything but running and draft).",
    "cycle_agreement": "Median time from start to the accepting message.",
    "cycle_approval": "Median time from start to the approval of the deal (approved deals).",
    "rounds": "Rounds played up to and including the accepting round; the median.",
    "quality": "1 − (distance to the Pareto frontier + distance to the Nash point) ÷ (√k ÷ 2) "
    "in the parties' utility space (k parties); 1 is on the frontier at the Nash point. "
    "Mean over the agreements whose every private profile you may see.",
    "escalation_rate": "Started negotiations that a person had to take over at least once "
    "(an escalation), by cause, out of all started negotiations.",
    "approval_speed": "Time from an approval request opening to its decision: median and "
    "90th percentile (linear interpolation) over decided requests.",
    "approvals_reversed": "Decided approval requests sent back with request-changes, out of "
    "all decided requests.",
}


@dataclass(frozen=True)
class OutcomeFilters:
    playbook: int | None = None
    start: date | None = None
    end: date | None = None
    pattern: str = ""

    def query(self) -> dict[str, str]:
        """The filters as GET parameters (for the CSV link)."""
        out = {
            "playbook": str(self.playbook or ""),
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "pattern": self.pattern,
        }
        return {k: v for k, v in out.items() if v}


@dataclass
class NegotiationOutcome:
    """One negotiation's figures (a row of the CSV)."""

    pk: int
    title: str
    playbook: str
    playbook_id: int
    pattern: str
    status: str
    created_at: datetime
    started_at: datetime | None
    agreed: bool
    rounds: int | None = None
    agreed_at: datetime | None = None
    approved_at: datetime | None = None
    deal_value: float | None = None
    opening_ask: float | None = None
    our_opening: float | None = None
    budget: float | None = None
    savings_ask: float | None = None
    savings_target: float | None = None
    savings_budget: float | None = None
    sla_ok: bool | None = None
    quality: Quality | None = None
    escalations: list[str] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return NegotiationStatus(self.status).label

    @property
    def cycle_agreement(self) -> float | None:
        return _seconds(self.started_at, self.agreed_at)

    @property
    def cycle_approval(self) -> float | None:
        return _seconds(self.started_at, self.approved_at)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def outcome_negotiations(*, user, filters: OutcomeFilters) -> QuerySet[Negotiation]:
    """The user's teams' negotiations that started, filtered; period by creation date.
    A tender's award record (a negotiation row that carries the award to the
    approval gate) is not a bargaining negotiation: tenders count in their own place."""
    negotiations = (
        negotiations_visible_to(user)
        .exclude(status=NegotiationStatus.DRAFT)
        .filter(tender_award__isnull=True)
    )
    if filters.playbook:
        negotiations = negotiations.filter(playbook_id=filters.playbook)
    if filters.pattern:
        negotiations = negotiations.filter(playbook__pattern=filters.pattern)
    if filters.start:
        negotiations = negotiations.filter(created_at__date__gte=filters.start)
    if filters.end:
        negotiations = negotiations.filter(created_at__date__lte=filters.end)
    return negotiations.select_related("playbook", "playbook_version").order_by("created_at", "pk")


def _last_moves(ids: list[int]) -> dict[int, tuple[int, datetime]]:
    rows = (
        Offer.objects.filter(negotiation_id__in=ids)
        .values("negotiation_id")
        .annotate(last_round=Max("round"), last_at=Max("created_at"))
    )
    return {r["negotiation_id"]: (r["last_round"], r["last_at"]) for r in rows}


def _band_checks(offer_ids: list[int]) -> dict[int, bool]:
    """Agreed offer id -> every band check passed (absent: no band check)."""
    out: dict[int, bool] = {}
    rows = PolicyCheck.objects.filter(
        offer_id__in=offer_ids, policy_version__kind__in=BAND_KINDS
    ).values_list("offer_id", "passed")
    for offer_id, passed in rows:
        out[offer_id] = out.get(offer_id, True) and passed
    return out


def _escalation_causes(ids: list[int]) -> dict[int, list[str]]:
    """Each escalation's cause, from the status changes in the audit trail."""
    out: dict[int, list[str]] = defaultdict(list)
    rows = AuditEvent.objects.filter(
        negotiation_id__in=ids,
        kind="negotiation.status_changed",
        payload_json__contains='"to":"escalated"',
    ).values_list("negotiation_id", "payload_json")
    for pk, payload_json in rows:
        payload = json.loads(payload_json)
        if payload.get("to") != NegotiationStatus.ESCALATED:
            continue
        out[pk].append(payload.get("cause") or ("agreement" if "rule" in payload else "other"))
    return out


def _requests(ids: list[int]) -> list[dict[str, Any]]:
    return list(
        ApprovalRequest.objects.filter(negotiation_id__in=ids).values(
            "negotiation_id", "status", "escalated", "created_at", "decided_at"
        )
    )


def _value(rule: str, terms: dict | None) -> float | None:
    return deal_measure(rule, terms) if terms else None


def _share(gain: float | None, reference: float | None) -> float | None:
    if gain is None or not reference:
        return None
    return gain / abs(reference)


def _fill_savings(row: NegotiationOutcome, spec: dict, ours: Participant | None, first, user):
    """Savings against the counterpart's opening ask, our opening offer and our budget."""
    rule = spec.get("value_expression", "")
    theirs = [terms for sender, terms in first.items() if ours is None or sender != ours.role]
    row.opening_ask = _value(rule, theirs[0]) if theirs else None
    row.our_opening = _value(rule, first.get(ours.role)) if ours else None
    if ours is not None and permissions.may_see_private(user, ours):
        budget = (ours.profile.get("private_values") or {}).get("budget_cap")
        row.budget = float(budget) if isinstance(budget, int | float) else None
    if row.deal_value is None:
        return
    # We buy when our opening asked for less than theirs; a seller saves upwards.
    sign = -1.0 if (row.our_opening or 0) > (row.opening_ask or 0) else 1.0
    for name, reference in (
        ("savings_ask", row.opening_ask),
        ("savings_target", row.our_opening),
        ("savings_budget", row.budget),
    ):
        gain = sign * (reference - row.deal_value) if reference is not None else None
        setattr(row, name, _share(gain, reference))


def negotiation_outcomes(*, user, filters: OutcomeFilters) -> list[NegotiationOutcome]:
    """One row per negotiation with every per-negotiation figure."""
    negotiations = list(outcome_negotiations(user=user, filters=filters))
    ids = [n.pk for n in negotiations]
    participants: dict[int, list[Participant]] = defaultdict(list)
    for p in Participant.objects.filter(negotiation_id__in=ids).order_by("order", "id"):
        participants[p.negotiation_id].append(p)
    first, last = first_proposals(ids), _last_moves(ids)
    bands = _band_checks([n.agreed_offer_id for n in negotiations if n.agreed_offer_id])
    causes = _escalation_causes(ids)
    approved_at: dict[int, datetime] = {}
    for r in _requests(ids):
        if r["status"] == ApprovalStatus.APPROVED and r["decided_at"]:
            approved_at[r["negotiation_id"]] = r["decided_at"]
        if r["escalated"]:
            causes[r["negotiation_id"]].append(APPROVAL_OVERDUE)
    rows = []
    for n in negotiations:
        agreed = n.agreed_terms is not None
        row = NegotiationOutcome(
            pk=n.pk,
            title=str(n),
            playbook=n.playbook.name,
            playbook_id=n.playbook_id,
            pattern=n.playbook.pattern,
            status=n.status,
            created_at=n.created_at,
            started_at=n.started_at,
            agreed=agreed,
            deal_value=n.deal_value if agreed else None,
            escalations=causes.get(n.pk, []),
            approved_at=approved_at.get(n.pk),
        )
        if agreed and n.pk in last:
            row.rounds, row.agreed_at = last[n.pk][0] + 1, last[n.pk][1]
            row.sla_ok = bands.get(n.agreed_offer_id)
            row.quality = agreement_quality(
                user=user, negotiation=n, participants=participants[n.pk]
            )
        ours = our_seat(participants[n.pk], n.team_id)
        _fill_savings(row, n.playbook_version.spec, ours, first.get(n.pk, {}), user)
        rows.append(row)
    return rows


# --- figures over rows ---------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: float | None
    text: str
    count: int  # how many negotiations (or requests) it is computed over
    definition: str


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _median(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(statistics.median(kept)) if kept else None


def _p90(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.percentile(kept, 90)) if kept else None


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None
