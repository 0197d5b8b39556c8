"""The tamper-evident audit trail: append to a hash chain, and verify chains.

hash = sha256(prev_hash + canonical JSON of the event). One chain per
negotiation (``negotiation:<id>``) and one ``global`` chain for configuration
changes. Appends to one chain are serialised (an advisory lock on PostgreSQL;
SQLite serialises all writers), so concurrent writers cannot fork a chain.

The recipe (which fields, hash versions 1 and 2) is defined once, in the
standard-library module ``negotiator.audit_offline`` that auditors run. With a
checkpoint key configured (``negotiator.audit_key``) each event also carries an
authentication code, which someone with database access but without the key
cannot make; signed checkpoints (``negotiator.services.checkpoints``) catch a
chain cut short or rewritten with recomputed hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from negotiator.audit_key import checkpoint_key
from negotiator.audit_offline import (
    GENESIS,
    GLOBAL_CHAIN,
    HASH_VERSION,
    ChainReport,
    EventRecord,
    canonical_json,
    chain_name,
    event_digest,
    event_mac,
    verify_events,
)
from negotiator.models import AuditEvent, Negotiation

__all__ = [
    "GENESIS",
    "GLOBAL_CHAIN",
    "AuditEntry",
    "ChainReport",
    "audit_append",
    "audit_append_many",
    "audit_build",
    "audit_verify_all",
    "audit_verify_chain",
    "canonical_json",
    "chain_of",
    "event_record",
    "stamp",
]


@dataclass(frozen=True)
class AuditEntry:
    """One event to append: what happened (kind), who did it (actor, and the user
    when a person acted) and its details (payload, stored as canonical JSON)."""

    kind: str
    actor: str
    payload: dict[str, Any] | None = None
    user: Any = None


def chain_of(negotiation: Negotiation | int | None) -> str:
    if negotiation is None:
        return GLOBAL_CHAIN
    return chain_name(negotiation if isinstance(negotiation, int) else negotiation.pk)


def stamp(moment: datetime) -> str:
    """An event's time as it is hashed (UTC, ISO 8601)."""
    return moment.astimezone(UTC).isoformat()


def chain_lock_key(chain: str) -> int:
    """A signed 64-bit advisory-lock key from the chain name (a collision only
    serialises more)."""
    return int.from_bytes(hashlib.blake2b(chain.encode(), digest_size=8).digest(), "big") - 2**63


def _lock_chain_head(chain: str) -> tuple[int, str]:
    """Lock the chain for this transaction and return its head (seq, hash)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Two statements on purpose: a statement's snapshot is taken when it
            # starts, so reading the head in the locking statement would see the
            # chain as it was before the lock was granted, and fork it.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [chain_lock_key(chain)])
            cursor.execute(
                "SELECT seq, hash FROM negotiator_auditevent WHERE chain = %s "
                "ORDER BY seq DESC LIMIT 1",
                [chain],
            )
            row = cursor.fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)
    # SQLite serialises writers (IMMEDIATE transactions): a plain read suffices.
    last = AuditEvent.objects.filter(chain=chain).order_by("-seq").values("seq", "hash").first()
    return (last["seq"], last["hash"]) if last else (0, GENESIS)


def audit_append(
    *,
    kind: str,
    actor: str,
    payload: dict[str, Any] | None = None,
    negotiation: Negotiation | int | None = None,
    user=None,
) -> AuditEvent:
    """Append one event to its chain. Must run inside the caller's transaction."""
    return audit_append_many(
        [AuditEntry(kind=kind, actor=actor, payload=payload, user=user)], negotiation=negotiation
    )[0]


def audit_append_many(
    entries: Sequence[AuditEntry], *, negotiation: Negotiation | int | None = None
) -> list[AuditEvent]:
    """Append events to one chain in order, with one lock and one insert. Must run
    inside a transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_append must run inside transaction.atomic()")
    chain = chain_of(negotiation)
    negotiation_id = (
        negotiation if isinstance(negotiation, int) else getattr(negotiation, "pk", None)
    )
    if negotiation_id is not None and connection.vendor == "postgresql":
        # Lock order: the negotiation's row, then its chain — as a round takes
        # them. Inserting an event checks its foreign key (a key-share lock on the
        # row); taken after the chain lock it would deadlock with a round that
        # holds the row and waits for the chain.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM negotiator_negotiation WHERE id = %s FOR KEY SHARE",
                [negotiation_id],
            )
    head = _lock_chain_head(chain)
    rows = audit_build(
        entries, chain=chain, negotiation_id=negotiation_id, head=head, created_at=timezone.now()
    )
    return AuditEvent.objects.bulk_create(rows)


def audit_build(
    entries: Sequence[AuditEntry],
    *,
    chain: str,
    negotiation_id: int | None,
    head: tuple[int, str] | None,
    created_at,
) -> list[AuditEvent]:
    """Unsaved events that continue the chain from ``head`` (seq, hash), which the
    caller has read under the chain's lock (None: the chain is empty)."""
    seq, prev_hash = head or (0, GENESIS)
    created = stamp(created_at)
    key = checkpoint_key()
    rows = []
    for entry in entries:
        seq += 1
        payload_json = canonical_json(entry.payload or {})
        user = entry.user
        user_id = user.pk if getattr(user, "pk", None) else None
        digest = event_digest(
            version=HASH_VERSION,
            prev_hash=prev_hash,
            chain=chain,
            seq=seq,
            negotiation_id=negotiation_id,
            user_id=user_id,
            kind=entry.kind,
            actor=entry.actor,
            created_at=created,
            payload_json=payload_json,
        )
        rows.append(
            AuditEvent(
                chain=chain,
                negotiation_id=negotiation_id,
                seq=seq,
                hash_version=HASH_VERSION,
                kind=entry.kind,
                actor=entry.actor,
                user_id=user_id,
                created_at=created_at,
                payload_json=payload_json,
                prev_hash=prev_hash,
                hash=digest,
                mac=event_mac(key.mac_key, digest) if key else "",
            )
        )
        prev_hash = digest
    return rows


def event_record(event: AuditEvent) -> EventRecord:
    """A stored event as the verifier (negotiator.audit_offline) reads it."""
    return EventRecord(
        seq=event.seq,
        hash_version=event.hash_version,
        chain=event.chain,
        negotiation_id=event.negotiation_id,
        user_id=event.user_id,
        kind=event.kind,
        actor=event.actor,
        created_at=stamp(event.created_at),
        payload_json=event.payload_json,
        prev_hash=event.prev_hash,
        hash=event.hash,
        id=event.pk,
        mac=event.mac,
    )


def audit_verify_chain(chain: str, *, at_seq: int | None = None) -> ChainReport:
    """Recompute one chain's hashes from its first event (``at_seq``: also report
    the hash of the event at that seq, a checkpoint's head)."""
    events = AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000)
    return verify_events(chain, (event_record(e) for e in events), at_seq=at_seq)


def audit_verify_all(negotiation_id: int | None = None) -> list[ChainReport]:
    if negotiation_id is not None:
        return [audit_verify_chain(chain_of(negotiation_id))]
    chains = AuditEvent.objects.values_list("chain", flat=True).distinct().order_by("chain")
    return [audit_verify_chain(chain) for chain in chains]
