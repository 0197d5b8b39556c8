"""The concession chart and the outcome chart (agreement against the Pareto frontier
and the Nash point), as server-rendered SVG coordinates. Other parties' utilities
are private: a chart draws only what the viewer may see."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.utils.html import escape
from django.utils.safestring import mark_safe

from negotiator import bridge
from negotiator.audit import canonical_json
from negotiator.engine import analysis
from negotiator.models import Negotiation, Offer, Participant
from negotiator.selectors.formatting import format_terms_text, issue_meta
from negotiator.selectors.negotiations import PartyView

CHART_W, CHART_H = 340, 200


CHART_PAD_L, CHART_PAD_R, CHART_PAD_T, CHART_PAD_B = 34, 8, 8, 22


@dataclass
class ChartLine:
    label: str
    colour: str
    points: str
    last: tuple[float, float] | None
    reservation_y: float | None
    # Hover targets with a tooltip (round, party, utility), at most MAX_DOTS per line.
    dots_svg: str = ""


MAX_DOTS = 120


def _line_dots(label: str, colour: str, points: list[tuple[int, float]], max_round: int) -> str:
    step = max(1, math.ceil(len(points) / MAX_DOTS))
    picked = points[::step]
    if points and picked[-1] != points[-1]:
        picked.append(points[-1])
    return mark_safe(  # noqa: S308 - numbers and escaped text only
        "".join(
            f'<circle class="hover-dot" cx="{_x(r, max_round)}" cy="{_y(u)}" r="3" '
            f'fill="{escape(colour)}"><title>Round {r}, {escape(label)}: utility {u:.2f}'
            "</title></circle>"
            for r, u in picked
        )
    )


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
                dots_svg=_line_dots(party.label, party.colour, points, max_round),
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
    # The Kalai–Smorodinsky point: equal shares of each party's best possible gain.
    kalai: tuple[float, float] | None
    agreement: tuple[float, float] | None
    # One dot per offer (the latest OUTCOME_DOTS) with a tooltip: round, party, terms, utilities.
    offers: list[OfferDot]
    ticks: list[tuple[float, float, str]] = field(default_factory=list)
    # Each party's walk-away utility as a labelled line: (x1, y1, x2, y2, label, lx, ly).
    reservations: list[tuple] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, party label)
    pareto_distance: float | None = None
    nash_distance: float | None = None
    size: int = 300

    @property
    def dots_svg(self) -> str:
        return dots_svg(self.offers)


@dataclass(frozen=True)
class OfferDot:
    x: float
    y: float
    colour: str
    tip: str


def dots_svg(dots: Sequence[OfferDot]) -> str:
    """The dots as SVG markup, built here rather than in a template loop: 200 dots
    with tooltips would be the negotiation page's costliest template work."""
    return mark_safe(  # noqa: S308 - every value is a number or escaped here
        "".join(
            f'<circle class="offer-dot" cx="{d.x}" cy="{d.y}" r="3.5" fill="{escape(d.colour)}">'
            f"<title>{escape(d.tip)}</title></circle>"
            for d in dots
        )
    )


OUTCOME_SIZE, OUTCOME_PAD = 300, 34
# Dots (each with a tooltip) for the latest offers only: enough to see the dance,
# cheap enough for a 1,000-offer page.
OUTCOME_DOTS = 200


def _o(value: float, flip: bool = False) -> float:
    span = OUTCOME_SIZE - 2 * OUTCOME_PAD
    v = max(0.0, min(1.0, value))
    return round(OUTCOME_PAD + span * ((1 - v) if flip else v), 1)


def _outcome_space(
    negotiation: Negotiation, participants: list[tuple[str, dict]]
) -> analysis.SpaceAnalysis | None:
    """Every outcome's utilities for both parties with the Pareto frontier and the
    bargaining points; None when the profiles do not fit the space."""
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
        return analysis.analyse(
            np.asarray(setup.utilities), [p.profile.reservation for p in setup.parties]
        )
    except (ValueError, KeyError, TypeError):
        return None


def _point(utilities: np.ndarray, index: int | None) -> tuple[float, float] | None:
    if index is None:
        return None
    return (_o(float(utilities[index, 0])), _o(float(utilities[index, 1]), flip=True))


