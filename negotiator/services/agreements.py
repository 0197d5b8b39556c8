"""What happens when the parties agree: the agreement is recorded on the
negotiation and in its audit chain, then it passes the approval gate, which the
approvals app provides (negotiator.agreement_hooks). Without a gate the deal
waits for a person; it is never approved by default."""

from __future__ import annotations

from negotiator import agreement_hooks
from negotiator.audit import audit_append
from negotiator.engine.protocol import NegotiationState
from negotiator.models import Negotiation, NegotiationStatus, Offer
from negotiator.services.lifecycle import negotiation_transition
from negotiator.services.plans import deal_measure, negotiation_plan_record


def _agreed_offer(negotiation: Negotiation, terms: dict) -> Offer | None:
    """The offer the parties accepted (the latest one with these terms)."""
    return (
        Offer.objects.filter(negotiation=negotiation, terms=terms)
        .exclude(performative="accept")
        .order_by("-id")
        .first()
    )


def agreement_record(*, negotiation: Negotiation, state: NegotiationState) -> None:
    """Record the agreed terms, their value and risk, and the audit event; then
    send the agreement through the approval gate. Runs in the round's transaction
    with the negotiation row locked."""
    agreed_terms = dict(state.agreement or {})
    spec = negotiation.playbook_version.spec
    negotiation.agreed_terms = agreed_terms
    negotiation.agreed_offer = _agreed_offer(negotiation, agreed_terms)
    negotiation.deal_value = deal_measure(spec.get("value_expression", ""), agreed_terms)
    negotiation.deal_risk = deal_measure(spec.get("risk_expression", ""), agreed_terms)
    negotiation.save(
        update_fields=["agreed_terms", "agreed_offer", "deal_value", "deal_risk", "updated_at"]
    )
    audit_append(
        negotiation=negotiation,
        kind="negotiation.agreed",
        actor="system",
        payload={
            "terms": agreed_terms,
            "fixed_terms": spec.get("fixed_terms", {}),
            "deal_value": negotiation.deal_value,
            "deal_risk": negotiation.deal_risk,
            "reason": state.reason,
        },
    )
    agreement_gate_pass(negotiation=negotiation)


def agreement_gate_pass(*, negotiation: Negotiation) -> None:
    """Every agreement passes here. The gate decides who decides: a request for a
    person, an explicit automatic approval (the audit trail names the route), or,
    when nothing takes the deal, an escalation to a person. Nothing is approved
    by default."""
    gate = agreement_hooks.gate()
    verdict = gate.route_agreement(negotiation=negotiation) if gate is not None else None
    if verdict is not None and verdict.outcome == "pending":
        return
    if verdict is not None and verdict.outcome == "approved":
        negotiation_transition(
            negotiation=negotiation,
            to=NegotiationStatus.APPROVED,
            actor="system",
            reason=verdict.reason,
            extra={"rule": verdict.rule, "route": verdict.route},
        )
        negotiation_plan_record(negotiation=negotiation)
        return
    negotiation_transition(
        negotiation=negotiation,
        to=NegotiationStatus.ESCALATED,
        actor="system",
        reason=(
            verdict.reason
            if verdict is not None and verdict.reason
            else "no approval gate is installed: a person decides this agreement"
        ),
        extra={"rule": verdict.rule if verdict is not None else "no-approval-gate"},
    )
