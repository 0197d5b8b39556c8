"""The one interface through which the negotiation side asks "does this deal need
a person?" and reads the open approval requests for its pages.

The approvals app provides it (``ApprovalsConfig.ready`` registers its gate), so
approvals depends on negotiator and never the reverse. Without a registered gate
an agreement is not approved by default: it fails closed and waits for a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from negotiator.models import Negotiation


@dataclass(frozen=True)
class GateVerdict:
    """What the gate decided about an agreement, and the rule that decided it.

    ``pending``: a request is open (the gate moved the negotiation to pending
    approval). ``approved``: a route explicitly approves this deal. ``escalated``:
    nothing takes the deal; a person decides. Anything else is treated as
    escalated (fail closed)."""

    outcome: Literal["pending", "approved", "escalated"]
    rule: str
    reason: str = ""
    route: str = ""


class ApprovalGate(Protocol):
    def route_agreement(self, *, negotiation: Negotiation) -> GateVerdict:
        """Called inside the round's transaction with the negotiation row locked.
        Opens an approval request (and moves the negotiation to pending approval)
        when a person must decide; approves only what a route explicitly allows."""

    def open_requests(self, negotiation_ids: Sequence[int]) -> dict[int, Any]:
        """The pending request (with ``pk`` and ``due_at``) of each negotiation."""

    def requests_of(self, negotiation: Negotiation, *, limit: int) -> list[Any]:
        """A negotiation's latest requests, newest first, for its page."""


_gate: ApprovalGate | None = None


def gate_register(gate: ApprovalGate) -> None:
    global _gate
    _gate = gate


def gate() -> ApprovalGate | None:
    return _gate