def _offer_dots(
    negotiation: Negotiation, parties: Sequence[PartyView], roles: list[str]
) -> list[OfferDot]:
    """The latest 200 offers as dots in their sender's colour, each with a tooltip."""
    colours = {p.role: p.colour for p in parties}
    labels = {p.role: p.label for p in parties}
    meta = issue_meta(negotiation.playbook_version.spec.get("issues"))
    dots = []
    for round_number, sender, terms, utils in (
        Offer.objects.filter(negotiation_id=negotiation.pk)
        .exclude(terms={})
        .order_by("-id")
        .values_list("round", "sender", "terms", "utilities")[:OUTCOME_DOTS]
    ):
        if utils and all(r in utils for r in roles):
            text = format_terms_text(terms, meta)
            values = ", ".join(f"{labels.get(r, r)} {utils[r]:.2f}" for r in roles)
            tip = f"Round {round_number}, {labels.get(sender, sender)}: {text} (utility {values})"
            x, y = _o(utils[roles[0]]), _o(utils[roles[1]], flip=True)
            dots.append(OfferDot(x, y, colours.get(sender, "#5d6678"), tip))
    return dots[::-1]


def _quality(
    utilities: np.ndarray, frontier: list[tuple[float, float]], nash: int | None, agreed
) -> tuple[float | None, float | None]:
    """Distances (in utility) from the agreement to the Pareto frontier and the Nash point."""
    if agreed is None:
        return None, None
    point = np.asarray(agreed, dtype=float)
    to_frontier = min((float(np.hypot(*(point - f))) for f in frontier), default=None)
    to_nash = None if nash is None else float(np.hypot(*(point - utilities[nash, :2])))
    return to_frontier, to_nash


OUTCOME_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def outcome_chart(negotiation: Negotiation, parties: Sequence[PartyView]) -> OutcomeChart | None:
    """The agreement against the Pareto frontier and the Nash point, in the utility
    space of two parties. Only for viewers who may see both profiles."""
    if len(parties) != 2 or not all(p.visible for p in parties):
        return None
    participants = list(
        Participant.objects.filter(negotiation=negotiation).values_list("role", "profile")
    )
    space = _outcome_space(negotiation, participants)
    if space is None:
        return None
    utilities = space.utilities
    roles = [role for role, _ in participants]
    frontier = sorted((float(utilities[i, 0]), float(utilities[i, 1])) for i in space.frontier)
    agreement = agreed_utils = None
    if negotiation.agreed_offer_id:
        agreed = (
            Offer.objects.filter(pk=negotiation.agreed_offer_id)
            .values_list("utilities", flat=True)
            .first()
        )
        if agreed and all(r in agreed for r in roles):
            agreed_utils = (agreed[roles[0]], agreed[roles[1]])
            agreement = (_o(agreed[roles[0]]), _o(agreed[roles[1]], flip=True))
    to_frontier, to_nash = _quality(utilities, frontier, space.nash, agreed_utils)
    walk_away = [(p.get("reservation") if p else None) for _, p in participants]
    lo, hi = _o(0), _o(1)
    reservations = []
    if walk_away[0] is not None:
        x = _o(walk_away[0])
        label = f"{parties[0].label} walk-away {walk_away[0]:.2f}"
        reservations.append((x, lo, x, hi, label, x + 3, hi - 4))
    if walk_away[1] is not None:
        y = _o(walk_away[1], flip=True)
        label = f"{parties[1].label} walk-away {walk_away[1]:.2f}"
        reservations.append((lo, y, hi, y, label, hi - 2, y - 3))
    return OutcomeChart(
        x_label=parties[0].role,
        y_label=parties[1].role,
        frontier=" ".join(f"{_o(a)},{_o(b, flip=True)}" for a, b in frontier),
        nash=_point(utilities, space.nash),
        kalai=_point(utilities, space.kalai_smorodinsky),
        agreement=agreement,
        offers=_offer_dots(negotiation, parties, roles),
        ticks=[(_o(v), _o(v, flip=True), f"{v:g}") for v in OUTCOME_TICKS],
        reservations=reservations,
        legend=[(p.colour, p.label) for p in parties],
        pareto_distance=to_frontier,
        nash_distance=to_nash,
    )
