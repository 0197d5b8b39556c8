"""A party's private profile, its utilities and private check evidence reach only
people allowed to see that party: its owner group, Auditors, superusers. Every
page, partial and export is checked for the secrets themselves."""

from __future__ import annotations

import json
import re

import pytest

from negotiator import permissions
from negotiator.models import Offer, Participant, PolicyCheck
from negotiator.selectors.audit import HIDDEN, Redactor
from negotiator.selectors.charts import concession_chart, outcome_chart
from negotiator.selectors.negotiations import parties_of
from negotiator.services.lifecycle import negotiation_create
from tests.negotiator.conftest import load_playbook_document, run_to_end
from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db

# Distinctive secrets: no term, round or count can collide with them.
BUYER_RESERVATION = 0.2468
BUYER_BUDGET_CAP = 117_531
BUYER_RESERVATION_PRICE = 113_579
SELLER_RESERVATION = 0.1357
SELLER_UNIT_COST = 77_713
SELLER_RESERVATION_PRICE = 90_289


def secret_spellings(*numbers: float) -> list[str]:
    out = []
    for n in numbers:
        if float(n).is_integer():
            out += [str(int(n)), f"{int(n):,}"]
        else:
            out += [str(n)]
    return out


BUYER_SECRETS = secret_spellings(BUYER_RESERVATION, BUYER_BUDGET_CAP, BUYER_RESERVATION_PRICE)
SELLER_SECRETS = secret_spellings(SELLER_RESERVATION, SELLER_UNIT_COST, SELLER_RESERVATION_PRICE)


@pytest.fixture
def playbook(db):
    from negotiator.playbook_io import playbook_import

    document = load_playbook_document("procurement")
    document["name"] = "Procurement with secrets"
    # A team apart from both parties' owner groups, so a team member who owns
    # neither party can be tested.
    document["team"] = "Deal desk"
    buyer, seller = document["roles"]
    buyer["profile"]["reservation"] = BUYER_RESERVATION
    buyer["profile"]["private_values"] = {
        "budget_cap": BUYER_BUDGET_CAP,
        "reservation_price": BUYER_RESERVATION_PRICE,
    }
    seller["profile"]["reservation"] = SELLER_RESERVATION
    seller["profile"]["private_values"] = {
        "unit_cost": SELLER_UNIT_COST,
        "reservation_price": SELLER_RESERVATION_PRICE,
    }
    return playbook_import(document)


@pytest.fixture
def negotiation(playbook):
    negotiation = run_to_end(negotiation_create(playbook=playbook, seed=3))
    assert Offer.objects.filter(negotiation=negotiation).count() > 4
    # The seller's margin checks carry its unit cost as private evidence.
    assert PolicyCheck.objects.filter(
        negotiation=negotiation, sender="seller", evidence__private=True
    ).exists()
    return negotiation


def utility_spellings(negotiation, role: str) -> list[str]:
    """Every stored utility of `role`, as the JSON and the page would spell it."""
    out = set()
    for utilities in Offer.objects.filter(negotiation=negotiation).values_list(
        "utilities", flat=True
    ):
        if role in (utilities or {}):
            value = utilities[role]
            out.add(json.dumps(value))
    # Short spellings (0.5) also occur in harmless places; keep the precise ones.
    return sorted(s for s in out if len(s) >= 6)


def bodies(client, negotiation) -> dict[str, str]:
    pk = negotiation.pk
    out = {}
    for url in (
        "/",
        "/negotiations/",
        f"/negotiations/{pk}/",
        f"/negotiations/{pk}/timeline?after=0&round=0&status=running",
        f"/negotiations/{pk}/timeline?before=999999999",
        f"/negotiations/{pk}/audit/",
        f"/negotiations/{pk}/audit.json",
        f"/negotiations/{pk}/audit.csv",
    ):
        response = client.get(url, headers={"HX-Request": "true"} if "timeline" in url else {})
        assert response.status_code == 200, url
        content = b"".join(response.streaming_content) if response.streaming else response.content
        out[url] = content.decode()
    return out


