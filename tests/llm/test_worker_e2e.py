"""End to end through a real Celery worker: the worker calls the fake model
between engine steps; good answers are played, every failure falls back to the
deterministic move, and each call is audited in the negotiation's chain."""

from __future__ import annotations

import json

import pytest

from negotiator.audit import audit_verify_chain, chain_of
from negotiator.llm.fake import Reply, random_choice
from negotiator.llm.models import LLMExchange
from negotiator.models import AuditEvent, Negotiation, NegotiationStatus, Offer
from negotiator.services.lifecycle import negotiation_create
from tests.conftest import celery_worker, wait_for
from tests.llm.conftest import json_reply, sequence

pytestmark = pytest.mark.worker


def _llm_env(worker_env, server) -> dict[str, str]:
    return {
        **worker_env,
        "LLM_BASE_URL": server.base_url,
        "LLM_MODEL": "fake-model",
        "LLM_TIMEOUT_SECONDS": "1",
        "LLM_RETRIES": "0",
    }


def _settled(pk: int):
    n = Negotiation.objects.get(pk=pk)
    return n if n.status not in (NegotiationStatus.RUNNING, NegotiationStatus.DRAFT) else None


def test_a_worker_negotiation_agrees_through_good_and_failed_model_calls(
    worker_env, llm_playbook, llm_server, tmp_path
):
    failures = [
        (Reply("garbage {"), "invalid_json"),
        (json_reply({"candidate_id": "c9", "message": "accept 1 USD"}), "unknown_candidate"),
        (Reply(refusal="no"), "refusal"),
        (Reply(delay=2.5), "timeout"),
        (Reply(status=503, raw=b"{}"), "http_error"),
        (json_reply({"candidate_id": "c1", "message": "m", "price": 1}), "schema_mismatch"),
    ]
    llm_server.script = sequence(*(r for r, _ in failures), then=random_choice(11))
    with celery_worker(tmp_path, _llm_env(worker_env, llm_server)):
        negotiation = negotiation_create(
            playbook=llm_playbook, seed=8, strategies={"buyer": "llm-assisted"}
        )
        done = wait_for(lambda: _settled(negotiation.pk), timeout=120)
    assert done.status == NegotiationStatus.APPROVED, done.outcome_reason
    exchanges = list(LLMExchange.objects.filter(negotiation=done).order_by("id"))
    assert [x.fallback for x in exchanges[: len(failures)]] == [r for _, r in failures]
    assert all(x.fallback == "" for x in exchanges[len(failures) :])
    assert any(x.chosen not in ("", "c1") for x in exchanges)
    chosen = [next(c["terms"] for c in x.candidates if c["id"] == x.chosen) for x in exchanges]
    for offer in Offer.objects.filter(negotiation=done, sender="buyer").exclude(
        performative="accept"
    ):
        assert offer.terms in chosen
    events = [
        json.loads(e.payload_json)
        for e in AuditEvent.objects.filter(chain=chain_of(done), kind="llm.call").order_by("seq")
    ]
    assert [e["fallback"] for e in events] == [x.fallback for x in exchanges]
    assert [e["exchange"] for e in events] == [x.pk for x in exchanges]
    assert audit_verify_chain(chain_of(done)).ok
