"""Coalition and constraint metrics per playbook, for the outcomes page and reports:
feasible-plan rate, cycle time, consensus time and exception rate.

``coalition_metrics(playbook=..., since=None)`` reads only rows and audit events
that already exist; it is cheap enough to call on every page view (three
queries). Definitions:

* feasible-plan rate — of the negotiations that reached an agreement, the share
  whose agreed plan holds a valid certificate (solver status and independent
  re-check both passed);
* cycle time — started to the end of negotiating (ended, or its last progress once
  it left running: agreed and waiting for approval, escalated), in seconds;
* consensus time — started to the round that reached consensus, over agreements
  (seconds; and the consensus round: mean);
* exception rate — escalations per negotiation (status changes to ``escalated``
  in the audit trail, so a negotiation escalated twice counts twice); plus the
  negotiations whose start the solver refused (``infeasible_starts``).
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from negotiator.models import AuditEvent, Negotiation, NegotiationStatus, Playbook


def _seconds(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None}
    return {
        "mean": round(statistics.fmean(values), 3),
        "median": round(statistics.median(values), 3),
    }


def coalition_metrics(*, playbook: Playbook | int, since: datetime | None = None) -> dict[str, Any]:
    """The four metrics for one playbook's negotiations created since ``since``."""
    playbook_id = playbook if isinstance(playbook, int) else playbook.pk
    rows = Negotiation.objects.filter(playbook_id=playbook_id)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    negotiations = list(
        rows.values(
            "id",
            "started_at",
            "ended_at",
            "last_progress_at",
            "agreed_terms",
            "engine_state",
            "status",
        )
    )
    ids = [n["id"] for n in negotiations]
    events = AuditEvent.objects.filter(
        negotiation_id__in=ids, kind__in=("negotiation.status_changed", "plan.infeasible")
    ).values_list("negotiation_id", "kind", "payload_json")
    escalations = sum(
        1
        for _, kind, payload in events
        if kind != "plan.infeasible" and '"to":"escalated"' in (payload or "")
    )
    infeasible = len({nid for nid, kind, _ in events if kind == "plan.infeasible"})
    agreed = [n for n in negotiations if n["agreed_terms"]]
    certified = [
        n for n in agreed if ((n["engine_state"] or {}).get("certificate") or {}).get("valid")
    ]
    cycle = [
        (end - n["started_at"]).total_seconds()
        for n in negotiations
        if n["started_at"] and (end := _negotiating_ended(n))
    ]
    consensus_rounds = [
        (n["engine_state"] or {}).get("mediation", {}).get("round")
        for n in agreed
        if (n["engine_state"] or {}).get("mediation")
    ]
    consensus = _consensus_seconds(agreed)
    count = len(negotiations)
    return {
        "playbook": playbook_id,
        "negotiations": count,
        "agreements": len(agreed),
        "feasible_plan_rate": round(len(certified) / len(agreed), 4) if agreed else None,
        "cycle_time_seconds": _seconds(cycle),
        "consensus_time_seconds": _seconds(consensus),
        "mean_consensus_rounds": (
            round(statistics.fmean(consensus_rounds), 2) if consensus_rounds else None
        ),
        "exception_rate": round(escalations / count, 4) if count else None,
        "escalations": escalations,
        "infeasible_starts": infeasible,
    }


def _negotiating_ended(row: dict[str, Any]) -> datetime | None:
    if row["ended_at"]:
        return row["ended_at"]
    if row["status"] in (NegotiationStatus.RUNNING, NegotiationStatus.DRAFT):
        return None
    return row["last_progress_at"]


def _consensus_seconds(agreed: list[dict[str, Any]]) -> list[float]:
    """Started → the certificate's issue time (the round that reached consensus)."""
    out = []
    for n in agreed:
        issued = ((n["engine_state"] or {}).get("certificate") or {}).get("issued_at")
        if issued and n["started_at"]:
            out.append((datetime.fromisoformat(issued) - n["started_at"]).total_seconds())
    return out
