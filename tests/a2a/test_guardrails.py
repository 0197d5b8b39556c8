"""Every way an outside message can be wrong gets a precise JSON-RPC error and
changes nothing: credentials, other seats' tasks, turns, malformed requests,
invalid and blocked offers, sizes, and the rate limit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from negotiator.a2a.seat_task import task_id_for
from negotiator.models import AuditEvent, CredentialKind, SeatCredential
from negotiator.services.seats import seat_credential_issue, seat_credential_revoke
from tests.a2a.conftest import counter, offer_message, open_seat, state_counts

pytestmark = pytest.mark.django_db


def error_of(reply: dict) -> tuple[int, str]:
    return reply["error"]["code"], reply["error"]["message"]


def field_violations(reply: dict) -> list[dict]:
    details = reply["error"]["data"]
    bad = [d for d in details if d["@type"].endswith("google.rpc.BadRequest")]
    return bad[0]["fieldViolations"] if bad else []


# --------------------------------------------------------------------------
# Credentials and scope
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["missing", "garbage", "expired", "revoked", "invite"])
def test_a_request_without_a_live_token_credential_is_refused_with_401(seat, rpc, case):
    negotiation, seller, token = seat
    if case == "expired":
        SeatCredential.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "revoked":
        seat_credential_revoke(credential=SeatCredential.objects.get())
    elif case == "invite":
        _, token = seat_credential_issue(participant=seller, kind=CredentialKind.INVITE)
    elif case == "garbage":
        token = "nt_" + "x" * 40
    before = state_counts(negotiation)
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": offer_message(counter(negotiation)),
        }
    )
    rpc.token = "" if case == "missing" else token
    response = rpc.raw(body)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="negotiator-a2a"'
    assert response.json()["error"]["code"] == -32040
    assert state_counts(negotiation) == before
    assert not AuditEvent.objects.filter(kind="seat.credential_used").exists()


def test_a_token_revoked_after_the_door_checked_it_plays_no_move(seat, rpc, monkeypatch):
    """Revoked between the door's check and the move (the move re-checks under the
    negotiation's lock): the same Unauthenticated error, nothing played, and the
    refused use is still audited."""
    from negotiator.a2a import views

    negotiation, _, _ = seat
    checked = views.rate_check

    def revoke_then_check(credential):
        seat_credential_revoke(credential=SeatCredential.objects.get(pk=credential.pk))
        return checked(credential)

    monkeypatch.setattr(views, "rate_check", revoke_then_check)
    before = state_counts(negotiation)
    reply = rpc("SendMessage", offer_message(counter(negotiation)))
    assert reply["error"]["code"] == -32040
    after = state_counts(negotiation)
    # the revocation itself is audited; nothing else changed
    assert after[:3] == before[:3] and after[4:] == before[4:]
    assert after[3] == before[3] + 1
    [use] = AuditEvent.objects.filter(kind="seat.credential_used")
    assert "refused (Unauthenticated)" in use.payload["what"]
    assert SeatCredential.objects.get().uses == 1  # the refused attempt, counted


def test_another_seats_task_is_not_found_and_untouched(playbook, client, seat, rpc):
    negotiation, seller, _ = seat
    other, other_seller, other_token = open_seat(playbook, seed=5)
    before = (state_counts(negotiation), state_counts(other))
    # this seat's token, the other negotiation's task id
    for method, params in [
        ("GetTask", {"id": task_id_for(other_seller)}),
        ("CancelTask", {"id": task_id_for(other_seller)}),
        ("SendMessage", offer_message(counter(other), taskId=task_id_for(other_seller))),
        ("GetTask", {"id": "task-" + "0" * 32}),
    ]:
        assert error_of(rpc(method, params)) == (-32001, "Task not found")
    assert (state_counts(negotiation), state_counts(other)) == before
    # and ListTasks shows each token its own task only
    assert [t["id"] for t in rpc("ListTasks")["result"]["tasks"]] == [task_id_for(seller)]
    other_tasks = rpc("ListTasks", token=other_token)["result"]["tasks"]
    assert [t["id"] for t in other_tasks] == [task_id_for(other_seller)]


# --------------------------------------------------------------------------
# Turns
# --------------------------------------------------------------------------


def test_a_message_out_of_turn_is_refused(playbook, client):
    from negotiator.models import SeatKind
    from negotiator.services.lifecycle import negotiation_create
    from tests.a2a.conftest import Rpc

    negotiation = negotiation_create(
        playbook=playbook, seed=3, seats={"seller": SeatKind.REMOTE_AGENT}
    )
    _, token = seat_credential_issue(participant=negotiation.participants.get(role="seller"))
    before = state_counts(negotiation)
    code, message = error_of(Rpc(client, token)("SendMessage", offer_message(counter(negotiation))))
    assert code == -32050
    assert message.startswith("It is not your turn. The other side is moving.")
    assert state_counts(negotiation) == before


def test_a_message_after_the_end_is_refused_as_unsupported(seat, rpc):
    negotiation, seller, _ = seat
    rpc("CancelTask", {"id": task_id_for(seller)})
    before = state_counts(negotiation)
    code, message = error_of(
        rpc("SendMessage", offer_message(counter(negotiation), message_id="late"))
    )
    assert code == -32004
    assert message == (
        "The negotiation is over (You withdrew from the negotiation.); it accepts no more messages."
    )
    assert state_counts(negotiation) == before


# --------------------------------------------------------------------------
# Malformed requests and invalid offers
# --------------------------------------------------------------------------


def test_malformed_json_gets_a_parse_error(seat, rpc):
    negotiation, _, _ = seat
    before = state_counts(negotiation)
    response = rpc.raw(b'{"jsonrpc": "2.0", "method": ')
    assert response.status_code == 200
    assert response.json()["error"]["code"] == -32700
    assert state_counts(negotiation) == before


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (
            {"jsonrpc": "2.0", "id": 1, "method": "Negotiate"},
            -32601,
            "Method 'Negotiate' does not exist",
        ),
        ({"jsonrpc": "1.0", "id": 1, "method": "GetTask"}, -32600, "'jsonrpc' must be '2.0'"),
        ([{"jsonrpc": "2.0", "id": 1, "method": "GetTask"}], -32600, "Batch requests"),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": [1]},
            -32602,
            "'params' must be an object",
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"historyLength": "many"}},
            -32602,
            "Invalid params for GetTask",
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "SendStreamingMessage", "params": {}},
            -32004,
            "Streaming is not offered",
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "CreateTaskPushNotificationConfig", "params": {}},
            -32003,
            "Push notifications are not offered",
        ),
    ],
)
def test_a_malformed_request_gets_a_precise_error(seat, rpc, body, code, says):
    negotiation, _, _ = seat
    before = state_counts(negotiation)
    reply = rpc.raw(json.dumps(body)).json()
    assert reply["error"]["code"] == code
    assert says in reply["error"]["message"]
    assert state_counts(negotiation) == before


def test_a_request_without_the_protocol_version_is_refused(seat, rpc):
    negotiation, _, _ = seat
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {}})
    reply = rpc.raw(body, version=None).json()
    assert reply["error"]["code"] == -32009
    assert "send the header 'A2A-Version: 1.0'" in reply["error"]["message"]


def _fixed_hash_wrong(negotiation):
    return {**counter(negotiation), "fixed_terms_hash": "0" * 64}


@pytest.mark.parametrize(
    ("data", "fields", "says"),
    [
        (
            lambda n: {**counter(n), "performative": "shout"},
            ["message.parts[0].data.performative"],
            "'shout' is not one of",
        ),
        (
            lambda n: {**counter(n), "colour": "red"},
            ["message.parts[0].data"],
            "Additional properties are not allowed ('colour' was unexpected)",
        ),
        (
            lambda n: {"performative": "counter"},
            ["message.parts[0].data", "message.parts[0].data"],
            "'terms' is a required property",
        ),
        (
            lambda n: {**counter(n), "assumptions": ["x" * 600]},
            ["message.parts[0].data.assumptions[0]"],
            "is too long",
        ),
    ],
)
def test_an_offer_that_breaks_the_schema_names_every_field(seat, rpc, data, fields, says):
    negotiation, _, _ = seat
    before = state_counts(negotiation)
    reply = rpc("SendMessage", offer_message(data(negotiation)))
    assert reply["error"]["code"] == -32602
    assert says in reply["error"]["message"]
    assert [v["field"] for v in field_violations(reply)] == fields
    assert state_counts(negotiation) == before


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (_fixed_hash_wrong, "fixed terms changed (hash mismatch"),
        (lambda n: counter(n, price=1), "price"),
        (lambda n: counter(n, price=126_000), "price"),
        (lambda n: counter(n, colour="red"), "unknown issue 'colour'"),
        (
            lambda n: {**counter(n), "in_reply_to": 999_999},
            "in_reply_to 999999 is not the offer on the table",
        ),
    ],
)
def test_an_offer_outside_the_space_or_the_fixed_terms_is_refused(seat, rpc, data, problem):
    negotiation, _, _ = seat
    before = state_counts(negotiation)
    reply = rpc("SendMessage", offer_message(data(negotiation)))
    assert reply["error"]["code"] == -32602
    assert reply["error"]["message"].startswith("The offer cannot be played: ")
    assert any(problem in v["description"] for v in field_violations(reply))
    assert state_counts(negotiation) == before


def test_a_policy_blocked_offer_is_refused_without_naming_the_policy(seat, rpc):
    negotiation, seller, _ = seat
    before = state_counts(negotiation)
    reply = rpc("SendMessage", offer_message(counter(negotiation, price=84_000)))
    assert error_of(reply) == (
        -32051,
        "Our policies do not allow this offer, so it was not played and it is still your turn. "
        "Send a different offer.",
    )
    assert state_counts(negotiation) == before
    state = rpc("GetTask", {"id": task_id_for(seller)})["result"]["status"]["state"]
    assert state == "TASK_STATE_INPUT_REQUIRED"
    # the refused attempt is in the audit trail as a use of the credential
    uses = AuditEvent.objects.filter(negotiation=negotiation, kind="seat.credential_used")
    assert [u.payload["what"] for u in uses.order_by("seq")] == [
        "SendMessage m-1: refused (OfferBlocked)",
        "GetTask",
    ]


@pytest.mark.parametrize(
    ("parts", "code", "says"),
    [
        ([], -32602, "a message has 1 to 4 parts, got 0"),
        ([{"text": "hello"}], -32602, "exactly one data part (the offer) is required, got 0"),
        ([{"text": "a"}] * 5, -32602, "a message has 1 to 4 parts, got 5"),
        ([{"data": {}}, {"text": "x" * 2001}], -32602, "longer than 2,000 characters"),
        ([{"url": "https://example.com/offer.pdf"}], -32005, "part 0 is a url part"),
    ],
)
def test_hostile_parts_are_refused(seat, rpc, parts, code, says):
    negotiation, _, _ = seat
    before = state_counts(negotiation)
    params = {"message": {"messageId": "m-1", "role": "ROLE_USER", "parts": parts}}
    reply = rpc("SendMessage", params)
    assert reply["error"]["code"] == code
    assert says in reply["error"]["message"]
    assert state_counts(negotiation) == before


def test_an_oversized_body_is_refused_unread(seat, rpc, settings):
    negotiation, _, _ = seat
    before = state_counts(negotiation)
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "pad": "x" * settings.A2A_MAX_BODY_BYTES}
    )
    response = rpc.raw(body)
    assert response.status_code == 413
    assert (
        response.json()["error"]["message"]
        == f"The body is over {settings.A2A_MAX_BODY_BYTES:,} bytes."
    )
    assert state_counts(negotiation) == before


# --------------------------------------------------------------------------
# Rate limit
# --------------------------------------------------------------------------


def test_over_the_rate_a_request_gets_429_and_changes_nothing(seat, rpc, settings):
    settings.A2A_RATE_PER_MINUTE = 3
    negotiation, _, _ = seat
    for _ in range(3):
        rpc("ListTasks")
    before = state_counts(negotiation)
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": offer_message(counter(negotiation)),
        }
    )
    response = rpc.raw(body)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    error = response.json()["error"]
    assert error["code"] == -32052
    assert error["message"].startswith("More than 3 requests a minute with this credential")
    assert state_counts(negotiation) == before
    assert AuditEvent.objects.filter(kind="seat.credential_used").count() == 3


def test_the_rate_window_is_counted_in_the_shared_store(seat, settings):
    """Two processes see one counter: a fresh cache handler (as another process
    would open) sees the counts this one made."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from negotiator.a2a.guard import rate_check

    settings.A2A_RATE_PER_MINUTE = 2
    credential = SeatCredential.objects.get()
    assert rate_check(credential, now=120.0).allowed
    assert rate_check(credential, now=150.0).allowed
    other = RedisCache(
        settings.CELERY_BROKER_URL, {"KEY_PREFIX": caches[settings.A2A_CACHE_ALIAS].key_prefix}
    )
    assert other.get(f"a2a:rate:{credential.pk}:2") == 2
    verdict = rate_check(credential, now=170.0)
    assert (verdict.allowed, verdict.retry_after) == (False, 10)
    assert rate_check(credential, now=180.0).allowed  # a new minute


