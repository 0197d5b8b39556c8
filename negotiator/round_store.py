"""Reading and writing one round: the hot path of every negotiation.

A round reads the policies in force and the head of the negotiation's audit
chain, then writes one or two offers, a policy check per policy per attempt, a
few audit events and the negotiation's new engine state. Through the ORM that
is about ten statements, each its own network round trip wrapped in model
machinery, which made the database half of a round's cost (issue 5, the
throughput benchmark).

On PostgreSQL this module sends the same statements in two pipelined batches
(psycopg pipeline mode, server-side binding, statements prepared after
DATABASE_PREPARE_THRESHOLD runs): one batch of reads before the engine step,
one batch of writes after it. Offer ids are reserved from the table's sequence in the first batch, so an offer
can reply to one sent earlier in the same round and checks and audit events can
name their offer before anything is inserted. Any other database (the embedded
SQLite default) takes the ORM path below; both paths write the same rows
(tests/negotiator/test_round_store.py runs one negotiation down each).

Everything here runs inside the caller's transaction; errors from the raw
cursor are wrapped into Django's database exceptions, so the round task's
retry-on-OperationalError covers both paths.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction

from negotiator.audit import (
    AuditEntry,
    audit_append_many,
    audit_build,
    chain_lock_key,
    chain_of,
)
from negotiator.models import (
    AuditEvent,
    Negotiation,
    NegotiationStatus,
    Offer,
    PolicyCheck,
    SeatCredential,
    SeatMessage,
)

# Active policies whose current version applies to a negotiation.
APPLICABLE_SQL = """
    SELECT current_version_id FROM negotiator_policy
    WHERE active AND current_version_id IS NOT NULL
      AND (scope = 'all'
           OR (scope IN ('playbook', 'role') AND playbook_id = %s)
           OR (scope = 'negotiation' AND negotiation_id = %s))
    ORDER BY id
"""


@dataclass(frozen=True)
class OfferRow:
    """One offer as the round writes it (the columns of negotiator.Offer)."""

    id: int | None
    negotiation_id: int
    round: int
    sender: str
    performative: str
    terms: dict[str, Any]
    fixed_terms_hash: str
    expires_at_round: int | None
    expires_at: str | None
    assumptions: list[Any]
    dependencies: list[Any]
    in_reply_to_id: int | None
    version: int
    rationale: str
    engine_id: str
    utilities: dict[str, float]
    created_at: datetime
    # Not a column: the engine id of the offer this one replies to, resolved to
    # in_reply_to_id when ids are assigned.
    in_reply_to_engine: str | None = None


@dataclass(frozen=True)
class Waiting:
    """An outside seat's turn after the round: whose move, since and until when."""

    party: str
    started_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class CheckRow:
    """One policy check as the round writes it (the columns of negotiator.PolicyCheck)."""

    negotiation_id: int
    offer_id: int | None
    policy_version_id: int
    round: int
    sender: str
    stage: str
    terms: dict[str, Any]
    passed: bool
    severity: str
    message: str
    evidence: dict[str, Any]
    created_at: datetime
    waived_by_id: int | None = None


OFFER_FIELDS = tuple(f.name for f in fields(OfferRow) if f.name != "in_reply_to_engine")
CHECK_FIELDS = tuple(f.name for f in fields(CheckRow))
AUDIT_FIELDS = (
    "chain",
    "negotiation_id",
    "seq",
    "hash_version",
    "kind",
    "actor",
    "user_id",
    "created_at",
    "payload_json",
    "prev_hash",
    "hash",
    "mac",
)


SEAT_MESSAGE_FIELDS = ("participant_id", "message_id", "received_at", "offer_id", "reply")


def uses_pipeline() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class RoundReads:
    """What a round reads before the engine step."""

    policy_version_ids: list[int]
    # PostgreSQL only: the chain head (seq, hash), locked for this transaction,
    # and offer ids reserved from the sequence.
    chain_head: tuple[int, str] | None = None
    offer_ids: list[int] | None = None


def _is_json(model, field: str) -> bool:
    return model._meta.get_field(field).get_internal_type() == "JSONField"


def _insert_sql(model, names: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(f).column) for f in names)
    values = ", ".join("%s::jsonb" if _is_json(model, f) else "%s" for f in names)
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({values})"


