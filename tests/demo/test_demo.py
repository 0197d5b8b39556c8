"""`make run`'s demo data: every state a person meets, loaded once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from negotiator.audit import audit_verify_all
from negotiator.models import Negotiation, NegotiationStatus, Playbook

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

    count = Negotiation.objects.count()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("bootstrap_demo", stdout=io.StringIO())
    assert Negotiation.objects.count() == count  # a live one is still running: nothing new
    assert Playbook.objects.count() == 3
