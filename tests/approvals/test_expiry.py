"""The periodic job: expiry as the route says, reminders once, notices on open."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals import tasks
from approvals.services import notices
from approvals.services.decisions import approval_decide
from approvals.services.errors import ApprovalDenied
from approvals.services.expiry import approvals_process_due
from approvals.services.notices import approval_notice_send
from negotiator.audit import audit_verify_chain, chain_of


def later(request, hours: float):
    return request.due_at + timedelta(hours=hours)


def test_a_notice_goes_to_the_approver_group_but_not_to_the_initiator(pending, mailoutbox):
    assert approval_notice_send(request_id=pending.pk)
    assert not approval_notice_send(request_id=pending.pk)  # once
    (mail,) = mailoutbox
    assert sorted(mail.to) == ["anna@example.com", "bert@example.com"]  # not olga
    assert "Approval needed" in mail.subject
    assert f"/approvals/{pending.pk}/" in mail.body
    assert "Large deals" in mail.body
    # Terms as people read them (the shared formatting helper), not raw keys.
    terms = pending.terms
    assert f"Price {terms['price']:,} USD" in mail.body
    assert f"Delivery days {terms['delivery_days']} days" in mail.body
    assert "delivery_days" not in mail.body
    assert f"Deal value: {pending.deal_value:,.0f} USD" in mail.body


def test_the_periodic_task_sends_missing_notices(pending, mailoutbox):
    done = tasks.process_due()
    assert done["notified"] == [pending.pk]
    assert len(mailoutbox) == 1
    assert tasks.process_due()["notified"] == []


def test_a_reminder_goes_once_when_less_than_a_quarter_of_the_sla_is_left(pending, mailoutbox):
    approval_notice_send(request_id=pending.pk)
    mailoutbox.clear()
    # 24 h SLA: 10 h before the deadline more than a quarter is left.
    assert approvals_process_due(now=later(pending, -10))["reminded"] == []
    assert approvals_process_due(now=later(pending, -5))["reminded"] == [pending.pk]
    assert approvals_process_due(now=later(pending, -4))["reminded"] == []
    (mail,) = mailoutbox
    assert mail.subject.startswith("Reminder")
    pending.refresh_from_db()
    assert pending.reminded_at is not None
    assert pending.negotiation.audit_events.filter(kind="approval.reminded").count() == 1


def test_expire_marks_expired_and_times_the_negotiation_out(pending):
    assert approvals_process_due(now=later(pending, -1))["expired"] == []
    assert approvals_process_due(now=later(pending, 1))["expired"] == [pending.pk]
    pending.refresh_from_db()
    assert pending.status == "expired"
    negotiation = pending.negotiation
    assert negotiation.status == "timed_out"
    assert "approval expired" in negotiation.outcome_reason
    # A second run changes nothing.
    assert approvals_process_due(now=later(pending, 2))["expired"] == []
    assert audit_verify_chain(chain_of(negotiation)).ok


def test_reject_on_expiry_rejects_the_deal(agree, make_route):
    make_route(on_expiry="reject")
    request = agree().approval_requests.get()
    assert approvals_process_due(now=later(request, 1))["rejected"] == [request.pk]
    request.refresh_from_db()
    assert request.status == "expired"
    assert request.negotiation.status == "rejected"


def test_escalate_on_expiry_hands_over_to_the_second_group_with_a_new_due_time(
    agree, make_route, groups, people, mailoutbox
):
    make_route(on_expiry="escalate", escalation_group=groups["Finance directors"], sla_hours=4)
    request = agree().approval_requests.get()
    approval_notice_send(request_id=request.pk)
    mailoutbox.clear()
    now = later(request, 0.5)
    done = approvals_process_due(now=now)
    assert done["escalated"] == [request.pk]
    assert done["notified"] == [request.pk]  # the new group is told
    request.refresh_from_db()
    assert request.status == "pending"
    assert request.approver_group == groups["Finance directors"]
    assert request.escalated
    assert request.due_at == now + timedelta(hours=4)
    assert mailoutbox[-1].to == ["dora@example.com"]
    event = request.negotiation.audit_events.get(kind="approval.escalated")
    assert event.payload["to_group"] == "Finance directors"
    # The first group no longer decides; the second does.
    with pytest.raises(ApprovalDenied):
        approval_decide(request=request, user=people["approver"], decision="approve")
    approval_decide(request=request, user=people["director"], decision="approve")
    request.refresh_from_db()
    assert request.status == "approved"


def test_an_escalated_request_that_expires_again_is_marked_expired(agree, make_route, groups):
    make_route(on_expiry="escalate", escalation_group=groups["Finance directors"], sla_hours=4)
    request = agree().approval_requests.get()
    approvals_process_due(now=later(request, 0.5))
    request.refresh_from_db()
    assert approvals_process_due(now=later(request, 0.5))["expired"] == [request.pk]
    request.refresh_from_db()
    assert request.status == "expired"
    assert request.negotiation.status == "timed_out"


def test_the_beat_schedule_runs_the_job(settings):
    entries = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "approvals.tasks.process_due" in entries
    assert tasks.process_due.name == "approvals.tasks.process_due"


def test_a_mail_outage_releases_the_claim_so_the_next_run_retries(pending, monkeypatch, mailoutbox):
    def broken(*args, **kwargs):
        raise OSError("smtp down")

    monkeypatch.setattr(notices, "send_mail", broken)
    assert not approval_notice_send(request_id=pending.pk)
    pending.refresh_from_db()
    assert pending.notified_at is None
    monkeypatch.undo()
    assert approval_notice_send(request_id=pending.pk)
    assert timezone.now() >= pending.created_at


def test_opening_a_request_enqueues_the_notice_after_commit(
    agree, make_route, monkeypatch, django_capture_on_commit_callbacks
):
    from negotiator.celery import app

    sent = []
    # Nothing goes to the broker: record what would be sent (rounds run in-process here).
    monkeypatch.setattr(app, "send_task", lambda name, args=(), **kw: sent.append((name, args)))
    make_route()
    with django_capture_on_commit_callbacks(execute=True):
        negotiation = agree()
    notices = [args for name, args in sent if name == "approvals.tasks.send_notice"]
    assert notices == [(negotiation.approval_requests.get().pk,)]


def test_the_command_runs_the_job_once(pending, mailoutbox):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("approvals_process_due", stdout=out)
    assert "1 notified" in out.getvalue()
    assert len(mailoutbox) == 1


# --------------------------------------------------------------------------
# Past its due time a request cannot be decided, whenever the job runs
# --------------------------------------------------------------------------


def _overdue(request, minutes: int = 1):
    from approvals.models import ApprovalRequest

    ApprovalRequest.objects.filter(pk=request.pk).update(
        due_at=timezone.now() - timedelta(minutes=minutes)
    )
    request.refresh_from_db()
    return request


def test_an_overdue_request_cannot_be_approved_it_expires_at_decision_time(pending, people):
    from approvals.services.errors import ApprovalConflict

    _overdue(pending)
    with pytest.raises(ApprovalConflict, match="This approval request expired at .*nothing was"):
        approval_decide(request=pending, user=people["approver"], decision="approve")
    pending.refresh_from_db()
    assert pending.status == "expired"
    assert not pending.decisions.exists()
    negotiation = pending.negotiation
    negotiation.refresh_from_db()
    assert negotiation.status == "timed_out"  # the route's rule: expire
    assert negotiation.plan is None
    assert audit_verify_chain(chain_of(negotiation)).ok


def test_an_overdue_request_with_an_escalation_route_goes_to_the_second_group(
    agree, make_route, groups, people
):
    from approvals.services.errors import ApprovalConflict

    make_route(on_expiry="escalate", escalation_group=groups["Finance directors"])
    request = _overdue(agree().approval_requests.get())
    with pytest.raises(ApprovalConflict, match="went to the route's escalation group"):
        approval_decide(request=request, user=people["approver"], decision="approve")
    request.refresh_from_db()
    assert (request.status, request.escalated) == ("pending", True)
    assert request.approver_group == groups["Finance directors"]
    # The second group decides within its new window.
    approval_decide(request=request, user=people["director"], decision="approve")
    request.refresh_from_db()
    assert request.status == "approved"


def test_the_decide_page_answers_409_for_an_overdue_request(client, pending, people):
    from django.urls import reverse

    _overdue(pending)
    client.force_login(people["approver"])
    response = client.post(
        reverse("approvals:decide", args=[pending.pk]),
        {"decision": "approve", "comment": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409
    assert "This approval request expired at" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == "expired"
