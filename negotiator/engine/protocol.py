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

from .errors import InvalidOffer, MoveRefused
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


class Cause(StrEnum):
    """Why a negotiation ended. Each cause goes with one :class:`Status` (``cause.status``):

    - ``agreed`` → ``agreed``: every party accepted the standing offer.
    - ``deadline`` → ``timed_out``: the setup's deadline passed.
    - ``offer_expired`` → ``timed_out``: the standing offer lapsed (round or time).
    - ``max_rounds`` → ``failed``: no agreement within the setup's max rounds.
    - ``walked_away`` → ``failed``: a party withdrew.
    - ``stalled`` → ``stalled``: the best joint utility stopped improving.
    - ``policy_escalation`` → ``escalated``: the policy gate escalated an action.
    - ``block_retries_exhausted`` → ``escalated``: the gate blocked every attempt of a turn.
    """

    AGREED = "agreed"
    DEADLINE = "deadline"
    OFFER_EXPIRED = "offer_expired"
    MAX_ROUNDS = "max_rounds"
    WALKED_AWAY = "walked_away"
    STALLED = "stalled"
    POLICY_ESCALATION = "policy_escalation"
    BLOCK_RETRIES_EXHAUSTED = "block_retries_exhausted"

    @property
    def status(self) -> Status:
        return _CAUSE_STATUS[self]


_CAUSE_STATUS = {
    Cause.AGREED: Status.AGREED,
    Cause.DEADLINE: Status.TIMED_OUT,
    Cause.OFFER_EXPIRED: Status.TIMED_OUT,
    Cause.MAX_ROUNDS: Status.FAILED,
    Cause.WALKED_AWAY: Status.FAILED,
    Cause.STALLED: Status.STALLED,
    Cause.POLICY_ESCALATION: Status.ESCALATED,
    Cause.BLOCK_RETRIES_EXHAUSTED: Status.ESCALATED,
}


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


class Outside:
    """The strategy slot of a party whose moves come from outside the engine (an
    outside agent, a person): :func:`step` takes its move from ``moves`` and pauses
    at its turn when there is none."""

    def __repr__(self) -> str:
        return "OUTSIDE"


OUTSIDE = Outside()


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
    # index of the party that moves next within ``round``: 0 between rounds; a
    # round paused at an outside party's turn (or ended mid-round) keeps it
    turn: int = 0
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
    # why it ended; None while running (and in states stored before causes existed)
    cause: Cause | None = None

    @property
    def finished(self) -> bool:
        return self.status != Status.RUNNING


@dataclass(frozen=True)
class StepResult:
    state: NegotiationState
    events: tuple[Event, ...]
    # the outside party whose move the negotiation now waits for (None: no one)
    waiting_for: str | None = None


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


@dataclass(eq=False)
class RoundRecord:
    """The round in progress: :func:`step` copies the state into it, the named steps
    update it in place, and :func:`round_close` freezes it into the next state."""

    round: int
    t: float  # relative time of this round, 0 at the first and 1 at the last
    now: str | None
    history: list[Offer]
    outcomes: list[int | None]  # enumerated outcome index per history entry
    # public record of on-grid proposals (sender index, outcome index) for opponent
    # models; sized for one more proposal per party, filled up to n_known
    senders: np.ndarray
    proposals: np.ndarray
    n_known: int
    standing: int | None
    accepted_by: list[str]
    best_joint: float
    best_joint_round: int
    events: list[Event] = field(default_factory=list)
    turn: int = 0  # the party moving now; kept in the state when the round stops early
    status: Status = Status.RUNNING
    cause: Cause | None = None
    reason: str = ""
    agreement: Terms | None = None
    agreement_outcome: int | None = None

    @property
    def running(self) -> bool:
        return self.status == Status.RUNNING

    def end(self, cause: Cause, reason: str, event: Event) -> None:
        """Stop the negotiation: why (the cause sets the status), and the event that says so."""
        self.status = cause.status
        self.cause = cause
        self.reason = reason
        self.events.append(event)


