"""GET /api/outcomes: the outcomes page's figures with the same filters, for the
token's user only (known data: tests/analytics/known_data.py)."""

from __future__ import annotations

import pytest

from tests.analytics.known_data import procurement_world
from tests.api.conftest import Api, token_for
from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return procurement_world()


def test_the_api_gives_the_pages_figures_for_the_users_teams(client, world):
    api = Api(client, token_for(make_user("mia", "Procurement")))
    response = api.get("/outcomes")
    assert response.status_code == 200, response.content
    data = response.json()
    f = data["figures"]
    assert f["agreement_rate"]["value"] == pytest.approx(2 / 3)
    assert f["savings_ask"]["value"] == pytest.approx((20000 / 120000 + 15000 / 125000) / 2)
    assert f["approval_median"]["value"] == 750
    assert f["approval_p90"]["value"] == pytest.approx(870)
    assert f["rounds"]["definition"].startswith("Rounds played")
    assert [n["title"] for n in data["negotiations"]] == ["N1", "N2", "N3", "N4"]
    assert data["negotiations"][0]["quality"] == {
        "visible": False,
        "pareto_distance": None,
        "nash_distance": None,
        "score": None,
        "on_frontier": None,
    }
    assert data["escalations_by_cause"][0]["cause"] == "policy_escalation"
    assert [p["text"] for p in data["pattern_metrics"]] == ["not yet used"] * 4


def test_the_api_takes_the_same_filters(client, world):
    api = Api(client, token_for(make_user("audrey", "Auditors")))
    media = api.get("/outcomes", playbook=world["media"].pk).json()
    assert [n["title"] for n in media["negotiations"]] == ["Media N5"]
    bundle = api.get("/outcomes", pattern="bundle").json()
    assert [n["title"] for n in bundle["negotiations"]] == ["Media N5"]
    later = api.get("/outcomes", start="2026-03-03").json()
    assert later["negotiations"] == []


def test_bad_filters_are_a_400_with_the_error_body(client, world):
    api = Api(client, token_for(make_user("mia", "Procurement")))
    response = api.get("/outcomes", start="yesterday", pattern="poker")
    assert response.status_code == 400
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert {"query.start", "query.pattern"} <= fields
