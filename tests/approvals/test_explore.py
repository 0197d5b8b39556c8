from tests.approvals.conftest import run_until_settled


def test_explore(pending, people):
    from approvals import services

    n = pending.negotiation
    print(n.status, n.agreed_terms, n.outcome_reason, n.current_round, n.max_rounds)
    services.approval_decide(request=pending, user=people["approver"], decision="request_changes", comment="too pricey", constraints_text="price <= 95,000")
    n.refresh_from_db()
    print(n.status, n.engine_state["round"], n.current_round, n.max_rounds)
    n = run_until_settled(n)
    print(n.status, n.agreed_terms, n.outcome_reason, n.current_round, n.max_rounds)
    for r in n.approval_requests.all():
        print(r.pk, r.status, r.terms)
    assert 0
