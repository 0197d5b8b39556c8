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
    assert Playbook.objects.count() == 3
    assert ApprovalRoute.objects.count() == 3
    statuses = set(Negotiation.objects.values_list("status", flat=True))
    assert {
        NegotiationStatus.RUNNING,
        NegotiationStatus.APPROVED,
        NegotiationStatus.ESCALATED,
        NegotiationStatus.PENDING_APPROVAL,
    } <= statuses
    # The approved ones passed a person: the demo approver's decision is on record.
    assert ApprovalDecision.objects.filter(user__username="approver").exists()
    for negotiation in Negotiation.objects.filter(status=NegotiationStatus.APPROVED):
        assert negotiation.plan
    assert all(report.ok for report in audit_verify_all())
    # Every demo negotiation belongs to a team, and both demo users see them all.
    assert not Negotiation.objects.filter(team=None).exists()
    assert set(Playbook.objects.values_list("team__name", flat=True)) == {
        "Procurement",
        "Marketing",
    }
    for username in ("admin", "approver"):
        user = get_user_model().objects.get(username=username)
        assert negotiations_visible_to(user).count() == Negotiation.objects.count()

    count = Negotiation.objects.count()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("bootstrap_demo", stdout=io.StringIO())
    assert Negotiation.objects.count() == count  # a live one is still running: nothing new
    assert Playbook.objects.count() == 3
