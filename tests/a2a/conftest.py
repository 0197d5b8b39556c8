"""Fixtures for the A2A door: the procurement playbook with distinctive private
values (so a leak test can look for them), a negotiation with an outside agent
seat, its token, and a JSON-RPC caller."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import REPO

# Private values no offer can carry by chance (prices move in steps of 1,000).
PRIVATE = {
    "buyer_budget_cap": 115123,
    "buyer_reservation_price": 112345,
    "seller_unit_cost": 78901,
    "seller_reservation_price": 90123,
    "price_floor": 85321,
    "budget_cap_policy": 118321,
    "approval_above": 100321,
}


def procurement_document() -> dict:
    doc = json.loads((REPO / "playbooks" / "procurement.json").read_text())
    buyer, seller = doc["roles"]
    buyer["profile"]["private_values"] = {
        "budget_cap": PRIVATE["buyer_budget_cap"],
        "reservation_price": PRIVATE["buyer_reservation_price"],
    }
    buyer["profile"]["reservation"] = 0.2468
    buyer["profile"]["weights"] = {"cost": 0.613, "speed": 0.241, "quality": 0.146}
    buyer["strategy_params"] = {"e": 0.9753}
    seller["profile"]["private_values"] = {
        "unit_cost": PRIVATE["seller_unit_cost"],
        "reservation_price": PRIVATE["seller_reservation_price"],
    }
    seller["profile"]["reservation"] = 0.1357
    seller["profile"]["weights"] = {"cost": 0.652, "speed": 0.197, "risk": 0.151}
    for policy in doc["policies"]:
        params = policy["parameters"]
        if policy["kind"] == "floor":
            params["min"] = PRIVATE["price_floor"]
        elif policy["kind"] == "cap":
            params["max"] = PRIVATE["budget_cap_policy"]
        elif policy["kind"] == "approval_threshold":
            params["above"] = PRIVATE["approval_above"]
    return doc


@pytest.fixture
def playbook(db):
    from negotiator.playbook_io import playbook_import

    return playbook_import(procurement_document())


@pytest.fixture(autouse=True)
def _own_rate_counters(settings):
    """The rate counters live in the real shared store (Redis), under a prefix
    of this test's own."""
    settings.CACHES = {
        **settings.CACHES,
        settings.A2A_CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CELERY_BROKER_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        },
    }


def open_seat(playbook, *, seed: int = 3):
    """A negotiation whose seller is an outside agent; our buyer has opened."""
    from negotiator.models import SeatKind
    from negotiator.services.lifecycle import negotiation_create
    from negotiator.services.rounds import negotiation_run_round
    from negotiator.services.seats import seat_credential_issue

    negotiation = negotiation_create(
        playbook=playbook, seed=seed, seats={"seller": SeatKind.REMOTE_AGENT}
    )
    assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    negotiation.refresh_from_db()
    seller = negotiation.participants.get(role="seller")
    _, token = seat_credential_issue(participant=seller)
    return negotiation, seller, token


@pytest.fixture
def seat(playbook):
    return open_seat(playbook)


class Rpc:
    """Posts JSON-RPC requests to /a2a/ as a seat would."""

    def __init__(self, client, token: str) -> None:
        self.client = client
        self.token = token
        self.responses: list[str] = []  # every body the seat received

    def raw(self, body: bytes | str, *, token: str | None = None, version: str | None = "1.0"):
        headers = {}
        if token or self.token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token or self.token}"
        if version:
            headers["HTTP_A2A_VERSION"] = version
        response = self.client.post("/a2a/", data=body, content_type="application/json", **headers)
        self.responses.append(response.content.decode())
        return response

    def __call__(self, method: str, params: dict | None = None, **kwargs) -> dict:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}})
        response = self.raw(body, **kwargs)
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def rpc(client, seat):
    return Rpc(client, seat[2])


def offer_message(data: dict, *, message_id: str = "m-1", text: str = "", **extra) -> dict:
    parts = [{"data": data, "mediaType": "application/json"}]
    if text:
        parts.append({"text": text})
    return {"message": {"messageId": message_id, "role": "ROLE_USER", "parts": parts, **extra}}


def counter(negotiation, **terms) -> dict:
    from negotiator.engine.outcomes import fixed_terms_hash

    base = {"price": 110_000, "delivery_days": 10, "warranty_months": 12}
    return {
        "performative": "counter",
        "terms": {**base, **terms},
        "fixed_terms_hash": fixed_terms_hash(negotiation.playbook_version.spec["fixed_terms"]),
    }


def state_counts(negotiation) -> tuple:
    """Everything a refused message must leave as it was (credential-use audit
    events aside: every use is audited)."""
    from negotiator.models import AuditEvent, Negotiation, Offer, PolicyCheck, SeatMessage

    row = Negotiation.objects.get(pk=negotiation.pk)
    return (
        Offer.objects.filter(negotiation=negotiation).count(),
        PolicyCheck.objects.filter(negotiation=negotiation).count(),
        SeatMessage.objects.count(),
        AuditEvent.objects.filter(negotiation=negotiation)
        .exclude(kind="seat.credential_used")
        .count(),
        row.status,
        row.current_round,
        row.waiting_for,
        json.dumps(row.engine_state, sort_keys=True),
    )


class ConcedingSeller:
    """The outside seller the tests play: asks 118,000 and concedes 3,000 a turn
    down to 97,000; accepts our offer once its price reaches the current ask.
    Delivery 20 days and 12 months' warranty keep it clear of the SLA and the
    warranty rule. Deterministic: the same offers get the same answers."""

    def __init__(self, fixed_terms_hash: str) -> None:
        self.fixed_terms_hash = fixed_terms_hash
        self.ask = 118_000

    def move(self, ours: dict) -> dict:
        if (
            ours.get("performative") in ("propose", "counter")
            and ours["terms"]["price"] >= self.ask
        ):
            return {"performative": "accept", "in_reply_to": ours["offer_id"]}
        move = {
            "performative": "counter",
            "terms": {"price": self.ask, "delivery_days": 20, "warranty_months": 12},
            "fixed_terms_hash": self.fixed_terms_hash,
            "in_reply_to": ours["offer_id"],
        }
        self.ask = max(97_000, self.ask - 3_000)
        return move


@pytest.fixture
def approval_route(db):
    """Deals above 90,000 wait for a member of Approvers."""
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute

    return ApprovalRoute.objects.create(
        name="Large supplier deals",
        condition_kind="deal_value_above",
        threshold=90_000,
        approver_group=Group.objects.get_or_create(name="Approvers")[0],
        approvers_required=1,
        sla_hours=24,
        on_expiry="expire",
        order=10,
    )