HEX_RUN = re.compile(r"[0-9a-f]{16,}")


def assert_absent(pages: dict[str, str], secrets: list[str]) -> None:
    for url, body in pages.items():
        # Audit hashes are random hex; "77713" inside one is not a leak.
        body = HEX_RUN.sub("#", body)
        for secret in secrets:
            assert secret not in body, f"{secret!r} leaked in {url}"


def assert_present_somewhere(pages: dict[str, str], secrets: list[str]) -> None:
    joined = "\n".join(pages.values())
    for secret in secrets:
        assert secret in joined, f"{secret!r} not shown to a user allowed to see it"


def test_a_user_without_rights_never_gets_private_values(client, negotiation):
    client.force_login(make_user("nobody", "Deal desk"))
    pages = bodies(client, negotiation)
    assert_absent(pages, BUYER_SECRETS + SELLER_SECRETS)
    assert_absent(pages, utility_spellings(negotiation, "buyer"))
    assert_absent(pages, utility_spellings(negotiation, "seller"))
    assert "private_values" not in pages[f"/negotiations/{negotiation.pk}/audit.json"]
    assert "Details are private to the seller" in pages[f"/negotiations/{negotiation.pk}/"]


def test_an_owner_sees_its_own_party_only(client, negotiation):
    client.force_login(make_user("sally", "Sales", "Deal desk"))
    pages = bodies(client, negotiation)
    assert_absent(pages, BUYER_SECRETS)
    assert_absent(pages, utility_spellings(negotiation, "buyer"))
    # The seller's reservation and its margin evidence are visible to Sales.
    detail = pages[f"/negotiations/{negotiation.pk}/"]
    assert "Private profile" in detail and "77,713" in detail


def test_auditors_and_superusers_see_every_party(client, negotiation):
    for user in (make_user("audrey", "Auditors"), make_user("root", superuser=True)):
        client.force_login(user)
        pages = bodies(client, negotiation)
        assert_present_somewhere(pages, ["77,713", "117,531", "113,579"])
        detail = pages[f"/negotiations/{negotiation.pk}/"]
        assert "Agreement vs. Pareto frontier" in detail
        assert "Concessions" in detail


def test_concession_chart_draws_only_visible_parties(negotiation):
    sales = make_user("sam", "Sales")
    parties = parties_of(negotiation, sales)
    chart = concession_chart(negotiation, parties)
    assert [line.label for line in chart.lines] == [p.label for p in parties if p.role == "seller"]
    assert outcome_chart(negotiation, parties) is None
    nobody = make_user("nobody2")
    parties = parties_of(negotiation, nobody)
    assert concession_chart(negotiation, parties).lines == []


def test_permission_rules():
    participant_buyer = Participant(role="buyer", owner_group=None)
    auditor = make_user("a1", "Auditors")
    operator = make_user("o1", "Operators")
    nobody = make_user("n1")
    assert permissions.may_see_private(auditor, participant_buyer)
    assert not permissions.may_see_private(operator, participant_buyer)
    assert permissions.may_operate(operator) and not permissions.may_operate(nobody)
    assert not permissions.may_operate(auditor)


def test_redactor_hides_private_evidence_and_foreign_utilities():
    redactor = Redactor(roles=frozenset({"buyer", "seller"}), visible=frozenset({"seller"}))
    payload = {
        "utilities": {"buyer": 0.9, "seller": 0.4},
        "results": [
            {"sender": "buyer", "evidence": {"private": True, "cost": 1}},
            {"sender": "seller", "evidence": {"private": True, "cost": 2}},
        ],
        "participants": [{"role": "buyer", "profile": {"reservation": 0.3}}],
    }
    cleaned = redactor.payload("anything", payload)
    assert cleaned["utilities"] == {"seller": 0.4}
    assert cleaned["results"][0]["evidence"] == {"hidden": "private to the sending party"}
    assert cleaned["results"][1]["evidence"]["cost"] == 2
    assert cleaned["participants"][0]["profile"] == HIDDEN
