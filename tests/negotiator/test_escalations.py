"""What a person can do with an escalated negotiation: accept the offer on the
table, counter it, override one failed policy (four eyes), resume with changed
limits (without the same escalation recurring at once), close; and the
playbook's on_limit choice for max rounds and deadlines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from negotiator.audit import audit_verify_chain, chain_of
from negotiator.models import (
    AuditEvent,
    Negotiation,
    NegotiationStatus,
    Offer,
    Policy,
    PolicyCheck,
    PolicyOverride,
)
from negotiator.selectors import escalations as escalation_view
from negotiator.services.errors import Conflict, NotAllowed, ServiceError, TransitionError
from negotiator.services.escalations import (
    escalation_accept,
    escalation_counter,
    policy_override_decide,
    policy_override_request,
)
from negotiator.services.lifecycle import (
    LimitOverrides,
    negotiation_close,
    negotiation_create,
    negotiation_resume,
    negotiation_start,
)
from negotiator.services.moves import MoveBlocked, MoveInvalid
from negotiator.services.playbooks import playbook_publish
from negotiator.services.policies import policy_save
from negotiator.services.roles import roles_ensure
from negotiator.services.rounds import negotiation_run_round
from tests.negotiator.conftest import run_to_end
from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
HARDLINERS = {"buyer": "hardliner", "seller": "hardliner"}
# What the hardliners hold to (the supplier's offer stays on the table).
SUPPLIER_TERMS = {"price": 118000, "delivery_days": 30, "warranty_months": 12}


@pytest.fixture
def people(db):
    roles_ensure()
    return {
        "olive": make_user("olive", "Operators", "Procurement"),
        "oscar": make_user("oscar", "Operators", "Procurement"),
        "vera": make_user("vera", "Procurement"),  # a member, not an operator
        "mallory": make_user("mallory", "Operators", "Marketing"),  # another team
    }


def counts() -> dict[str, int]:
    return {
        "offers": Offer.objects.count(),
        "checks": PolicyCheck.objects.count(),
        "events": AuditEvent.objects.count(),
        "overrides": PolicyOverride.objects.count(),
    }


def out_of_rounds(playbook, rounds: int = 4) -> Negotiation:
    """Two hardliners that never agree: escalated at the round limit (on_limit)."""
    negotiation = negotiation_create(
        playbook=playbook,
        seed=1,
        overrides=LimitOverrides(max_rounds=rounds),
        strategies=HARDLINERS,
    )
    return run_to_end(negotiation)


def with_rule(playbook, expression: str, severity: str, **kwargs) -> Negotiation:
    """A negotiation with one extra rule of its own, run until it stops."""
    kwargs.setdefault("seed", 3)
    negotiation = negotiation_create(playbook=playbook, start=False, **kwargs)
    policy_save(
        policy=Policy(
            name="Accepting above 95,000 needs a person",
            category="financial",
            scope="negotiation",
            negotiation=negotiation,
            kind="expression",
            parameters={"expression": expression},
            severity=severity,
        )
    )
    negotiation_start(negotiation=negotiation, deadline_minutes=60)
    return run_to_end(negotiation)


def accept_escalated(playbook) -> Negotiation:
    """Our buyer's acceptance of the supplier's offer escalated (seed 1: the
    conceding supplier's offer is on the table). A tradeoff buyer, because the
    default one proposes the supplier's earlier, fairer offer here instead of
    accepting (the supplier then accepts, and no buyer acceptance is checked)."""
    negotiation = with_rule(
        playbook,
        "stage != 'accept' || role != 'buyer' || terms.price <= 95000.0",
        "escalate",
        seed=1,
        strategies={"buyer": "tradeoff", "seller": "conceder"},
    )
    assert negotiation.status == NegotiationStatus.ESCALATED, negotiation.outcome_reason
    state = escalation_view.stored_state(negotiation)
    assert state.parties[state.turn] == "buyer"
    return negotiation


def last_status_event(negotiation) -> AuditEvent:
    return negotiation.audit_events.filter(kind="negotiation.status_changed").order_by("seq").last()


# --------------------------------------------------------------------------
# on_limit: max rounds and deadlines hand over to a person (or end)
# --------------------------------------------------------------------------


def test_the_round_limit_escalates_when_the_playbook_says_so(procurement):
    assert procurement.current_version.spec["limits"]["on_limit"] == "escalate"
    negotiation = out_of_rounds(procurement)
    assert negotiation.status == NegotiationStatus.ESCALATED
    assert negotiation.outcome_reason == "no agreement within 4 rounds"
    assert last_status_event(negotiation).payload["cause"] == "max_rounds"
    state = escalation_view.stored_state(negotiation)
    assert escalation_view.escalation_cause(negotiation, state) == "max_rounds"


def test_the_round_limit_ends_it_when_the_playbook_says_end(procurement):
    procurement.on_limit = "end"
    procurement.save()
    playbook_publish(playbook=procurement)
    procurement.refresh_from_db()
    assert out_of_rounds(procurement).status == NegotiationStatus.FAILED


def test_the_deadline_escalates_and_resuming_needs_more_minutes(procurement, people):
    negotiation = negotiation_create(playbook=procurement, seed=1, strategies=HARDLINERS)
    negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    Negotiation.objects.filter(pk=negotiation.pk).update(
        deadline=timezone.now() - timedelta(minutes=1)
    )
    negotiation = run_to_end(negotiation)
    assert negotiation.status == NegotiationStatus.ESCALATED
    assert last_status_event(negotiation).payload["cause"] == "deadline"
    with pytest.raises(ServiceError, match="The deadline has passed; add minutes"):
        negotiation_resume(negotiation=negotiation, user=people["olive"], extra_rounds=5)
    negotiation_resume(negotiation=negotiation, user=people["olive"], extra_minutes=30)
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.RUNNING
    assert negotiation_run_round(
        negotiation_id=negotiation.pk, round_number=negotiation.current_round
    )
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.RUNNING  # not stopped again at once


def test_a_person_may_accept_after_the_deadline(procurement, people, default_route):
    negotiation = negotiation_create(playbook=procurement, seed=1, strategies=HARDLINERS)
    negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    Negotiation.objects.filter(pk=negotiation.pk).update(
        deadline=timezone.now() - timedelta(minutes=1)
    )
    negotiation = run_to_end(negotiation)
    negotiation = escalation_accept(negotiation=negotiation, user=people["olive"])
    assert negotiation.status == NegotiationStatus.PENDING_APPROVAL
    assert negotiation.agreed_terms == SUPPLIER_TERMS


def test_resuming_after_the_round_limit_needs_more_rounds_and_plays_them(procurement, people):
    negotiation = out_of_rounds(procurement)
    with pytest.raises(ServiceError, match="has used 4 of 4 rounds; add rounds"):
        negotiation_resume(negotiation=negotiation, user=people["olive"])
    negotiation_resume(negotiation=negotiation, user=people["olive"], extra_rounds=3)
    negotiation = run_to_end(negotiation)
    # Three more rounds were played before the limit stopped it again.
    assert negotiation.status == NegotiationStatus.ESCALATED
    assert negotiation.outcome_reason == "no agreement within 7 rounds"
    assert Offer.objects.filter(negotiation=negotiation).count() == 14


# --------------------------------------------------------------------------
# Accepting the offer on the table
# --------------------------------------------------------------------------


def test_a_person_accepts_the_offer_on_the_table_and_it_goes_through_the_gate(
    procurement, people, default_route
):
    negotiation = out_of_rounds(procurement)
    view = escalation_view.escalation_view(negotiation, people["olive"], now=timezone.now())
    assert view.accept_label == "Accept Supplier (Globex Components)'s offer"
    assert view.our_role == "buyer"
    negotiation = escalation_accept(negotiation=negotiation, user=people["olive"])
    assert negotiation.agreed_terms == SUPPLIER_TERMS
    # 118,000 fails the approval threshold: the default route sends it to a person.
    assert negotiation.status == NegotiationStatus.PENDING_APPROVAL
    assert negotiation.approval_requests.get().route == default_route
    accept = Offer.objects.get(negotiation=negotiation, performative="accept")
    assert (accept.sender, accept.round, accept.terms) == ("buyer", 4, SUPPLIER_TERMS)
    event = AuditEvent.objects.get(chain=chain_of(negotiation), kind="offer.accept")
    assert event.actor == "user:olive for buyer"
    moved = negotiation.audit_events.filter(
        kind="negotiation.status_changed", actor="user:olive"
    ).get()
    assert moved.payload["person_move"] == "accept"
    assert moved.payload["reason"] == "olive accepted for Buyer (Acme Manufacturing)"
    report = audit_verify_chain(chain_of(negotiation))
    assert report.ok, report.describe()


def test_accepting_needs_an_offer_from_the_other_side(procurement, people):
    # The supplier's acceptance of our offer escalated: only our own offer is on
    # the table, so there is nothing for us to accept (override, counter, close).
    # A holding-out buyer and a conceding supplier make the supplier accept first
    # (with the default strategy on both sides our buyer accepts first).
    negotiation = with_rule(
        procurement,
        "stage != 'accept' || role != 'seller' || terms.price <= 95000.0",
        "escalate",
        strategies={"buyer": "boulware", "seller": "conceder"},
    )
    state = escalation_view.stored_state(negotiation)
    assert state.parties[state.turn] == "seller"
    view = escalation_view.escalation_view(negotiation, people["olive"], now=timezone.now())
    assert view.accept_label == "" and view.can_counter
    with pytest.raises(ServiceError, match="No offer from the other side is on the table"):
        escalation_accept(negotiation=negotiation, user=people["olive"])


def test_a_closed_negotiation_takes_no_more_moves(procurement, people):
    negotiation = out_of_rounds(procurement)
    negotiation_close(negotiation=negotiation, user=people["olive"], reason="enough")
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.CANCELLED
    with pytest.raises(TransitionError, match="a person steps in only while it is escalated"):
        escalation_accept(negotiation=negotiation, user=people["olive"])


def test_only_operators_of_the_team_act(procurement, people):
    negotiation = out_of_rounds(procurement)
    before = counts()
    for who in ("vera", "mallory"):
        with pytest.raises(NotAllowed):
            escalation_accept(negotiation=negotiation, user=people[who])
        with pytest.raises(NotAllowed):
            escalation_counter(negotiation=negotiation, user=people[who], terms=SUPPLIER_TERMS)
    assert counts() == before


# --------------------------------------------------------------------------
# Counteroffers
# --------------------------------------------------------------------------


def test_a_counteroffer_is_sent_checked_and_answered(procurement, people):
    negotiation = out_of_rounds(procurement)
    terms = {"price": 100000, "delivery_days": 20, "warranty_months": 24}
    negotiation = escalation_counter(
        negotiation=negotiation, user=people["olive"], terms=terms, rationale="Meet us halfway."
    )
    mine = Offer.objects.get(negotiation=negotiation, round=4, sender="buyer")
    assert (mine.performative, mine.terms, mine.rationale) == (
        "counter",
        terms,
        "Meet us halfway.",
    )
    assert PolicyCheck.objects.filter(offer=mine).exists()
    # The supplier answered in the same step; at the limit again, a person decides.
    answer = Offer.objects.get(negotiation=negotiation, round=4, sender="seller")
    assert answer.terms == SUPPLIER_TERMS
    assert negotiation.status == NegotiationStatus.ESCALATED
    view = escalation_view.escalation_view(negotiation, people["olive"], now=timezone.now())
    assert view.standing_sender == "Supplier (Globex Components)"
    assert audit_verify_chain(chain_of(negotiation)).ok


def test_a_blocked_counteroffer_changes_nothing(procurement, people):
    negotiation = out_of_rounds(procurement)
    before = counts()
    state_before = Negotiation.objects.get(pk=negotiation.pk).engine_state
    below_the_floor = {"price": 82000, "delivery_days": 20, "warranty_months": 24}
    with pytest.raises(MoveBlocked, match="Not sent: blocked by Price floor"):
        escalation_counter(negotiation=negotiation, user=people["olive"], terms=below_the_floor)
    assert counts() == before
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.ESCALATED
    assert negotiation.engine_state == state_before


def test_an_off_grid_counteroffer_is_refused_naming_the_problem(procurement, people):
    negotiation = out_of_rounds(procurement)
    before = counts()
    with pytest.raises(MoveInvalid, match="price"):
        escalation_counter(
            negotiation=negotiation,
            user=people["olive"],
            terms={"price": 100500, "delivery_days": 20, "warranty_months": 24},
        )
    assert counts() == before


# --------------------------------------------------------------------------
# Escalate-severity policies: no loop; an override with four eyes
# --------------------------------------------------------------------------


def test_resuming_after_a_policy_escalation_is_refused_while_the_policy_applies(
    procurement, people
):
    negotiation = accept_escalated(procurement)
    state = escalation_view.stored_state(negotiation)
    assert escalation_view.escalation_cause(negotiation, state) == "policy_escalation"
    before = counts()
    with pytest.raises(ServiceError, match="Resuming now would stop again for the same reason"):
        negotiation_resume(negotiation=negotiation, user=people["olive"], extra_rounds=5)
    assert counts() == before


def test_a_person_cannot_accept_past_an_escalate_policy_without_an_override(procurement, people):
    negotiation = accept_escalated(procurement)
    before = counts()
    with pytest.raises(MoveBlocked, match="have the policy overridden first"):
        escalation_accept(negotiation=negotiation, user=people["olive"])
    assert counts() == before
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.ESCALATED


def test_an_override_needs_a_second_person_then_waives_the_policy_here_only(
    procurement, people, default_route
):
    negotiation = accept_escalated(procurement)
    rule = negotiation.own_policies.get()
    (choice,) = escalation_view.overridable_policies(negotiation)
    assert choice.policy_id == rule.pk and choice.severity == "escalate"
    override = policy_override_request(
        negotiation=negotiation,
        user=people["olive"],
        policy_id=rule.pk,
        justification="The supplier is the only certified source this quarter.",
    )
    assert override.status == "pending"
    with pytest.raises(Conflict, match="already asked for or granted"):
        policy_override_request(
            negotiation=negotiation, user=people["oscar"], policy_id=rule.pk, justification="x" * 20
        )
    # Four eyes: not the person who asked, not a non-operator, not another team.
    for who, error in (("olive", "Four eyes"), ("vera", "Only operators"), ("mallory", "Only")):
        with pytest.raises(NotAllowed, match=error):
            policy_override_decide(
                negotiation=negotiation, user=people[who], override_id=override.pk, approve=True
            )
    # Still pending: a person's acceptance is refused as before.
    with pytest.raises(MoveBlocked):
        escalation_accept(negotiation=negotiation, user=people["olive"])
    policy_override_decide(
        negotiation=negotiation,
        user=people["oscar"],
        override_id=override.pk,
        approve=True,
        comment="Agreed, one-off.",
    )
    override.refresh_from_db()
    negotiation.refresh_from_db()
    assert (override.status, override.decided_by) == ("approved", people["oscar"])
    assert negotiation.waived_policies == {str(rule.pk): override.pk}
    kinds = list(
        negotiation.audit_events.filter(kind__startswith="policy_override").values_list(
            "kind", flat=True
        )
    )
    assert kinds == ["policy_override.requested", "policy_override.approved"]

    # Resuming is allowed now; the agents accept, the check is recorded as waived.
    negotiation_resume(negotiation=negotiation, user=people["olive"])
    negotiation = run_to_end(negotiation)
    waived = PolicyCheck.objects.filter(negotiation=negotiation, waived_by=override)
    assert waived.exists()
    assert not waived.filter(passed=True).exists()  # waived, never passed
    event = AuditEvent.objects.filter(
        chain=chain_of(negotiation), kind="policy.checked", payload_json__contains="waived_by"
    ).first()
    assert any(c.get("waived_by_override") == override.pk for c in event.payload["checks"])
    # Waived once is still a deal a person approves (the default route).
    assert negotiation.status == NegotiationStatus.PENDING_APPROVAL
    assert negotiation.approval_requests.get().route == default_route
    assert audit_verify_chain(chain_of(negotiation)).ok

    # Only this negotiation: another one under the same playbook is not waived.
    other = negotiation_create(playbook=procurement, seed=3, start=False)
    assert other.waived_policies == {}


def test_a_rejected_override_waives_nothing(procurement, people):
    negotiation = accept_escalated(procurement)
    rule = negotiation.own_policies.get()
    override = policy_override_request(
        negotiation=negotiation,
        user=people["olive"],
        policy_id=rule.pk,
        justification="Please let this one through.",
    )
    policy_override_decide(
        negotiation=negotiation, user=people["oscar"], override_id=override.pk, approve=False
    )
    negotiation.refresh_from_db()
    assert negotiation.waived_policies == {}
    with pytest.raises(Conflict, match="already rejected"):
        policy_override_decide(
            negotiation=negotiation, user=people["oscar"], override_id=override.pk, approve=True
        )
    with pytest.raises(ServiceError, match="same reason"):
        negotiation_resume(negotiation=negotiation, user=people["olive"])


@pytest.mark.parametrize(
    ("policy", "justification", "error"),
    [
        ("rule", "too short", "justification of 10"),
        ("floor-never-failed", "A perfectly good reason here.", "Only a policy that stopped"),
    ],
)
def test_an_override_request_must_name_a_failed_policy_and_say_why(
    procurement, people, policy, justification, error
):
    negotiation = accept_escalated(procurement)
    policy_id = (
        negotiation.own_policies.get().pk
        if policy == "rule"
        else Policy.objects.get(playbook=procurement, name="Supplier margin").pk
    )
    before = counts()
    with pytest.raises(ServiceError, match=error):
        policy_override_request(
            negotiation=negotiation,
            user=people["olive"],
            policy_id=policy_id,
            justification=justification,
        )
    assert counts() == before


def test_blocked_every_time_needs_a_change_before_resuming(procurement, people):
    negotiation = with_rule(procurement, "stage == 'accept'", "block")
    assert negotiation.status == NegotiationStatus.ESCALATED
    assert "after 5 blocked attempts" in negotiation.outcome_reason
    with pytest.raises(ServiceError, match="would stop again for the same reason"):
        negotiation_resume(negotiation=negotiation, user=people["olive"])
    rule = negotiation.own_policies.get()
    override = policy_override_request(
        negotiation=negotiation,
        user=people["olive"],
        policy_id=rule.pk,
        justification="The rule was entered by mistake.",
    )
    policy_override_decide(
        negotiation=negotiation, user=people["oscar"], override_id=override.pk, approve=True
    )
    negotiation_resume(negotiation=negotiation, user=people["olive"])
    negotiation.refresh_from_db()
    assert negotiation_run_round(
        negotiation_id=negotiation.pk, round_number=negotiation.current_round
    )
    sent = Offer.objects.filter(negotiation=negotiation)
    assert sent.exists()  # moves get through now, recorded as waived
    assert PolicyCheck.objects.filter(negotiation=negotiation, waived_by=override).exists()


# --------------------------------------------------------------------------
# Stalls restart their window; an agreement no route takes
# --------------------------------------------------------------------------


def test_resuming_a_stall_restarts_its_window(procurement, people):
    procurement.stall_window = 3
    procurement.save()
    playbook_publish(playbook=procurement)
    procurement.refresh_from_db()
    negotiation = run_to_end(
        negotiation_create(playbook=procurement, seed=1, strategies=HARDLINERS)
    )
    assert negotiation.status == NegotiationStatus.ESCALATED
    assert last_status_event(negotiation).payload["cause"] == "stalled"
    stalled_at = negotiation.current_round
    negotiation_resume(negotiation=negotiation, user=people["olive"])
    negotiation = run_to_end(negotiation)
    assert last_status_event(negotiation).payload["cause"] == "stalled"
    # A whole window of rounds ran before it stalled again.
    assert negotiation.current_round - stalled_at == 4


def test_an_agreement_no_route_takes_is_sent_to_the_gate_again(procurement, people, db):
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute

    Policy.objects.filter(kind="approval_threshold").update(active=False)
    negotiation = run_to_end(negotiation_create(playbook=procurement, seed=1))
    assert negotiation.status == NegotiationStatus.ESCALATED
    state = escalation_view.stored_state(negotiation)
    assert escalation_view.escalation_cause(negotiation, state) == "agreement"
    with pytest.raises(ServiceError, match="The parties agreed on this deal"):
        negotiation_resume(negotiation=negotiation, user=people["olive"])
    with pytest.raises(TransitionError, match="already agreed"):
        escalation_counter(negotiation=negotiation, user=people["olive"], terms=SUPPLIER_TERMS)
    negotiation = escalation_accept(negotiation=negotiation, user=people["olive"])
    assert negotiation.status == NegotiationStatus.ESCALATED  # still no route
    assert last_status_event(negotiation).payload["rule"] == "no-route"
    route = ApprovalRoute.objects.create(
        name="Default",
        condition_kind="always",
        is_default=True,
        approver_group=Group.objects.get(name="Approvers"),
    )
    negotiation = escalation_accept(negotiation=negotiation, user=people["olive"])
    assert negotiation.status == NegotiationStatus.PENDING_APPROVAL
    assert negotiation.approval_requests.get().route == route
    assert audit_verify_chain(chain_of(negotiation)).ok


# --------------------------------------------------------------------------
# The page: the banner's forms, errors in place, CSRF
# --------------------------------------------------------------------------


def test_the_banner_offers_each_action_to_an_operator_only(client, procurement, people):
    negotiation = accept_escalated(procurement)
    client.force_login(people["olive"])
    body = client.get(f"/negotiations/{negotiation.pk}/").content.decode()
    for text in (
        "Accept Supplier (Globex Components)&#x27;s offer",
        "Counter as Buyer (Acme Manufacturing)",
        'name="term_price"',
        "Ask for the override",
        "Resuming now would stop again for the same reason",
        "Close without a deal",
    ):
        assert text in body, text
    client.force_login(people["vera"])
    body = client.get(f"/negotiations/{negotiation.pk}/").content.decode()
    assert "Counter as" not in body and "Ask for the override" not in body


def test_a_blocked_counter_shows_the_error_in_the_form(client, procurement, people):
    negotiation = out_of_rounds(procurement)
    client.force_login(people["olive"])
    before = counts()
    response = client.post(
        f"/negotiations/{negotiation.pk}/counter/",
        {"term_price": "82000", "term_delivery_days": "20", "term_warranty_months": "24"},
        headers=HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert '<details class="action-panel" open>' in body
    assert 'role="alert">Not sent: blocked by Price floor' in body
    assert 'value="82000"' in body  # the person's terms stay in the form
    assert counts() == before


@pytest.mark.parametrize("price", ["nan", "inf", "-1e999", "1e400", "99999999999999999999"])
def test_a_counter_with_a_number_out_of_range_is_a_field_error(client, procurement, people, price):
    negotiation = out_of_rounds(procurement)
    client.force_login(people["olive"])
    before = counts()
    response = client.post(
        f"/negotiations/{negotiation.pk}/counter/",
        {"term_price": price, "term_delivery_days": "20", "term_warranty_months": "24"},
        headers=HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Check the terms of your counteroffer." in body
    assert '<div class="field has-error"><label for="id_term_price">' in body
    assert counts() == before


def test_the_override_forms_through_the_page(client, procurement, people):
    negotiation = accept_escalated(procurement)
    rule = negotiation.own_policies.get()
    client.force_login(people["olive"])
    url = f"/negotiations/{negotiation.pk}/overrides/"
    response = client.post(url, {"policy": rule.pk, "justification": "short"}, headers=HTMX)
    assert "Ensure this value has at least 10 characters" in response.content.decode()
    response = client.post(
        url, {"policy": rule.pk, "justification": "Single source this quarter."}, headers=HTMX
    )
    assert "Override requested" in response.content.decode()
    override = PolicyOverride.objects.get()
    decide = f"/negotiations/{negotiation.pk}/overrides/decide/"
    response = client.post(decide, {"override": override.pk, "decision": "approve"}, headers=HTMX)
    assert "Four eyes: you asked for this override" in response.content.decode()
    client.force_login(people["oscar"])
    body = client.get(f"/negotiations/{negotiation.pk}/").content.decode()
    assert "Approve override" in body
    response = client.post(decide, {"override": override.pk, "decision": "approve"}, headers=HTMX)
    assert "Override approved" in response.content.decode()
    override.refresh_from_db()
    assert override.status == "approved"


def test_actions_need_the_csrf_token(procurement, people):
    from django.test import Client

    negotiation = out_of_rounds(procurement)
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["olive"])
    for action in ("accept", "counter", "overrides", "overrides/decide"):
        response = client.post(f"/negotiations/{negotiation.pk}/{action}/", {}, headers=HTMX)
        assert response.status_code == 403, action
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.ESCALATED


def test_a_viewer_gets_403_and_nothing_changes(client, procurement, people):
    negotiation = out_of_rounds(procurement)
    client.force_login(people["vera"])
    before = counts()
    for action in ("accept", "counter", "overrides", "overrides/decide"):
        response = client.post(f"/negotiations/{negotiation.pk}/{action}/", {}, headers=HTMX)
        assert response.status_code == 403, action
    assert counts() == before


def test_resuming_after_a_missed_turn_gives_the_seat_a_new_turn(procurement, people):
    from negotiator.models import SeatKind
    from negotiator.services import sweeper

    negotiation = negotiation_create(
        playbook=procurement, seed=3, seats={"seller": SeatKind.REMOTE_AGENT}
    )
    assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    negotiation.refresh_from_db()
    missed_at = negotiation.turn_due_at + timedelta(seconds=1)
    assert sweeper.seat_turns_sweep(now=missed_at)["escalated"] == [negotiation.pk]
    negotiation.refresh_from_db()
    state = escalation_view.stored_state(negotiation)
    assert escalation_view.escalation_cause(negotiation, state) == "turn_missed"
    negotiation_resume(negotiation=negotiation, user=people["olive"])
    negotiation.refresh_from_db()
    assert negotiation_run_round(
        negotiation_id=negotiation.pk, round_number=negotiation.current_round
    )
    negotiation.refresh_from_db()
    # Not escalated again at once: the seat waits with a fresh turn deadline.
    assert negotiation.status == NegotiationStatus.RUNNING
    assert negotiation.waiting_for == "seller"
    assert negotiation.turn_due_at > timezone.now() + timedelta(minutes=59)


def test_an_outside_seats_escalated_move_may_be_resumed_it_moves_anew(procurement, people):
    from negotiator.engine.outcomes import fixed_terms_hash
    from negotiator.models import SeatKind
    from negotiator.services import seats

    negotiation = negotiation_create(
        playbook=procurement, seed=3, seats={"seller": SeatKind.REMOTE_AGENT}
    )
    assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    negotiation.refresh_from_db()
    # The outside seller offers a delivery past the SLA (an escalate policy).
    move = seats.MoveInput(
        performative="counter",
        terms={"price": 110_000, "delivery_days": 40, "warranty_months": 12},
        fixed_terms_hash=fixed_terms_hash(negotiation.playbook_version.spec["fixed_terms"]),
    )
    seats.seat_move_submit(
        participant=negotiation.participants.get(role="seller"), move=move, message_id="m-1"
    )
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.ESCALATED
    state = escalation_view.stored_state(negotiation)
    assert escalation_view.escalation_cause(negotiation, state) == "policy_escalation"
    assert escalation_view.resume_refusal(negotiation, state) == ""
    negotiation_resume(negotiation=negotiation, user=people["olive"])
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.RUNNING
