"""The round's two write paths (pipelined raw SQL on PostgreSQL, the ORM elsewhere)
write the same rows."""

from __future__ import annotations

import pytest

from negotiator import round_store
from negotiator.audit import audit_verify_chain, chain_of
from negotiator.models import AuditEvent, Offer, PolicyCheck
from negotiator.services import worker_cache
from negotiator.services.lifecycle import negotiation_create
from negotiator.services.rounds import negotiation_run_round
from negotiator.services.worker_cache import (
    PARTICIPANTS,
    PLAYBOOK_VERSIONS,
    POLICY_VERSIONS,
    applicable_policy_versions,
    participants_kept,
    playbook_version_kept,
    policy_versions_by_id,
)
from tests.negotiator.conftest import run_to_end

pytestmark = pytest.mark.django_db


def snapshot(negotiation) -> dict:
    """A negotiation's rows with database ids replaced by positions."""
    offers = list(Offer.objects.filter(negotiation=negotiation).order_by("round", "id"))
    position = {o.pk: i for i, o in enumerate(offers)}
    checks = PolicyCheck.objects.filter(negotiation=negotiation).order_by("id")
    events = AuditEvent.objects.filter(chain=chain_of(negotiation)).order_by("seq")
    return {
        "status": negotiation.status,
        "agreed_terms": negotiation.agreed_terms,
        "agreed_offer": position.get(negotiation.agreed_offer_id),
        "offers": [
            (
                o.round,
                o.sender,
                o.performative,
                o.terms,
                o.fixed_terms_hash,
                o.expires_at_round,
                o.assumptions,
                o.dependencies,
                position.get(o.in_reply_to_id),
                o.version,
                o.rationale,
                o.utilities,
            )
            for o in offers
        ],
        "checks": [
            (
                position.get(c.offer_id),
                c.policy_version_id,
                c.round,
                c.sender,
                c.stage,
                c.terms,
                c.passed,
                c.severity,
                c.message,
                c.evidence,
            )
            for c in checks
        ],
        "events": [(e.seq, e.kind, e.actor, _without_ids(e.payload, position)) for e in events],
        "state_rounds": negotiation.engine_state["round"],
        "history": len(negotiation.engine_state["history"]),
    }


def _without_ids(payload: dict, position: dict) -> dict:
    out = dict(payload)
    for key in ("offer_id", "in_reply_to"):
        if out.get(key) is not None:
            out[key] = position.get(out[key], "?")
    out.pop("negotiation_id", None)
    out.pop("negotiation", None)  # the plan names its negotiation and its times
    if isinstance(out.get("when"), dict):
        out["when"] = {k: v for k, v in out["when"].items() if not k.endswith("ed_at")}
    out.pop("request_id", None)
    return out


def test_pipelined_and_orm_paths_write_the_same_rows(procurement, monkeypatch):
    fast = negotiation_create(playbook=procurement, seed=11)
    fast = run_to_end(fast)

    monkeypatch.setattr(round_store, "uses_pipeline", lambda: False)
    slow = negotiation_create(playbook=procurement, seed=11)
    slow = run_to_end(slow)

    assert fast.current_round > 3
    a, b = snapshot(fast), snapshot(slow)
    assert a["offers"] == b["offers"]
    assert a["checks"] == b["checks"]
    assert [e[:3] for e in a["events"]] == [e[:3] for e in b["events"]]
    assert a["events"] == b["events"]
    assert a == b
    for negotiation in (fast, slow):
        assert audit_verify_chain(chain_of(negotiation)).ok


def test_a_claim_that_does_not_match_changes_nothing(procurement):
    negotiation = negotiation_create(playbook=procurement, seed=3)
    assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    counts = (Offer.objects.count(), PolicyCheck.objects.count(), AuditEvent.objects.count())
    # A late duplicate of round 0, and a round from the future: no-ops.
    assert not negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    assert not negotiation_run_round(negotiation_id=negotiation.pk, round_number=5)
    assert (Offer.objects.count(), PolicyCheck.objects.count(), AuditEvent.objects.count()) == (
        counts
    )


def test_offers_beyond_the_reserved_ids_get_more(procurement, monkeypatch):
    """The claim reserves ids for the offers it expects; a round that sends more
    takes further ids instead of failing."""
    negotiation = negotiation_create(playbook=procurement, seed=4)
    PARTICIPANTS.pop(negotiation.pk, None)
    real_claim = round_store.round_claim

    def claim_reserving_one(*args, **kwargs):
        return real_claim(*args, **{**kwargs, "offers_hint": 1})

    monkeypatch.setattr(round_store, "round_claim", claim_reserving_one)
    assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    offers = list(Offer.objects.filter(negotiation=negotiation).order_by("id"))
    assert len(offers) == 2
    assert len({o.pk for o in offers}) == 2
    assert offers[1].in_reply_to_id == offers[0].pk


def test_round_statements_are_prepared_by_the_server(procurement):
    """DATABASE_PREPARE_THRESHOLD (default 2) lets the round's server-side-binding
    statements be prepared once per connection instead of planned every round."""
    from django.db import connection

    negotiation = run_to_end(negotiation_create(playbook=procurement, seed=5))
    assert negotiation.current_round > 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cursor.fetchall()]
    assert any("INSERT INTO" in s and "negotiator_policycheck" in s for s in statements)
    assert any("FOR UPDATE" in s for s in statements)


def test_without_stable_ids_the_worker_keeps_no_rows(procurement, monkeypatch):
    """SQLite reuses the ids of rolled-back rows, so there the worker reads rows
    every round instead of trusting what it kept under the same id."""
    negotiation = negotiation_create(playbook=procurement, seed=6)
    PLAYBOOK_VERSIONS[negotiation.playbook_version_id] = "another playbook's version"
    PARTICIPANTS[negotiation.pk] = ["another negotiation's parties"]
    monkeypatch.setattr(worker_cache, "_keeps_rows", lambda: False)
    version = playbook_version_kept(negotiation.playbook_version_id)
    assert version.pk == negotiation.playbook_version_id
    assert {p.role for p in participants_kept(negotiation)} == {"buyer", "seller"}
    assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)


def test_a_full_policy_version_cache_is_emptied_before_it_is_read(procurement):
    negotiation = negotiation_create(playbook=procurement, seed=7)
    ids = [v.pk for v in applicable_policy_versions(negotiation)]
    POLICY_VERSIONS.update({-n: None for n in range(1, 10_002)})
    POLICY_VERSIONS.pop(ids[0])  # one to load, the others kept
    assert [v.pk for v in policy_versions_by_id(ids)] == ids
    assert len(POLICY_VERSIONS) == len(ids)
