"""Two approvers deciding at the same moment: row locks serialise them, so only
the transitions the rules allow happen."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from approvals.services.decisions import approval_decide
from negotiator.audit import audit_verify_chain, chain_of
from negotiator.services.errors import ServiceError

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL"
)


def decide_together(request, calls):
    """Run each (user, decision, comment) in its own thread and connection, released
    at the same moment; returns each outcome ('ok' or the error message)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str | None] = [None] * len(calls)

    def run(i, user, decision, comment):
        from django.db import connections

        try:
            barrier.wait(timeout=10)
            approval_decide(request=request.pk, user=user, decision=decision, comment=comment)
            outcomes[i] = "ok"
        except ServiceError as exc:
            outcomes[i] = str(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_approvers_under_four_eyes_approve_exactly_once(agree, make_route, people):
    make_route(approvers_required=2)
    negotiation = agree()
    request = negotiation.approval_requests.get()
    outcomes = decide_together(
        request,
        [(people["approver"], "approve", ""), (people["approver2"], "approve", "")],
    )
    assert outcomes == ["ok", "ok"]
    request.refresh_from_db()
    negotiation.refresh_from_db()
    assert request.status == "approved"
    assert request.decisions.count() == 2
    assert negotiation.status == "approved"
    events = negotiation.audit_events.filter(kind="approval.status_changed")
    assert [e.payload["to"] for e in events] == ["approved"]
    assert negotiation.audit_events.filter(kind="negotiation.plan_recorded").count() == 1
    assert audit_verify_chain(chain_of(negotiation)).ok


@pytest.mark.django_db(transaction=True)
def test_approve_and_reject_at_once_one_wins_the_other_is_told(agree, make_route, people):
    make_route(approvers_required=1)
    negotiation = agree()
    request = negotiation.approval_requests.get()
    outcomes = decide_together(
        request,
        [(people["approver"], "approve", ""), (people["approver2"], "reject", "no")],
    )
    assert sorted(o == "ok" for o in outcomes) == [False, True]
    loser = next(o for o in outcomes if o != "ok")
    assert "already decided" in loser
    request.refresh_from_db()
    negotiation.refresh_from_db()
    assert request.decisions.count() == 1
    winner = request.decisions.get().decision
    assert request.status == {"approve": "approved", "reject": "rejected"}[winner]
    assert negotiation.status == request.status
    assert negotiation.audit_events.filter(kind="approval.status_changed").count() == 1
    assert audit_verify_chain(chain_of(negotiation)).ok


@pytest.mark.django_db(transaction=True)
def test_four_eyes_approve_and_reject_at_once_never_approves_over_a_rejection(
    agree, make_route, people
):
    make_route(approvers_required=2)
    negotiation = agree()
    request = negotiation.approval_requests.get()
    decide_together(
        request,
        [(people["approver"], "approve", ""), (people["approver2"], "reject", "no")],
    )
    request.refresh_from_db()
    negotiation.refresh_from_db()
    # Whatever the order, one rejection ends it and nothing is approved.
    assert request.status == "rejected"
    assert negotiation.status == "rejected"
    # Approve first: both are recorded. Reject first: the approval comes too late.
    decisions = set(request.decisions.values_list("decision", flat=True))
    assert decisions in ({"approve", "reject"}, {"reject"})
