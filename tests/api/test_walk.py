"""Every API route, found from the URL resolver and the OpenAPI document (so a new
route is walked the day it is added): without a token it is a 401; for a user of
another team every route that names a team's object is a 404, exactly like a
missing id, and nothing changes; the OpenAPI document lists every route, and the
docs page needs a login."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from approvals.models import ApprovalStatus
from negotiator.models import Negotiation
from tests.api.conftest import Api, agreed, token_for
from tests.api.test_tokens import error_of
from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db

NOT_OPERATIONS = {"openapi-json", "openapi-view", "api-root"}
MISSING = 987_654_321


def resolver_routes() -> set[str]:
    """The API's operations as Django routes, e.g. api/negotiations/<negotiation_id>."""

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name not in NOT_OPERATIONS:
                yield prefix + str(p.pattern)

    api = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and str(p.pattern) == "api/"
    )
    ninja = [p for p in api.url_patterns if isinstance(p, URLResolver)]
    return set(walk(ninja, "api/"))


def openapi_operations(client, secret) -> list[tuple[str, str]]:
    document = Api(client, secret).get("/openapi.json").json()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


BODIES = {
    ("POST", "/api/negotiations"): lambda w: {"playbook": w["team_a"].pk},
    ("POST", "/api/approvals/{approval_id}/decision"): lambda w: {"decision": "approve"},
}


def concrete(path: str, world, *, missing: bool = False) -> str:
    ids = {
        "negotiation_id": MISSING if missing else world["pending"].pk,
        "approval_id": MISSING if missing else world["request"].pk,
    }
    names = re.findall(r"{(\w+)}", path)
    assert set(names) <= set(ids), f"teach the walk the parameters {names} of {path}"
    return re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), path)


def call(client, secret, method, path, world, *, missing=False):
    api = Api(client, secret)
    url = concrete(path, world, missing=missing).removeprefix("/api")
    if method == "GET":
        return api.get(url)
    return api.post(url, BODIES[(method, path)](world))


@pytest.fixture
def world(teams):
    pending = agreed(teams["team_a"], "Valves", user=teams["operator"])
    return {**teams, "pending": pending, "request": pending.approval_requests.get()}


def test_the_openapi_document_lists_every_route(client, world):
    secret = token_for(world["operator"])
    operations = openapi_operations(client, secret)
    documented = {re.sub(r"{(\w+)}", r"<\1>", path).lstrip("/") for _, path in operations}
    assert documented == resolver_routes()
    assert len(operations) >= 12
    for method, path in operations:
        if method == "POST":
            assert (method, path) in BODIES, f"give the walk a body for {method} {path}"


def test_without_a_token_every_route_is_a_401(client, world):
    for method, path in openapi_operations(client, token_for(world["operator"])):
        response = call(client, None, method, path, world)
        assert response.status_code == 401, (method, path, response.status_code)
        assert error_of(response)["code"] == "unauthorized"


def test_another_team_gets_404_on_every_route_that_names_a_teams_object(client, world):
    stranger = make_user("stu", "Marketing", "Operators")  # no approver: nothing routed to him
    secret = token_for(stranger)
    before = {n.pk: (n.status, n.current_round) for n in Negotiation.objects.all()}
    checked = 0
    for method, path in openapi_operations(client, secret):
        named = "{" in path or (method, path) == ("POST", "/api/negotiations")
        response = call(client, secret, method, path, world)
        if not named:
            assert response.status_code == 200, (method, path, response.content)
            assert "Valves" not in response.content.decode(), (method, path)
            continue
        assert response.status_code == 404, (method, path, response.status_code)
        if "{" in path:
            missing = call(client, secret, method, path, world, missing=True)
            assert missing.status_code == 404
            ours, theirs = error_of(response), error_of(missing)
            assert ours["code"] == theirs["code"] == "not_found"
            assert re.sub(r"\d+", "N", ours["message"]) == re.sub(r"\d+", "N", theirs["message"])
        checked += 1
    assert checked >= 8
    assert {n.pk: (n.status, n.current_round) for n in Negotiation.objects.all()} == before
    world["request"].refresh_from_db()
    assert world["request"].status == ApprovalStatus.PENDING


def test_a_team_member_gets_200_on_every_read(client, world):
    """The walk's other half: the same routes answer the team's own people."""
    from approvals.services.decisions import approval_decide

    approval_decide(request=world["request"], user=world["approver"], decision="approve")
    secret = token_for(world["operator"])
    for method, path in openapi_operations(client, secret):
        if method != "GET":
            continue
        response = call(client, secret, method, path, world)
        assert response.status_code == 200, (method, path, response.content[:300])


def test_the_openapi_document_needs_a_login_or_a_token_and_the_docs_page_a_login(client, world):
    anonymous = client.get("/api/openapi.json")
    assert anonymous.status_code == 401 and error_of(anonymous)["code"] == "unauthorized"
    assert client.get("/api/docs")["Location"].startswith("/login/")
    client.force_login(world["member"])
    document = client.get("/api/openapi.json").json()
    assert document["info"]["title"] == "Negotiator API"
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-openapi-url="/api/openapi.json"' in html
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert "default-src 'self'" in page["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/negotiations/abc",
        "/negotiations/-1",
        "/negotiations/99999999999999999999999999",
        "/negotiations/1.5/offers",
        "/approvals/99999999999999999999999999",
        "/negotiations/1/offers?after=-1",
        "/negotiations/1/checks?limit=100000",
        "/negotiations?created_after=2026-13-45",
    ],
)
def test_bad_ids_and_parameters_are_4xx_never_500(client, teams, path):
    api = Api(client, token_for(teams["operator"]))
    url, _, query = path.partition("?")
    params = dict(p.split("=") for p in query.split("&")) if query else {}
    response = api.get(url, **params)
    assert response.status_code in (400, 404), (path, response.status_code, response.content)
    assert error_of(response)["message"]
    posted = api.post(url + "/decision" if url.startswith("/approvals") else url, {})
    assert posted.status_code in (400, 404, 405), (path, posted.status_code)
    assert error_of(posted)["message"]


def test_a_wrong_method_is_a_405_with_the_error_body(client, teams):
    response = Api(client, token_for(teams["operator"])).post("/playbooks", {})
    assert response.status_code == 405 and response["Allow"] == "GET"
    assert error_of(response)["code"] == "method_not_allowed"