def step(
    state: NegotiationState,
    setup: NegotiationSetup,
    strategies: Mapping[str, Strategy] | Sequence[Strategy],
    *,
    gate: Gate | None = None,
    now: str | None = None,
    moves: Mapping[str, Offer] | None = None,
) -> StepResult:
    """Play one round from ``state.turn``: each party, in order, accepts, counters,
    rejects or withdraws.

    round_start (deadline) → for each party: party_move (ask, check, gate, retry),
    or outside_move for a party whose strategy is OUTSIDE (its move from ``moves``)
    → action_apply → round_close (stall and max-rounds rules, the next state).
    The round pauses at an outside party's turn when ``moves`` has nothing for it
    (``StepResult.waiting_for`` names it); the next step resumes there. A move in
    ``moves`` for a party that does not move before the pause raises InvalidOffer.
    """
    if state.finished:
        return StepResult(state, ())
    players = _strategy_list(setup, strategies)
    pending = dict(moves or {})
    work = round_start(state, setup, now)
    waiting = None
    for pi in range(state.turn, len(players)):
        if not work.running:
            break
        work.turn = pi
        name = setup.party_names[pi]
        if players[pi] is OUTSIDE:
            if name not in pending:
                waiting = name
                break
            action = outside_move(work, setup, pi, pending.pop(name), gate=gate)
        else:
            action = party_move(work, setup, pi, players[pi], seed=state.seed, gate=gate)
        if action is None:
            break
        action_apply(work, setup, pi, action)
    if pending:
        raise InvalidOffer(f"it is not the turn of {', '.join(sorted(pending))}")
    new_state = round_close(state, setup, work, paused=waiting is not None)
    if waiting is None and not new_state.finished and players[0] is OUTSIDE:
        waiting = setup.party_names[0]  # the next round opens with an outside move
    return StepResult(new_state, tuple(work.events), waiting_for=waiting)


def waiting_for(
    state: NegotiationState, strategies: Mapping[str, Strategy] | Sequence[Strategy]
) -> str | None:
    """The outside party whose move a running negotiation waits for, if any."""
    if state.finished:
        return None
    name = state.parties[state.turn]
    player = strategies[name] if isinstance(strategies, Mapping) else list(strategies)[state.turn]
    return name if player is OUTSIDE else None


def round_start(state: NegotiationState, setup: NegotiationSetup, now: str | None) -> RoundRecord:
    """Open a round: copy ``state`` into a working record and check the deadline.

    In: the state before the round, the setup, the caller's clock (``now``; None keeps
    ``state.now``). Out: the record of this round; it is already ended (cause
    ``deadline``, one TIMED_OUT event) when the setup's deadline has passed.
    """
    rnd = state.round
    n_known = len(state.proposal_outcomes)
    room = n_known + len(setup.parties)
    senders = np.empty(room, dtype=np.int64)
    proposals = np.empty(room, dtype=np.int64)
    senders[:n_known] = state.proposal_senders
    proposals[:n_known] = state.proposal_outcomes
    t = rnd / (setup.max_rounds - 1) if setup.max_rounds > 1 else 1.0
    work = RoundRecord(
        round=rnd,
        t=min(1.0, t),
        now=now if now is not None else state.now,
        history=list(state.history),
        outcomes=list(state.history_outcomes),
        senders=senders,
        proposals=proposals,
        n_known=n_known,
        standing=state.standing,
        accepted_by=list(state.accepted_by),
        best_joint=state.best_joint,
        best_joint_round=state.best_joint_round,
        turn=state.turn,
    )
    if (
        setup.deadline is not None
        and work.now is not None
        and _when(work.now) >= _when(setup.deadline)
    ):
        reason = f"deadline {setup.deadline} passed (now {work.now})"
        work.end(Cause.DEADLINE, reason, Event(EventKind.TIMED_OUT, rnd, None, None, reason))
    return work


