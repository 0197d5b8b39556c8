"""One round of a mediated coalition negotiation (a playbook whose plan model says
``coalition.protocol = mediated``), played by the same round task as every other
negotiation. :func:`coalition_run_round` reads top to bottom:

1. claim the round by compare-and-set (the row is locked only while it is still
   running at this round); nothing due → False
2. the mediator's state (``engine_state["mediation"]``; the first round starts from
   the feasible plan nearest the middle of every range)
3. the deadline: past it, the negotiation escalates naming who blocks
4. the engine's mediated step: the text and its variations, each party's ballot
5. records: the text as the mediator's offer (assumptions, dependencies, expiry),
   each ballot as the party's accept/reject, the per-offer constraint check, the
   audit events; the next round's state
6. the end: consensus → certificate → the agreement goes to the approval gate (a
   plan whose certificate fails escalates instead: fail closed); no consensus in
   time → escalated, naming who blocks on which issue; else the next round
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from negotiator.audit import AuditEntry, audit_append_many
from negotiator.engine.constraints import offer_check
from negotiator.engine.mediation import (
    AGREED,
    ESCALATED,
    MediationState,
    acceptances_refused,
    ballot_id,
    default_voter,
    mediate_step,
    refusal_reason,
    state_from_dict,
    state_to_dict,
)
from negotiator.engine.offers import Terms
from negotiator.engine.outcomes import fixed_terms_hash
from negotiator.engine.plan_model import PlanModel, assumptions_of, dependencies_of
from negotiator.engine.protocol import NegotiationState
from negotiator.engine.protocol import Status as EngineStatus
from negotiator.models import Negotiation, NegotiationStatus, Offer
from negotiator.round_store import checks_insert
from negotiator.services import round_records
from negotiator.services.agreements import agreement_record
from negotiator.services.certificates import plan_certificate_issue, plan_model_of
from negotiator.services.lifecycle import negotiation_transition
from negotiator.services.round_records import offer_audit_payload
from negotiator.services.scheduling import round_schedule
from negotiator.services.worker_cache import applicable_policy_versions, policy_gate_for

MEDIATOR = "mediator"


def is_coalition(negotiation: Negotiation) -> bool:
    model = plan_model_of(negotiation)
    return model is not None and model.protocol == "mediated"


def is_coalition_id(negotiation_id: int) -> bool:
    """Whether the negotiation's playbook version has a plan model (every plan model
    plays the mediated protocol). Asked before every round, so it reads one key of
    the version's spec instead of the negotiation and the whole spec."""
    structured = (
        Negotiation.objects.filter(pk=negotiation_id)
        .values_list("playbook_version__spec__plan_model__structured", flat=True)
        .first()
    )
    return bool(structured)


def coalition_run_round(*, negotiation_id: int, round_number: int) -> bool:
    """Play one mediated round if it is still due; False when there was nothing to do."""
    with transaction.atomic():
        negotiation = (
            Negotiation.objects.select_for_update()
            .select_related("playbook_version")
            .filter(pk=negotiation_id, status=NegotiationStatus.RUNNING, current_round=round_number)
            .first()
        )
        if negotiation is None:
            return False
        model = plan_model_of(negotiation)
        state = _state_load(negotiation, model)
        now = timezone.now()
        refused: list[str] = []
        if negotiation.deadline and now >= negotiation.deadline:
            reason = f"deadline {negotiation.deadline.isoformat()} passed without consensus"
            state = replace(state, status=ESCALATED, reason=reason, blockers=_last_blockers(state))
        else:
            participants = list(negotiation.participants.order_by("order"))
            state = _step(negotiation, model, state, participants)
            refused = _records_write(negotiation, model, state, participants, now)
        negotiation.engine_state = {
            **(negotiation.engine_state or {}),
            "protocol": "mediated",
            "mediation": state_to_dict(state),
        }
        negotiation.current_round = state.round
        negotiation.last_progress_at = now
        negotiation.save(
            update_fields=["engine_state", "current_round", "last_progress_at", "updated_at"]
        )
        _conclude_or_continue(negotiation, state, refused)
    return True