@functools.cache
def _json_fields(model, names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(f for f in names if _is_json(model, f))


def _insert_rows(model, names: tuple[str, ...], rows: Iterable[Any]) -> list[list]:
    """Parameters for _insert_sql: JSON fields as JSON text, the rest as they are."""
    json_fields = _json_fields(model, names)
    return [
        [json.dumps(getattr(r, f)) if f in json_fields else getattr(r, f) for f in names]
        for r in rows
    ]


_SQL: dict[str, str] = {}


def _sql(name: str) -> str:
    """Statements built once from the models' metadata."""
    if not _SQL:
        quote = connection.ops.quote_name
        _SQL["offer"] = _insert_sql(Offer, OFFER_FIELDS)
        _SQL["check"] = _insert_sql(PolicyCheck, CHECK_FIELDS)
        _SQL["audit"] = _insert_sql(AuditEvent, AUDIT_FIELDS)
        _SQL["offer_ids"] = (
            f"SELECT nextval(pg_get_serial_sequence('{Offer._meta.db_table}', 'id')) "
            "FROM generate_series(1, %s)"
        )
        _SQL["head"] = (
            f"SELECT seq, hash FROM {quote(AuditEvent._meta.db_table)} WHERE chain = %s "
            "ORDER BY seq DESC LIMIT 1"
        )
        table = quote(Negotiation._meta.db_table)
        columns = ", ".join(quote(f.column) for f in Negotiation._meta.concrete_fields)
        _SQL["claim"] = (
            f"SELECT {columns} FROM {table} WHERE id = %s AND status = %s "
            "AND current_round = %s FOR UPDATE"
        )
        # An outside seat's move claims whatever round is current; its caller
        # checks, under the lock, that the move is due (see round_claim).
        _SQL["claim_current"] = (
            f"SELECT {columns} FROM {table} WHERE id = %s AND status = %s FOR UPDATE"
        )
        _SQL["applicable"] = APPLICABLE_SQL.replace(
            "playbook_id = %s", f"playbook_id = (SELECT playbook_id FROM {table} WHERE id = %s)"
        )
        _SQL["seat_message"] = _insert_sql(SeatMessage, SEAT_MESSAGE_FIELDS)
        _SQL["credential_use"] = (
            f"UPDATE {quote(SeatCredential._meta.db_table)} SET last_used_at = %s, "
            "last_used_from = %s, uses = uses + 1 WHERE id = %s"
        )
        _SQL["key_share"] = f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE"
        _SQL["negotiation"] = (
            f"UPDATE {quote(Negotiation._meta.db_table)} SET engine_state = %s::jsonb, "
            "current_round = %s, last_progress_at = %s, updated_at = %s, waiting_for = %s, "
            "turn_started_at = %s, turn_due_at = %s, turn_reminded_at = NULL WHERE id = %s"
        )
    return _SQL[name]


def _cursor():
    import psycopg

    connection.ensure_connection()
    # Server-side binding (Django's own cursors bind on the client), so the
    # statements are prepared by the server once they have run
    # DATABASE_PREPARE_THRESHOLD times on this connection.
    return psycopg.Cursor(connection.connection)


def _claim_orm(negotiation_id: int, round_number: int | None) -> Negotiation | None:
    at_round = {} if round_number is None else {"current_round": round_number}
    return (
        Negotiation.objects.select_for_update()
        .filter(pk=negotiation_id, status=NegotiationStatus.RUNNING, **at_round)
        .first()
    )


def round_claim(
    negotiation_id: int, round_number: int | None, *, offers_hint: int = 2
) -> tuple[Negotiation, RoundReads] | None:
    """Claim a round by compare-and-set and read what it needs.

    The negotiation row is locked only if it is still running at this round; a
    concurrent duplicate waits for the lock, then matches nothing (None).
    ``round_number`` None claims the running negotiation at whatever round is
    current: for a move whose caller checks under the lock that it is due (an
    outside seat's turn), so the row is read once, locked. On PostgreSQL the
    claim, the policy versions in force, the audit chain's lock and head, and
    ids for ``offers_hint`` offers travel in one round trip; a failed claim
    rolls back with the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("round_claim must run inside transaction.atomic()")
    if not uses_pipeline():
        negotiation = _claim_orm(negotiation_id, round_number)
        if negotiation is None:
            return None
        return negotiation, RoundReads(applicable_version_ids(negotiation))
    chain = chain_of(negotiation_id)
    with connection.wrap_database_errors:
        claim, versions, lock, head, ids = (_cursor() for _ in range(5))
        with connection.connection.pipeline():
            if round_number is None:
                claim.execute(_sql("claim_current"), [negotiation_id, NegotiationStatus.RUNNING])
            else:
                claim.execute(
                    _sql("claim"), [negotiation_id, NegotiationStatus.RUNNING, round_number]
                )
            versions.execute(_sql("applicable"), [negotiation_id, negotiation_id])
            # The lock and the head read stay two statements: a statement's
            # snapshot is taken when it starts, and the head must be read after
            # the lock is granted (see audit._lock_chain_head).
            lock.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [chain_lock_key(chain)])
            head.execute(_sql("head"), [chain])
            ids.execute(_sql("offer_ids"), [max(offers_hint, 1)])
        row = claim.fetchone()
        if row is None:
            return None
        version_ids = [r[0] for r in versions.fetchall()]
        head_row = head.fetchone()
        offer_ids = [r[0] for r in ids.fetchall()]
    negotiation = _negotiation_from_row(row)
    return negotiation, RoundReads(
        policy_version_ids=version_ids,
        chain_head=(head_row[0], head_row[1]) if head_row else None,
        offer_ids=offer_ids,
    )


def applicable_version_ids(negotiation: Negotiation) -> list[int]:
    """Ids of the policy versions in force for a negotiation (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(APPLICABLE_SQL, [negotiation.playbook_id, negotiation.pk])
        return [row[0] for row in cursor.fetchall()]


def _negotiation_from_row(row: Sequence[Any]) -> Negotiation:
    """A model instance from the claim's raw row, converted as the ORM would."""
    return model_from_row(Negotiation, row)


def model_from_row(model, row: Sequence[Any]):
    """A model instance from a raw row of all its concrete columns (in
    ``_meta.concrete_fields`` order, see :func:`columns_of`), converted as the
    ORM would."""
    fields = model._meta.concrete_fields
    values = [
        field.from_db_value(value, None, connection)
        if value is not None and hasattr(field, "from_db_value")
        else value
        for field, value in zip(fields, row, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in fields], values)


def columns_of(model, alias: str) -> str:
    """All of a model's concrete columns, qualified by ``alias``, for model_from_row."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


def _more_offer_ids(count: int) -> list[int]:
    with connection.wrap_database_errors:
        cursor = _cursor()
        cursor.execute(_sql("offer_ids"), [count])
        return [r[0] for r in cursor.fetchall()]


def offer_ids_assign(
    reads: RoundReads, offers: Sequence[OfferRow], *, known: Mapping[str, int]
) -> list[OfferRow]:
    """The offers with their row ids and replies resolved, to an offer of an
    earlier round (``known`` maps their engine ids to row ids) or of this one.

    On PostgreSQL the ids come from the reservation; elsewhere the offers are
    inserted here, one by one, and take the database's ids."""
    known = dict(known)
    out = []
    for index, offer in enumerate(offers):
        offer = replace(offer, in_reply_to_id=known.get(offer.in_reply_to_engine or ""))
        if reads.offer_ids is not None:
            if index >= len(reads.offer_ids):  # more offers than the hint reserved
                reads.offer_ids += _more_offer_ids(len(offers) - len(reads.offer_ids))
            offer = replace(offer, id=reads.offer_ids[index])
        else:
            row = Offer(**{f: getattr(offer, f) for f in OFFER_FIELDS if f != "id"})
            row.save(force_insert=True)
            offer = replace(offer, id=row.pk, created_at=row.created_at)
        known[offer.engine_id] = offer.id
        out.append(offer)
    return out


# The negotiation's columns a round writes.
_ROUND_FIELDS = (
    "engine_state",
    "current_round",
    "last_progress_at",
    "updated_at",
    "waiting_for",
    "turn_started_at",
    "turn_due_at",
    "turn_reminded_at",
)


def checks_insert(checks: Sequence[CheckRow]) -> None:
    """Policy check rows through the ORM (outside the pipelined round write)."""
    PolicyCheck.objects.bulk_create(
        [PolicyCheck(**{f: getattr(c, f) for f in CHECK_FIELDS}) for c in checks]
    )


def round_write(
    negotiation: Negotiation,
    reads: RoundReads,
    *,
    offers: Sequence[OfferRow],
    checks: Sequence[CheckRow],
    audit_entries: Sequence[AuditEntry],
    engine_state: dict[str, Any],
    now,
    waiting: Waiting | None = None,
) -> None:
    """Write the round's rows and the negotiation's new state, including whose
    outside move it now waits for (one round trip on PostgreSQL; the caller's
    transaction commits them)."""
    negotiation.engine_state = engine_state
    negotiation.current_round += 1
    negotiation.last_progress_at = now
    negotiation.updated_at = now
    negotiation.waiting_for = waiting.party if waiting else ""
    negotiation.turn_started_at = waiting.started_at if waiting else None
    negotiation.turn_due_at = waiting.due_at if waiting else None
    negotiation.turn_reminded_at = None
    if not uses_pipeline():
        checks_insert(checks)
        if audit_entries:
            audit_append_many(audit_entries, negotiation=negotiation)
        negotiation.save(update_fields=[*_ROUND_FIELDS])
        return
    chain = chain_of(negotiation)
    events = audit_build(
        audit_entries,
        chain=chain,
        negotiation_id=negotiation.pk,
        head=reads.chain_head,
        created_at=now,
    )
    offer_rows = _insert_rows(Offer, OFFER_FIELDS, offers)
    check_rows = _insert_rows(PolicyCheck, CHECK_FIELDS, checks)
    audit_rows = [[getattr(e, f) for f in AUDIT_FIELDS] for e in events]
    with connection.wrap_database_errors:
        cursor = _cursor()
        with connection.connection.pipeline():
            if offer_rows:
                cursor.executemany(_sql("offer"), offer_rows)
            if check_rows:
                cursor.executemany(_sql("check"), check_rows)
            if audit_rows:
                cursor.executemany(_sql("audit"), audit_rows)
            cursor.execute(
                _sql("negotiation"),
                [
                    json.dumps(engine_state),
                    negotiation.current_round,
                    now,
                    now,
                    negotiation.waiting_for,
                    negotiation.turn_started_at,
                    negotiation.turn_due_at,
                    negotiation.pk,
                ],
            )


@dataclass(frozen=True)
class SeatMessageRow:
    """A seat's message record (the columns of negotiator.SeatMessage)."""

    participant_id: int
    message_id: str
    received_at: datetime
    offer_id: int | None
    reply: dict[str, Any]


def seat_move_records_write(
    *,
    negotiation_id: int,
    message: SeatMessageRow,
    credential_use: tuple[int, str] | None,
    audit_entries: Sequence[AuditEntry],
) -> None:
    """What an outside seat's move writes beside its round, in the caller's
    transaction: its message record (a second one with the same id raises
    IntegrityError), the use of the credential that sent it (``(credential id,
    address)``: counted, its time and address kept) and audit events after the
    round's. On PostgreSQL two round trips: the writes with the chain's row and
    advisory locks and its head (in audit_append_many's order; the round holds
    both already), then the events."""
    if not uses_pipeline():
        SeatMessage.objects.create(**{f: getattr(message, f) for f in SEAT_MESSAGE_FIELDS})
        if credential_use is not None:
            SeatCredential.objects.filter(pk=credential_use[0]).update(
                last_used_at=message.received_at,
                last_used_from=credential_use[1],
                uses=models.F("uses") + 1,
            )
        if audit_entries:
            audit_append_many(audit_entries, negotiation=negotiation_id)
        return
    chain = chain_of(negotiation_id)
    with connection.wrap_database_errors:
        cursor, head = _cursor(), _cursor()
        with connection.connection.pipeline():
            cursor.execute(
                _sql("seat_message"), _insert_rows(SeatMessage, SEAT_MESSAGE_FIELDS, [message])[0]
            )
            if credential_use is not None:
                cursor.execute(
                    _sql("credential_use"),
                    [message.received_at, credential_use[1], credential_use[0]],
                )
            if audit_entries:
                cursor.execute(_sql("key_share"), [negotiation_id])
                cursor.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [chain_lock_key(chain)])
                head.execute(_sql("head"), [chain])
        if not audit_entries:
            return
        row = head.fetchone()
        events = audit_build(
            audit_entries,
            chain=chain,
            negotiation_id=negotiation_id,
            head=(row[0], row[1]) if row else None,
            created_at=message.received_at,
        )
        cursor.executemany(_sql("audit"), [[getattr(e, f) for f in AUDIT_FIELDS] for e in events])
