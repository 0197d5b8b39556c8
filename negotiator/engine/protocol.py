"""Negotiation protocols: bilateral alternating offers and stacked alternating offers.

One :func:`step` plays one round (every party moves once, in order) from a frozen
:class:`NegotiationState`, so a background job can persist the state between
rounds. :func:`run` loops to the end. With two parties this is the alternating
offers protocol; with three or more the standing offer needs everyone's ACCEPT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

import numpy as np

from .errors import InvalidOffer
from .offers import Offer, Performative, Terms, validate_offer
from .outcomes import OutcomeSpace, fixed_terms_hash
from .preferences import PreferenceProfile
from .strategies import OwnTable, PartyView, SpaceIndex, Strategy


class Status(StrEnum):
    RUNNING = "running"
    AGREED = "agreed"
    FAILED = "failed"
    STALLED = "stalled"
    TIMED_OUT = "timed_out"
    ESCALATED = "escalated"


class EventKind(StrEnum):
    OFFER_MADE = "offer_made"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    STALLED = "stalled"
    TIMED_OUT = "timed_out"
    WALKED_AWAY = "walked_away"
    ESCALATED = "escalated"
    AGREED = "agreed"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    round: int
    party: str | None = None
    offer: Offer | None = None
    reason: str = ""


@dataclass(frozen=True)
class GateDecision:
    verdict: Literal["allow", "block", "escalate"]
    reason: str = ""


Gate = Callable[[Offer, str], GateDecision]


@dataclass(frozen=True)
class Party:
    name: str
    profile: PreferenceProfile
    # Outcomes this party's own policies allow it to offer (bool per enumerated
    # outcome, see feasible.allowed_mask); None allows everything.
    allowed: Any = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, eq=False)
class NegotiationSetup:
    """Everything fixed for one negotiation. Per-setup tables are computed once."""

    space: OutcomeSpace
    parties: tuple[Party, ...]
    fixed_terms: Mapping[str, Any] = field(default_factory=dict)
    max_rounds: int = 100
    offer_ttl_rounds: int | None = None
    deadline: str | None = None  # ISO-8601; compared with NegotiationState.now
    stall_rounds: int | None = None  # stop when the best joint utility has not improved ...
    stall_threshold: float = 0.0  # ... by more than this for stall_rounds rounds
    max_block_retries: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "parties", tuple(self.parties))
        if len(self.parties) < 2:
            raise ValueError("a negotiation needs at least two parties")
        names = [p.name for p in self.parties]
        if len(set(names)) != len(names):
            raise ValueError(f"party names must be unique: {names}")
        if self.max_rounds < 1:
            raise ValueError(f"max_rounds must be at least 1, got {self.max_rounds}")
        for p in self.parties:
            try:
                p.profile.check_space(self.space)
            except ValueError as exc:
                raise ValueError(f"party '{p.name}': {exc}") from None

    @property
    def party_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parties)

    @cached_property
    def space_index(self) -> SpaceIndex:
        return SpaceIndex.build(self.space)

    @cached_property
    def tables(self) -> tuple[OwnTable, ...]:
        return tuple(OwnTable.build(p.profile, self.space_index, p.allowed) for p in self.parties)

    @cached_property
    def utilities(self) -> np.ndarray:
        """(N, k) utilities of every enumerated outcome for every party (mechanism only)."""
        return np.stack([t.utilities for t in self.tables], axis=1)

    @cached_property
    def joint_utilities(self) -> np.ndarray:
        """Mean utility over parties of every outcome (used for stall detection)."""
        return self.utilities.mean(axis=1)

    @cached_property
    def fixed_hash(self) -> str:
        return fixed_terms_hash(self.fixed_terms)


@dataclass(frozen=True)
class NegotiationState:
    parties: tuple[str, ...]
    history: tuple[Offer, ...] = ()
    history_outcomes: tuple[int | None, ...] = ()  # enumerated outcome index per offer
    proposal_senders: tuple[int, ...] = ()  # party index of each on-grid propose/counter
    proposal_outcomes: tuple[int, ...] = ()  # its outcome index
    round: int = 0
    status: Status = Status.RUNNING
    standing: int | None = None  # index into history of the offer on the table
    accepted_by: tuple[str, ...] = ()
    agreement: Terms | None = None
    agreement_outcome: int | None = None
    seed: int = 0
    now: str | None = None
    best_joint: float = -1.0
    best_joint_round: int = 0
    reason: str = ""

    @property
    def finished(self) -> bool:
        return self.status != Status.RUNNING


@dataclass(frozen=True)
class StepResult:
    state: NegotiationState
    events: tuple[Event, ...]


@dataclass(frozen=True)
class NegotiationResult:
    state: NegotiationState
    events: tuple[Event, ...]


def initial_state(
    setup: NegotiationSetup, *, seed: int = 0, now: str | None = None
) -> NegotiationState:
    return NegotiationState(parties=setup.party_names, seed=seed, now=now)


def _strategy_list(
    setup: NegotiationSetup, strategies: Mapping[str, Strategy] | Sequence[Strategy]
) -> list[Strategy]:
    if isinstance(strategies, Mapping):
        missing = [n for n in setup.party_names if n not in strategies]
        if missing:
            raise ValueError(f"no strategy for parties {missing}")
        return [strategies[n] for n in setup.party_names]
    out = list(strategies)
    if len(out) != len(setup.parties):
        raise ValueError(f"{len(out)} strategies for {len(setup.parties)} parties")
    return out


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _outcome_index(setup: NegotiationSetup, offer: Offer) -> int | None:
    terms = offer.terms
    space = setup.space
    if len(terms) == len(space.issues):
        try:
            return space.index_of(tuple(terms[n] for n in space.names))
        except KeyError:
            return None
    return None


def step(
    state: NegotiationState,
    setup: NegotiationSetup,
    strategies: Mapping[str, Strategy] | Sequence[Strategy],
    *,
    gate: Gate | None = None,
    now: str | None = None,
) -> StepResult:
    """Play one round: each party, in order, accepts, counters, rejects or withdraws."""
    if state.finished:
        return StepResult(state, ())
    players = _strategy_list(setup, strategies)
    names = setup.party_names
    n_parties = len(names)
    rnd = state.round
    events: list[Event] = []
    history = list(state.history)
    outcomes = list(state.history_outcomes)
    # public record of on-grid proposals (sender index, outcome index) for opponent models
    n_known = len(state.proposal_outcomes)
    senders = np.empty(n_known + n_parties, dtype=np.int64)
    proposals = np.empty(n_known + n_parties, dtype=np.int64)
    senders[:n_known] = state.proposal_senders
    proposals[:n_known] = state.proposal_outcomes
    standing = state.standing
    accepted_by = list(state.accepted_by)
    status = Status.RUNNING
    reason = ""
    agreement: Terms | None = None
    agreement_outcome: int | None = None
    best_joint, best_joint_round = state.best_joint, state.best_joint_round
    current_now = now if now is not None else state.now
    t = rnd / (setup.max_rounds - 1) if setup.max_rounds > 1 else 1.0
    t = min(1.0, t)

    if (
        setup.deadline is not None
        and current_now is not None
        and _when(current_now) >= _when(setup.deadline)
    ):
        status = Status.TIMED_OUT
        reason = f"deadline {setup.deadline} passed (now {current_now})"
        events.append(Event(EventKind.TIMED_OUT, rnd, None, None, reason))

    for pi in range(n_parties if status == Status.RUNNING else 0):
        name = names[pi]
        if standing is not None:
            lapsed = _lapsed(history[standing], rnd, current_now)
            if lapsed:
                status = Status.TIMED_OUT
                reason = lapsed
                events.append(Event(EventKind.TIMED_OUT, rnd, name, history[standing], reason))
                break
        standing_offer = history[standing] if standing is not None else None
        standing_outcome = outcomes[standing] if standing is not None else None
        if standing_offer is not None and standing_offer.sender == name:
            # our own offer is still on the table (everyone else accepted or passed)
            standing_offer, standing_outcome = None, None
        sender_arr = senders[:n_known]
        proposal_arr = proposals[:n_known]
        sender_arr.flags.writeable = False  # strategies get read-only views of the record
        proposal_arr.flags.writeable = False
        forbidden: frozenset = frozenset()
        action: Offer | None = None
        for attempt in range(setup.max_block_retries + 1):
            view = PartyView(
                name=name,
                party_index=pi,
                profile=setup.parties[pi].profile,
                space=setup.space,
                table=setup.tables[pi],
                history=tuple(history),
                proposal_senders=sender_arr,
                proposal_outcomes=proposal_arr,
                standing=standing_offer,
                standing_outcome=standing_outcome,
                round=rnd,
                max_rounds=setup.max_rounds,
                t=t,
                seed=state.seed,
                forbidden=forbidden,
                fixed_terms_hash=setup.fixed_hash,
                offer_ttl_rounds=setup.offer_ttl_rounds,
                attempt=attempt,
            )
            candidate = players[pi](view)
            _check_action(setup, candidate, name, standing_offer, forbidden)
            if gate is None or candidate.performative in (
                Performative.REJECT,
                Performative.WITHDRAW,
            ):
                action = candidate
                break
            decision = gate(candidate, name)
            if decision.verdict == "allow":
                action = candidate
                break
            if decision.verdict == "escalate":
                status = Status.ESCALATED
                reason = (
                    decision.reason or f"policy gate escalated {name}'s {candidate.performative}"
                )
                events.append(Event(EventKind.ESCALATED, rnd, name, candidate, reason))
                break
            if decision.verdict != "block":
                raise ValueError(
                    f"gate verdict must be allow, block or escalate, got {decision.verdict!r}"
                )
            events.append(Event(EventKind.BLOCKED, rnd, name, candidate, decision.reason))
            forbidden = forbidden | {tuple(candidate.terms[n] for n in setup.space.names)}
        else:
            status = Status.ESCALATED
            reason = (
                f"{name} could not find an allowed action after {setup.max_block_retries} "
                "blocked attempts"
            )
            events.append(Event(EventKind.ESCALATED, rnd, name, None, reason))
        if action is None:
            break

        kind = action.performative
        if kind in _PROPOSALS:
            idx = _outcome_index(setup, action)
            if idx is None:
                validate_offer(action, setup.space, setup.fixed_terms, now_round=rnd)
            history.append(action)
            outcomes.append(idx)
            standing = len(history) - 1
            accepted_by = [name]
            events.append(Event(EventKind.OFFER_MADE, rnd, name, action, action.rationale))
            if idx is not None:
                senders[n_known] = pi
                proposals[n_known] = idx
                n_known += 1
                joint = float(setup.joint_utilities[idx])
                if joint > best_joint + setup.stall_threshold:
                    best_joint, best_joint_round = joint, rnd
        elif kind == Performative.ACCEPT:
            history.append(action)
            outcomes.append(standing_outcome)
            if name not in accepted_by:
                accepted_by.append(name)
            events.append(Event(EventKind.ACCEPTED, rnd, name, action, action.rationale))
            if len(accepted_by) == n_parties:
                status = Status.AGREED
                agreement = history[standing].terms
                agreement_outcome = standing_outcome
                reason = f"all parties accepted {history[standing].id}"
                events.append(Event(EventKind.AGREED, rnd, name, history[standing], reason))
                break
        elif kind == Performative.REJECT:
            history.append(action)
            outcomes.append(None)
            standing = None
            accepted_by = []
            events.append(Event(EventKind.REJECTED, rnd, name, action, action.rationale))
        else:  # WITHDRAW
            history.append(action)
            outcomes.append(None)
            status = Status.FAILED
            reason = f"{name} walked away"
            events.append(Event(EventKind.WALKED_AWAY, rnd, name, action, action.rationale))
            break

    next_round = rnd + 1 if status == Status.RUNNING else rnd
    if status == Status.RUNNING:
        if setup.stall_rounds is not None and next_round - best_joint_round > setup.stall_rounds:
            status = Status.STALLED
            reason = (
                f"best joint utility {best_joint:.3f} has not improved by more than "
                f"{setup.stall_threshold:g} for {setup.stall_rounds} rounds"
            )
            events.append(Event(EventKind.STALLED, rnd, None, None, reason))
        elif next_round >= setup.max_rounds:
            status = Status.FAILED
            reason = f"no agreement within {setup.max_rounds} rounds"
            events.append(Event(EventKind.TIMED_OUT, rnd, None, None, reason))
    new_state = replace(
        state,
        history=tuple(history),
        history_outcomes=tuple(outcomes),
        proposal_senders=tuple(senders[:n_known].tolist()),
        proposal_outcomes=tuple(proposals[:n_known].tolist()),
        round=next_round,
        status=status,
        standing=standing,
        accepted_by=tuple(accepted_by),
        agreement=agreement,
        agreement_outcome=agreement_outcome,
        now=current_now,
        best_joint=best_joint,
        best_joint_round=best_joint_round,
        reason=reason,
    )
    return StepResult(new_state, tuple(events))


_PROPOSALS = (Performative.PROPOSE, Performative.COUNTER)


def _lapsed(offer: Offer, rnd: int, now: str | None) -> str:
    if offer.expires_at_round is not None and rnd > offer.expires_at_round:
        return f"offer {offer.id} expired at round {offer.expires_at_round}"
    if offer.expires_at is not None and now is not None and _when(now) > _when(offer.expires_at):
        return f"offer {offer.id} expired at {offer.expires_at}"
    return ""


def _check_action(
    setup: NegotiationSetup,
    action: Offer,
    name: str,
    standing: Offer | None,
    forbidden: frozenset,
) -> None:
    """Refuse strategy output that breaks the protocol (a bug in the strategy)."""
    if action.sender != name:
        raise InvalidOffer(f"strategy for '{name}' sent an offer as '{action.sender}'")
    if action.performative == Performative.ACCEPT:
        if standing is None:
            raise InvalidOffer(f"'{name}' accepted but no offer from another party is on the table")
        if action.terms != standing.terms:
            raise InvalidOffer(
                f"'{name}' accepted terms that differ from the standing offer {standing.id}"
            )
    if forbidden and action.performative in (
        Performative.PROPOSE,
        Performative.COUNTER,
        Performative.ACCEPT,
    ):
        outcome = tuple(action.terms.get(n) for n in setup.space.names)
        if outcome in forbidden:
            raise InvalidOffer(
                f"strategy for '{name}' repeated a blocked outcome {dict(action.terms)!r}"
            )


def run(
    setup: NegotiationSetup,
    strategies: Mapping[str, Strategy] | Sequence[Strategy],
    *,
    gate: Gate | None = None,
    seed: int = 0,
    state: NegotiationState | None = None,
) -> NegotiationResult:
    """Step until the negotiation ends; returns the final state and all events."""
    players = _strategy_list(setup, strategies)
    current = state if state is not None else initial_state(setup, seed=seed)
    events: list[Event] = []
    while not current.finished:
        result = step(current, setup, players, gate=gate)
        current = result.state
        events.extend(result.events)
    return NegotiationResult(current, tuple(events))
