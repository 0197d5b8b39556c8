"""The award: who wins under the tender's rules, the screens, and the approval
gate. An award is automatic only when the best bid passes every policy and no
screen flags with severity escalate or block; otherwise it waits for a person,
who sees the flags with their evidence (a failed check in the award negotiation).

The award goes through the same gate as a negotiated agreement
(negotiator.services.agreements.agreement_gate_pass), so it fails closed the same
way: nothing is approved unless a route explicitly allows it.
"""

from __future__ import annotations

from typing import Any

from negotiator.audit import audit_append
from negotiator.engine.auctions import Award, award_decide
from negotiator.engine.policies import fixed_terms_digest
from negotiator.engine.screens import TenderScreening
from negotiator.models import (
    CheckStage,
    NegotiationStatus,
    Offer,
    Policy,
    PolicyCategory,
    PolicyCheck,
    PolicyKindChoice,
    PolicyScope,
    Severity,
)
from negotiator.services.agreements import agreement_gate_pass
from negotiator.services.lifecycle import negotiation_transition
from negotiator.services.policies import policy_save
from tenders.models import Tender, TenderStatus
from tenders.services.context import RoundInputs, round_inputs
from tenders.services.lifecycle import tender_audit, tender_transition
from tenders.services.screening import tender_screening

SCREENS_POLICY = "Bid-rigging screens"
_FROM_NEGOTIATION = {
    NegotiationStatus.PENDING_APPROVAL: TenderStatus.PENDING_APPROVAL,
    NegotiationStatus.APPROVED: TenderStatus.AWARDED,
    NegotiationStatus.ESCALATED: TenderStatus.ESCALATED,
    NegotiationStatus.REJECTED: TenderStatus.REJECTED,
    NegotiationStatus.TIMED_OUT: TenderStatus.NO_AWARD,
    NegotiationStatus.CANCELLED: TenderStatus.NO_AWARD,
    NegotiationStatus.FAILED: TenderStatus.NO_AWARD,
}


def _award_offer(tender: Tender, inputs: RoundInputs, award: Award) -> Offer:
    negotiation = tender.award_negotiation
    spec = tender.playbook_version.spec
    return Offer.objects.create(
        negotiation=negotiation,
        round=tender.round,
        sender=inputs.config.bidder_role,
        performative="propose",
        terms=dict(award.terms),
        fixed_terms_hash=fixed_terms_digest(spec.get("fixed_terms", {})),
        rationale=f"award of tender #{tender.pk} to {award.winner}: {award.reason}",
        engine_id=f"tender-{tender.pk}-award",
    )


def _checks_record(tender: Tender, inputs: RoundInputs, offer: Offer) -> None:
    """The playbook's policies on the awarded terms, as the gate reads them."""
    by_key = {(v.policy_id, v.number): v for v in inputs.checker.versions}
    PolicyCheck.objects.bulk_create(
        [
            PolicyCheck(
                negotiation=tender.award_negotiation,
                offer=offer,
                policy_version=by_key[(r.policy_id, r.policy_version)],
                round=offer.round,
                sender=offer.sender,
                stage=CheckStage.ACCEPT,
                terms=offer.terms,
                passed=r.passed,
                severity=str(r.severity),
                message=r.message,
                evidence=dict(r.evidence),
            )
            for r in inputs.checker.results(offer.terms)
        ]
    )


def _flags_record(tender: Tender, offer: Offer, screening: TenderScreening) -> None:
    """Screen flags that need a person become a failed escalate check of a policy
    scoped to the award negotiation: the gate sends the deal to a person, and the
    approval request carries the flags as evidence."""
    negotiation = tender.award_negotiation
    policy = Policy(
        name=SCREENS_POLICY,
        description="Screen flags with severity escalate or block hold the award for a person.",
        category=PolicyCategory.COMPLIANCE,
        scope=PolicyScope.NEGOTIATION,
        negotiation=negotiation,
        kind=PolicyKindChoice.EXPRESSION,
        parameters={"expression": "true", "message": "screened separately"},
        severity=Severity.ESCALATE,
    )
    version = policy_save(policy=policy)
    flags = [f for f in screening.flags if f.severity != "warn"]
    PolicyCheck.objects.create(
        negotiation=negotiation,
        offer=offer,
        policy_version=version,
        round=offer.round,
        sender="screens",
        stage=CheckStage.ACCEPT,
        terms=offer.terms,
        passed=False,
        severity=Severity.ESCALATE,
        message="bid-rigging screens flagged this tender: " + "; ".join(f.label for f in flags),
        evidence={
            "tender": tender.pk,
            "suspicion": round(screening.suspicion, 4),
            "screens": [f.to_dict() for f in screening.flags],
        },
    )


