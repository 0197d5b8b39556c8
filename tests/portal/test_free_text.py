"""The portal's free text: a person types their offer in words, the (fake)
model reads it into the counteroffer form, and nothing is sent until the person
sends the form, which meets the same validation as a typed one. Without a
model the page and its routes are exactly as before."""

from __future__ import annotations

import json
import re

import pytest

from negotiator.audit import chain_of
from negotiator.llm.fake import Reply
from negotiator.llm.models import LLMExchange
from negotiator.models import AuditEvent, Offer
from tests.llm.conftest import llm_server  # noqa: F401  (the fake model fixture)
from tests.portal.conftest import PRIVATE_VALUES, form_of

pytestmark = pytest.mark.django_db

TEXT = "We can do 95k if you accept 30 days delivery."


def read_as(terms: dict, action: str = "counter", note: str = "95,000 USD and 30 days") -> Reply:
    full = {"price": None, "delivery_days": None, "warranty_months": None, **terms}
    return Reply(json.dumps({"action": action, "terms": full, "note": note}))


def value_of(html: str, name: str) -> str:
    match = re.search(rf'name="term_{name}" id="id_term_{name}"\s*value="([^"]*)"', html)
    assert match, f"no {name} input"
    return match.group(1)


def test_without_a_model_the_portal_is_as_before(client, seat, settings):
    settings.LLM_BASE_URL = ""
    html = client.get(seat.url).content.decode()
    assert "free_text" not in html and "Describe your offer" not in html
    response = client.post(f"{seat.url}read/", {"free_text": TEXT})
    assert response.status_code == 404
    assert not LLMExchange.objects.exists()


def test_free_text_fills_the_form_and_sends_nothing(client, seat, llm_server):  # noqa: F811
    llm_server.script = lambda body: read_as({"price": 95_000, "delivery_days": 30})
    page = client.get(seat.url).content.decode()
    assert "Describe your offer in your own words" in page
    table_warranty = value_of(page, "warranty_months")
    offers_before = Offer.objects.filter(negotiation=seat.negotiation).count()

    response = client.post(f"{seat.url}read/", {"free_text": TEXT})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing has been sent yet." in html
    assert value_of(html, "price") == "95000"
    assert value_of(html, "delivery_days") == "30"
    assert value_of(html, "warranty_months") == table_warranty  # not mentioned: unchanged
    assert TEXT in html  # their words, prefilled as the message
    assert f'action="{seat.url}"' in html  # the confirmed form posts to the seat
    assert Offer.objects.filter(negotiation=seat.negotiation).count() == offers_before

    exchange = LLMExchange.objects.get(negotiation=seat.negotiation, purpose="portal")
    assert exchange.chosen == "counter" and exchange.fallback == ""
    event = AuditEvent.objects.get(chain=chain_of(seat.negotiation), kind="llm.call")
    assert json.loads(event.payload_json)["response_sha256"] == exchange.response_sha256
    sent = llm_server.sent_text()
    assert TEXT in json.loads(sent)["messages"][1]["content"]
    for values in PRIVATE_VALUES.values():
        for value in values.values():
            assert str(value) not in sent

    # the person confirms the filled form: now it is sent, as any typed offer
    data = {
        "action": "counter",
        "message": TEXT,
        **form_of(html),
        "term_price": "95000",
        "term_delivery_days": "30",
        "term_warranty_months": table_warranty,
    }
    response = client.post(seat.url, data)
    assert response.status_code == 302
    sent_offer = Offer.objects.filter(negotiation=seat.negotiation, sender="seller").latest("id")
    assert sent_offer.terms == {
        "price": 95_000,
        "delivery_days": 30,
        "warranty_months": int(table_warranty),
    }
    assert sent_offer.rationale == TEXT


def test_a_value_outside_the_issue_is_dropped_and_an_off_step_one_is_refused_on_send(
    client,
    seat,
    llm_server,  # noqa: F811
):
    llm_server.script = lambda body: read_as({"price": 1, "delivery_days": 32})
    page = client.get(seat.url).content.decode()
    html = client.post(f"{seat.url}read/", {"free_text": "1 dollar, 32 days"}).content.decode()
    assert "Left unchanged (outside what this negotiation allows): price." in html
    assert value_of(html, "price") == value_of(page, "price")
    assert value_of(html, "delivery_days") == "32"  # in range, but off the 5-day step
    data = {
        "action": "counter",
        **form_of(html),
        "term_price": value_of(html, "price"),
        "term_delivery_days": "32",
        "term_warranty_months": value_of(html, "warranty_months"),
    }
    before = Offer.objects.filter(negotiation=seat.negotiation).count()
    response = client.post(seat.url, data)
    assert response.status_code == 400
    assert Offer.objects.filter(negotiation=seat.negotiation).count() == before


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply("Sure, the price is 95k"), "invalid_json"),
        (Reply(json.dumps({"action": "accept", "terms": {}, "note": ""})), "schema_mismatch"),
        (Reply(delay=2.5), "timeout"),
        (Reply(refusal="no"), "refusal"),
        (Reply('{"action": "counter", "terms": {"price": NaN}, "note": ""}'), "invalid_json"),
    ],
    ids=["garbage", "wrong-shape", "timeout", "refusal", "not-a-number"],
)
def test_a_failed_reading_leaves_the_form_as_it_was(client, seat, llm_server, reply, reason):  # noqa: F811
    llm_server.script = lambda body: reply
    page = client.get(seat.url).content.decode()
    html = client.post(f"{seat.url}read/", {"free_text": TEXT}).content.decode()
    assert "We could not read an offer from your message." in html
    assert value_of(html, "price") == value_of(page, "price")
    exchange = LLMExchange.objects.get(negotiation=seat.negotiation, purpose="portal")
    assert exchange.fallback == reason


def test_an_empty_or_overlong_text_is_refused_without_a_call(client, seat, llm_server):  # noqa: F811
    assert client.post(f"{seat.url}read/", {"free_text": ""}).status_code == 400
    assert client.post(f"{seat.url}read/", {"free_text": "x" * 2001}).status_code == 400
    assert llm_server.requests == []


def test_a_wrong_link_reads_nothing(client, seat, llm_server):  # noqa: F811
    response = client.post("/portal/not-a-secret/read/", {"free_text": TEXT})
    assert response.status_code == 404
    assert client.get(f"{seat.url}read/").status_code == 405
    assert llm_server.requests == []


def test_readings_stop_when_the_negotiations_token_budget_is_spent(
    client,
    seat,
    llm_server,  # noqa: F811
    settings,
):
    settings.LLM_TOKEN_BUDGET = 100  # one reading (120 + 30 tokens) spends it
    llm_server.script = lambda body: read_as({"price": 95_000})
    assert (
        "Nothing has been sent yet."
        in client.post(f"{seat.url}read/", {"free_text": TEXT}).content.decode()
    )
    html = client.post(f"{seat.url}read/", {"free_text": TEXT}).content.decode()
    assert "We could not read an offer from your message." in html
    assert len(llm_server.requests) == 1
    assert LLMExchange.objects.filter(negotiation=seat.negotiation).count() == 1