def party_move(
    work: RoundRecord,
    setup: NegotiationSetup,
    pi: int,
    player: Strategy,
    *,
    seed: int,
    gate: Gate | None,
) -> Offer | None:
    """One party's turn up to the action it may take.

    In: the round's record, the party's index and strategy, the negotiation's seed
    and the policy gate. The strategy is asked again (with the blocked outcome
    forbidden) each time the gate blocks, at most ``setup.max_block_retries`` times.
    Out: the checked, allowed action; or None when the turn ended the negotiation
    (causes ``offer_expired``, ``policy_escalation``, ``block_retries_exhausted``):
    then ``work`` carries the cause, status, reason and event. Raises InvalidOffer
    on strategy bugs.
    """
    name = setup.party_names[pi]
    if not _standing_still_valid(work, name):
        return None
    standing_offer, standing_outcome = _standing_for(work, name)
    forbidden: frozenset = frozenset()
    for attempt in range(setup.max_block_retries + 1):
        view = _party_view(
            work, setup, pi, standing_offer, standing_outcome, seed, forbidden, attempt
        )
        candidate = player(view)
        _check_action(setup, candidate, name, standing_offer, forbidden)
        if gate is None or candidate.performative in (
            Performative.REJECT,
            Performative.WITHDRAW,
        ):
            return candidate
        decision = gate(candidate, name)
        if decision.verdict == "allow":
            return candidate
        if decision.verdict == "escalate":
            reason = _escalation_reason(work.round, name, candidate, decision.reason)
            event = Event(EventKind.ESCALATED, work.round, name, candidate, reason)
            work.end(Cause.POLICY_ESCALATION, reason, event)
            return None
        if decision.verdict != "block":
            raise ValueError(
                f"gate verdict must be allow, block or escalate, got {decision.verdict!r}"
            )
        work.events.append(Event(EventKind.BLOCKED, work.round, name, candidate, decision.reason))
        forbidden = forbidden | {tuple(candidate.terms[n] for n in setup.space.names)}
    reason = (
        f"{name} could not find an allowed action after {setup.max_block_retries} blocked attempts"
    )
    work.end(
        Cause.BLOCK_RETRIES_EXHAUSTED,
        reason,
        Event(EventKind.ESCALATED, work.round, name, None, reason),
    )
    return None


def _escalation_reason(round_number: int, name: str, move: Offer, why: str) -> str:
    """Which move stopped the negotiation, then why: 'round 12, buyer's accept: …'."""
    head = f"round {round_number}, {name}'s {move.performative}"
    return f"{head}: {why}" if why else f"policy gate escalated {head}"


def outside_move(
    work: RoundRecord, setup: NegotiationSetup, pi: int, move: Offer, *, gate: Gate | None
) -> Offer | None:
    """An outside party's turn: its move, checked like any other.

    In: the round's record, the party's index, the move it sent, the policy gate.
    The move must keep the protocol (its own sender; an accept names the standing
    offer's terms) and, when it carries terms, the outcome space, the fixed terms
    and its own expiry. Out: the move to apply; or None when the turn ended the
    negotiation (the standing offer lapsed; the gate escalated). Raises InvalidOffer
    for a malformed move and MoveRefused when the gate blocks it: nothing is played
    and the party may send another.
    """
    name = setup.party_names[pi]
    if not _standing_still_valid(work, name):
        return None
    standing_offer, _ = _standing_for(work, name)
    _check_action(setup, move, name, standing_offer, frozenset())
    if move.performative in _PROPOSALS:
        validate_offer(move, setup.space, setup.fixed_terms, now_round=work.round, now=work.now)
    if gate is None or move.performative in (Performative.REJECT, Performative.WITHDRAW):
        return move
    decision = gate(move, name)
    if decision.verdict == "allow":
        return move
    if decision.verdict == "escalate":
        reason = _escalation_reason(work.round, name, move, decision.reason)
        work.end(
            Cause.POLICY_ESCALATION,
            reason,
            Event(EventKind.ESCALATED, work.round, name, move, reason),
        )
        return None
    raise MoveRefused(decision.reason or f"{name}'s {move.performative} is not allowed")