def _award_store(tender: Tender, award: Award, screening: TenderScreening) -> None:
    tender.award_supplier = award.winner or ""
    tender.award_terms = dict(award.terms) if award.terms else None
    tender.award_score = award.score
    tender.second_score = award.second_score
    tender.award_reason = award.reason
    tender.screening = screening.to_dict()
    tender.suspicion = screening.suspicion
    tender.flagged = screening.needs_person
    tender.save()


def _no_award(tender: Tender, award: Award) -> None:
    negotiation = tender.award_negotiation
    negotiation_transition(
        negotiation=negotiation,
        to=NegotiationStatus.CANCELLED,
        actor="system",
        reason="the tender ended without an eligible bid",
    )
    excluded = "; ".join(f"{k}: {v}" for k, v in award.excluded.items()) or "no bids"
    tender_transition(tender=tender, to=TenderStatus.NO_AWARD, reason=f"no award ({excluded})")


def _through_gate(tender: Tender, inputs: RoundInputs, award: Award, screening) -> None:
    negotiation = tender.award_negotiation
    negotiation_transition(
        negotiation=negotiation,
        to=NegotiationStatus.RUNNING,
        actor="system",
        reason=f"tender #{tender.pk} closed; its award goes through the approval gate",
    )
    offer = _award_offer(tender, inputs, award)
    _checks_record(tender, inputs, offer)
    if screening.needs_person:
        _flags_record(tender, offer, screening)
    negotiation.agreed_terms = dict(award.terms)
    negotiation.agreed_offer = offer
    negotiation.deal_value = float(award.terms[inputs.config.price_issue])
    negotiation.save(update_fields=["agreed_terms", "agreed_offer", "deal_value", "updated_at"])
    audit_append(
        negotiation=negotiation,
        kind="negotiation.agreed",
        actor="system",
        payload={
            "terms": dict(award.terms),
            "deal_value": negotiation.deal_value,
            "reason": f"tender award to {award.winner}",
            "tender": tender.pk,
        },
    )
    agreement_gate_pass(negotiation=negotiation)
    target = _FROM_NEGOTIATION.get(negotiation.status, TenderStatus.ESCALATED)
    if target in (TenderStatus.PENDING_APPROVAL, TenderStatus.ESCALATED):
        tender.escalation_minutes = inputs.config.escalation_minutes
        tender.save(update_fields=["escalation_minutes", "updated_at"])
    tender_transition(tender=tender, to=target, reason=_why(award, screening, negotiation))


def _why(award: Award, screening: TenderScreening, negotiation) -> str:
    flags = [f.label for f in screening.flags if f.severity != "warn"]
    held = f" Screens flagged: {', '.join(flags)}." if flags else ""
    return f"{award.reason}.{held} Gate: {negotiation.outcome_reason}".strip()


def tender_close(*, tender: Tender, reason: str = "") -> Tender:
    """Close the bidding and decide the award (in the caller's transaction, with
    the tender row locked)."""
    inputs = round_inputs(tender)
    award = award_decide(inputs.state.bids, inputs.rules, inputs.scoring, inputs.checker.gate)
    screening = tender_screening(tender, award.winner, inputs.config.screens)
    _award_store(tender, award, screening)
    tender_audit(tender, "tender.closed", _closed_payload(award, screening, reason))
    if award.winner is None:
        _no_award(tender, award)
    else:
        _through_gate(tender, inputs, award, screening)
    return tender


def _closed_payload(award: Award, screening: TenderScreening, reason: str) -> dict[str, Any]:
    return {
        "reason": reason,
        "winner": award.winner,
        "terms": dict(award.terms) if award.terms else None,
        "score": award.score,
        "second_score": award.second_score,
        "excluded": dict(award.excluded),
        "suspicion": round(screening.suspicion, 4),
        "flags": [f.to_dict() for f in screening.flags],
    }


def tender_follow_negotiation(*, negotiation_id: int, status: str, reason: str) -> None:
    """The award negotiation's status changed (a person decided): the tender follows."""
    tender = Tender.objects.select_for_update().filter(award_negotiation_id=negotiation_id).first()
    target = _FROM_NEGOTIATION.get(status)
    if (
        tender is None
        or target is None
        or tender.status == target
        or tender.status in (TenderStatus.RUNNING, TenderStatus.DRAFT)
    ):
        return
    tender_transition(tender=tender, to=target, reason=reason)
