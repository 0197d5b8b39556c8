"""A move made from outside our strategies (an outside seat's message, a person
acting for our side) as the engine takes it: its shape, the checks that need no
engine, and its errors. The engine then checks it like any other move (protocol,
outcome space, fixed terms, expiry, our policies)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from negotiator import bridge
from negotiator.engine.offers import Offer as EngineOffer
from negotiator.engine.offers import Performative
from negotiator.engine.protocol import NegotiationState
from negotiator.models import Negotiation
from negotiator.services.errors import ServiceError

MAX_RATIONALE = 2000


class MoveInvalid(ServiceError):
    """The move breaks the protocol or the offer format; ``problems`` lists each."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class MoveBlocked(ServiceError):
    """A policy blocks the move: it was not played; the mover may send another."""


@dataclass(frozen=True)
class MoveInput:
    """A move, already parsed from its door's format (or a person's form)."""

    performative: str
    terms: Mapping[str, Any] = field(default_factory=dict)
    fixed_terms_hash: str = ""
    rationale: str = ""
    in_reply_to: int | None = None  # our offer id it answers (optional; checked)
    expires_at: str | None = None
    assumptions: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()


def move_to_engine(
    role: str,
    negotiation: Negotiation,
    move: MoveInput,
    *,
    state: NegotiationState | None = None,
) -> EngineOffer:
    """The engine offer for ``role``'s move at the negotiation's stored state,
    after the checks that need no engine: its size, its performative and the
    offer it answers (a stale reply is refused). ``state``: that stored state,
    when the caller has decoded it already."""
    try:
        performative = Performative(move.performative)
    except ValueError:
        raise MoveInvalid(
            [f"performative must be one of {', '.join(p.value for p in Performative)}"]
        ) from None
    if len(move.rationale) > MAX_RATIONALE:
        raise MoveInvalid([f"the message is longer than {MAX_RATIONALE:,} characters"])
    if state is None:
        state = bridge.state_from_dict(negotiation.engine_state)
    standing = state.history[state.standing] if state.standing is not None else None
    offer_pks = negotiation.engine_state.get("offer_pks") or {}
    standing_id = offer_pks.get(standing.id) if standing else None
    if move.in_reply_to is not None and move.in_reply_to != standing_id:
        raise MoveInvalid(
            [f"in_reply_to {move.in_reply_to} is not the offer on the table ({standing_id})"]
        )
    terms = dict(move.terms)
    if performative == Performative.ACCEPT and standing is not None and not terms:
        terms = dict(standing.terms)  # "accept" alone accepts what is on the table
    return EngineOffer(
        performative=performative,
        sender=role,
        terms=terms,
        fixed_terms_hash=move.fixed_terms_hash,
        round=state.round,
        expires_at=move.expires_at,
        assumptions=tuple(move.assumptions),
        dependencies=tuple(move.dependencies),
        in_reply_to=standing.id if standing else None,
        rationale=move.rationale,
    )
