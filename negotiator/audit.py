"""The tamper-evident audit trail: append to a hash chain, and verify chains.

hash = sha256(prev_hash + canonical JSON of the event). One chain per
negotiation (``negotiation:<id>``) and one ``global`` chain for configuration
changes. Appends to one chain are serialised (an advisory lock on PostgreSQL;
SQLite serialises all writers), so concurrent writers cannot fork a chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from negotiator.models import AuditEvent, Negotiation

GENESIS = "0" * 64
GLOBAL_CHAIN = "global"


@dataclass(frozen=True)
class AuditEntry:
    """One event to append: what happened (kind), who did it (actor, and the user
    when a person acted) and its details (payload, stored as canonical JSON)."""

    kind: str
    actor: str
    payload: dict[str, Any] | None = None
    user: Any = None


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_of(negotiation: Negotiation | int | None) -> str:
    if negotiation is None:
        return GLOBAL_CHAIN
    pk = negotiation if isinstance(negotiation, int) else negotiation.pk
    return f"negotiation:{pk}"


def event_digest(
    *,
    prev_hash: str,
    chain: str,
    seq: int,
    kind: str,
    actor: str,
    created_at: str,
    payload_json: str,
) -> str:
    body = canonical_json(
        {
            "chain": chain,
            "seq": seq,
            "kind": kind,
            "actor": actor,
            "created_at": created_at,
            "payload": payload_json,
        }
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


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
    head = _lock_chain_head(chain)
    negotiation_id = (
        negotiation if isinstance(negotiation, int) else getattr(negotiation, "pk", None)
    )
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
    stamp = created_at.astimezone(UTC).isoformat()
    rows = []
    for entry in entries:
        seq += 1
        payload_json = canonical_json(entry.payload or {})
        digest = event_digest(
            prev_hash=prev_hash,
            chain=chain,
            seq=seq,
            kind=entry.kind,
            actor=entry.actor,
            created_at=stamp,
            payload_json=payload_json,
        )
        user = entry.user
        rows.append(
            AuditEvent(
                chain=chain,
                negotiation_id=negotiation_id,
                seq=seq,
                kind=entry.kind,
                actor=entry.actor,
                user=user if getattr(user, "pk", None) else None,
                created_at=created_at,
                payload_json=payload_json,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    return rows


@dataclass(frozen=True)
class ChainReport:
    chain: str
    events: int
    ok: bool
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"{self.chain}: {self.events} events, verified"
        return (
            f"{self.chain}: broken at event #{self.broken_seq} (id {self.broken_id}): {self.reason}"
        )


def verify_events(chain: str, events: Iterable[AuditEvent]) -> ChainReport:
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    for event in events:
        count += 1
        if event.seq != expected_seq:
            return ChainReport(
                chain, count, False, event.seq, event.pk, f"expected sequence {expected_seq}"
            )
        if event.prev_hash != prev_hash:
            return ChainReport(
                chain, count, False, event.seq, event.pk, "previous hash does not match"
            )
        digest = event_digest(
            prev_hash=prev_hash,
            chain=chain,
            seq=event.seq,
            kind=event.kind,
            actor=event.actor,
            created_at=event.created_at.astimezone(UTC).isoformat(),
            payload_json=event.payload_json,
        )
        if digest != event.hash:
            return ChainReport(
                chain, count, False, event.seq, event.pk, "content does not match its hash"
            )
        prev_hash = event.hash
        expected_seq += 1
    return ChainReport(chain, count, True)


def audit_verify_chain(chain: str) -> ChainReport:
    events = AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000)
    return verify_events(chain, events)


def audit_verify_all(negotiation_id: int | None = None) -> list[ChainReport]:
    if negotiation_id is not None:
        return [audit_verify_chain(chain_of(negotiation_id))]
    chains = AuditEvent.objects.values_list("chain", flat=True).distinct().order_by("chain")
    return [audit_verify_chain(chain) for chain in chains]
