"""The n-party part of the negotiation page and the plan downloads: one lane per
party, the votes on each proposal, who blocks, per-party utility bars, the plan
table, the Gantt-style timeline, the feasibility proof and the certificate."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from negotiator.engine.plan_model import plan_lines
from negotiator.models import Negotiation, Offer
from negotiator.services.certificates import plan_model_of, plan_part

GANTT_LEFT, GANTT_WIDTH, GANTT_ROW = 170, 720, 34
BAR_WIDTH = 240


@dataclass
class Lane:
    role: str
    label: str
    colour: str
    ballots: list[dict[str, Any]] = field(default_factory=list)
    accepted: int = 0
    utility_bar: int | None = None  # width in px of the current text's utility
    utility: float | None = None
    reservation_x: int | None = None


def _lanes(parties: Sequence[Any], rounds: list[dict], utilities: dict) -> list[Lane]:
    lanes = []
    for party in parties:
        lane = Lane(party.role, party.label, party.colour)
        for record in rounds:
            ballot = next((b for b in record["ballots"] if b["party"] == party.role), None)
            if ballot is None:
                continue
            lane.ballots.append({"round": record["round"] + 1, **ballot})
            lane.accepted += int(ballot["accept"])
        value = utilities.get(party.role) if party.visible else None
        if value is not None:
            lane.utility = value
            lane.utility_bar = round(BAR_WIDTH * value)
            if party.reservation is not None:
                lane.reservation_x = round(BAR_WIDTH * party.reservation)
        lanes.append(lane)
    return lanes


def _proposals(rounds: list[dict], roles: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for record in reversed(rounds[-12:]):
        votes = {b["party"]: b for b in record["ballots"]}
        out.append(
            {
                "round": record["round"] + 1,
                "support": record["support"],
                "consensus": record["consensus"],
                "votes": [votes.get(role) for role in roles],
                "moved": record["chosen"] != 0,
            }
        )
    return out


def gantt(lines: list[dict[str, Any]], horizon: int) -> dict[str, Any]:
    """SVG geometry of a Gantt-style timeline: one row per plan line."""
    week = GANTT_WIDTH / max(1, horizon)
    rows = []
    for k, line in enumerate(lines):
        when = line["when"]
        rows.append(
            {
                "y": 28 + k * GANTT_ROW,
                "label": line["what"],
                "who": line["who"],
                "x": round(GANTT_LEFT + (when["start"] - 1) * week, 1),
                "width": round(when["length"] * week, 1),
                "text": f"{when['unit']} {when['start']}–{when['end']}",
                "colour": k,
            }
        )
    ticks = [
        {"x": round(GANTT_LEFT + (w - 0.5) * week, 1), "label": w} for w in range(1, horizon + 1)
    ]
    return {
        "rows": rows,
        "ticks": ticks,
        "width": GANTT_LEFT + GANTT_WIDTH + 10,
        "height": 40 + len(rows) * GANTT_ROW,
        "left": GANTT_LEFT,
        "right": GANTT_LEFT + GANTT_WIDTH,
    }


def _horizon(model) -> int:
    for s in model.structured:
        if getattr(s, "horizon", None):
            return int(s.horizon)
    return 13


def _current_utilities(negotiation: Negotiation) -> dict[str, float]:
    latest = (
        Offer.objects.filter(negotiation=negotiation, sender="mediator")
        .order_by("-round")
        .values_list("utilities", flat=True)
        .first()
    )
    return dict(latest or {})


def coalition_view(negotiation: Negotiation, parties: Sequence[Any]) -> dict[str, Any] | None:
    """Everything the n-party include shows; None for a negotiation without a plan model."""
    model = plan_model_of(negotiation)
    if model is None:
        return None
    state = negotiation.engine_state or {}
    mediation = state.get("mediation") or {}
    rounds = mediation.get("rounds", [])
    terms = negotiation.agreed_terms or (mediation.get("text") or {})
    part = plan_part(negotiation, terms) if terms else {}
    lines = part.get("lines") or (plan_lines(model, terms) if terms else [])
    roles = [p.role for p in parties]
    return {
        "lanes": _lanes(parties, rounds, _current_utilities(negotiation)),
        "roles": roles,
        "proposals": _proposals(rounds, roles),
        "blockers": mediation.get("blockers") or _open_blockers(rounds),
        "rule": model.rules,
        "rounds": len(rounds),
        "lines": lines,
        "agreed": bool(negotiation.agreed_terms),
        "gantt": gantt(lines, _horizon(model)) if lines else None,
        "feasibility": state.get("feasibility"),
        "certificate": state.get("certificate"),
        "assumptions": part.get("assumptions", []),
        "constraints": [c.text for c in model.system.constraints],
        "bar_width": BAR_WIDTH,
    }


def _open_blockers(rounds: list[dict]) -> list[list[str]]:
    if not rounds:
        return []
    return [
        [b["party"], b["objection"] or "the text as a whole"]
        for b in rounds[-1]["ballots"]
        if not b["accept"]
    ]


CSV_COLUMNS = (
    "line",
    "who",
    "what",
    "start",
    "end",
    "unit",
    "how_much",
    "depends_on",
    "assumptions",
)


def plan_csv(plan: dict[str, Any]) -> str:
    """A final plan as CSV: one row per plan line (who, what, when, how much), or one
    row per agreed term for a plan without lines."""
    out = io.StringIO()
    writer = csv.writer(out)
    if plan.get("lines"):
        writer.writerow(CSV_COLUMNS)
        for line in plan["lines"]:
            how_much = "; ".join(
                f"{k}={v['value']} {v['unit']}".strip() for k, v in line["how_much"].items()
            )
            writer.writerow(
                [
                    line["id"],
                    line["who"],
                    line["what"],
                    line["when"]["start"],
                    line["when"]["end"],
                    line["when"]["unit"],
                    how_much,
                    " ".join(line["dependencies"]),
                    " | ".join(a["text"] for a in line.get("assumptions", [])),
                ]
            )
        return out.getvalue()
    writer.writerow(("term", "value", "unit"))
    for name, item in (plan.get("what", {}).get("terms") or {}).items():
        writer.writerow((name, item["value"], item["unit"]))
    return out.getvalue()
