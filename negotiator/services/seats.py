"""Outside seats: their credentials (issued once, stored as a hash, scoped to one
seat, expiring, revocable), the moves they send (checked like ours, idempotent by
message id), and telling them it is their turn.

The doors (A2A, portal, REST API) authenticate with :func:`seat_credential_verify`
and play a move with :func:`seat_move_submit`; each door registers how its seats
are told about their turn with :func:`seat_notifier_register`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from negotiator import round_store
from negotiator.audit import AuditEntry, audit_append, audit_append_many
from negotiator.engine.errors import InvalidOffer, MoveRefused
from negotiator.models import (
    CredentialKind,
    Negotiation,
    NegotiationStatus,
    Participant,
    SeatCredential,
    SeatMessage,
)
from negotiator.round_store import OfferRow, SeatMessageRow
from negotiator.services.errors import Conflict, NotAllowed, ServiceError
from negotiator.services.moves import (  # noqa: F401  (the doors import these from here)
    MAX_RATIONALE,
    MoveBlocked,
    MoveInput,
    MoveInvalid,
    move_to_engine,
)
from negotiator.services.roles import actor_of
from negotiator.services.rounds import TURN_NOTICE_WANTED, negotiation_advance

log = logging.getLogger(__name__)

DEFAULT_CREDENTIAL_DAYS = 30
MAX_MESSAGE_ID = 200


class OutOfTurn(Conflict):
    """It is not this seat's turn (or the negotiation is not running)."""


# --------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------