def _standing_still_valid(work: RoundRecord, name: str) -> bool:
    """False (and the round ended ``timed_out``) when the standing offer has lapsed."""
    if work.standing is None:
        return True
    offer = work.history[work.standing]
    lapsed = _lapsed(offer, work.round, work.now)
    if lapsed:
        work.end(
            Cause.OFFER_EXPIRED, lapsed, Event(EventKind.TIMED_OUT, work.round, name, offer, lapsed)
        )
    return not lapsed


def _standing_for(work: RoundRecord, name: str) -> tuple[Offer | None, int | None]:
    """The offer on the table as ``name`` sees it: none if it is its own."""
    if work.standing is None:
        return None, None
    offer = work.history[work.standing]
    if offer.sender == name:
        # our own offer is still on the table (everyone else accepted or passed)
        return None, None
    return offer, work.outcomes[work.standing]


def _party_view(
    work: RoundRecord,
    setup: NegotiationSetup,
    pi: int,
    standing: Offer | None,
    standing_outcome: int | None,
    seed: int,
    forbidden: frozenset,
    attempt: int,
) -> PartyView:
    senders = work.senders[: work.n_known]
    proposals = work.proposals[: work.n_known]
    senders.flags.writeable = False  # strategies get read-only views of the record
    proposals.flags.writeable = False
    return PartyView(
        name=setup.party_names[pi],
        party_index=pi,
        profile=setup.parties[pi].profile,
        space=setup.space,
        table=setup.tables[pi],
        history=tuple(work.history),
        proposal_senders=senders,
        proposal_outcomes=proposals,
        standing=standing,
        standing_outcome=standing_outcome,
        round=work.round,
        max_rounds=setup.max_rounds,
        t=work.t,
        seed=seed,
        forbidden=forbidden,
        fixed_terms_hash=setup.fixed_hash,
        offer_ttl_rounds=setup.offer_ttl_rounds,
        attempt=attempt,
    )


def action_apply(work: RoundRecord, setup: NegotiationSetup, pi: int, action: Offer) -> None:
    """Record one allowed action in the round's record.

    In: the record, the acting party's index and its action. Propose/counter puts
    the offer on the table (and notes on-grid proposals for opponent models and the
    stall rule); accept adds the party to the acceptors and ends the negotiation
    (cause ``agreed``) once everyone accepted; reject clears the table; withdraw
    ends it (cause ``walked_away``). Out: nothing; ``work.running`` says whether
    the round goes on.
    """
    name = setup.party_names[pi]
    rnd = work.round
    kind = action.performative
    work.history.append(action)
    if kind in _PROPOSALS:
        idx = _outcome_index(setup, action)
        if idx is None:
            validate_offer(action, setup.space, setup.fixed_terms, now_round=rnd)
        work.outcomes.append(idx)
        work.standing = len(work.history) - 1
        work.accepted_by = [name]
        work.events.append(Event(EventKind.OFFER_MADE, rnd, name, action, action.rationale))
        if idx is not None:
            work.senders[work.n_known] = pi
            work.proposals[work.n_known] = idx
            work.n_known += 1
            joint = float(setup.joint_utilities[idx])
            if joint > work.best_joint + setup.stall_threshold:
                work.best_joint, work.best_joint_round = joint, rnd
    elif kind == Performative.ACCEPT:
        # _check_action made sure another party's offer stands
        standing = work.history[work.standing]
        standing_outcome = work.outcomes[work.standing]
        work.outcomes.append(standing_outcome)
        if name not in work.accepted_by:
            work.accepted_by.append(name)
        work.events.append(Event(EventKind.ACCEPTED, rnd, name, action, action.rationale))
        if len(work.accepted_by) == len(setup.parties):
            work.agreement = standing.terms
            work.agreement_outcome = standing_outcome
            reason = f"all parties accepted {standing.id}"
            work.end(Cause.AGREED, reason, Event(EventKind.AGREED, rnd, name, standing, reason))
    elif kind == Performative.REJECT:
        work.outcomes.append(None)
        work.standing = None
        work.accepted_by = []
        work.events.append(Event(EventKind.REJECTED, rnd, name, action, action.rationale))
    else:  # WITHDRAW
        work.outcomes.append(None)
        event = Event(EventKind.WALKED_AWAY, rnd, name, action, action.rationale)
        work.end(Cause.WALKED_AWAY, f"{name} walked away", event)


