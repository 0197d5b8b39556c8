"""A negotiation's audit trail as a viewer may see it: payloads with the privacy
rule applied, pages of events and the JSON/CSV export. The JSON export carries
every field of each event's hash, so auditors can verify it offline with
``negotiator/audit_offline.py``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from negotiator import permissions
from negotiator.audit import chain_of, stamp
from negotiator.audit_offline import EXPORT_FORMAT
from negotiator.csv_stream import csv_line_writer
from negotiator.models import AuditEvent, Negotiation, Participant, PolicyCheck
from negotiator.selectors.audit_trail import TrailReport, negotiation_records, trail_verify

AUDIT_PAGE_SIZE = 200


PRIVATE_KEYS = frozenset(
    {"profile", "private_values", "reservation", "reservation_value", "weights", "criteria"}
)


HIDDEN = "[private]"


@dataclass(frozen=True)
class Redactor:
    """Strips what a viewer may not see from audit payloads (and other JSON)."""

    roles: frozenset[str]
    visible: frozenset[str]
    private_checks: frozenset[tuple[int, str, int]] = frozenset()

    @property
    def sees_all(self) -> bool:
        return self.roles <= self.visible

    def allowed(self, role: str | None) -> bool:
        if role in self.roles:
            return role in self.visible
        return self.sees_all

    def payload(self, kind: str, payload: Any) -> Any:
        if self.sees_all:
            return payload
        cleaned = self._walk(payload, None)
        if kind in ("policy.checked", "offer.blocked") and isinstance(cleaned, dict):
            party = cleaned.get("party")
            rnd = cleaned.get("round")
            if not self.allowed(party):
                for check in cleaned.get("checks") or []:
                    if (rnd, party, check.get("policy_id")) in self.private_checks:
                        check["message"] = f"Details are private to the {party}."
        return cleaned

    def _walk(self, value: Any, role: str | None) -> Any:
        if isinstance(value, list):
            return [self._walk(v, role) for v in value]
        if not isinstance(value, dict):
            return value
        own = value.get("role") or value.get("party") or value.get("sender")
        role = own if isinstance(own, str) else role
        allowed = self.allowed(role)
        if value.get("private") is True and not allowed:
            return {"private": True, "hidden": "private to the sending party"}
        out = {}
        for key, item in value.items():
            if key == "utilities" and isinstance(item, dict):
                out[key] = {r: u for r, u in item.items() if self.allowed(r)}
            elif key in PRIVATE_KEYS and not allowed:
                out[key] = HIDDEN
            elif key == "evidence" and isinstance(item, dict) and item.get("private"):
                out[key] = item if allowed else {"hidden": "private to the sending party"}
            else:
                out[key] = self._walk(item, role)
        return out


def redactor_for(negotiation: Negotiation, user) -> Redactor:
    participants = list(
        Participant.objects.filter(negotiation=negotiation).only("role", "owner_group")
    )
    roles = frozenset(p.role for p in participants)
    visible = permissions.visible_roles(user, participants)
    private_checks: frozenset = frozenset()
    if not roles <= visible:
        private_checks = frozenset(
            PolicyCheck.objects.filter(negotiation=negotiation, evidence__private=True)
            .values_list("round", "sender", "policy_version__policy_id")
            .distinct()
        )
    return Redactor(roles=roles, visible=visible, private_checks=private_checks)


def audit_events(negotiation: Negotiation) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(chain=chain_of(negotiation)).order_by("seq")


@dataclass
class AuditRow:
    seq: int
    kind: str
    actor: str
    created_at: datetime
    payload: Any
    hash: str
    prev_hash: str = ""


def audit_rows(events: Iterable[AuditEvent], redactor: Redactor) -> list[AuditRow]:
    return [
        AuditRow(
            seq=e.seq,
            kind=e.kind,
            actor=e.actor,
            created_at=e.created_at,
            payload=redactor.payload(e.kind, e.payload),
            hash=e.hash,
            prev_hash=e.prev_hash,
        )
        for e in events
    ]


def audit_csv_lines(negotiation: Negotiation, redactor: Redactor) -> Iterator[str]:
    """The audit trail as CSV lines (header first), streamed from the database."""
    writer = csv_line_writer()
    yield writer.writerow(["seq", "created_at", "kind", "actor", "payload", "prev_hash", "hash"])
    for e in audit_events(negotiation).iterator(chunk_size=1000):
        yield writer.writerow(
            [
                e.seq,
                e.created_at.isoformat(),
                e.kind,
                e.actor,
                json.dumps(redactor.payload(e.kind, e.payload), sort_keys=True),
                e.prev_hash,
                e.hash,
            ]
        )


def _export_event(event: AuditEvent, redactor: Redactor) -> dict[str, Any]:
    payload = event.payload
    shown = redactor.payload(event.kind, payload)
    return {
        "seq": event.seq,
        "hash_version": event.hash_version,
        "chain": event.chain,
        "negotiation_id": event.negotiation_id,
        "user_id": event.user_id,
        "created_at": stamp(event.created_at),
        "kind": event.kind,
        "actor": event.actor,
        "payload": shown,
        # The exact text the hash covers, unless redaction changed the payload:
        # then this event's hash cannot be recomputed from the export.
        "payload_json": event.payload_json if shown == payload else None,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def audit_document(
    negotiation: Negotiation, redactor: Redactor, trail: TrailReport | None = None
) -> dict[str, Any]:
    """The audit trail as one JSON document: every event with all it takes to
    recompute its hash, the rows it must agree with, and the server's verdict."""
    trail = trail or trail_verify(chain_of(negotiation))
    report = trail.report
    records = negotiation_records(negotiation.pk) or {}
    return {
        "format": EXPORT_FORMAT,
        "negotiation": negotiation.pk,
        "title": str(negotiation),
        "chain": trail.chain,
        "verification": {
            "ok": trail.ok,
            "events": report.events,
            "broken_seq": report.broken_seq,
            "reason": report.reason,
            "problems": trail.problems,
            "warnings": trail.warnings,
            "checkpoint": trail.checkpoint_note,
            "summary": trail.describe(),
        },
        "redacted": not redactor.sees_all,
        "exported_at": timezone.now().isoformat(),
        "records": {
            "agreed_terms": records.get("agreed_terms"),
            "plan": records.get("plan"),
            "offers": records.get("offers", []),
        },
        "events": [
            _export_event(e, redactor) for e in audit_events(negotiation).iterator(chunk_size=1000)
        ],
    }
