"""Verifying an audit trail end to end: its hash chain, the authentication code
of each event, the latest signed checkpoint, and the rows that must agree with
what the trail recorded (agreed terms, the final plan, every offer). What
``verify_audit``, the audit page, its export and ``plan.json`` rely on.

The recipes themselves (hashes, checkpoints, comparing rows with events) are
defined once in ``negotiator.audit_offline``, which auditors also run.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from negotiator.audit import chain_of, event_record
from negotiator.audit_key import checkpoint_key
from negotiator.audit_offline import (
    ChainReport,
    EventRecord,
    chain_against_head,
    event_mac,
    records_problems,
    verify_events,
)
from negotiator.models import AuditEvent, Negotiation, Offer
from negotiator.selectors.checkpoints import CheckpointStatus, checkpoint_status


@dataclass
class TrailReport:
    """One chain's verification. ``problems`` are tampering (or a broken
    checkpoint); ``warnings`` say what could not be checked."""

    chain: str
    report: ChainReport
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checkpoint_note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.ok:
            return f"{self.chain}: {self.report.events} events, verified"
        return f"{self.chain}: " + "; ".join(self.problems)


@contextmanager
def read_snapshot() -> Iterator[None]:
    """One consistent view of the events and the rows, so a round committing
    between two reads cannot look like an offer without its event."""
    if connection.in_atomic_block or connection.vendor != "postgresql":
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _negotiation_id(chain: str) -> int | None:
    prefix, _, rest = chain.partition(":")
    return int(rest) if prefix == "negotiation" and rest.isdigit() else None


def negotiation_records(negotiation_id: int) -> dict[str, Any] | None:
    """The rows the trail must agree with (None: the negotiation row is gone)."""
    row = Negotiation.objects.filter(pk=negotiation_id).values("agreed_terms", "plan").first()
    if row is None:
        return None
    offers = Offer.objects.filter(negotiation_id=negotiation_id).order_by("id")
    return {
        **row,
        "offers": list(offers.values("id", "round", "sender", "performative", "terms")),
    }


def mac_faults(events: list[EventRecord], mac_key: bytes, covered: int) -> tuple[list, list]:
    """Seqs of events whose authentication code does not match, and of events
    newer than ``covered`` (a checkpoint's head) that carry none."""
    bad, missing = [], []
    for event in events:
        if event.mac:
            if not hmac.compare_digest(event.mac, event_mac(mac_key, event.hash)):
                bad.append(event.seq)
        elif event.seq > covered:
            missing.append(event.seq)
    return bad, missing


def _mac_problems(
    events: list[EventRecord], status: CheckpointStatus, head: dict | None
) -> tuple[list[str], list[str]]:
    """Events newer than the checkpoint must carry a valid code; so must any
    event that carries one. Without any checkpoint an event without a code may
    predate the key, which is a warning (the first checkpoint adopts them)."""
    key = checkpoint_key()
    if key is None:
        return [], []
    bad, missing = mac_faults(events, key.mac_key, head["seq"] if head else 0)
    problems = [
        f"event #{seq}: its authentication code does not match (written without the key)"
        for seq in bad[:5]
    ]
    if missing and status.latest is not None:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        problems.append(
            f"event #{missing[0]}{more}: no authentication code, and newer than "
            f"{status.label} (appended without the key)"
        )
    warnings = []
    if missing and status.latest is None:
        warnings.append(
            f"{len(missing)} events carry no authentication code (written before the key)"
        )
    return problems, warnings


def trail_verify(chain: str, *, status: CheckpointStatus | None = None) -> TrailReport:
    """Verify one chain (``negotiation:<id>`` or ``global``) against the latest
    checkpoint and, for a negotiation, its rows."""
    # The checkpoint is read before the database: one written after the
    # snapshot would make the chain look cut short.
    status = status if status is not None else checkpoint_status()
    head = status.head(chain)
    negotiation_id = _negotiation_id(chain)
    with read_snapshot():
        stored = list(AuditEvent.objects.filter(chain=chain).order_by("seq"))
        records = negotiation_records(negotiation_id) if negotiation_id is not None else None
    events = [event_record(e) for e in stored]
    report = verify_events(chain, events, at_seq=head["seq"] if head else None)
    trail = TrailReport(chain, report, problems=list(status.problems))
    if not report.ok:
        trail.problems.append(report.describe().split(": ", 1)[1])
    against = chain_against_head(report, head, status.label)
    if against:
        trail.problems.append(against)
    elif head:
        trail.checkpoint_note = (
            f"{status.label} ({status.latest.created_at}) recorded {head['events']} events; "
            f"event #{head['seq']} matches it"
        )
    problems, warnings = _mac_problems(events, status, head)
    trail.problems += problems
    trail.warnings += warnings
    if negotiation_id is not None:
        trail.problems += _records_problems(negotiation_id, stored, records)
    if status.warning:
        trail.warnings.insert(0, status.warning)
    return trail


def _records_problems(
    negotiation_id: int, stored: list[AuditEvent], records: dict[str, Any] | None
) -> list[str]:
    if records is None:
        return (
            [f"negotiation {negotiation_id} no longer exists, but its events do"] if stored else []
        )
    if not stored:
        return [f"negotiation {negotiation_id} has no audit events"]
    payloads = [(e.seq, e.kind, e.actor, json.loads(e.payload_json)) for e in stored]
    return records_problems(payloads, records)


def negotiation_trail(negotiation: Negotiation) -> TrailReport:
    return trail_verify(chain_of(negotiation))


def trails_verify_all() -> tuple[CheckpointStatus, list[TrailReport]]:
    """Every chain there is, was at the latest checkpoint, or should be (one per
    negotiation), verified against one reading of the checkpoints."""
    status = checkpoint_status()
    chains = set(AuditEvent.objects.values_list("chain", flat=True).distinct())
    chains |= {chain_of(pk) for pk in Negotiation.objects.values_list("pk", flat=True)}
    if status.latest:
        chains |= set(status.latest.heads)
    return status, [trail_verify(chain, status=status) for chain in sorted(chains)]
