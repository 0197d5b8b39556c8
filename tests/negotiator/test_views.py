"""The dashboard pages: list, new, negotiation page with its live timeline, actions,
plan and audit exports. Rounds run in-process; nothing reaches the broker because
the test transaction never commits."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection

from negotiator.audit import chain_of
from negotiator.models import AuditEvent, Negotiation, NegotiationStatus, Offer, Policy
from negotiator.services.lifecycle import negotiation_close, negotiation_create, negotiation_start
from negotiator.services.policies import policy_save
from negotiator.services.roles import roles_ensure
from negotiator.services.rounds import negotiation_run_round
from tests.negotiator.conftest import run_to_end

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def make_user(username: str, *groups: str, superuser: bool = False):
    user = get_user_model().objects.create_user(
        username=username, password="pw", is_superuser=superuser, is_staff=superuser
    )
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


@pytest.fixture
def operator(db):
    """An operator of the team that owns the shipped playbooks."""
    roles_ensure()
    return make_user("olivia", "Operators", "Procurement")


@pytest.fixture
def viewer(db):
    """A member of that team who is not an operator."""
    return make_user("oscar", "Procurement")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def started(playbook, **kwargs) -> Negotiation:
    """A negotiation whose first round has not run yet (status running)."""
    return negotiation_create(playbook=playbook, title=kwargs.pop("title", ""), **kwargs)


def finished(playbook, **kwargs) -> Negotiation:
    return run_to_end(started(playbook, **kwargs))


def escalated(playbook) -> Negotiation:
    negotiation = started(playbook, title="needs a person", start=False)
    policy_save(
        policy=Policy(
            name="Accepting above 95,000 needs a person",
            category="financial",
            scope="negotiation",
            negotiation=negotiation,
            kind="expression",
            parameters={
                "expression": "stage != 'accept' || terms.price <= 95000.0",
                "message": "accepting above 95,000 needs a person",
            },
            severity="escalate",
        )
    )
    negotiation_start(negotiation=negotiation, deadline_minutes=60)
    negotiation = run_to_end(negotiation)
    assert negotiation.status == NegotiationStatus.ESCALATED, negotiation.outcome_reason
    return negotiation


# --------------------------------------------------------------------------
# Access
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/", "/negotiations/", "/negotiations/new/", "/negotiations/1/", "/negotiations/1/audit/"],
)
def test_every_page_needs_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_unknown_negotiations_are_404(operator_client):
    for url in (
        "/negotiations/987654/",
        "/negotiations/987654/timeline?after=0",
        "/negotiations/987654/audit/",
        "/negotiations/987654/audit.json",
        "/negotiations/987654/plan.json",
    ):
        assert operator_client.get(url).status_code == 404, url
    assert operator_client.post("/negotiations/987654/close/").status_code == 404


# --------------------------------------------------------------------------
# Home
# --------------------------------------------------------------------------


def test_home_has_an_empty_state_for_a_first_time_user(operator_client):
    body = operator_client.get("/").content.decode()
    assert "Nothing is happening yet" in body


def test_home_shows_running_negotiations_and_what_needs_a_person(operator_client, procurement):
    running = started(procurement, title="Live order")
    stuck = escalated(procurement)
    body = operator_client.get("/").content.decode()
    assert "Running now" in body and "Live order" in body
    assert "Needs a person" in body and str(stuck) in body
    assert f"/negotiations/{running.pk}/" in body


# --------------------------------------------------------------------------
# List
# --------------------------------------------------------------------------


def test_list_filters_by_status_and_searches_by_party(operator_client, procurement, saas):
    started(procurement, title="Bolts")
    finished(saas, title="Cloud deal")
    body = operator_client.get("/negotiations/").content.decode()
    assert "Bolts" in body and "Cloud deal" in body
    running = operator_client.get("/negotiations/?status=running").content.decode()
    assert "Bolts" in running and "Cloud deal" not in running
    # Search by a party's label (the SaaS vendor), not the title.
    vendor = saas.current_version.spec["roles"][1]["label"].split()[0]
    found = operator_client.get(f"/negotiations/?q={vendor}").content.decode()
    assert "Cloud deal" in found and "Bolts" not in found


def test_list_ignores_bad_parameters(operator_client, procurement):
    started(procurement, title="Bolts")
    response = operator_client.get("/negotiations/?status=nope&sort=evil&page=-3&q=" + "x" * 500)
    assert response.status_code == 200
    response = operator_client.get("/negotiations/?page=999")
    assert response.status_code == 200 and "Bolts" in response.content.decode()


def test_list_rows_poll_only_while_something_runs(operator_client, procurement):
    negotiation = started(procurement, title="Bolts")
    response = operator_client.get(
        "/negotiations/", headers={**HTMX, "HX-Target": "negotiation-rows"}
    )
    body = response.content.decode()
    assert 'id="negotiation-rows"' in body and "<html" not in body
    assert "every 2s" in body
    negotiation_close(negotiation=negotiation, reason="test")
    body = operator_client.get(
        "/negotiations/", headers={**HTMX, "HX-Target": "negotiation-rows"}
    ).content.decode()
    assert "every 2s" not in body


# --------------------------------------------------------------------------
# New negotiation
# --------------------------------------------------------------------------


def test_new_form_swaps_in_the_roles_of_the_chosen_playbook(operator_client, procurement):
    response = operator_client.get(
        f"/negotiations/new/?playbook={procurement.pk}",
        headers={**HTMX, "HX-Target": "playbook-details"},
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "strategy_buyer" in body and "strategy_seller" in body


def test_new_form_shows_inline_errors(operator_client, procurement):
    response = operator_client.post(
        "/negotiations/new/",
        {"playbook": procurement.pk, "max_rounds": "0", "pace_seconds": "-1"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "greater than or equal to 1" in body
    assert "greater than or equal to 0" in body
    assert not Negotiation.objects.exists()
    response = operator_client.post("/negotiations/new/", {"playbook": "999999"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_new_form_starts_a_negotiation_and_redirects_to_it(operator_client, procurement):
    response = operator_client.post(
        "/negotiations/new/",
        {
            "playbook": procurement.pk,
            "title": "From the form",
            "max_rounds": "12",
            "pace_seconds": "2",
            "strategy_buyer": "boulware",
            "strategy_seller": "default",
        },
    )
    negotiation = Negotiation.objects.get(title="From the form")
    assert response.status_code == 302
    assert response["Location"] == f"/negotiations/{negotiation.pk}/"
    assert negotiation.status == NegotiationStatus.RUNNING
    assert negotiation.max_rounds == 12 and negotiation.pace_seconds == 2
    assert negotiation.participants.get(role="buyer").strategy == "boulware"


def test_only_operators_may_start(client, viewer, procurement):
    client.force_login(viewer)
    assert client.get("/negotiations/new/").status_code == 403
    assert client.post("/negotiations/new/", {"playbook": procurement.pk}).status_code == 403


# --------------------------------------------------------------------------
# Negotiation page and its live timeline
# --------------------------------------------------------------------------


def test_negotiation_page_shows_header_timeline_and_poller(operator_client, procurement):
    negotiation = started(procurement, title="Watch me")
    negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    body = operator_client.get(f"/negotiations/{negotiation.pk}/").content.decode()
    assert "Watch me" in body and "Offer timeline" in body
    # Polls every 2 s while the tab is visible (static/js/app.js skips hidden ticks).
    assert 'hx-trigger="every 2s" data-poll-when-visible' in body
    last = Offer.objects.filter(negotiation=negotiation).order_by("-id").first()
    assert f"timeline?after={last.pk}" in body
    assert f'id="offer-{last.pk}"' in body


def test_timeline_poll_appends_new_offers_then_stops_when_final(
    operator_client, procurement, auto_approval
):
    Policy.objects.filter(kind="approval_threshold").update(active=False)
    negotiation = started(procurement, title="Poll me", seed=1)
    negotiation.refresh_from_db()
    url = f"/negotiations/{negotiation.pk}/timeline"
    # Nothing new: an empty 204 keeps polling cheaply.
    response = operator_client.get(
        url, {"after": 0, "round": negotiation.current_round, "status": "running"}, headers=HTMX
    )
    assert response.status_code == 204
    negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    response = operator_client.get(url, {"after": 0, "round": 0, "status": "running"}, headers=HTMX)
    body = response.content.decode()
    first = list(Offer.objects.filter(negotiation=negotiation).order_by("id"))
    assert response.status_code == 200
    assert all(f'id="offer-{o.pk}"' in body for o in first)
    assert 'id="timeline-poller"' in body and "hx-swap-oob" in body
    assert f"after={first[-1].pk}" in body
    run_to_end(negotiation)
    negotiation.refresh_from_db()
    response = operator_client.get(
        url, {"after": first[-1].pk, "round": 1, "status": "running"}, headers=HTMX
    )
    body = response.content.decode()
    assert negotiation.status == NegotiationStatus.APPROVED, negotiation.outcome_reason
    newer = Offer.objects.filter(negotiation=negotiation, id__gt=first[-1].pk)
    # Every offer played since the cursor, each once, and nothing older.
    assert newer.count() > 10
    assert body.count('id="offer-') == newer.count()
    assert all(f'id="offer-{o.pk}"' in body for o in newer)
    poller = body[body.index('id="timeline-poller"') :].split(">", 1)[0]
    assert "hx-trigger" not in poller


def test_timeline_rejects_bad_cursors(operator_client, procurement):
    negotiation = started(procurement)
    for bad in ("x", "-1", "1.5", "9" * 40):
        response = operator_client.get(f"/negotiations/{negotiation.pk}/timeline?after={bad}")
        assert response.status_code == 400, bad


def test_earlier_offers_load_on_request(operator_client, procurement):
    negotiation = finished(procurement, title="Long")
    offers = list(Offer.objects.filter(negotiation=negotiation).order_by("id"))
    assert len(offers) > 5
    response = operator_client.get(
        f"/negotiations/{negotiation.pk}/timeline?before={offers[3].pk}", headers=HTMX
    )
    body = response.content.decode()
    assert all(f'id="offer-{o.pk}"' in body for o in offers[:3])
    assert f'id="offer-{offers[3].pk}"' not in body


def test_changed_terms_are_highlighted(operator_client, procurement):
    negotiation = finished(procurement, title="Diff")
    body = operator_client.get(f"/negotiations/{negotiation.pk}/").content.decode()
    assert 'class="term changed"' in body


# --------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------


def test_escalated_negotiation_can_be_resumed_with_htmx(operator_client, procurement):
    negotiation = escalated(procurement)
    body = operator_client.get(f"/negotiations/{negotiation.pk}/").content.decode()
    assert "Escalated" in body
    # The cause is said once (the policy's message restates its name), naming the move.
    negotiation.refresh_from_db()
    reason = negotiation.outcome_reason
    assert "needs a person: Accepting above 95,000 needs a person" in reason
    assert "accepting above 95,000 needs a person" not in reason
    assert re.match(r"round \d+, \w+'s (accept|propose|counter): needs a person", reason)
    assert reason in body.replace("&#x27;", "'")
    resume = {"extra_rounds": "5", "extra_minutes": "10"}
    # As things are, the agent would try the same move and escalate again: refused.
    response = operator_client.post(f"/negotiations/{negotiation.pk}/resume/", resume, headers=HTMX)
    assert response.status_code == 200
    assert "Resuming now would stop again for the same reason" in response.content.decode()
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.ESCALATED
    # Once the rule that stopped it is changed (here: switched off), it resumes.
    rule = negotiation.own_policies.get()
    rule.active = False
    policy_save(policy=rule)
    response = operator_client.post(f"/negotiations/{negotiation.pk}/resume/", resume, headers=HTMX)
    assert response.status_code == 200
    assert 'id="negotiation-state"' in response.content.decode()
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.RUNNING


def test_resume_with_bad_input_shows_the_error(operator_client, procurement):
    negotiation = escalated(procurement)
    response = operator_client.post(
        f"/negotiations/{negotiation.pk}/resume/",
        {"extra_rounds": "-5", "extra_minutes": "abc"},
        headers=HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    # In place, next to the resume form.
    assert 'class="field-error" role="alert">Extra rounds: Ensure this value is greater' in body
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.ESCALATED


def test_close_refuses_a_final_negotiation_with_a_message(operator_client, procurement):
    negotiation = started(procurement)
    response = operator_client.post(f"/negotiations/{negotiation.pk}/close/", {"reason": "enough"})
    assert response.status_code == 302
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.CANCELLED
    response = operator_client.post(f"/negotiations/{negotiation.pk}/close/", headers=HTMX)
    assert "already ended" in response.content.decode()


def test_actions_need_an_operator(client, viewer, procurement):
    negotiation = escalated(procurement)
    client.force_login(viewer)
    assert client.post(f"/negotiations/{negotiation.pk}/resume/").status_code == 403
    assert client.post(f"/negotiations/{negotiation.pk}/close/").status_code == 403
    assert "Resume" not in client.get(f"/negotiations/{negotiation.pk}/").content.decode()


def test_actions_need_post_and_csrf(procurement, operator):
    from django.test import Client

    negotiation = escalated(procurement)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(operator)
    assert csrf_client.get(f"/negotiations/{negotiation.pk}/resume/").status_code == 405
    assert csrf_client.post(f"/negotiations/{negotiation.pk}/resume/").status_code == 403


# --------------------------------------------------------------------------
# Plan and audit
# --------------------------------------------------------------------------


def test_plan_download_for_approved_negotiations_only(operator_client, procurement, auto_approval):
    Policy.objects.filter(kind="approval_threshold").update(active=False)
    negotiation = finished(procurement, seed=1)
    assert negotiation.status == NegotiationStatus.APPROVED, negotiation.outcome_reason
    response = operator_client.get(f"/negotiations/{negotiation.pk}/plan.json")
    assert response.status_code == 200
    assert json.loads(response.content)["what"]["terms"]
    assert "Final plan" in operator_client.get(f"/negotiations/{negotiation.pk}/").content.decode()
    other = started(procurement)
    response = operator_client.get(f"/negotiations/{other.pk}/plan.json")
    assert response.status_code == 409 and "only approved" in response.json()["error"]


def test_audit_page_verifies_and_exports(operator_client, procurement):
    negotiation = finished(procurement, title="Audited")
    body = operator_client.get(f"/negotiations/{negotiation.pk}/audit/").content.decode()
    assert "Chain verified" in body and "negotiation.created" in body
    document = json.loads(operator_client.get(f"/negotiations/{negotiation.pk}/audit.json").content)
    events = AuditEvent.objects.filter(chain=chain_of(negotiation)).count()
    assert document["verification"]["ok"] and len(document["events"]) == events
    assert [e["seq"] for e in document["events"]] == list(range(1, events + 1))
    response = operator_client.get(f"/negotiations/{negotiation.pk}/audit.csv")
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("seq,created_at,kind,actor,payload")
    assert len(lines) == events + 1
    assert operator_client.get(f"/negotiations/{negotiation.pk}/audit.xml").status_code == 404


def test_audit_page_names_the_broken_event(operator_client, procurement):
    negotiation = finished(procurement, title="Tampered")
    event = AuditEvent.objects.filter(chain=chain_of(negotiation)).order_by("seq")[2]
    with connection.cursor() as cursor:  # as a superuser past the append-only trigger
        cursor.execute("SET session_replication_role = replica")
        AuditEvent.objects.filter(pk=event.pk).update(payload_json='{"forged": true}')
        cursor.execute("RESET session_replication_role")
    body = operator_client.get(f"/negotiations/{negotiation.pk}/audit/").content.decode()
    assert f"Chain broken at event #{event.seq}" in body
    document = json.loads(operator_client.get(f"/negotiations/{negotiation.pk}/audit.json").content)
    assert document["verification"]["ok"] is False
    assert document["verification"]["broken_seq"] == event.seq


def test_each_senders_previous_terms_match_a_full_scan_at_every_offer(procurement):
    """The timeline diffs an offer against its sender's previous one: read from the
    last few offers, or (a sender quiet for longer) from an aggregate over all."""
    from negotiator.selectors.negotiations import _previous_terms

    negotiation = finished(procurement, title="Diffs")
    rows = list(Offer.objects.filter(negotiation=negotiation).order_by("id"))
    assert len(rows) > 25
    for k, offer in enumerate(rows):
        expected: dict = {}
        for earlier in rows[:k]:
            expected[earlier.sender] = earlier.terms
        for senders in (frozenset({"buyer", "seller"}), frozenset({"buyer", "seller", "quiet"})):
            assert _previous_terms(negotiation.pk, offer.pk, senders) == expected, (k, senders)
