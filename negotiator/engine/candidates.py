"""The moves a seat may make this turn, as a short list a language model picks from.

The deterministic strategy decides what kind of move it is (accept, counter,
reject, walk away) and how far to concede; this module widens its counter into a
few alternatives that concede no more than it would (own utility at least the
strategy's choice, within ``band`` above it), that the party's policies allow
(the table's allowed mask) and that the gate has not blocked this turn. A
:class:`Guided` strategy asks a picker (a callable the worker supplies) to choose
one by id and write the message; anything else, including no answer, plays the
deterministic move. Nothing here does I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .offers import Offer, Performative
from .strategies import PartyView, Strategy

logger = logging.getLogger(__name__)
_EPS = 1e-12
_PROPOSALS = (Performative.PROPOSE, Performative.COUNTER)
DEFAULT_BAND = 0.03
DEFAULT_LIMIT = 5
MAX_MESSAGE = 600


@dataclass(frozen=True)
class Candidate:
    """One allowed move: an id the model may name, and the offer it stands for."""

    id: str
    offer: Offer
    deterministic: bool = False


@dataclass(frozen=True)
class Pick:
    """A picker's answer: the candidate chosen and the message to send with it."""

    candidate_id: str
    message: str = ""


Picker = Callable[[PartyView, Sequence[Candidate]], Pick | None]


def candidate_moves(
    view: PartyView, base: Strategy, *, band: float = DEFAULT_BAND, limit: int = DEFAULT_LIMIT
) -> tuple[Candidate, ...]:
    """The moves allowed this turn, the deterministic one first (id ``c1``).

    An accept, reject or walk-away is the only candidate: decisions stay with the
    strategy. A counter is joined by up to ``limit - 1`` other outcomes whose own
    utility lies in [u, u + band] (u: the strategy's offer), closest to u first,
    allowed by the party's policies and not blocked this turn.
    """
    move = base(view)
    first = Candidate("c1", move, deterministic=True)
    if move.performative not in _PROPOSALS or limit <= 1:
        return (first,)
    chosen = view.space.index_of(tuple(move.terms[n] for n in view.space.names))
    if chosen is None:
        return (first,)
    return (first, *_alternatives(view, move, int(chosen), band, limit - 1))


def _alternatives(
    view: PartyView, move: Offer, chosen: int, band: float, room: int
) -> list[Candidate]:
    table = view.table
    floor = max(view.utility_of(chosen), view.reservation)
    # ``neg_sorted`` ranks outcomes the policies forbid below every target, so
    # the slice holds allowed outcomes only.
    hi = int(np.searchsorted(table.neg_sorted, -floor + _EPS, side="right"))
    lo = int(np.searchsorted(table.neg_sorted, -(floor + band) - _EPS, side="left"))
    pool = table.order[lo:hi][::-1]  # closest to the strategy's concession first
    out: list[Candidate] = []
    for index in pool.tolist():
        if len(out) >= room:
            break
        if index == chosen or view.is_forbidden(index):
            continue
        outcome = view.space.outcome_at(index)
        terms = dict(zip(view.space.names, outcome, strict=True))
        out.append(Candidate(f"c{len(out) + 2}", replace(move, terms=terms)))
    return out


@dataclass(frozen=True)
class Guided:
    """A strategy whose counter a picker chooses among :func:`candidate_moves`.

    The picker's answer is trusted only as an id of this turn's list; an unknown
    id, no answer, or a picker error plays the deterministic move. Its message
    replaces the rationale (trimmed to ``MAX_MESSAGE`` characters)."""

    base: Strategy
    picker: Picker
    band: float = DEFAULT_BAND
    limit: int = DEFAULT_LIMIT

    def __call__(self, view: PartyView) -> Offer:
        candidates = candidate_moves(view, self.base, band=self.band, limit=self.limit)
        try:
            pick = self.picker(view, candidates)
        except Exception:  # noqa: BLE001 - the picker is the worker's code around a model;
            # whatever it raises, the seat still moves, deterministically
            logger.exception("picker failed; playing the deterministic move")
            pick = None
        return guided_choice(candidates, pick)


def guided_choice(candidates: Sequence[Candidate], pick: Pick | None) -> Offer:
    """The offer a pick names (its message as rationale), else the deterministic one."""
    by_id = {c.id: c for c in candidates}
    if pick is None or pick.candidate_id not in by_id:
        return candidates[0].offer
    offer = by_id[pick.candidate_id].offer
    message = " ".join(pick.message.split())[:MAX_MESSAGE]
    return replace(offer, rationale=message) if message else offer


def first_candidate(view: PartyView, candidates: Sequence[Candidate]) -> Pick:
    """A picker that always takes the deterministic move (for tests and parity)."""
    return Pick(candidates[0].id)