def test_a_token_opens_its_own_seat_only_in_a_negotiation_with_two_outside_seats(client):
    """Both roles outside: the seller's token cannot see, move in or cancel the
    buyer's task, nor play the buyer's turn."""
    from negotiator.models import SeatKind
    from negotiator.playbook_io import playbook_import
    from negotiator.services.lifecycle import negotiation_create
    from tests.a2a.conftest import Rpc, procurement_document

    doc = procurement_document()
    doc["name"] = "Procurement, both sides outside"
    doc["roles"][0]["seats"] = ["builtin", "remote_agent"]
    negotiation = negotiation_create(
        playbook=playbook_import(doc),
        seed=3,
        seats={"buyer": SeatKind.REMOTE_AGENT, "seller": SeatKind.REMOTE_AGENT},
    )
    buyer = negotiation.participants.get(role="buyer")
    seller = negotiation.participants.get(role="seller")
    seller_rpc = Rpc(client, seat_credential_issue(participant=seller)[1])
    buyer_rpc = Rpc(client, seat_credential_issue(participant=buyer)[1])
    before = state_counts(negotiation)
    for method, params in [
        ("GetTask", {"id": task_id_for(buyer)}),
        ("CancelTask", {"id": task_id_for(buyer)}),
        ("SendMessage", offer_message(counter(negotiation), taskId=task_id_for(buyer))),
    ]:
        assert error_of(seller_rpc(method, params)) == (-32001, "Task not found")
    # the negotiation waits for the buyer's opening: the seller's message is out of turn
    assert error_of(seller_rpc("SendMessage", offer_message(counter(negotiation))))[0] == -32050
    assert state_counts(negotiation) == before
    [task] = buyer_rpc("ListTasks")["result"]["tasks"]
    assert task["id"] == task_id_for(buyer)