def _state_load(negotiation: Negotiation, model: PlanModel) -> MediationState:
    stored = (negotiation.engine_state or {}).get("mediation")
    if stored:
        return state_from_dict(stored)
    start = model.start_text()
    if start is None:  # the start proved it feasible; a changed version could not
        raise ValueError(f"negotiation #{negotiation.pk}: the plan space is infeasible")
    return MediationState(text=start, seed=negotiation.seed)


def _step(
    negotiation: Negotiation, model: PlanModel, state: MediationState, participants
) -> MediationState:
    setup = model.mediation_setup({p.role: p.profile for p in participants})
    voters = {p.role: default_voter for p in participants}
    return mediate_step(state, setup, voters, limit=negotiation.max_rounds)


def _last_blockers(state: MediationState) -> tuple[tuple[str, str], ...]:
    if not state.rounds:
        return ()
    return tuple(
        (b.party, b.objection or "the text as a whole")
        for b in state.rounds[-1].ballots
        if not b.accept
    )


def _records_write(
    negotiation: Negotiation, model: PlanModel, state: MediationState, participants, now
) -> list[str]:
    """The round just played: the mediator's text, the ballots, the checks, the audit.
    Returns the acceptances a policy refused ('<party>: <reason>')."""
    record = state.rounds[-1]
    text = dict(record.text)
    spec = negotiation.playbook_version.spec
    expiry = model.offer_expiry_minutes
    checked = offer_check(model.system, text)
    deps = dependencies_of(model)
    profiles = {p.role: p.profile for p in participants}
    setup = model.mediation_setup(profiles)
    utilities = {name: round(pr.utility(text, model.space), 6) for name, pr in setup.parties}
    proposal = Offer.objects.create(
        negotiation=negotiation,
        round=record.round,
        sender=MEDIATOR,
        performative="propose",
        terms=text,
        fixed_terms_hash=fixed_terms_hash(spec.get("fixed_terms", {})),
        expires_at=now + timedelta(minutes=expiry) if expiry else None,
        expires_at_round=record.round + 1,
        assumptions=[a["text"] for a in assumptions_of(model, text)],
        dependencies=[f"{line} needs {', '.join(d)}" for line, d in sorted(deps.items())],
        version=record.round + 1,
        rationale=f"single negotiation text, round {record.round + 1}",
        engine_id=f"{MEDIATOR}-r{record.round}",
        utilities=utilities,
    )
    ballots = Offer.objects.bulk_create(
        [
            Offer(
                negotiation=negotiation,
                round=record.round,
                sender=b.party,
                performative="accept" if b.accept else "reject",
                terms=text if b.accept else {},
                fixed_terms_hash=proposal.fixed_terms_hash,
                in_reply_to=proposal,
                version=record.round + 1,
                rationale=_ballot_words(b, record),
                engine_id=ballot_id(b.party, record.round),
            )
            for b in record.ballots
        ]
    )
    entries = _audit_entries(record, proposal, ballots, checked, state)
    refused, policy_entries = _acceptances_check(negotiation, record, ballots, participants, now)
    audit_append_many([*entries, *policy_entries], negotiation=negotiation)
    return refused


