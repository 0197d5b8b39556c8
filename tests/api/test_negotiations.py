"""The negotiation endpoints: starting one (with its outside seats' credentials),
listing, reading, offers and checks with the pages' privacy rule, the final plan
and the audit export. Bad input is a 400 naming the field and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.services.decisions import approval_decide
from negotiator.models import CredentialKind, Negotiation, NegotiationStatus, SeatCredential
from negotiator.selectors.audit import audit_document, redactor_for
from negotiator.selectors.negotiations import check_view
from negotiator.services.seats import seat_credential_verify
from tests.api.conftest import agreed
from tests.api.test_tokens import error_of

pytestmark = pytest.mark.django_db


def test_an_operator_starts_a_negotiation_and_gets_each_outside_seats_credential_once(
    api_as, teams
):
    api = api_as(teams["operator"])
    response = api.post(
        "/negotiations",
        {
            "playbook": teams["team_a"].pk,
            "title": "Q3 bearings",
            "seed": 7,
            "limits": {"max_rounds": 12, "deadline_minutes": 90, "pace_seconds": 0.5},
            "strategies": {"buyer": "boulware"},
            "seats": {"seller": "remote_agent"},
            "credential_days": 3,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    created = body["negotiation"]
    negotiation = Negotiation.objects.get(pk=created["id"])
    assert (negotiation.title, negotiation.seed, negotiation.max_rounds) == ("Q3 bearings", 7, 12)
    assert negotiation.pace_seconds == 0.5 and negotiation.started_by == teams["operator"]
    assert created["status"] == "running" and created["team"] == "Procurement"
    assert {s["role"]: (s["seat"], s["strategy"]) for s in created["seats"]} == {
        "buyer": ("builtin", "boulware"),
        "seller": ("remote_agent", ""),
    }
    [credential] = body["credentials"]
    assert credential["role"] == "seller" and credential["kind"] == "token"
    verified = seat_credential_verify(secret=credential["token"], kind=CredentialKind.TOKEN)
    assert verified.participant.negotiation_id == negotiation.pk
    assert verified.participant.role == "seller" and credential["prefix"] == verified.prefix
    assert timedelta(days=2, hours=23) < verified.expires_at - timezone.now() <= timedelta(days=3)
    # Stored only as a hash; a later read never shows it again.
    assert credential["token"] not in str(list(SeatCredential.objects.values_list()))
    assert credential["token"] not in api.get(f"/negotiations/{negotiation.pk}").content.decode()
    created_event = negotiation.audit_events.get(kind="negotiation.created")
    assert created_event.user_id == teams["operator"].pk
    assert negotiation.audit_events.filter(
        kind="seat.credential_issued", user=teams["operator"]
    ).exists()


def test_an_outside_person_gets_an_invite_link(api_as, teams):
    api = api_as(teams["operator"])
    response = api.post(
        "/negotiations", {"playbook": teams["team_a"].pk, "seats": {"seller": "person"}}
    )
    assert response.status_code == 201
    [credential] = response.json()["credentials"]
    assert credential["kind"] == "invite" and credential["token"] is None
    prefix = "http://testserver/portal/"
    assert credential["invite_url"].startswith(prefix) and credential["invite_url"].endswith("/")
    secret = credential["invite_url"][len(prefix) : -1]
    assert seat_credential_verify(secret=secret, kind=CredentialKind.INVITE).participant.role == (
        "seller"
    )


def test_only_operators_of_the_playbooks_team_start_negotiations(api_as, teams):
    before = Negotiation.objects.count()
    member = api_as(teams["member"]).post("/negotiations", {"playbook": teams["team_a"].pk})
    assert member.status_code == 403 and error_of(member)["code"] == "forbidden"
    outsider = api_as(teams["outsider"])
    theirs = outsider.post("/negotiations", {"playbook": teams["team_a"].pk})
    missing = outsider.post("/negotiations", {"playbook": 987654})
    assert theirs.status_code == missing.status_code == 404
    assert error_of(theirs)["message"].replace(str(teams["team_a"].pk), "N") == error_of(missing)[
        "message"
    ].replace("987654", "N")
    assert Negotiation.objects.count() == before
    # Her own team's playbook works.
    assert outsider.post("/negotiations", {"playbook": teams["team_b"].pk}).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.playbook"),
        ({"playbook": "one"}, "body.playbook"),
        ({"playbook": 1, "title": "x" * 201}, "body.title"),
        ({"playbook": 1, "seed": -1}, "body.seed"),
        ({"playbook": 1, "seed": 2**53}, "body.seed"),
        ({"playbook": 1, "limits": {"max_rounds": 0}}, "body.limits.max_rounds"),
        ({"playbook": 1, "limits": {"max_rounds": 10**30}}, "body.limits.max_rounds"),
        ({"playbook": 1, "limits": {"pace_seconds": -1}}, "body.limits.pace_seconds"),
        ({"playbook": 1, "limits": {"pace_seconds": 1e308}}, "body.limits.pace_seconds"),
        ({"playbook": 1, "limits": {"deadline_minutes": 1.5}}, "body.limits.deadline_minutes"),
        ({"playbook": 1, "seats": {"seller": "robot"}}, "body.seats.seller"),
        ({"playbook": 1, "strategies": {"buyer": ""}}, "body.strategies.buyer"),
        ({"playbook": 1, "credential_days": 367}, "body.credential_days"),
        ({"playbook": 1, "surprise": True}, "body.surprise"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(api_as, teams, body, field):
    if body.get("playbook") == 1:
        body = {**body, "playbook": teams["team_a"].pk}
    response = api_as(teams["operator"]).post("/negotiations", body)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert field in [d["field"] for d in error["details"]], error
    assert field in error["message"]
    assert not Negotiation.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        '{"playbook": NaN}',
        '{"playbook": 1, "limits": {"pace_seconds": Infinity}}',
        "{",
        "[1]",
        '{"playbook": 1e999}',
        '"text"',
        "\xff",
    ],
)
def test_nan_infinity_and_broken_json_are_refused(api_as, teams, raw):
    response = api_as(teams["operator"]).post("/negotiations", raw=raw.encode("latin-1"))
    assert response.status_code == 400, response.content
    assert error_of(response)["message"]
    assert not Negotiation.objects.exists()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"seats": {"buyer": "remote_agent"}}, "Role 'buyer' cannot be"),
        ({"seats": {"nobody": "person"}}, "Unknown roles: nobody"),
        ({"strategies": {"buyer": "telepathy"}}, "Unknown strategy 'telepathy'"),
    ],
)
def test_what_the_playbook_does_not_allow_is_a_400_from_the_service(api_as, teams, body, words):
    response = api_as(teams["operator"]).post(
        "/negotiations", {"playbook": teams["team_a"].pk, **body}
    )
    assert response.status_code == 400
    assert words in error_of(response)["message"]
    assert not Negotiation.objects.exists()
    assert not SeatCredential.objects.exists()


def _start(playbook, title, seed, user=None, status=None):
    from negotiator.services.lifecycle import negotiation_create
    from negotiator.services.scheduling import rounds_held

    with rounds_held():
        negotiation = negotiation_create(playbook=playbook, title=title, seed=seed, user=user)
    if status:
        Negotiation.objects.filter(pk=negotiation.pk).update(status=status)
    return negotiation


def test_the_list_shows_only_the_teams_negotiations_with_filters_and_pages(api_as, teams):
    a1 = _start(teams["team_a"], "Bearings", 1)
    a2 = _start(teams["team_a"], "Gears", 2, status=NegotiationStatus.ESCALATED)
    a3 = _start(teams["team_a"], "Shafts", 3)
    _start(teams["team_b"], "Spring media", 4)
    Negotiation.objects.filter(pk=a1.pk).update(created_at=timezone.now() - timedelta(days=3))
    api = api_as(teams["operator"])

    def ids(**params):
        response = api.get("/negotiations", **params)
        assert response.status_code == 200, response.content
        return [n["id"] for n in response.json()["results"]]

    assert ids() == [a3.pk, a2.pk, a1.pk]
    assert ids(status="escalated") == [a2.pk]
    assert ids(q="gear") == [a2.pk]
    assert ids(q="Globex") == [a3.pk, a2.pk, a1.pk]  # a party's label
    assert ids(playbook=teams["team_b"].pk) == []
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(created_after=yesterday) == [a3.pk, a2.pk]
    assert ids(created_before=yesterday) == [a1.pk]
    page = api.get("/negotiations", page_size=2, page=2).json()
    assert (page["count"], page["page"], [n["id"] for n in page["results"]]) == (3, 2, [a1.pk])
    assert api.get("/negotiations", page=9).json()["results"] == []
    assert api.get("/negotiations", page_size=101).status_code == 400
    assert api.get("/negotiations", created_after="yesterday").status_code == 400
    # Auditors see every team's.
    assert len(api_as(teams["auditor"]).get("/negotiations").json()["results"]) == 4


def test_one_negotiation_has_its_outcome_terms_value_and_seats(api_as, teams):
    negotiation = agreed(teams["team_a"], "Valves")
    body = api_as(teams["operator"]).get(f"/negotiations/{negotiation.pk}").json()
    assert body["status"] == "pending_approval" and body["status_label"] == "Pending approval"
    assert body["agreed_terms"] == negotiation.agreed_terms
    assert body["deal_value"] == negotiation.deal_value == negotiation.agreed_terms["price"]
    assert body["currency"] == "USD" and body["outcome"] == negotiation.outcome_reason
    assert body["approval_request"] == negotiation.approval_requests.get().pk
    assert body["whose_turn"] is None
    assert [s["role"] for s in body["seats"]] == ["buyer", "seller"]


def test_whose_turn_names_the_outside_seat_the_negotiation_waits_for(api_as, teams):
    negotiation = _start(teams["team_a"], "Waiting", 1)
    due = timezone.now() + timedelta(minutes=30)
    Negotiation.objects.filter(pk=negotiation.pk).update(waiting_for="seller", turn_due_at=due)
    body = api_as(teams["operator"]).get(f"/negotiations/{negotiation.pk}").json()
    assert body["whose_turn"]["party"] == "seller"
    assert body["whose_turn"]["due_at"].startswith(due.strftime("%Y-%m-%dT%H:%M"))


def test_offers_show_utilities_only_for_parties_the_caller_may_see(api_as, teams):
    negotiation = agreed(teams["team_a"], "Valves")
    offers = list(negotiation.offers.order_by("id"))
    member = api_as(teams["operator"])  # in Procurement: the buyer's owner group
    page = member.get(f"/negotiations/{negotiation.pk}/offers", limit=3).json()
    assert [o["id"] for o in page["results"]] == [o.pk for o in offers[:3]]
    assert page["next_after"] == offers[2].pk
    everything, after = [], 0
    while True:
        page = member.get(f"/negotiations/{negotiation.pk}/offers", after=after, limit=7).json()
        everything += page["results"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert [o["id"] for o in everything] == [o.pk for o in offers]
    assert everything[0]["terms"] == offers[0].terms
    assert all(set(o["utilities"]) == {"buyer"} for o in everything)
    audited = api_as(teams["auditor"]).get(f"/negotiations/{negotiation.pk}/offers").json()
    assert all(set(o["utilities"]) == {"buyer", "seller"} for o in audited["results"])


def test_checks_are_redacted_exactly_as_on_the_negotiation_page(api_as, teams):
    from negotiator.models import Participant, PolicyCheck
    from negotiator.permissions import visible_roles

    negotiation = agreed(teams["team_a"], "Valves")
    rows, after = [], 0
    api = api_as(teams["operator"])
    while True:
        page = api.get(f"/negotiations/{negotiation.pk}/checks", after=after, limit=200).json()
        rows += page["results"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    checks = list(negotiation.checks.select_related("policy_version").order_by("id"))
    assert len(rows) == len(checks)
    visible = visible_roles(teams["operator"], Participant.objects.filter(negotiation=negotiation))
    for row, check in zip(rows, checks, strict=True):
        page_view = check_view(check, visible)
        assert (row["message"], row["evidence"], row["hidden"], row["outcome"]) == (
            page_view.message,
            page_view.evidence,
            page_view.hidden,
            page_view.outcome,
        )
    hidden = [r for r in rows if r["hidden"]]
    assert hidden and all(r["sender"] == "seller" and r["evidence"] is None for r in hidden)
    assert all("private to the seller" in r["message"] for r in hidden)
    assert PolicyCheck.objects.filter(pk=hidden[0]["id"], evidence__private=True).exists()
    audited = api_as(teams["auditor"]).get(f"/negotiations/{negotiation.pk}/checks", limit=200)
    assert not any(r["hidden"] for r in audited.json()["results"])


def test_the_plan_is_a_409_until_approved_then_the_plan_then_409_if_it_does_not_verify(
    api_as, teams
):
    negotiation = agreed(teams["team_a"], "Valves")
    api = api_as(teams["operator"])
    early = api.get(f"/negotiations/{negotiation.pk}/plan")
    assert early.status_code == 409 and error_of(early)["code"] == "conflict"
    assert "only approved negotiations have a final plan" in error_of(early)["message"]
    approval_decide(
        request=negotiation.approval_requests.get(), user=teams["approver"], decision="approve"
    )
    negotiation.refresh_from_db()
    plan = api.get(f"/negotiations/{negotiation.pk}/plan")
    assert plan.status_code == 200 and plan.json() == negotiation.plan
    assert plan.json()["what"]["terms"]["price"]["value"] == negotiation.agreed_terms["price"]
    tampered = {**negotiation.plan, "how_much": {"deal_value": 1.0}}
    Negotiation.objects.filter(pk=negotiation.pk).update(plan=tampered)
    refused = api.get(f"/negotiations/{negotiation.pk}/plan")
    assert refused.status_code == 409 and "does not verify" in error_of(refused)["message"]


def test_the_audit_export_is_the_audit_pages_document_redacted_for_the_caller(api_as, teams):
    negotiation = agreed(teams["team_a"], "Valves")
    member = api_as(teams["operator"]).get(f"/negotiations/{negotiation.pk}/audit").json()
    expected = audit_document(negotiation, redactor_for(negotiation, teams["operator"]))
    for key in ("format", "negotiation", "chain", "verification", "records", "events"):
        assert member[key] == expected[key], key
    assert member["redacted"] is True and member["verification"]["ok"] is True
    # The seller's (Sales) private parts are hidden from a Procurement member.
    assert "Details are private to the seller." in str(member["events"])
    auditor = api_as(teams["auditor"]).get(f"/negotiations/{negotiation.pk}/audit").json()
    assert auditor["redacted"] is False
    assert "Details are private to the seller." not in str(auditor["events"])
    assert len(auditor["events"]) == len(member["events"])


def test_the_lists_query_count_does_not_grow_with_the_page(api_as, teams):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = api_as(teams["operator"])
    api.get("/me")  # the token's first use is recorded (once a minute), not counted here
    _start(teams["team_a"], "first", 1)
    with CaptureQueriesContext(connection) as one:
        assert len(api.get("/negotiations").json()["results"]) == 1
    for seed in range(2, 12):
        _start(teams["team_a"], f"more {seed}", seed)
    with CaptureQueriesContext(connection) as eleven:
        assert len(api.get("/negotiations").json()["results"]) == 11
    assert len(eleven) == len(one), [q["sql"][:120] for q in eleven]
