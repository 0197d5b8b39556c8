"""The final plan of an agreement (who, what, when, how much) and the deal measures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from negotiator.audit import audit_append
from negotiator.engine import measures
from negotiator.models import Negotiation, NegotiationStatus
from negotiator.selectors.audit_trail import negotiation_trail
from negotiator.services.certificates import plan_part
from negotiator.services.errors import Conflict, ServiceError


def deal_measure(expression: str, terms: Mapping[str, Any]) -> float | None:
    """Evaluate a playbook's value/risk rule: an issue name or a CEL expression."""
    return measures.deal_measure(expression, terms)


def negotiation_plan_build(negotiation: Negotiation) -> dict[str, Any]:
    """The final plan as structured terms: who, what, when, how much. A playbook with
    a plan model adds its lines (who/what/when/how much per line, with dependencies
    and assumptions), the nested plan and the certificate (services.certificates)."""
    spec = negotiation.playbook_version.spec
    units = {i["name"]: i.get("unit", "") for i in spec["issues"]}
    terms = negotiation.agreed_terms or {}
    agreed = negotiation.agreed_offer
    when: dict[str, Any] = {
        "agreed_at": (negotiation.ended_at or timezone.now()).isoformat(),
        "started_at": negotiation.started_at.isoformat() if negotiation.started_at else None,
        "offer_expires_at": agreed.expires_at.isoformat() if agreed and agreed.expires_at else None,
        "offer_expires_at_round": agreed.expires_at_round if agreed else None,
    }
    timing = {
        name: {"value": value, "unit": units.get(name, "")}
        for name, value in terms.items()
        if units.get(name) in {"days", "weeks", "months", "hours", "date"}
        or any(w in name for w in ("date", "days", "delivery", "term", "window", "flight"))
    }
    if timing:
        when["schedule"] = timing
    return {
        "negotiation": negotiation.pk,
        "title": negotiation.title,
        "playbook": {"name": spec["name"], "version": negotiation.playbook_version.number},
        "who": [
            {"role": p.role, "label": p.label, "strategy": p.strategy}
            for p in negotiation.participants.all()
        ],
        "what": {
            "terms": {
                name: {"value": value, "unit": units.get(name, "")} for name, value in terms.items()
            },
            "fixed_terms": spec.get("fixed_terms", {}),
            "assumptions": agreed.assumptions if agreed else [],
            "dependencies": agreed.dependencies if agreed else [],
        },
        "when": when,
        "how_much": {
            "deal_value": negotiation.deal_value,
            "currency": spec.get("currency", "USD"),
            "deal_risk": negotiation.deal_risk,
        },
        "status": negotiation.status,
    } | plan_part(negotiation, terms)


def negotiation_plan_record(*, negotiation: Negotiation) -> dict[str, Any]:
    plan = negotiation_plan_build(negotiation)
    negotiation.plan = plan
    negotiation.save(update_fields=["plan", "updated_at"])
    audit_append(
        negotiation=negotiation, kind="negotiation.plan_recorded", actor="system", payload=plan
    )
    return plan


def plan_export(*, negotiation: Negotiation) -> dict[str, Any]:
    """The final plan for export; refuses negotiations that are not approved."""
    if negotiation.status != NegotiationStatus.APPROVED or not negotiation.plan:
        raise ServiceError(
            f"Negotiation #{negotiation.pk} is {negotiation.get_status_display().lower()}; "
            "only approved negotiations have a final plan."
        )
    # A plan is exported only while it agrees with the trail that recorded it.
    trail = negotiation_trail(negotiation)
    if not trail.ok:
        raise Conflict(
            f"The final plan of negotiation #{negotiation.pk} does not verify against its "
            f"audit trail ({'; '.join(trail.problems[:3])}); it is not exported. "
            f"Run `manage.py verify_audit --negotiation {negotiation.pk}` and tell an administrator."
        )
    return negotiation.plan
