"""The LLM-assisted seat in-process, against the fake model over real HTTP:
what the model sees, each way it can fail (every one plays the deterministic
move and is audited), the token budget, prompt versions and the purge."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from negotiator.audit import audit_verify_chain, chain_of
from negotiator.llm.fake import Reply, random_choice
from negotiator.llm.models import LLMExchange, PromptPurpose
from negotiator.llm.seat import _message_kept
from negotiator.llm.services import CallRecord, prompt_version_add, prompt_version_current
from negotiator.llm.tasks import exchanges_purge
from negotiator.models import AuditEvent, NegotiationStatus, Offer
from negotiator.services.errors import ServiceError
from negotiator.services.lifecycle import negotiation_create
from negotiator.services.rounds import negotiation_run_round
from tests.engine.helpers import buyer_profile
from tests.llm.conftest import PRIVATE, json_reply, sequence
from tests.negotiator.conftest import run_to_end

pytestmark = pytest.mark.django_db

LLM = {"buyer": "llm-assisted"}


def _buyer_moves(negotiation) -> list[tuple[str, dict]]:
    return [
        (o.performative, o.terms)
        for o in Offer.objects.filter(negotiation=negotiation, sender="buyer").order_by("id")
    ]


def _llm_events(negotiation) -> list[dict]:
    return [
        json.loads(e.payload_json)
        for e in AuditEvent.objects.filter(chain=chain_of(negotiation), kind="llm.call").order_by(
            "seq"
        )
    ]


def test_every_offer_of_the_seat_comes_from_its_candidate_list(llm_playbook, llm_server):
    llm_server.script = random_choice(7)
    negotiation = run_to_end(negotiation_create(playbook=llm_playbook, seed=3, strategies=LLM))
    assert negotiation.status == NegotiationStatus.APPROVED, negotiation.outcome_reason
    exchanges = list(LLMExchange.objects.filter(negotiation=negotiation).order_by("id"))
    buyer = Offer.objects.filter(negotiation=negotiation, sender="buyer").exclude(
        performative="accept"
    )
    assert exchanges and buyer.exists()
    chosen_terms = [
        next(c["terms"] for c in x.candidates if c["id"] == x.chosen) for x in exchanges
    ]
    for offer in buyer:
        assert offer.terms in chosen_terms
    assert any(x.chosen != "c1" for x in exchanges), "the random model never left the default"
    assert all(x.fallback == "" for x in exchanges)
    events = _llm_events(negotiation)
    assert len(events) == len(exchanges)
    assert {e["model"] for e in events} == {"fake-model"}
    assert all(len(e["prompt_sha256"]) == 64 and len(e["response_sha256"]) == 64 for e in events)
    assert all(e["tokens_in"] == 120 and e["tokens_out"] == 30 for e in events)
    assert audit_verify_chain(chain_of(negotiation)).ok


def test_a_model_that_always_takes_the_first_candidate_negotiates_like_the_strategy(
    llm_playbook, llm_server
):
    assisted = run_to_end(negotiation_create(playbook=llm_playbook, seed=5, strategies=LLM))
    plain = run_to_end(negotiation_create(playbook=llm_playbook, seed=5))
    assert _buyer_moves(assisted) == _buyer_moves(plain)
    assert assisted.agreed_terms == plain.agreed_terms


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply("this is not json"), "invalid_json"),
        (json_reply({"candidate_id": "c42", "message": "hi"}), "unknown_candidate"),
        (
            json_reply({"candidate_id": "c1", "message": "x", "terms": {"price": 1}}),
            "schema_mismatch",
        ),
        (json_reply({"accept": True}), "schema_mismatch"),
        (Reply(refusal="I can't help with that."), "refusal"),
        (Reply(delay=2.5), "timeout"),
        (Reply(status=500, raw=b'{"error": "boom"}'), "http_error"),
        (Reply(status=401, raw=b'{"error": "bad key"}'), "http_error"),
        (Reply(raw=b'{"unexpected": "shape"}'), "bad_reply"),
    ],
    ids=[
        "garbage",
        "unknown-id",
        "invented-terms",
        "wrong-shape",
        "refusal",
        "timeout",
        "server-error",
        "auth-error",
        "not-a-completion",
    ],
)
def test_each_failure_plays_the_deterministic_move_and_is_audited(
    llm_playbook, llm_server, reply, reason
):
    llm_server.script = sequence(reply)
    assisted = negotiation_create(playbook=llm_playbook, seed=4, strategies=LLM)
    plain = negotiation_create(playbook=llm_playbook, seed=4)
    for n in (assisted, plain):
        assert negotiation_run_round(negotiation_id=n.pk, round_number=0)
    first = LLMExchange.objects.filter(negotiation=assisted).order_by("id").first()
    assert first.fallback == reason
    assert first.chosen == "c1"
    event = _llm_events(assisted)[0]
    assert event["fallback"] == reason and event["chosen"] == "c1"
    assert event["prompt_sha256"] == first.prompt_sha256
    assert _buyer_moves(assisted) == _buyer_moves(plain)


def test_past_the_token_budget_the_seat_stops_calling(llm_playbook, llm_server, settings):
    settings.LLM_TOKEN_BUDGET = 300  # two calls of 150 tokens
    negotiation = run_to_end(negotiation_create(playbook=llm_playbook, seed=2, strategies=LLM))
    exchanges = list(LLMExchange.objects.filter(negotiation=negotiation).order_by("id"))
    assert [x.fallback for x in exchanges[:2]] == ["", ""]
    assert {x.fallback for x in exchanges[2:]} == {"token_budget"}
    assert len(llm_server.requests) == 2
    assert negotiation.status == NegotiationStatus.APPROVED


def test_without_a_model_the_option_is_refused_and_nothing_calls_out(
    llm_playbook, llm_server, settings
):
    running = negotiation_create(playbook=llm_playbook, seed=2, strategies=LLM)
    settings.LLM_BASE_URL = ""
    with pytest.raises(ServiceError, match="Unknown strategy 'llm-assisted'"):
        negotiation_create(playbook=llm_playbook, seed=2, strategies=LLM)
    # a negotiation started while a model was configured goes on deterministically
    finished = run_to_end(running)
    assert finished.status == NegotiationStatus.APPROVED
    assert llm_server.requests == []
    assert set(LLMExchange.objects.values_list("fallback", flat=True)) == {"not_configured"}


def test_the_model_sees_public_history_and_candidates_only(llm_playbook, llm_server):
    llm_server.script = random_choice(3)
    negotiation = run_to_end(negotiation_create(playbook=llm_playbook, seed=6, strategies=LLM))
    assert negotiation.status == NegotiationStatus.APPROVED
    sent = llm_server.sent_text()
    assert len(llm_server.requests) > 3
    for name, value in PRIVATE.items():
        assert value not in sent, f"private {name} ({value}) reached the model"
    for word in ("reservation", "weights", "private_values", "utility", "budget_cap"):
        assert word not in sent
    # the counterpart's words travel as data, inside the delimited block
    user = llm_server.requests[-1]["messages"][1]["content"]
    assert user.count("<<<NEGOTIATION_DATA_JSON") == 1
    assert "counterpart_message_untrusted" in user
    assert llm_server.requests[-1]["response_format"]["type"] == "json_schema"


def test_calls_name_the_prompt_version_in_force(llm_playbook, llm_server):
    builtin = prompt_version_current(PromptPurpose.SEAT)
    version = prompt_version_add(purpose=PromptPurpose.SEAT, text="Pick one. Reply in JSON.")
    assert builtin.number == 1 and "candidate" in builtin.text
    negotiation = negotiation_create(playbook=llm_playbook, seed=1, strategies=LLM)
    negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    assert llm_server.requests[0]["messages"][0]["content"] == "Pick one. Reply in JSON."
    assert LLMExchange.objects.get(negotiation=negotiation).prompt_version == version
    assert version.number == 2  # version 1 is the built-in text
    assert _llm_events(negotiation)[0]["prompt_version"] == 2


def test_full_exchanges_are_purged_after_the_retention_period(llm_playbook, llm_server, settings):
    settings.LLM_RETENTION_DAYS = 30
    negotiation = negotiation_create(playbook=llm_playbook, seed=1, strategies=LLM)
    negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    old = LLMExchange.objects.get(negotiation=negotiation)
    LLMExchange.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    negotiation_run_round(negotiation_id=negotiation.pk, round_number=1)
    kept = LLMExchange.objects.filter(negotiation=negotiation).count() - 1
    assert exchanges_purge() == 1
    assert LLMExchange.objects.filter(negotiation=negotiation).count() == kept
    assert not LLMExchange.objects.filter(pk=old.pk).exists()
    assert _llm_events(negotiation)[0]["exchange"] == old.pk  # the audit keeps its hashes


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ("We can do 97,000 USD with delivery in 20 days.", True),
        ("Our reservation price is about 95k, so 95,000 it is.", False),  # even as the offer
        ("Nothing above 99,500 USD: that is our budget.", False),  # within 1 % of 100,000
        ("Happy to talk through the warranty.", True),
    ],
)
def test_a_model_message_naming_a_private_value_is_withheld_and_the_call_says_why(message, kept):
    call = CallRecord("seat", "buyer", 3, None, None, "fake-model", [])
    sent = _message_kept(call, message, SimpleNamespace(profile=buyer_profile()))
    assert sent == (message if kept else "")
    assert call.detail == (
        ""
        if kept
        else "message withheld: it named a number near the private "
        + ("reservation_price" if "95" in message else "budget_cap")
    )
