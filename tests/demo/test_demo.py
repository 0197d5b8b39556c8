"""`make run`'s demo data: every state a person meets, loaded once."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from negotiator.audit import audit_verify_all
from negotiator.models import Negotiation, NegotiationStatus, Playbook
from negotiator.selectors.visibility import negotiations_visible_to

pytestmark = pytest.mark.django_db


def test_bootstrap_demo_loads_every_state_and_is_idempotent(django_capture_on_commit_callbacks):
    from approvals.models import ApprovalDecision, ApprovalRoute

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("bootstrap_demo", stdout=out)
    assert "user admin" in out.getvalue() and "user approver" in out.getvalue()
    # three negotiation playbooks, the tender one, the marketing and scheduling coalitions
    assert Playbook.objects.count() == 6
    assert "6 playbooks" in out.getvalue()  # the summary counts what is loaded
    # One route per playbook where a person decides, one that approves small
    # clean deals automatically, and the default route.
    assert ApprovalRoute.objects.count() == 5
    assert ApprovalRoute.objects.filter(decision="auto").count() == 1
    assert ApprovalRoute.objects.get(is_default=True).decision == "person"
    statuses = set(Negotiation.objects.values_list("status", flat=True))
    assert {
        NegotiationStatus.RUNNING,
        NegotiationStatus.APPROVED,
        NegotiationStatus.ESCALATED,
        NegotiationStatus.PENDING_APPROVAL,
    } <= statuses
    # Both paths to approval show: a person (the demo approver's decision is on
    # record) and the route for small clean deals (named in the audit trail).
    assert ApprovalDecision.objects.filter(user__username="approver").exists()
    rules = {}
    for negotiation in Negotiation.objects.filter(status=NegotiationStatus.APPROVED):
        assert negotiation.plan
        event = negotiation.audit_events.filter(kind="negotiation.status_changed").last()
        rules[negotiation.title] = event.payload.get("rule")
    assert set(rules.values()) == {"approval-route", "auto-approve-route"}, rules
    assert all(report.ok for report in audit_verify_all())
    # Every demo negotiation belongs to a team, and both demo users see them all.
    assert not Negotiation.objects.filter(team=None).exists()
    assert set(Playbook.objects.values_list("team__name", flat=True)) == {
        "Procurement",
        "Marketing",
        "Logistics",
    }
    for username in ("admin", "approver"):
        user = get_user_model().objects.get(username=username)
        assert negotiations_visible_to(user).count() == Negotiation.objects.count()

    count = Negotiation.objects.count()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("bootstrap_demo", stdout=io.StringIO())
    assert Negotiation.objects.count() == count  # a live one is still running: nothing new
    assert Playbook.objects.count() == 6
    assert "6 playbooks" in out.getvalue()  # the summary counts what is loaded


def test_demo_tenders_show_every_state_and_a_flagged_ring(django_capture_on_commit_callbacks):
    from tenders.models import Tender, TenderStatus

    with django_capture_on_commit_callbacks(execute=False):
        call_command("bootstrap_demo", stdout=io.StringIO())
    statuses = set(Tender.objects.values_list("status", flat=True))
    assert {
        TenderStatus.RUNNING,
        TenderStatus.AWARDED,
        TenderStatus.PENDING_APPROVAL,
        TenderStatus.REJECTED,
        TenderStatus.NO_AWARD,
    } <= statuses
    ring = Tender.objects.get(title__endswith="flagged for bid rigging")
    assert ring.status == TenderStatus.PENDING_APPROVAL
    assert {"rotation", "shared_owner", "suspicion"} <= set(ring.screening["flags"])
    awarded = Tender.objects.get(status=TenderStatus.AWARDED)
    assert not awarded.flagged
    count = Tender.objects.count()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("bootstrap_demo", stdout=io.StringIO())
    assert Tender.objects.count() == count
