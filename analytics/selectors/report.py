"""The outcomes report: the figures of the outcomes page over the per-negotiation
rows of analytics.selectors.outcomes, per playbook, with the pattern-specific
places and the chart data (the page, the CSV and the API read this)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from analytics.selectors.outcomes import (
    DEFINITIONS,
    UNSETTLED,
    Figure,
    NegotiationOutcome,
    OutcomeFilters,
    _mean,
    _median,
    _p90,
    _percent,
    _rate,
    duration_text,
    negotiation_outcomes,
)
from approvals.models import ApprovalRequest, ApprovalStatus
from negotiator.models import Negotiation, Pattern
from tenders.selectors.metrics import playbook_metrics as tender_playbook_metrics
from tenders.selectors.tenders import tenders_visible_to

DECIDED = (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED, ApprovalStatus.CHANGES_REQUESTED)

CAUSE_LABELS = {
    "policy_escalation": "a policy asked for a person",
    "block_retries_exhausted": "policies blocked every move",
    "stalled": "offers stopped improving",
    "max_rounds": "last round used",
    "deadline": "deadline passed",
    "turn_missed": "outside seat missed its turn",
    "agreement": "agreement no route took",
    "approval_overdue": "approval overdue (escalated to a second group)",
    "other": "other",
}


@dataclass(frozen=True)
class PatternMetric:
    pattern: str
    label: str
    metric: str
    value: float | None
    text: str  # "not yet used" when the pattern has no data
    definition: str


@dataclass(frozen=True)
class OutcomesReport:
    filters: OutcomeFilters
    rows: list[NegotiationOutcome]
    figures: dict[str, Figure]
    causes: list[tuple[str, str, int, float]]  # cause, label, negotiations, rate
    per_playbook: list[dict[str, Any]]
    patterns: list[PatternMetric]
    quality_hidden: int

    def weekly(self) -> dict[str, list]:
        """Per week (by creation, weeks start on Monday): negotiations, agreement rate."""
        weeks: dict[str, list[NegotiationOutcome]] = defaultdict(list)
        for r in self.rows:
            weeks[_week(r)].append(r)
        labels = sorted(weeks)
        rates = []
        for week in labels:
            settled = [r for r in weeks[week] if r.status not in UNSETTLED]
            rate = _rate(sum(r.agreed for r in settled), len(settled))
            rates.append(_pct(rate))
        return {
            "labels": labels,
            "negotiations": [len(weeks[w]) for w in labels],
            "agreement_rate": rates,
        }

    def chart_data(self) -> dict[str, Any]:
        f = self.figures
        agreed = sum(r.agreed for r in self.rows)
        settled = sum(r.status not in UNSETTLED for r in self.rows)
        rounds = Counter(r.rounds for r in self.rows if r.rounds is not None)
        quality = [r for r in self.rows if r.quality is not None and r.quality.visible]
        return {
            "savings": {
                "labels": ["vs opening ask", "vs target", "vs budget"],
                "values": [
                    _pct(f[k].value) for k in ("savings_ask", "savings_target", "savings_budget")
                ],
            },
            "agreement": {"agreed": agreed, "not_agreed": settled - agreed},
            "cycle": {
                "labels": ["start → agreement", "start → approval"],
                "values": [
                    _minutes(f["cycle_agreement"].value),
                    _minutes(f["cycle_approval"].value),
                ],
            },
            "rounds": {
                "labels": [str(k) for k in sorted(rounds)],
                "values": [rounds[k] for k in sorted(rounds)],
            },
            "quality": {
                "labels": [f"#{r.pk}" for r in quality],
                "values": [round(r.quality.score or 0.0, 4) for r in quality],
            },
            "causes": {
                "labels": [label for _, label, _, _ in self.causes],
                "values": [n for _, _, n, _ in self.causes],
            },
            "weeks": self.weekly(),
            "approval": {
                "labels": ["median", "90th percentile"],
                "values": [
                    _minutes(f["approval_median"].value),
                    _minutes(f["approval_p90"].value),
                ],
            },
        }


def _week(row: NegotiationOutcome) -> str:
    day = row.created_at.date()
    return (day - timedelta(days=day.weekday())).isoformat()


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def _figure(key: str, label: str, value: float | None, text: str, count: int) -> Figure:
    definition = DEFINITIONS.get(key.replace("_median", "_speed").replace("_p90", "_speed"), "")
    return Figure(key, label, value, text, count, definition)


def _figures(rows: Sequence[NegotiationOutcome], requests: list[dict]) -> dict[str, Figure]:
    # long on purpose: one line per figure of the page, in the page's order
    settled = [r for r in rows if r.status not in UNSETTLED]
    agreed = [r for r in rows if r.agreed]
    out: dict[str, Figure] = {}
    for key, label in (
        ("savings_ask", "Savings vs opening ask"),
        ("savings_target", "Savings vs target"),
        ("savings_budget", "Savings vs budget"),
    ):
        values = [getattr(r, key) for r in agreed if getattr(r, key) is not None]
        out[key] = _figure(key, label, _mean(values), _percent(_mean(values)), len(values))
    banded = [r for r in agreed if r.sla_ok is not None]
    sla = _rate(sum(r.sla_ok for r in banded), len(banded))
    out["sla_adherence"] = _figure(
        "sla_adherence", "SLA adherence of agreed terms", sla, _percent(sla), len(banded)
    )
    rate = _rate(len(agreed), len(settled))
    out["agreement_rate"] = _figure(
        "agreement_rate", "Agreement rate", rate, _percent(rate), len(settled)
    )
    for key, label, attr in (
        ("cycle_agreement", "Cycle time: start → agreement", "cycle_agreement"),
        ("cycle_approval", "Cycle time: start → approval", "cycle_approval"),
    ):
        values = [getattr(r, attr) for r in rows if getattr(r, attr) is not None]
        out[key] = _figure(key, label, _median(values), duration_text(_median(values)), len(values))
    rounds = [float(r.rounds) for r in agreed if r.rounds is not None]
    median_rounds = _median(rounds)
    out["rounds"] = _figure(
        "rounds",
        "Rounds to agreement",
        median_rounds,
        "—" if median_rounds is None else f"{median_rounds:g}",
        len(rounds),
    )
    scores = [r.quality.score for r in agreed if r.quality and r.quality.visible]
    mean_score = _mean(scores)
    out["quality"] = _figure(
        "quality",
        "Agreement quality score",
        mean_score,
        "—" if mean_score is None else f"{mean_score:.3f}",
        len(scores),
    )
    started = [r for r in rows if r.started_at is not None]
    escalated = [r for r in started if r.escalations]
    esc = _rate(len(escalated), len(started))
    out["escalation_rate"] = _figure(
        "escalation_rate", "Escalation / exception rate", esc, _percent(esc), len(started)
    )
    times = [
        (q["decided_at"] - q["created_at"]).total_seconds()
        for q in requests
        if q["decided_at"] and q["status"] in DECIDED
    ]
    median, p90 = _median(times), _p90(times)
    out["approval_median"] = _figure(
        "approval_median", "Approval speed: median", median, duration_text(median), len(times)
    )
    out["approval_p90"] = _figure(
        "approval_p90", "Approval speed: 90th percentile", p90, duration_text(p90), len(times)
    )
    decided = [q for q in requests if q["status"] in DECIDED]
    reversed_ = _rate(
        sum(q["status"] == ApprovalStatus.CHANGES_REQUESTED for q in decided), len(decided)
    )
    out["approvals_reversed"] = _figure(
        "approvals_reversed",
        "Approvals reversed by request-changes",
        reversed_,
        _percent(reversed_),
        len(decided),
    )
    return out


def _causes(rows: Sequence[NegotiationOutcome]) -> list[tuple[str, str, int, float]]:
    started = sum(r.started_at is not None for r in rows)
    per_cause: Counter[str] = Counter()
    for r in rows:
        for cause in set(r.escalations):
            per_cause[cause] += 1
    return [
        (cause, CAUSE_LABELS.get(cause, cause), n, n / started if started else 0.0)
        for cause, n in sorted(per_cause.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _tender_figures(*, user, filters: OutcomeFilters):
    """The auction pattern's figures over the user's teams' decided tenders in the
    period (tenders are not negotiations: they have their own rows)."""
    if filters.pattern and filters.pattern != Pattern.AUCTION:
        return None
    tenders = tenders_visible_to(user)
    if filters.playbook:
        tenders = tenders.filter(playbook_id=filters.playbook)
    if filters.start:
        tenders = tenders.filter(created_at__date__gte=filters.start)
    if filters.end:
        tenders = tenders.filter(created_at__date__lte=filters.end)
    figures = tender_playbook_metrics(tenders)
    return figures if figures.tenders else None


def _plan_certificates(pks: list[int]) -> tuple[int, list[float]]:
    """How many of these agreed negotiations hold a valid plan certificate, and
    start → certificate seconds for each that has one."""
    certified, times = 0, []
    rows = Negotiation.objects.filter(pk__in=pks).values_list("started_at", "engine_state")
    for started_at, state in rows:
        certificate = (state or {}).get("certificate") or {}
        certified += bool(certificate.get("valid"))
        issued = certificate.get("issued_at")
        if issued and started_at:
            times.append((datetime.fromisoformat(issued) - started_at).total_seconds())
    return certified, times


def _pattern_metrics(rows: Sequence[NegotiationOutcome], tenders=None) -> list[PatternMetric]:
    """A place per pattern-specific metric; "not yet used" until that pattern has data."""
    by_pattern: dict[str, list[NegotiationOutcome]] = defaultdict(list)
    for r in rows:
        by_pattern[r.pattern].append(r)
    planned = [r for p in (Pattern.CONSTRAINT, Pattern.COALITION) for r in by_pattern[p]]
    certified, consensus_times = _plan_certificates([r.pk for r in planned if r.agreed])
    agreed_plans = sum(1 for r in planned if r.agreed)
    feasible = _rate(certified, agreed_plans)
    consensus = _median(consensus_times)
    unused = "not yet used"
    return [
        PatternMetric(
            Pattern.CONSTRAINT,
            Pattern.CONSTRAINT.label,
            "Feasible-plan rate",
            feasible,
            _percent(feasible) if agreed_plans else unused,
            "Agreed plans (constraint and coalition playbooks) whose certificate is valid: the "
            "solver's status and the independent re-check both passed.",
        ),
        PatternMetric(
            Pattern.COALITION,
            Pattern.COALITION.label,
            "Consensus time",
            consensus,
            duration_text(consensus) if consensus is not None else unused,
            "Median time from start to the round that reached consensus (the certificate's time).",
        ),
        PatternMetric(
            Pattern.AUCTION,
            Pattern.AUCTION.label,
            "Fraud flag rate",
            tenders.flag_rate if tenders else None,
            _percent(tenders.flag_rate) if tenders else unused,
            "Decided tenders with a bid-rigging or abuse screen flag, out of all decided tenders.",
        ),
        PatternMetric(
            Pattern.AUCTION,
            Pattern.AUCTION.label,
            "ROI",
            tenders.roi if tenders else None,
            (f"{tenders.roi:,.1f}×" if tenders.roi is not None else "—") if tenders else unused,
            "Savings against the reserve of decided tenders over the cost of running them "
            "(a cost per tender plus a cost per minute a person spent on an escalated award).",
        ),
    ]


def _per_playbook(rows: Sequence[NegotiationOutcome]) -> list[dict[str, Any]]:
    groups: dict[str, list[NegotiationOutcome]] = defaultdict(list)
    for r in rows:
        groups[r.playbook].append(r)
    out = []
    for name in sorted(groups):
        group = groups[name]
        settled = [r for r in group if r.status not in UNSETTLED]
        agreed = [r for r in group if r.agreed]
        rate = _rate(len(agreed), len(settled))
        savings = _mean(r.savings_ask for r in agreed)
        cycle = _median(r.cycle_agreement for r in agreed)
        out.append(
            {
                "playbook": name,
                "playbook_id": group[0].playbook_id,
                "negotiations": len(group),
                "agreements": len(agreed),
                "agreement_rate": rate,
                "agreement_rate_text": _percent(rate),
                "savings_ask": savings,
                "savings_ask_text": _percent(savings),
                "cycle_agreement": cycle,
                "cycle_agreement_text": duration_text(cycle),
            }
        )
    return out


def outcomes_report(*, user, filters: OutcomeFilters) -> OutcomesReport:
    rows = negotiation_outcomes(user=user, filters=filters)
    requests = list(
        ApprovalRequest.objects.filter(negotiation_id__in=[r.pk for r in rows]).values(
            "status", "created_at", "decided_at"
        )
    )
    return OutcomesReport(
        filters=filters,
        rows=rows,
        figures=_figures(rows, requests),
        causes=_causes(rows),
        per_playbook=_per_playbook(rows),
        patterns=_pattern_metrics(rows, _tender_figures(user=user, filters=filters)),
        quality_hidden=sum(1 for r in rows if r.quality is not None and not r.quality.visible),
    )
