"""What an outside seat can fetch holds public offers and its own seat's data
only: no private profile (ours or the one we keep for its role), no policy,
policy parameter or limit, no reservation value, utility or strategy parameter."""

from __future__ import annotations

import re

import pytest

from negotiator.a2a.seat_task import task_id_for
from negotiator.models import NegotiationStatus
from tests.a2a.conftest import PRIVATE, ConcedingSeller, offer_message, procurement_document

pytestmark = pytest.mark.django_db


def private_strings() -> list[str]:
    """Taken from the playbook itself: its profiles, strategy parameters and policies."""
    doc = procurement_document()
    strings = {"private_values", "reservation_price", "budget_cap", "unit_cost", "utilities"}
    strings |= {"strategy_params", "weights", "owner_group", "min_margin", "approval_threshold"}
    for role in doc["roles"]:
        profile = role["profile"]
        strings.add(str(profile["reservation"]))
        strings |= {str(w) for w in profile["weights"].values()}
        strings |= {str(v) for v in role["strategy_params"].values()}
    for value in PRIVATE.values():
        strings |= {str(value), f"{value:,}", f"{value / 1000:g}k"}
    # the seat must see the issues and the fixed terms
    public = set(doc["fixed_terms"]) | set(doc["fixed_terms"].values())
    public |= {issue["name"] for issue in doc["issues"]}
    for policy in doc["policies"]:
        strings |= {policy["name"], policy["description"]}
        strings |= {p for p in policy["parameters"].values() if isinstance(p, str) and len(p) > 12}
    return sorted(strings - public)


def test_nothing_a_seat_can_fetch_carries_private_data(client, seat, rpc, approval_route):
    negotiation, seller, _ = seat
    seen = [
        client.get("/.well-known/agent-card.json").content.decode(),
        client.get("/a2a/offer.schema.json").content.decode(),
    ]
    task = rpc("ListTasks")["result"]["tasks"][0]
    agent = ConcedingSeller(task["metadata"]["space"]["fixed_terms_hash"])
    # refused moves: blocked by a policy (a price under the floor), invalid
    below_floor = agent.move(task["status"]["message"]["parts"][0]["data"])
    below_floor["terms"]["price"] = 84_000
    assert rpc("SendMessage", offer_message(below_floor, message_id="low"))["error"]
    assert rpc("SendMessage", offer_message({"performative": "counter"}, message_id="x"))["error"]
    agent = ConcedingSeller(task["metadata"]["space"]["fixed_terms_hash"])
    for turn in range(40):
        if task["status"]["state"] != "TASK_STATE_INPUT_REQUIRED":
            break
        move = agent.move(task["status"]["message"]["parts"][0]["data"])
        reply = rpc("SendMessage", offer_message(move, message_id=f"t{turn}", text="Fair price."))
        task = reply["result"]["task"]
    rpc("GetTask", {"id": task_id_for(seller)})
    rpc("ListTasks", {"includeArtifacts": True, "historyLength": 100})
    rpc("SendMessage", offer_message(move, message_id="after-the-end"))
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.PENDING_APPROVAL
    seen += rpc.responses
    everything = "\n".join(seen)
    assert "agreement" in everything and "Fair price." in everything  # the bodies are real
    leaked = [s for s in private_strings() if appears(s, everything)]
    assert leaked == []


def appears(needle: str, text: str) -> bool:
    """Text anywhere; a number only as a number of its own (0.613 is not in the
    timestamp 12:00:20.613451)."""
    if not re.fullmatch(r"[\d.,]+k?", needle):
        return needle in text
    return re.search(rf"(?<![\d.]){re.escape(needle)}(?![\d])", text) is not None
