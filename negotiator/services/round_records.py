"""The records one round leaves behind, built from the engine's step: offer rows,
policy-check rows, audit entries and the engine state stored for the next round.
Pure functions over engine values; no database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from negotiator import bridge
from negotiator.audit import AuditEntry
from negotiator.engine import policies as engine_policies
from negotiator.engine.governance import GateRecord
from negotiator.engine.offers import Offer as EngineOffer
from negotiator.engine.protocol import NegotiationSetup, NegotiationState
from negotiator.models import PolicyVersion
from negotiator.round_store import CheckRow, OfferRow


def table_utility(setup: NegotiationSetup, role: str, terms: Mapping[str, Any]) -> float:
    """A party's utility of terms, from the setup's precomputed profile."""
    for party in setup.parties:
        if party.name == role:
            return party.profile.utility(terms, setup.space)
    raise KeyError(role)


def offer_rows(
    *,
    negotiation_id: int,
    sent: Sequence[EngineOffer],
    setup: NegotiationSetup,
    roles: Sequence[str],
    now: datetime,
) -> list[OfferRow]:
    """Rows for the offers sent this round (ids are assigned when they are stored),
    with every party's utility of their terms (private: shown only to those
    allowed to see that party)."""
    rows = []
    for offer in sent:
        terms = dict(offer.terms)
        utilities = (
            {role: round(table_utility(setup, role, terms), 6) for role in roles} if terms else {}
        )
        rows.append(
            OfferRow(
                id=None,
                negotiation_id=negotiation_id,
                round=offer.round,
                sender=offer.sender,
                performative=str(offer.performative),
                terms=terms,
                fixed_terms_hash=offer.fixed_terms_hash,
                expires_at_round=offer.expires_at_round,
                expires_at=offer.expires_at,
                assumptions=list(offer.assumptions),
                dependencies=list(offer.dependencies),
                in_reply_to_id=None,
                version=offer.version,
                rationale=offer.rationale,
                engine_id=offer.id,
                utilities=utilities,
                created_at=now,
                in_reply_to_engine=offer.in_reply_to,
            )
        )
    return rows


def check_rows(
    *,
    negotiation_id: int,
    records: Sequence[GateRecord],
    offer_ids: Mapping[str, int],
    version_pks: Mapping[tuple[int, int], int],
    now: datetime,
) -> list[CheckRow]:
    """One row per policy result of every attempt (each in the round it was made).
    A blocked attempt was never sent, so its checks name no offer."""
    rows = []
    for record in records:
        offer_id = offer_ids.get(record.offer.id) if record.verdict != "block" else None
        terms = dict(record.offer.terms)
        for res in record.results:
            rows.append(
                CheckRow(
                    negotiation_id=negotiation_id,
                    offer_id=offer_id,
                    policy_version_id=version_pks[(res.policy_id, res.policy_version)],
                    round=record.offer.round,
                    sender=record.party,
                    stage=record.stage,
                    terms=terms,
                    passed=res.passed,
                    severity=str(res.severity),
                    message=res.message,
                    evidence=engine_policies.check_result_to_dict(res)["evidence"],
                    created_at=now,
                    waived_by_id=res.waived_by,
                )
            )
    return rows


def actor_for(party: str, seat: str) -> str:
    """How a party is named in the audit trail: our agent, or the outside seat."""
    return f"agent:{party}" if seat == "builtin" else f"{seat}:{party}"


def _check_result_entry(result) -> dict[str, Any]:
    entry = {
        "policy_id": result.policy_id,
        "version": result.policy_version,
        "passed": result.passed,
        "severity": str(result.severity),
        "message": result.message,
    }
    if result.waived_by is not None:  # let through by an approved override, not passed
        entry["waived_by_override"] = result.waived_by
    return entry


def _check_entry(record: GateRecord, actor: str) -> AuditEntry:
    return AuditEntry(
        kind="offer.blocked" if record.verdict == "block" else "policy.checked",
        actor=actor,
        payload={
            "round": record.offer.round,
            "party": record.party,
            "stage": record.stage,
            "verdict": record.verdict,
            "offer": {
                "performative": str(record.offer.performative),
                "terms": dict(record.offer.terms),
                "rationale": record.offer.rationale,
            },
            "checks": [_check_result_entry(r) for r in record.results],
        },
    )


def offer_audit_payload(offer) -> dict:
    """What the trail records of an offer (a round's OfferRow or an Offer row; the
    plan export checks offers against it)."""
    return {
        "offer_id": offer.id,
        "engine_id": offer.engine_id,
        "round": offer.round,
        "performative": offer.performative,
        "terms": offer.terms,
        "fixed_terms_hash": offer.fixed_terms_hash,
        "expires_at_round": offer.expires_at_round,
        "in_reply_to": offer.in_reply_to_id,
        "rationale": offer.rationale,
    }


def _offer_entry(offer: OfferRow, actor: str) -> AuditEntry:
    return AuditEntry(
        kind=f"offer.{offer.performative}", actor=actor, payload=offer_audit_payload(offer)
    )


def _versions_entry(
    versions: Sequence[PolicyVersion], round_number: int, previous: list[int] | None
) -> AuditEntry:
    return AuditEntry(
        kind="policy.versions_in_force",
        actor="system",
        payload={
            "round": round_number,
            "policies": [
                {"policy_id": v.policy_id, "version": v.number, "name": v.name} for v in versions
            ],
            "previous_version_ids": previous,
        },
    )


def audit_entries(
    *,
    round_number: int,
    records: Sequence[GateRecord],
    offers: Sequence[OfferRow],
    versions: Sequence[PolicyVersion],
    previous_version_ids: list[int] | None,
    actors: Mapping[str, str],
) -> list[AuditEntry]:
    """The round's audit events in chain order: the policy versions in force when
    they changed since the last round (a policy edited, added or switched off
    takes effect here), every check with the offer it judged (blocked attempts
    included), then every offer sent. ``actors`` names each party in the trail."""
    entries = [_check_entry(record, actors[record.party]) for record in records]
    entries += [_offer_entry(offer, actors[offer.sender]) for offer in offers]
    if previous_version_ids != sorted(v.pk for v in versions):
        entries.insert(0, _versions_entry(versions, round_number, previous_version_ids))
    return entries


def engine_state_stored(
    state: NegotiationState, *, offer_ids: Mapping[str, int], versions: Sequence[PolicyVersion]
) -> dict[str, Any]:
    """The engine state as stored on the negotiation, with the row ids of its
    offers (later offers reply to them) and the policy versions it ran under."""
    return {
        **bridge.state_to_dict(state),
        "offer_pks": dict(offer_ids),
        "policy_versions": sorted(v.pk for v in versions),
    }
