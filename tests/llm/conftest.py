"""Fixtures for the language-model integration: a fake OpenAI-compatible server
(scripted per test) that the settings point at, and a procurement playbook whose
private numbers are off the offer grid, so a leak is visible as a string."""

from __future__ import annotations

import json

import pytest

from negotiator.llm.fake import FakeLLMServer, Reply, first_choice
from tests.negotiator.conftest import auto_approval_route, load_playbook_document

# Private to the buyer (our side): none of these strings may reach the model.
PRIVATE = {
    "reservation": "0.2713",
    "weight_cost": "0.5731",
    "weight_speed": "0.2569",
    "budget_cap": "114321",
    "reservation_price": "111777",
    "floor": "85500",
    "cap": "117500",
    "sla": "32",
    "approval_above": "100500",
}


@pytest.fixture
def llm_server(settings):
    """A fake model answering with the first candidate; tests swap ``script``."""
    with FakeLLMServer(first_choice) as server:
        settings.LLM_BASE_URL = server.base_url
        settings.LLM_MODEL = "fake-model"
        settings.LLM_API_KEY = "test-key"
        settings.LLM_TIMEOUT_SECONDS = 1
        settings.LLM_RETRIES = 0
        settings.LLM_TOKEN_BUDGET = 1_000_000
        yield server


def private_document() -> dict:
    """The shipped procurement playbook with off-grid private numbers and limits."""
    doc = load_playbook_document("procurement")
    buyer = next(r for r in doc["roles"] if r["name"] == "buyer")
    buyer["profile"]["reservation"] = float(PRIVATE["reservation"])
    buyer["profile"]["weights"] = {
        "cost": float(PRIVATE["weight_cost"]),
        "speed": float(PRIVATE["weight_speed"]),
        "quality": round(1 - 0.5731 - 0.2569, 4),
    }
    buyer["profile"]["private_values"] = {
        "budget_cap": int(PRIVATE["budget_cap"]),
        "reservation_price": int(PRIVATE["reservation_price"]),
    }
    limits = {
        "Price floor": {"issue": "price", "min": int(PRIVATE["floor"])},
        "Budget cap": {"issue": "price", "max": int(PRIVATE["cap"])},
        "Delivery SLA": {"issue": "delivery_days", "max": int(PRIVATE["sla"])},
        "Large orders need approval": {"measure": "value", "above": int(PRIVATE["approval_above"])},
    }
    for policy in doc["policies"]:
        if policy["name"] in limits:
            policy["parameters"] = limits[policy["name"]]
    return doc


@pytest.fixture
def llm_playbook(db, llm_server):
    """Procurement, the buyer LLM-assisted, clean deals approved automatically."""
    from negotiator.models import Policy
    from negotiator.playbook_io import playbook_import

    playbook = playbook_import(private_document())
    Policy.objects.filter(playbook=playbook, kind="approval_threshold").update(active=False)
    auto_approval_route()
    return playbook


def sequence(*replies: Reply, then=first_choice):
    """Answer with ``replies`` in order, then with ``then`` for every later call."""
    queue = list(replies)

    def script(body):
        return queue.pop(0) if queue else then(body)

    return script


def json_reply(data) -> Reply:
    return Reply(json.dumps(data))
