"""The outcomes CSV: one row per negotiation, the same filters and figures as the
page (analytics.selectors.outcomes); private numbers read "hidden"."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from analytics.selectors.outcomes import NegotiationOutcome

HEADER = [
    "negotiation",
    "title",
    "playbook",
    "pattern",
    "status",
    "created_at",
    "started_at",
    "agreed",
    "rounds_to_agreement",
    "cycle_to_agreement_s",
    "cycle_to_approval_s",
    "deal_value",
    "opening_ask",
    "our_opening",
    "budget",
    "savings_vs_ask",
    "savings_vs_target",
    "savings_vs_budget",
    "sla_adherence",
    "quality_score",
    "pareto_distance",
    "nash_distance",
    "escalations",
]


def _num(value: float | int | None, digits: int = 6) -> str:
    if value is None:
        return ""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}"


def _quality(row: NegotiationOutcome) -> list[str]:
    q = row.quality
    if q is None:
        return ["", "", ""]
    if not q.visible:
        return ["hidden"] * 3
    return [_num(q.score), _num(q.pareto_distance), _num(q.nash_distance)]


def outcome_csv_rows(rows: Sequence[NegotiationOutcome]) -> Iterator[list[str]]:
    yield HEADER
    for r in rows:
        yield [
            str(r.pk),
            r.title,
            r.playbook,
            r.pattern,
            r.status,
            r.created_at.isoformat(),
            r.started_at.isoformat() if r.started_at else "",
            "yes" if r.agreed else "no",
            _num(r.rounds),
            _num(r.cycle_agreement, 0),
            _num(r.cycle_approval, 0),
            _num(r.deal_value),
            _num(r.opening_ask),
            _num(r.our_opening),
            _num(r.budget),
            _num(r.savings_ask),
            _num(r.savings_target),
            _num(r.savings_budget),
            "" if r.sla_ok is None else ("yes" if r.sla_ok else "no"),
            *_quality(r),
            ";".join(r.escalations),
        ]