def secret_hash(secret: str) -> str:
    """What an outside credential stores of its secret (seats here, tender bidders
    in tenders.services.outside)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def seat_credential_issue(
    *,
    participant: Participant,
    kind: str = CredentialKind.TOKEN,
    user=None,
    valid_for: timedelta = timedelta(days=DEFAULT_CREDENTIAL_DAYS),
) -> tuple[SeatCredential, str]:
    """A new credential for one outside seat. Returns it with its secret, which is
    not stored anywhere: show it once."""
    if not participant.is_outside:
        raise ServiceError(
            f"'{participant.role}' is played by our own strategy; it needs no credential."
        )
    if valid_for <= timedelta(0) or valid_for > timedelta(days=366):
        raise ServiceError("A credential must be valid for between a minute and a year.")
    secret = ("nt_" if kind == CredentialKind.TOKEN else "ni_") + secrets.token_urlsafe(32)
    with transaction.atomic():
        credential = SeatCredential.objects.create(
            participant=participant,
            kind=kind,
            secret_hash=secret_hash(secret),
            prefix=secret[:10],
            created_by=user if getattr(user, "pk", None) else None,
            expires_at=timezone.now() + valid_for,
        )
        audit_append(
            negotiation=participant.negotiation_id,
            kind="seat.credential_issued",
            actor=actor_of(user),
            user=user,
            payload={
                "credential": credential.pk,
                "party": participant.role,
                "kind": kind,
                "prefix": credential.prefix,
                "expires_at": credential.expires_at.isoformat(),
            },
        )
    return credential, secret


def seat_credential_verify(*, secret: str, kind: str | None = None) -> SeatCredential:
    """The live credential for a secret. Raises NotAllowed without saying which
    check failed (unknown, expired, revoked, wrong kind), so a guesser learns nothing."""
    if not isinstance(secret, str) or not 10 <= len(secret) <= 200:
        raise NotAllowed("This credential is not valid.")
    credential = _credential_by_hash(secret_hash(secret))
    now = timezone.now()
    if (
        credential is None
        or credential.revoked_at is not None
        or credential.expires_at <= now
        or (kind is not None and credential.kind != kind)
    ):
        raise NotAllowed("This credential is not valid.")
    return credential


def _credential_by_hash(secret_hash: str) -> SeatCredential | None:
    """The credential with this hash and its seat (the participant), in one query
    (every request of a door runs it: on PostgreSQL plain SQL, not the ORM's
    query building)."""
    if connection.vendor != "postgresql":  # SQLite's values need the ORM's converters
        return (
            SeatCredential.objects.select_related("participant")
            .filter(secret_hash=secret_hash)
            .first()
        )
    with connection.cursor() as cursor:
        cursor.execute(_credential_sql(), [secret_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(SeatCredential._meta.concrete_fields)
    credential = round_store.model_from_row(SeatCredential, row[:width])
    credential.participant = round_store.model_from_row(Participant, row[width:])
    return credential


@functools.cache
def _credential_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {round_store.columns_of(SeatCredential, 'c')}, "
        f"{round_store.columns_of(Participant, 'p')} "
        f"FROM {quote(SeatCredential._meta.db_table)} c "
        f"JOIN {quote(Participant._meta.db_table)} p ON p.id = c.participant_id "
        "WHERE c.secret_hash = %s ORDER BY c.id LIMIT 1"
    )


def negotiation_lock(negotiation_id: int) -> None:
    """Lock the negotiation's row before writing to its audit chain; call inside
    a transaction. A round locks the row, then the chain; an audit append alone
    takes the chain, then (checking its foreign key) the row: run side by side,
    the two orders deadlock (seen with a person's page view during their own
    move). Row first, everywhere, and they queue instead."""
    Negotiation.objects.select_for_update(no_key=True).filter(pk=negotiation_id).exists()


def seat_credential_use_record(*, credential: SeatCredential, address: str, what: str) -> None:
    """Every use of an outside credential is audited: who, when, from where, for
    what. In a round's lock order (the negotiation's row first): a poll with the
    token while its own move plays queues instead of deadlocking."""
    with transaction.atomic():
        negotiation_lock(credential.participant.negotiation_id)
        _credential_use_write(credential, address, what)


def _credential_use_write(credential: SeatCredential, address: str, what: str) -> None:
    """The use's count and audit event, in the caller's transaction."""
    SeatCredential.objects.filter(pk=credential.pk).update(
        # counted in the database: concurrent requests with one token all count
        last_used_at=timezone.now(),
        last_used_from=address[:64],
        uses=F("uses") + 1,
    )
    audit_append_many(
        [_credential_use_entry(credential, address, what)],
        negotiation=credential.participant.negotiation_id,
    )


def _credential_use_entry(credential: SeatCredential, address: str, what: str) -> AuditEntry:
    return AuditEntry(
        kind="seat.credential_used",
        actor=f"{credential.participant.seat}:{credential.participant.role}",
        payload={
            "credential": credential.pk,
            "prefix": credential.prefix,
            "address": address[:64],
            "what": what[:80],
        },
    )


def seat_credential_revoke(*, credential: SeatCredential, user=None) -> SeatCredential:
    with transaction.atomic():
        negotiation_lock(credential.participant.negotiation_id)  # a round's lock order
        updated = SeatCredential.objects.filter(pk=credential.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=user if getattr(user, "pk", None) else None
        )
        if updated:
            audit_append(
                negotiation=credential.participant.negotiation_id,
                kind="seat.credential_revoked",
                actor=actor_of(user),
                user=user,
                payload={"credential": credential.pk, "prefix": credential.prefix},
            )
    credential.refresh_from_db()
    return credential


# --------------------------------------------------------------------------
# Moves
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MoveResult:
    """What a move led to, as recorded for its message id (a replay gets the same)."""

    negotiation_id: int
    status: str
    waiting_for: str
    offer_ids: tuple[int, ...]
    replayed: bool = False
    # The move's own rows, in hand when it was just played and is waiting for
    # the seat again (the negotiation as the round left it, the offers it
    # stored), so the answer needs not read them back; None: read them.
    rows: tuple[Negotiation, tuple[OfferRow, ...]] | None = field(
        default=None, compare=False, repr=False
    )

    def as_reply(self) -> dict[str, Any]:
        return {
            "negotiation": self.negotiation_id,
            "status": self.status,
            "waiting_for": self.waiting_for,
            "offer_ids": list(self.offer_ids),
        }


@dataclass
class CredentialUse:
    """A use of an outside credential to record with the move it makes: in the
    move's own transaction, so a played move and its audited use commit together
    (``recorded`` says it was; otherwise the door records it on its own)."""

    credential: SeatCredential
    address: str
    what: str
    recorded: bool = False


def seat_move_submit(
    *,
    participant: Participant,
    move: MoveInput,
    message_id: str,
    actor: str = "",
    use: CredentialUse | None = None,
    credential: SeatCredential | None = None,
) -> MoveResult:
    """Play an outside seat's move, checked exactly like our own moves (protocol,
    outcome space, fixed terms, expiry, our policies), and let our built-in seats
    answer at once. The same ``message_id`` again returns the recorded result and
    changes nothing. Raises OutOfTurn (409), MoveInvalid (400), MoveBlocked or
    NotAllowed (the credential that sent it was revoked or expired meanwhile);
    then nothing changed. ``use``: the credential use that sent the move, recorded
    in the move's transaction when the move is played. ``credential``: the one that
    sent it, when there is no ``use`` to record (a person's link).

    The negotiation's row is read once, locked (the round current then is
    claimed), and the turn and the credential are checked under the lock: a
    revocation takes the same lock, so one that committed while the move waited
    for it wins, and the move is refused."""
    if not message_id or len(message_id) > MAX_MESSAGE_ID:
        raise MoveInvalid([f"a message id of 1 to {MAX_MESSAGE_ID} characters is required"])
    replay, turn = _recorded(participant, message_id)
    if replay is not None:
        return replay
    if turn is not None and (
        turn.status != NegotiationStatus.RUNNING or turn.waiting_for != participant.role
    ):
        # Plainly not its turn: refused without the round's locks, so refusals do not
        # queue behind rounds. The turn is checked again under the lock.
        raise OutOfTurn(_not_your_turn(turn, participant))
    sent_with = use.credential if use is not None else credential
    try:
        result = _move_play(participant, move, message_id, use, sent_with)
    except MoveRefused as exc:
        raise MoveBlocked(str(exc)) from None
    except InvalidOffer as exc:
        raise MoveInvalid(exc.problems) from None
    except IntegrityError:  # the same message id raced in twice: the first one won
        replay, _ = _recorded(participant, message_id)
        if replay is None:
            raise
        return replay
    if use is not None:
        use.recorded = True
    return result


def _move_play(
    participant: Participant,
    move: MoveInput,
    message_id: str,
    use: CredentialUse | None,
    credential: SeatCredential | None,
) -> MoveResult:
    """The move, our answer, its message record and the credential's use, in one
    transaction; the credential and the turn are checked on the locked row."""

    def seat_moves(negotiation: Negotiation, state) -> dict:
        if credential is not None and not credential.is_live_now():
            raise NotAllowed("This credential is not valid.")
        if (
            negotiation.status != NegotiationStatus.RUNNING
            or negotiation.waiting_for != participant.role
        ):
            raise OutOfTurn(_not_your_turn(negotiation, participant))
        return {participant.role: move_to_engine(participant.role, negotiation, move, state=state)}

    with transaction.atomic():
        advanced = negotiation_advance(
            negotiation_id=participant.negotiation_id, round_number=None, moves=seat_moves
        )
        if advanced is None:  # not running (any more)
            negotiation = Negotiation.objects.get(pk=participant.negotiation_id)
            raise OutOfTurn(_not_your_turn(negotiation, participant))
        negotiation = advanced.negotiation
        if advanced.state.finished:  # the ending changed the row further
            negotiation.refresh_from_db(fields=["status", "waiting_for"])
        result = MoveResult(
            negotiation_id=negotiation.pk,
            status=negotiation.status,
            waiting_for=negotiation.waiting_for,
            offer_ids=tuple(o.id for o in advanced.offers),
            rows=None if advanced.state.finished else (negotiation, tuple(advanced.offers)),
        )
        round_store.seat_move_records_write(
            negotiation_id=negotiation.pk,
            message=SeatMessageRow(
                participant_id=participant.pk,
                message_id=message_id,
                received_at=timezone.now(),
                offer_id=result.offer_ids[0] if result.offer_ids else None,
                reply=result.as_reply(),
            ),
            credential_use=(use.credential.pk, use.address[:64]) if use else None,
            audit_entries=[_credential_use_entry(use.credential, use.address, use.what)]
            if use
            else [],
        )
    return result


def _recorded(
    participant: Participant, message_id: str
) -> tuple[MoveResult | None, Negotiation | None]:
    """The recorded answer to this message, if any, and the negotiation's status and
    whose turn it is (None: the negotiation is gone), read without a lock in one
    query (every move runs this: plain SQL, not the ORM's query building)."""
    with connection.cursor() as cursor:
        cursor.execute(_recorded_sql(), [participant.pk, message_id, participant.negotiation_id])
        row = cursor.fetchone()
    if row is None:
        return None, None
    turn = Negotiation(pk=participant.negotiation_id, status=row[1], waiting_for=row[2])
    if row[0] is None:
        return None, turn
    reply = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    return MoveResult(
        negotiation_id=reply["negotiation"],
        status=reply["status"],
        waiting_for=reply["waiting_for"],
        offer_ids=tuple(reply["offer_ids"]),
        replayed=True,
    ), turn


@functools.cache
def _recorded_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT (SELECT reply FROM {quote(SeatMessage._meta.db_table)} "
        "WHERE participant_id = %s AND message_id = %s), status, waiting_for "
        f"FROM {quote(Negotiation._meta.db_table)} WHERE id = %s"
    )


def _not_your_turn(negotiation: Negotiation, participant: Participant) -> str:
    if negotiation.status != NegotiationStatus.RUNNING:
        return (
            f"The negotiation is {negotiation.get_status_display().lower()}; no move is expected."
        )
    if negotiation.waiting_for:
        return f"It is not your turn: the negotiation waits for {negotiation.waiting_for}."
    return "It is not your turn yet: the other side is moving; try again shortly."


# --------------------------------------------------------------------------
# Telling a seat it is its turn
# --------------------------------------------------------------------------

Notifier = Callable[[Negotiation, Participant, bool], None]
_NOTIFIERS: dict[str, Notifier] = {}


def seat_notifier_register(
    seat: str, notifier: Notifier, *, wanted: Callable[[Participant], bool] | None = None
) -> None:
    """How seats of one kind are told about their turn (a door registers it).
    ``wanted``: whether the notifier has anything to do for a participant (asked
    after a round commits; False: no turn task is sent for it)."""
    _NOTIFIERS[seat] = notifier
    if wanted is None:
        TURN_NOTICE_WANTED.pop(seat, None)
    else:
        TURN_NOTICE_WANTED[seat] = wanted


def seat_turn_notify(*, negotiation_id: int, party: str, reminder: bool = False) -> bool:
    """Tell an outside seat that the negotiation waits for its move (or remind it).
    False when there is nothing to tell any more or no one to tell it to."""
    negotiation = Negotiation.objects.filter(pk=negotiation_id).first()
    if negotiation is None or negotiation.waiting_for != party:
        return False
    participant = negotiation.participants.get(role=party)
    notifier = _NOTIFIERS.get(participant.seat)
    if notifier is None:
        # An agent that calls us polls for its turn; nothing to push.
        log.info("negotiation %s waits for %s (%s)", negotiation_id, party, participant.seat)
        return False
    notifier(negotiation, participant, reminder)
    return True
