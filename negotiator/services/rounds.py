"""One round of a negotiation, the hot path of the product, as a pipeline of
named steps. The round task calls :func:`negotiation_run_round`; an outside
seat's move (A2A, portal, API) comes in through :func:`negotiation_advance` with
the move. Both read top to bottom:

1. round_context_load: claim the round by compare-and-set and load what it needs
   (participants, policy versions in force, playbook version); nothing due → stop
2. engine_inputs_for: the engine setup, the stored state, strategies (an outside
   seat is ``OUTSIDE``: its move comes with the call; so is our own seat for the
   one call in which a person moves for it, ``acting``), the policy gate
3. engine_advance: the engine step; after an outside move closes a round, our
   built-in seats answer at once, in the same transaction
4. round_records_build: offer, check and audit records and the next stored state
5. round_store.round_write: everything in the caller's transaction
6. round_continue (schedule the next round), round_wait (an outside seat's turn:
   its deadline starts and it is told) or round_conclude (the agreement goes to
   the approval gate; any other ending becomes the matching status, or an
   escalation when the playbook says a person decides at its limits)

Steps 2–4 need no database except assigning offer ids on SQLite. A live
negotiation plays exactly as the simulator does: the stored state round-trips
every field of the engine's state (tests/negotiator/test_parity.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from negotiator import bridge, round_store
from negotiator.audit import AuditEntry
from negotiator.engine.governance import PolicyGate
from negotiator.engine.offers import Offer as EngineOffer
from negotiator.engine.protocol import (
    OUTSIDE,
    Cause,
    GateDecision,
    NegotiationSetup,
    NegotiationState,
    Status,
    StepResult,
    initial_state,
    step,
)
from negotiator.engine.strategies import Strategy
from negotiator.llm.worker import participant_strategy, round_llm_audit
from negotiator.models import (
    LimitReached,
    Negotiation,
    NegotiationStatus,
    Participant,
    PolicyVersion,
)
from negotiator.round_store import CheckRow, OfferRow, RoundReads, Waiting
from negotiator.services import coalition, round_records, worker_cache
from negotiator.services.agreements import agreement_record
from negotiator.services.lifecycle import negotiation_transition
from negotiator.services.scheduling import SEAT_TURN, round_schedule, task_enqueue_on_commit

# How a round that ends without an agreement leaves the negotiation, by the
# engine's cause. Stalls and escalations wait for a person.
ENDING_STATUS: Mapping[Cause, str] = {
    Cause.MAX_ROUNDS: NegotiationStatus.FAILED,
    Cause.WALKED_AWAY: NegotiationStatus.FAILED,
    Cause.DEADLINE: NegotiationStatus.TIMED_OUT,
    Cause.OFFER_EXPIRED: NegotiationStatus.TIMED_OUT,
    Cause.STALLED: NegotiationStatus.ESCALATED,
    Cause.POLICY_ESCALATION: NegotiationStatus.ESCALATED,
    Cause.BLOCK_RETRIES_EXHAUSTED: NegotiationStatus.ESCALATED,
}
# The limits a playbook may hand to a person instead (limits.on_limit = "escalate").
LIMIT_CAUSES = frozenset({Cause.MAX_ROUNDS, Cause.DEADLINE})


@dataclass(frozen=True)
class RoundContext:
    """A claimed round: the locked negotiation row and what the round reads."""

    negotiation: Negotiation
    round_number: int
    reads: RoundReads
    participants: Sequence[Participant]
    versions: Sequence[PolicyVersion]


@dataclass(frozen=True)
class EngineInputs:
    setup: NegotiationSetup
    state: NegotiationState
    strategies: Mapping[str, Strategy]
    gate: PolicyGate
    # our seats a person moves for in this one call (their move comes with it)
    acting: frozenset[str] = frozenset()


@dataclass
class ActingGate:
    """The gate for a person's own move. An escalate verdict asks for a person,
    and the person is the one moving: their move is refused like a block (they
    override the policy first, four eyes, or offer other terms), so it never
    escalates again for the same reason."""

    gate: PolicyGate
    acting: frozenset[str]

    def __call__(self, offer: EngineOffer, party: str) -> GateDecision:
        decision = self.gate(offer, party)
        if party in self.acting and decision.verdict == "escalate":
            return GateDecision(
                "block",
                f"{decision.reason}; have the policy overridden first (four eyes) "
                "or offer other terms",
            )
        return decision


@dataclass(frozen=True)
class RoundRecords:
    offers: list[OfferRow]
    checks: list[CheckRow]
    audit: list[AuditEntry]
    engine_state: dict


@dataclass(frozen=True)
class Advanced:
    """What a round did: the engine state after it, the offers it stored (ids
    assigned), the outside seat it now waits for (None: no one), and the
    negotiation's row as the round left it (locked for the caller's transaction;
    after an ending, re-read whatever the ending changed)."""

    state: NegotiationState
    offers: list[OfferRow]
    waiting_for: str | None
    negotiation: Negotiation | None = None


# An outside seat's moves, made at the claimed row and its decoded engine state
# (the caller checks the turn under the row's lock and decodes the state once).
MovesAt = Callable[[Negotiation, NegotiationState], Mapping[str, EngineOffer]]


def negotiation_run_round(*, negotiation_id: int, round_number: int) -> bool:
    """Run one round if it is still due. Returns False when there was nothing to do
    (already run, negotiation not running): a duplicate or late task is a no-op.
    A mediated coalition negotiation plays its round in services.coalition."""
    if coalition.is_coalition_id(negotiation_id):
        return coalition.coalition_run_round(
            negotiation_id=negotiation_id, round_number=round_number
        )
    with transaction.atomic():
        return (
            negotiation_advance(negotiation_id=negotiation_id, round_number=round_number)
            is not None
        )


def negotiation_advance(
    *,
    negotiation_id: int,
    round_number: int | None,
    moves: Mapping[str, EngineOffer] | MovesAt | None = None,
    acting: Mapping[str, str] | None = None,
) -> Advanced | None:
    """Play the round that is due at ``round_number``, with the moves of outside
    seats whose turn it is, and of our seats in ``acting``: a person moving for
    our side this once (their move comes in ``moves``; ``acting`` maps our role to
    how the audit trail names that person, e.g. ``user:anna``). Runs inside the caller's
    transaction; None when the round is not due any more (claimed by someone
    else, negotiation not running). Raises engine InvalidOffer / MoveRefused for
    a move that cannot be played; the caller's transaction then rolls back and
    nothing changes.

    An outside seat's move may come as a callable (``MovesAt``) with
    ``round_number`` None: the round current when the row is locked is claimed,
    and the callable gets the locked row and its decoded engine state, checks
    that the move is due (raising to roll back) and returns the moves."""
    if round_number is None and not callable(moves):
        # claiming whatever round is current is safe only with the turn check
        raise ValueError("round_number None needs moves as a callable that checks the turn")
    context = round_context_load(negotiation_id, round_number)
    if context is None:
        return None
    inputs = engine_inputs_for(context, acting=frozenset(acting or {}))
    if callable(moves):
        moves = moves(context.negotiation, inputs.state)
    now = timezone.now()
    result = engine_advance(inputs, moves or {}, now=now)
    records = round_records_build(context, inputs, result, now=now, acting=acting)
    records.audit.extend(round_llm_audit(context.negotiation, inputs.strategies))
    waiting = round_waiting(context, result, now=now)
    if waiting is not None and waiting.started_at == now:
        records.audit.append(
            AuditEntry(
                kind="negotiation.turn_started",
                actor="system",
                payload={"party": waiting.party, "due_at": waiting.due_at.isoformat()},
            )
        )
    round_store.round_write(
        context.negotiation,
        context.reads,
        offers=records.offers,
        checks=records.checks,
        audit_entries=records.audit,
        engine_state=records.engine_state,
        now=now,
        waiting=waiting,
    )
    if result.state.finished:
        round_conclude(context.negotiation, result.state)
    elif waiting is not None:
        turn_notice_on_commit(context, waiting.party)
    else:
        round_continue(context.negotiation)
    return Advanced(result.state, records.offers, result.waiting_for, context.negotiation)


# Seat kinds whose turn notice may have nothing to do (an outside agent that
# calls us finds its turn itself): the door registers what its notifier needs
# (seats.seat_notifier_register), asked once the round has committed.
TURN_NOTICE_WANTED: dict[str, Callable[[Participant], bool]] = {}


def turn_notice_on_commit(context: RoundContext, party: str) -> None:
    """Once the round commits, tell the outside seat ``party`` it is its turn
    (the SEAT_TURN task), unless its seat kind's notifier would have nothing to
    do: then no task is sent for nothing."""
    participant = next((p for p in context.participants if p.role == party), None)
    wanted = TURN_NOTICE_WANTED.get(participant.seat) if participant is not None else None
    negotiation_id = context.negotiation.pk
    if wanted is None:
        task_enqueue_on_commit(SEAT_TURN, negotiation_id, party, False)
        return

    def notice() -> None:  # after the commit: it reads what is committed by then
        if wanted(participant):
            task_enqueue_on_commit(SEAT_TURN, negotiation_id, party, False)

    transaction.on_commit(notice)


def round_context_load(negotiation_id: int, round_number: int | None) -> RoundContext | None:
    """Claim the round (the negotiation row is locked only if it is still running
    at this round) and load its participants, policy versions and playbook
    version, from the worker's cache where it can. None: nothing is due.
    ``round_number`` None: the round current when the row is locked."""
    claimed = round_store.round_claim(
        negotiation_id,
        round_number,
        offers_hint=worker_cache.participants_count_hint(negotiation_id),
    )
    if claimed is None:
        return None
    negotiation, reads = claimed
    negotiation.playbook_version = worker_cache.playbook_version_kept(
        negotiation.playbook_version_id
    )
    return RoundContext(
        negotiation=negotiation,
        round_number=negotiation.current_round,
        reads=reads,
        participants=worker_cache.participants_kept(negotiation),
        versions=worker_cache.policy_versions_by_id(reads.policy_version_ids),
    )


def engine_inputs_for(
    context: RoundContext, *, acting: frozenset[str] = frozenset()
) -> EngineInputs:
    """What the engine step needs: the setup (shared between negotiations of the
    same configuration), the state stored by the last round (or a fresh one),
    each party's strategy (OUTSIDE for an outside seat) and the policy gate that
    checks every offer, ours and theirs. ``acting``: our seats a person moves for
    in this call (OUTSIDE for its first step only, see engine_advance)."""
    negotiation = context.negotiation
    setup = worker_cache.setup_for(negotiation, context.participants, context.versions)
    stored = negotiation.engine_state
    state = (
        bridge.state_from_dict(stored) if stored else initial_state(setup, seed=negotiation.seed)
    )
    strategies = {
        p.role: OUTSIDE if p.is_outside else participant_strategy(p, negotiation)
        for p in context.participants
    }
    gate = worker_cache.policy_gate_for(negotiation, context.versions, context.participants)
    return EngineInputs(setup=setup, state=state, strategies=strategies, gate=gate, acting=acting)


def engine_advance(
    inputs: EngineInputs, moves: Mapping[str, EngineOffer], *, now: datetime
) -> StepResult:
    """The engine step. When an outside move closed a round, the next round runs
    too, so our built-in seats answer before the outside seat's next turn.

    A person moving for our seat (``inputs.acting``) makes one step: their move,
    through :class:`ActingGate` and past the deadline (a person decides after it,
    the playbook's ``on_limit``), and the answers of the seats after ours in that
    round; the next round is scheduled as usual and meets the deadline again."""
    first_strategies, first_setup, first_gate = inputs.strategies, inputs.setup, inputs.gate
    if inputs.acting:
        first_strategies = {**inputs.strategies, **dict.fromkeys(inputs.acting, OUTSIDE)}
        first_setup = bridge.with_limits(
            inputs.setup, max_rounds=inputs.setup.max_rounds, deadline=None
        )
        first_gate = ActingGate(inputs.gate, inputs.acting)
    first = step(
        inputs.state,
        first_setup,
        first_strategies,
        gate=first_gate,
        now=now.isoformat(),
        moves=moves,
    )
    if not moves or inputs.acting or first.waiting_for or first.state.finished:
        return first
    second = step(
        first.state, inputs.setup, inputs.strategies, gate=inputs.gate, now=now.isoformat()
    )
    return StepResult(second.state, first.events + second.events, second.waiting_for)


def round_records_build(
    context: RoundContext,
    inputs: EngineInputs,
    result: StepResult,
    *,
    now: datetime,
    acting: Mapping[str, str] | None = None,
) -> RoundRecords:
    """The round's rows: the offers sent (the new tail of the history, replying to
    offers whose row ids the stored state remembers), every policy check, the
    audit entries (a person's move named by ``acting``), and the state the next
    round starts from."""
    negotiation = context.negotiation
    stored = negotiation.engine_state or {}
    offers = round_records.offer_rows(
        negotiation_id=negotiation.pk,
        sent=result.state.history[len(inputs.state.history) :],
        setup=inputs.setup,
        roles=[p.role for p in context.participants],
        now=now,
    )
    offers = round_store.offer_ids_assign(context.reads, offers, known=stored.get("offer_pks", {}))
    offer_ids = {o.engine_id: o.id for o in offers}
    records = inputs.gate.take()
    return RoundRecords(
        offers=offers,
        checks=round_records.check_rows(
            negotiation_id=negotiation.pk,
            records=records,
            offer_ids=offer_ids,
            version_pks={(v.policy_id, v.number): v.pk for v in context.versions},
            now=now,
        ),
        audit=round_records.audit_entries(
            round_number=inputs.state.round,
            records=records,
            offers=offers,
            versions=context.versions,
            previous_version_ids=stored.get("policy_versions"),
            actors={
                **{p.role: round_records.actor_for(p.role, p.seat) for p in context.participants},
                **(acting or {}),
            },
        ),
        engine_state=round_records.engine_state_stored(
            result.state, offer_ids=offer_ids, versions=context.versions
        ),
    )


def round_waiting(context: RoundContext, result: StepResult, *, now: datetime) -> Waiting | None:
    """The outside seat's turn after this round, with its deadline (the playbook's
    turn deadline); a turn that was already running keeps its deadline."""
    party = result.waiting_for
    if party is None or result.state.finished:
        return None
    negotiation = context.negotiation
    if negotiation.waiting_for == party and negotiation.turn_due_at is not None:
        return Waiting(party, negotiation.turn_started_at or now, negotiation.turn_due_at)
    minutes = negotiation.playbook_version.spec["limits"].get("turn_deadline_minutes", 60)
    return Waiting(party, now, now + timedelta(minutes=minutes))


def round_continue(negotiation: Negotiation) -> None:
    """Schedule the next round after the negotiation's pace."""
    round_schedule(negotiation.pk, negotiation.current_round, countdown=negotiation.pace_seconds)


def round_conclude(negotiation: Negotiation, state: NegotiationState) -> None:
    """The engine ended the negotiation: an agreement goes to the approval gate;
    any other ending becomes the status its cause maps to (never chosen by the
    wording of the reason)."""
    worker_cache.participants_forget(negotiation.pk)
    if state.status == Status.AGREED:
        agreement_record(negotiation=negotiation, state=state)
        return
    negotiation_transition(
        negotiation=negotiation,
        to=ending_status(negotiation, state.cause),
        reason=state.reason,
        actor="system",
        extra={"cause": str(state.cause)},
    )


def ending_status(negotiation: Negotiation, cause: Cause) -> str:
    """The status an ending without agreement leads to: by its cause, except that
    a playbook may hand its limits (rounds, deadline) to a person."""
    limits = negotiation.playbook_version.spec.get("limits", {})
    if cause in LIMIT_CAUSES and limits.get("on_limit") == LimitReached.ESCALATE:
        return NegotiationStatus.ESCALATED
    return ENDING_STATUS[cause]