def _acceptances_check(negotiation: Negotiation, record, ballots, participants, now):
    """Each acceptance meets the policy gate like any party's accept (the same
    policies, profiles and waivers; the engine's question, as the simulator asks
    it); the checks are stored and their audit entries returned."""
    versions = applicable_policy_versions(negotiation)
    gate = policy_gate_for(negotiation, versions, participants)
    fixed_hash = ballots[0].fixed_terms_hash if ballots else ""
    refused = acceptances_refused(record, gate, fixed_terms_hash=fixed_hash)
    records = gate.take()
    checks = round_records.check_rows(
        negotiation_id=negotiation.pk,
        records=records,
        offer_ids={row.engine_id: row.pk for row in ballots},
        version_pks={(v.policy_id, v.number): v.pk for v in versions},
        now=now,
    )
    checks_insert(checks)
    entries = round_records.audit_entries(
        round_number=record.round,
        records=records,
        offers=[],
        versions=versions,
        previous_version_ids=sorted(v.pk for v in versions),
        actors={p.role: round_records.actor_for(p.role, p.seat) for p in participants},
    )
    return refused, entries


def _ballot_words(ballot, record) -> str:
    first = ballot.ranking[0]
    ranks = "keeps the text first" if first == 0 else f"ranks variation {first} first"
    if ballot.accept:
        return f"accepts the text; {ranks}"
    return f"rejects the text, objecting to {ballot.objection or 'it as a whole'}; {ranks}"


def _audit_entries(record, proposal: Offer, ballots, checked, state) -> list[AuditEntry]:
    entries = [
        AuditEntry(
            kind="offer.propose",
            actor=MEDIATOR,
            payload={
                **offer_audit_payload(proposal),
                "options": len(record.options),
                "assumptions": proposal.assumptions,
                "dependencies": proposal.dependencies,
                "expires_at": proposal.expires_at.isoformat() if proposal.expires_at else None,
            },
        ),
        AuditEntry(
            kind="plan.offer_checked",
            actor="system",
            payload={
                "offer": proposal.pk,
                "ok": checked.ok,
                "fast_path": list(checked.fast_path),
                "solver_path": list(checked.solver_path),
                "solver_status": checked.solver_status,
                "violations": [v.constraint.text for v in checked.violations],
            },
        ),
    ]
    for b, row in zip(record.ballots, ballots, strict=True):
        entries.append(
            AuditEntry(
                kind=f"offer.{row.performative}",
                actor=b.party,
                payload={
                    **offer_audit_payload(row),
                    "ballot": {"ranking": list(b.ranking), "objection": b.objection},
                },
            )
        )
    entries.append(
        AuditEntry(
            kind="coalition.round_closed",
            actor=MEDIATOR,
            payload={
                "round": record.round,
                "consensus": record.consensus,
                "support": round(record.support, 4),
                "chosen": record.chosen,
                "status": state.status,
            },
        )
    )
    return entries


def _conclude_or_continue(
    negotiation: Negotiation, state: MediationState, refused: list[str]
) -> None:
    if state.status == AGREED and refused:
        # Fail closed: a consensus some party's policies do not allow goes to a person.
        _escalate(negotiation, refusal_reason(refused), cause="policy_escalation")
        return
    if state.status == AGREED:
        certificate = plan_certificate_issue(negotiation=negotiation, terms=state.text)
        if not certificate["valid"]:
            failed = [c["text"] for c in certificate["constraints"] if not c["recheck"]]
            reason = "the agreed plan failed its certificate: " + "; ".join(failed)
            _escalate(negotiation, reason, cause="certificate_refused")
            return
        agreed = NegotiationState(
            parties=tuple(b.party for b in state.rounds[-1].ballots),
            status=EngineStatus.AGREED,
            agreement=Terms(dict(state.text)),
            reason=state.reason,
        )
        agreement_record(negotiation=negotiation, state=agreed)
        return
    if state.status == ESCALATED:
        blockers = [list(b) for b in state.blockers]
        _escalate(negotiation, state.reason, cause="no_consensus", blockers=blockers)
        return
    round_schedule(negotiation.pk, negotiation.current_round, countdown=negotiation.pace_seconds)


def _escalate(negotiation: Negotiation, reason: str, *, cause: str, **extra) -> None:
    negotiation_transition(
        negotiation=negotiation,
        to=NegotiationStatus.ESCALATED,
        actor="system",
        reason=reason,
        extra={"cause": cause, **extra},
    )