def round_close(
    state: NegotiationState, setup: NegotiationSetup, work: RoundRecord, *, paused: bool = False
) -> NegotiationState:
    """Apply the stop rules to a round that is still running and build the next state.

    In: the state before the round, the setup, the round's record. A running
    negotiation ends (cause ``stalled``) when the best joint utility has not improved
    for ``setup.stall_rounds`` rounds, else (cause ``max_rounds``) when
    ``setup.max_rounds`` are used.
    A round ``paused`` at an outside party's turn stays open: no stop rule applies
    yet and the state keeps its round and turn.
    Out: the state after the round (its round number advances only while running;
    ``turn`` is 0 after a whole round, else the party that moved last or waits).
    """
    rnd = work.round
    closes = work.running and not paused
    next_round = rnd + 1 if closes else rnd
    if closes:
        if (
            setup.stall_rounds is not None
            and next_round - work.best_joint_round > setup.stall_rounds
        ):
            reason = (
                f"best joint utility {work.best_joint:.3f} has not improved by more than "
                f"{setup.stall_threshold:g} for {setup.stall_rounds} rounds"
            )
            work.end(Cause.STALLED, reason, Event(EventKind.STALLED, rnd, None, None, reason))
        elif next_round >= setup.max_rounds:
            reason = f"no agreement within {setup.max_rounds} rounds"
            work.end(Cause.MAX_ROUNDS, reason, Event(EventKind.TIMED_OUT, rnd, None, None, reason))
    return replace(
        state,
        history=tuple(work.history),
        history_outcomes=tuple(work.outcomes),
        proposal_senders=tuple(work.senders[: work.n_known].tolist()),
        proposal_outcomes=tuple(work.proposals[: work.n_known].tolist()),
        round=next_round,
        turn=0 if closes or work.status == Status.AGREED else work.turn,
        status=work.status,
        standing=work.standing,
        accepted_by=tuple(work.accepted_by),
        agreement=work.agreement,
        agreement_outcome=work.agreement_outcome,
        now=work.now,
        best_joint=work.best_joint,
        best_joint_round=work.best_joint_round,
        reason=work.reason,
        cause=work.cause,
    )


_PROPOSALS = (Performative.PROPOSE, Performative.COUNTER)


def proposal_record(
    parties: Sequence[str], history: Sequence[Offer], history_outcomes: Sequence[int | None]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The public proposal record step() keeps, rebuilt from a history.

    In: the parties in setup order, the offers and their enumerated outcome indices.
    Out: (``proposal_senders``, ``proposal_outcomes``): for every on-grid propose or
    counter, its sender's party index and its outcome index.
    """
    position = {name: k for k, name in enumerate(parties)}
    record = [
        (position[offer.sender], outcome)
        for offer, outcome in zip(history, history_outcomes, strict=True)
        if offer.performative in _PROPOSALS and outcome is not None
    ]
    return tuple(s for s, _ in record), tuple(o for _, o in record)


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
