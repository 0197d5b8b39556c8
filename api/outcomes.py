"""GET /api/outcomes: the outcomes page's figures for the token's user, with the
same filters (analytics.selectors.report; the team and privacy rules apply)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from analytics.selectors.outcomes import OutcomeFilters
from analytics.selectors.report import outcomes_report
from api import schemas

router = Router(tags=["outcomes"])

PatternName = Literal["concession", "bundle", "coalition", "constraint", "auction"]


class OutcomeQuery(Schema):
    playbook: int | None = Field(None, description="a playbook id")
    pattern: PatternName | None = None
    start: date | None = Field(None, description="negotiations created on or after this day")
    end: date | None = Field(None, description="negotiations created on or before this day")


class FigureOut(Schema):
    label: str
    value: float | None
    text: str
    count: int
    definition: str


class CauseOut(Schema):
    cause: str
    label: str
    negotiations: int
    rate: float


class PatternMetricOut(Schema):
    pattern: str
    metric: str
    value: float | None
    text: str
    definition: str


class QualityOut(Schema):
    visible: bool
    pareto_distance: float | None = None
    nash_distance: float | None = None
    score: float | None = None
    on_frontier: bool | None = None


class NegotiationOutcomeOut(Schema):
    id: int
    title: str
    playbook: str
    pattern: str
    status: str
    created_at: datetime
    agreed: bool
    rounds: int | None
    cycle_to_agreement_s: float | None
    cycle_to_approval_s: float | None
    deal_value: float | None
    savings_vs_ask: float | None
    savings_vs_target: float | None
    savings_vs_budget: float | None
    sla_adherence: bool | None
    quality: QualityOut | None
    escalations: list[str]


class OutcomesOut(Schema):
    figures: dict[str, FigureOut]
    escalations_by_cause: list[CauseOut]
    per_playbook: list[dict[str, Any]]
    pattern_metrics: list[PatternMetricOut]
    negotiations: list[NegotiationOutcomeOut]


@router.get("", response={200: OutcomesOut, 400: schemas.ErrorOut, 401: schemas.ErrorOut})
def outcomes(request: HttpRequest, filters: Query[OutcomeQuery]):
    """The outcomes figures (each with its definition) and one row per negotiation,
    for your teams' negotiations; quality only where you may see every profile."""
    report = outcomes_report(
        user=request.auth,
        filters=OutcomeFilters(
            playbook=filters.playbook,
            start=filters.start,
            end=filters.end,
            pattern=filters.pattern or "",
        ),
    )
    return {
        "figures": {
            key: {k: v for k, v in asdict(f).items() if k != "key"}
            for key, f in report.figures.items()
        },
        "escalations_by_cause": [
            {"cause": c, "label": label, "negotiations": n, "rate": rate}
            for c, label, n, rate in report.causes
        ],
        "per_playbook": report.per_playbook,
        "pattern_metrics": [asdict(p) for p in report.patterns],
        "negotiations": [
            {
                "id": r.pk,
                "title": r.title,
                "playbook": r.playbook,
                "pattern": r.pattern,
                "status": r.status,
                "created_at": r.created_at,
                "agreed": r.agreed,
                "rounds": r.rounds,
                "cycle_to_agreement_s": r.cycle_agreement,
                "cycle_to_approval_s": r.cycle_approval,
                "deal_value": r.deal_value,
                "savings_vs_ask": r.savings_ask,
                "savings_vs_target": r.savings_target,
                "savings_vs_budget": r.savings_budget,
                "sla_adherence": r.sla_ok,
                "quality": asdict(r.quality) if r.quality is not None else None,
                "escalations": r.escalations,
            }
            for r in report.rows
        ],
    }
