"""The audit page's filters: by kind, actor and round, and a search over what the
reader may see (a private value hidden from them never matches a search)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.db.models import JSONField, QuerySet
from django.db.models.functions import Cast

from negotiator.models import AuditEvent, Negotiation
from negotiator.selectors.audit import AuditRow, Redactor, audit_events, audit_rows

MAX_QUERY = 100


@dataclass(frozen=True)
class AuditFilters:
    kind: str = ""
    actor: str = ""
    round: int | None = None
    q: str = ""

    @property
    def active(self) -> bool:
        return bool(self.kind or self.actor or self.round is not None or self.q)

    def query(self) -> dict[str, str]:
        """The filters as URL parameters (for pagination links)."""
        out = {"kind": self.kind, "actor": self.actor, "q": self.q}
        if self.round is not None:
            out["round"] = str(self.round)
        return {k: v for k, v in out.items() if v}


def audit_filters_from(params) -> AuditFilters:
    """Lenient: a round that is not a number is ignored rather than failing the page."""
    raw_round = (params.get("round") or "").strip()
    return AuditFilters(
        kind=(params.get("kind") or "").strip()[:60],
        actor=(params.get("actor") or "").strip()[:150],
        round=int(raw_round) if raw_round.isdigit() and len(raw_round) < 7 else None,
        q=(params.get("q") or "").strip()[:MAX_QUERY],
    )


def audit_choices(negotiation: Negotiation) -> dict[str, list[str]]:
    events = audit_events(negotiation).order_by()
    return {
        "kinds": list(events.values_list("kind", flat=True).distinct().order_by("kind")),
        "actors": list(events.values_list("actor", flat=True).distinct().order_by("actor")),
    }


def _in_round(events: QuerySet[AuditEvent], number: int) -> QuerySet[AuditEvent]:
    # Payloads are stored as canonical JSON text (the hash covers those bytes); the
    # database reads them as JSON to compare the top-level "round".
    return events.annotate(doc=Cast("payload_json", JSONField())).filter(doc__round=number)


def audit_filtered(
    negotiation: Negotiation, filters: AuditFilters, redactor: Redactor
) -> list[AuditRow] | QuerySet[AuditEvent]:
    """The chain's events under the filters: a queryset while no search is given
    (the page paginates it in the database), else the matching redacted rows."""
    events = audit_events(negotiation)
    if filters.kind:
        events = events.filter(kind=filters.kind)
    if filters.actor:
        events = events.filter(actor=filters.actor)
    if filters.round is not None:
        events = _in_round(events, filters.round)
    if not filters.q:
        return events
    needle = re.compile(re.escape(filters.q), re.IGNORECASE)
    return [
        row
        for row in audit_rows(events, redactor)
        if needle.search(" ".join([row.kind, row.actor, json.dumps(row.payload)]))
    ]
