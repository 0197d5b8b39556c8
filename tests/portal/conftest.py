"""Fixtures for the portal: a playbook whose private values, strategy parameters
and reservations are numbers no offer can carry (off the issues' steps), so a
test can look for them in every response; and a negotiation whose supplier seat
is an invited person."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.core.cache import cache

from negotiator.models import Negotiation, Participant
from tests.negotiator.conftest import load_playbook_document

# What must never reach an outside person (the buyer is ours; the supplier's
# profile is our private estimate of them).
PRIVATE_VALUES = {
    "buyer": {"budget_cap": 115_432, "reservation_price": 111_987},
    "seller": {"unit_cost": 78_123, "reservation_price": 90_321},
}
STRATEGY_PARAMS = {"e": 1.37, "band": 0.0173}
RESERVATIONS = {"buyer": 0.2468, "seller": 0.1357}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """The limiter counts in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def private_document(name: str = "procurement") -> dict:
    document = load_playbook_document(name)
    for role in document["roles"]:
        if role["name"] in PRIVATE_VALUES:
            role["profile"]["private_values"] = PRIVATE_VALUES[role["name"]]
            role["profile"]["reservation"] = RESERVATIONS[role["name"]]
        if role["name"] == "buyer":
            role["strategy_params"] = STRATEGY_PARAMS
    return document


@pytest.fixture
def procurement(db):
    from negotiator.playbook_io import playbook_import
    from negotiator.services.roles import roles_ensure

    roles_ensure()
    return playbook_import(private_document())


@pytest.fixture
def saas(db):
    from negotiator.playbook_io import playbook_import
    from negotiator.services.roles import roles_ensure

    roles_ensure()
    return playbook_import(load_playbook_document("saas"))


@dataclass
class Seat:
    negotiation: Negotiation
    participant: Participant
    secret: str
    url: str

    def refresh(self) -> Negotiation:
        self.negotiation.refresh_from_db()
        return self.negotiation


def open_seat(playbook, *, role: str = "seller", seed: int = 3, title: str = "Q3 parts") -> Seat:
    """A running negotiation that waits for its invited person (our side opened)."""
    from negotiator.services.invites import Invitee, negotiation_create_with_seats
    from negotiator.services.rounds import negotiation_run_round
    from negotiator.services.scheduling import rounds_held

    with rounds_held():
        negotiation, issued = negotiation_create_with_seats(
            playbook=playbook,
            seats={role: "person"},
            invitees={role: Invitee("Sam Supplier", "sam@globex.example")},
            base_url="http://testserver",
            title=title,
            seed=seed,
        )
        negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    negotiation.refresh_from_db()
    return Seat(
        negotiation=negotiation,
        participant=negotiation.participants.get(role=role),
        secret=issued[0].secret,
        url=issued[0].link.removeprefix("http://testserver"),
    )


@pytest.fixture
def seat(procurement, mailoutbox) -> Seat:
    return open_seat(procurement)


def form_of(html: str) -> dict[str, str]:
    """The hidden fields of the page's answer form (message id, offer on the table)."""
    out = {}
    for name in ("message_id", "on_table"):
        match = re.search(rf'name="{name}" value="([^"]*)"', html)
        assert match, f"no {name} on the page"
        out[name] = match.group(1)
    return out


def counter_data(page_html: str, **terms) -> dict[str, str]:
    values = {"price": 110_000, "delivery_days": 10, "warranty_months": 12, **terms}
    return {
        "action": "counter",
        **form_of(page_html),
        **{f"term_{k}": str(v) for k, v in values.items()},
    }


def revoking_after_the_check(record, revoke):
    """A door's credential-use recorder that, on a POST, revokes the credential right
    after the door checked it: a revocation committing while the move (or bid) is on
    its way to the lock."""

    def record_then_revoke(*, credential, address, what):
        record(credential=credential, address=address, what=what)
        if what.endswith("post"):
            revoke(credential=credential)

    return record_then_revoke
