"""Conversions between stored JSON and engine values (no ORM queries here).

Services load rows, turn them into engine values with these functions, ask the
engine for the next step, and store the result back as JSON.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from threading import Lock
from typing import Any

from negotiator.engine.governance import PolicyGate
from negotiator.engine.offers import Offer
from negotiator.engine.outcomes import OutcomeSpace, issue_from_dict
from negotiator.engine.preferences import profile_from_dict
from negotiator.engine.protocol import NegotiationSetup, Party

# The stored form of the engine state (derived from NegotiationState's fields).
from negotiator.engine.state_codec import state_from_dict as state_from_dict
from negotiator.engine.state_codec import state_to_dict as state_to_dict


def space_from_spec(spec: Mapping[str, Any]) -> OutcomeSpace:
    return OutcomeSpace(tuple(issue_from_dict(item) for item in spec["issues"]))


def setup_from_spec(
    spec: Mapping[str, Any],
    participants: list[tuple[str, Mapping[str, Any]]],
    *,
    max_rounds: int,
    deadline: str | None,
    allowed: Mapping[str, Any] | None = None,
) -> NegotiationSetup:
    limits = spec.get("limits", {})
    stall_window = limits.get("stall_window")
    allowed = allowed or {}
    return NegotiationSetup(
        space=space_from_spec(spec),
        parties=tuple(
            Party(role, profile_from_dict(profile), allowed.get(role))
            for role, profile in participants
        ),
        fixed_terms=dict(spec.get("fixed_terms", {})),
        max_rounds=max_rounds,
        offer_ttl_rounds=limits.get("offer_ttl_rounds"),
        deadline=deadline,
        stall_rounds=stall_window,
        stall_threshold=float(limits.get("stall_threshold") or 0.0),
    )


# Values a NegotiationSetup computes once; they depend on the space and the
# parties only, so a copy with other limits can reuse them.
_SETUP_CACHED = ("space_index", "tables", "utilities", "fixed_hash")


def with_limits(
    setup: NegotiationSetup, *, max_rounds: int, deadline: str | None
) -> NegotiationSetup:
    """The same setup with one negotiation's limits, keeping the costly tables."""
    for name in _SETUP_CACHED:
        getattr(setup, name)  # compute once on the shared base
    if setup.max_rounds == max_rounds and setup.deadline == deadline:
        return setup
    copy = replace(setup, max_rounds=max_rounds, deadline=deadline)
    for name in _SETUP_CACHED:
        copy.__dict__[name] = setup.__dict__[name]
    return copy


class SetupCache:
    """Engine setups precompute utility tables; rebuilding them every round would
    dominate a round's cost, so a worker keeps the most recent ones."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[tuple, NegotiationSetup] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, key: tuple, build) -> NegotiationSetup:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        setup = build()
        with self._lock:
            self._items[key] = setup
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return setup

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


SETUPS = SetupCache()


def offer_terms(offer: Offer) -> dict[str, Any]:
    return dict(offer.terms)


def policy_gate_from_spec(
    spec: Mapping[str, Any],
    specs,
    profiles: Mapping[str, Mapping[str, Any]],
    *,
    waivers: Mapping[str, Any] | None = None,
) -> PolicyGate:
    """The engine's policy gate for a playbook spec: its fixed terms, issue types and
    deal measures, these policy specs and each role's own profile (live rounds and
    the simulator build it the same way)."""
    return PolicyGate(
        specs=list(specs),
        profiles=dict(profiles),
        fixed_terms=dict(spec.get("fixed_terms", {})),
        issue_types={i["name"]: i.get("type", "numeric") for i in spec["issues"]},
        value_rule=spec.get("value_expression", ""),
        risk_rule=spec.get("risk_expression", ""),
        waivers=dict(waivers or {}),
    )
