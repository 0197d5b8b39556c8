"""One styled page for 403 and 404 (with DEBUG on too), the favicon, human strategy
names, escalation reasons said once, the list as CSV and two offers side by side."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from negotiator.engine.policies import CheckResult, cause_text, decide
from negotiator.selectors.strategies import STRATEGY_HELP, strategy_choices
from tests.negotiator.test_views import (  # noqa: F401 - fixtures shared with test_views
    finished,
    make_user,
    operator,
    operator_client,
)

pytestmark = pytest.mark.django_db


def test_a_user_without_permission_gets_the_styled_403_page(client, settings):
    for debug in (True, False):
        settings.DEBUG = debug
        client.force_login(make_user(f"nogroup{int(debug)}"))
        response = client.get("/negotiations/new/")
        body = response.content.decode()
        assert response.status_code == 403
        assert 'class="card error-page" data-error-code="403"' in body
        assert "Only operators may start negotiations." in body
        assert '<link rel="stylesheet"' in body  # a whole page, not a bare fragment


def test_a_missing_negotiation_gets_the_styled_404_page_with_debug_on(client, settings):
    settings.DEBUG = True
    client.force_login(make_user("someone"))
    response = client.get("/negotiations/987654/")
    assert response.status_code == 404
    body = response.content.decode()
    assert 'data-error-code="404"' in body and "Not found" in body
    assert "Using the URLconf" not in body  # not Django's technical page


def test_the_api_keeps_its_json_errors_with_debug_on(client, settings):
    settings.DEBUG = True
    client.force_login(make_user("api-user"))
    response = client.get("/api/negotiations/987654")
    assert response.status_code in (401, 404)
    assert "error-page" not in response.content.decode()


def test_the_favicon_is_served_without_a_login():
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content


def test_every_strategy_has_a_human_name_and_one_line():
    choices = dict(strategy_choices())
    from negotiator.engine.strategies import STRATEGIES

    assert set(choices) == set(STRATEGIES) == set(STRATEGY_HELP)
    for name, text in choices.items():
        label, line = STRATEGY_HELP[name]
        assert text == f"{label} — {line}"
        assert "see " not in line and "e=" not in line  # no developer docstrings
        assert line.endswith(".") and len(line) < 100


def _result(name: str, message: str, value=None) -> CheckResult:
    return CheckResult(
        policy_id=1,
        policy_version=1,
        policy_name=name,
        kind="expression",
        severity="escalate",
        passed=False,
        message=message,
        evidence={"value": value} if value is not None else {},
    )


def test_an_escalation_reason_names_each_cause_once():
    restated = _result(
        "Accepting above 95,000 needs a person",
        "accepting a price above 95,000 needs a person",
        96000,
    )
    assert cause_text(restated) == "Accepting above 95,000 needs a person (value 96,000)"
    informative = _result("Large orders need approval", "deal value 104,000 is above 100,000")
    assert cause_text(informative) == (
        "Large orders need approval: deal value 104,000 is above 100,000"
    )
    # The same failed check twice (send and accept stage) is one cause.
    decision = decide([restated, restated])
    assert decision.reason == "needs a person: Accepting above 95,000 needs a person (value 96,000)"


def test_the_negotiation_list_exports_as_csv_with_its_filters(procurement, operator_client):  # noqa: F811
    done = finished(procurement, title="Exported order", seed=3)
    other = finished(procurement, title="Another order", seed=4)
    response = operator_client.get("/negotiations.csv", {"q": "Exported"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="negotiations.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["id"]) for r in rows] == [done.pk]
    row = rows[0]
    assert row["status"] == done.status and row["playbook"] == procurement.name
    if done.agreed_terms:
        assert "Price" in row["terms"] and "price" not in row["terms"].split(" ")[0]
    everything = operator_client.get("/negotiations.csv")
    ids = {
        int(r["id"])
        for r in csv.DictReader(io.StringIO(b"".join(everything.streaming_content).decode()))
    }
    assert {done.pk, other.pk} <= ids


def test_two_offers_side_by_side(procurement, operator_client):  # noqa: F811
    negotiation = finished(procurement, title="Compared", seed=3)
    offers = list(negotiation.offers.exclude(terms={}).order_by("pk"))
    first, last = offers[0], offers[-1]
    response = operator_client.get(
        f"/negotiations/{negotiation.pk}/compare/", {"a": first.pk, "b": last.pk}
    )
    assert response.status_code == 200
    cmp = response.context["cmp"]
    assert (cmp.left.pk, cmp.right.pk) == (first.pk, last.pk)
    price = next(r for r in cmp.rows if r.label == "Price")
    assert price.differs == (first.terms["price"] != last.terms["price"])
    # Ids of another negotiation's offers (or nonsense) fall back to the latest two.
    fallback = operator_client.get(f"/negotiations/{negotiation.pk}/compare/", {"a": "x", "b": 0})
    assert fallback.status_code == 200
    assert fallback.context["cmp"].right.pk == offers[-1].pk
