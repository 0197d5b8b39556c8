"""Proofs about a negotiation's plan: the feasibility proof before it starts (or the
minimal conflict set that refuses the start), the certificate of the agreed plan,
and later facts that confirm or break the plan's assumptions — each in the audit
trail."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.utils import timezone

from negotiator.audit import audit_append
from negotiator.engine.constraints import certify, prove_feasible
from negotiator.engine.plan_model import (
    PlanModel,
    assumptions_of,
    has_plan_model,
    plan_lines,
    plan_model_from_spec,
)
from negotiator.engine.structured import plan_view
from negotiator.models import Negotiation, PlaybookVersion
from negotiator.services.errors import ServiceError
from negotiator.services.roles import actor_of


@lru_cache(maxsize=32)
def _model(version_id: int, digest: str) -> PlanModel:
    spec = PlaybookVersion.objects.get(pk=version_id).spec
    return plan_model_from_spec(spec)


def plan_model_of(negotiation: Negotiation) -> PlanModel | None:
    """The plan model of the negotiation's playbook version (read once per version)."""
    version = negotiation.playbook_version
    if not has_plan_model(version.spec):
        return None
    return _model(version.pk, version.digest)


@lru_cache(maxsize=32)
def _feasibility(version_id: int, digest: str) -> dict[str, Any]:
    return prove_feasible(_model(version_id, digest).system).to_dict()


def plan_feasibility_record(*, negotiation: Negotiation, user=None) -> bool:
    """Before the start: prove the plan space feasible, or record the minimal set of
    conflicting constraints. The report goes on the negotiation and into its audit
    chain either way; False means the start is refused. Runs in the caller's
    transaction with the row locked."""
    version = negotiation.playbook_version
    report = _feasibility(version.pk, version.digest)
    negotiation.engine_state = {**(negotiation.engine_state or {}), "feasibility": report}
    negotiation.save(update_fields=["engine_state", "updated_at"])
    kind = "plan.feasible" if report["feasible"] else "plan.infeasible"
    payload = {k: report[k] for k in ("feasible", "status", "solver", "conflict")}
    audit_append(
        negotiation=negotiation, kind=kind, actor=actor_of(user), user=user, payload=payload
    )
    return bool(report["feasible"])


def plan_certificate_issue(*, negotiation: Negotiation, terms: Mapping[str, Any]) -> dict:
    """Certify an agreed plan (solver status with the plan fixed, plus the independent
    plain-Python re-check of every constraint) and append it to the audit trail."""
    model = plan_model_of(negotiation)
    if model is None:
        raise ServiceError(f"Negotiation #{negotiation.pk} has no plan model to certify.")
    certificate = certify(model.system, terms)
    certificate["issued_at"] = timezone.now().isoformat()
    negotiation.engine_state = {**(negotiation.engine_state or {}), "certificate": certificate}
    negotiation.save(update_fields=["engine_state", "updated_at"])
    audit_append(
        negotiation=negotiation,
        kind="plan.certificate_issued" if certificate["valid"] else "plan.certificate_refused",
        actor="system",
        payload=certificate,
    )
    return certificate


def plan_part(negotiation: Negotiation, terms: Mapping[str, Any]) -> dict[str, Any]:
    """The structured part of a final plan: lines (who, what, when, how much, with
    dependencies and assumptions), the nested plan view and the certificate."""
    model = plan_model_of(negotiation)
    if model is None or not terms:
        return {}
    facts = (negotiation.engine_state or {}).get("facts", {})
    assumptions = assumptions_of(model, terms, facts)
    lines = plan_lines(model, terms)
    for line in lines:
        line["assumptions"] = [a for a in assumptions if a["line"] == line["id"]]
    return {
        "lines": lines,
        "plan": plan_view(terms, model.structured),
        "assumptions": assumptions,
        "certificate": (negotiation.engine_state or {}).get("certificate"),
    }


def plan_fact_record(
    *, negotiation: Negotiation, facts: Mapping[str, Any], user=None
) -> list[dict[str, Any]]:
    """Record later facts (e.g. ``creative_delivered_week.video = 6``) and re-check the
    plan's assumptions; every assumption the facts break is flagged in the audit
    trail. Returns the assumptions with their new status."""
    clean = {}
    for key, value in facts.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ServiceError(f"The fact {key!r} must be a number, got {value!r}.")
        clean[str(key)[:120]] = value
    with transaction.atomic():
        negotiation = Negotiation.objects.select_for_update().get(pk=negotiation.pk)
        model = plan_model_of(negotiation)
        if model is None or not negotiation.agreed_terms:
            raise ServiceError(f"Negotiation #{negotiation.pk} has no agreed plan to check.")
        # per line ("creative_delivered_week.video") or for every line of a window
        names = {a["fact"] for a in assumptions_of(model, negotiation.agreed_terms) if "fact" in a}
        names |= {a["fact"] for a in model.assumptions if a["kind"] == "fact"}
        unknown = sorted(set(clean) - names)
        if unknown:
            raise ServiceError(
                f"No assumption of this plan reads the fact {unknown[0]!r}; "
                f"known: {', '.join(sorted(names)) or 'none'}."
            )
        state = negotiation.engine_state or {}
        known = {**state.get("facts", {}), **clean}
        negotiation.engine_state = {**state, "facts": known}
        negotiation.save(update_fields=["engine_state", "updated_at"])
        checked = assumptions_of(model, negotiation.agreed_terms, known)
        broken = [a for a in checked if a["status"] == "broken"]
        audit_append(
            negotiation=negotiation,
            kind="plan.assumption_broken" if broken else "plan.facts_recorded",
            actor=actor_of(user),
            user=user,
            payload={"facts": clean, "broken": broken},
        )
    return checked
