"""Mediated coalition negotiations in the product: the feasibility proof at the start,
rounds with the mediator's text and each party's ballot, the certificate in the
audit trail, escalation naming blockers, assumptions checked against later facts,
and a real Celery worker playing the rounds."""

from __future__ import annotations

import json

import pytest

from negotiator.audit import audit_verify_all
from negotiator.models import AuditEvent, Negotiation, NegotiationStatus, Offer
from negotiator.playbook_io import playbook_import
from negotiator.services.certificates import plan_fact_record
from negotiator.services.coalition import coalition_run_round
from negotiator.services.errors import ServiceError
from negotiator.services.lifecycle import negotiation_create
from negotiator.services.plans import negotiation_plan_build
from tests.conftest import celery_worker, wait_for
from tests.negotiator.conftest import load_playbook_document


@pytest.fixture(autouse=True)
def approval_route(transactional_db):
    """A default approval route: an agreement waits for a person (not an escalation)."""
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute

    ApprovalRoute.objects.create(
        name="Everything else",
        condition_kind="always",
        is_default=True,
        approver_group=Group.objects.get_or_create(name="Approvers")[0],
    )


# A rule every consensus of the shipped marketing playbook breaks.
STRICT_SPEND_POLICY = {
    "name": "Nothing over 1,000 without the CFO",
    "category": "financial",
    "kind": "expression",
    "parameters": {"expression": "plan.spend.total <= 1000.0"},
    "severity": "escalate",
}


def marketing(**changes):
    document = load_playbook_document("marketing")
    document.update(changes.pop("top", {}))
    for key, value in changes.items():
        document["plan_model"]["coalition"][key] = value
    return document


def play(negotiation: Negotiation) -> Negotiation:
    for _ in range(200):
        negotiation.refresh_from_db()
        if negotiation.status != NegotiationStatus.RUNNING:
            return negotiation
        coalition_run_round(negotiation_id=negotiation.pk, round_number=negotiation.current_round)
    raise AssertionError("the negotiation did not end")


def test_a_marketing_negotiation_agrees_on_a_certified_plan():
    playbook = playbook_import(marketing())
    negotiation = play(negotiation_create(playbook=playbook, seed=7))
    assert negotiation.status in (
        NegotiationStatus.PENDING_APPROVAL,
        NegotiationStatus.APPROVED,
    ), negotiation.outcome_reason
    state = negotiation.engine_state
    assert state["feasibility"]["feasible"] is True
    assert state["certificate"]["valid"] is True
    rounds = state["mediation"]["round"]
    # each round: the mediator's text and one ballot per party, replying to it
    assert Offer.objects.filter(negotiation=negotiation).count() == rounds * 4
    text = Offer.objects.filter(negotiation=negotiation, sender="mediator").last()
    assert text.assumptions and text.dependencies and text.expires_at is not None
    assert set(Offer.objects.filter(in_reply_to=text).values_list("sender", flat=True)) == {
        "budget",
        "channel",
        "capacity",
    }
    kinds = set(AuditEvent.objects.filter(negotiation=negotiation).values_list("kind", flat=True))
    assert {"plan.feasible", "offer.propose", "offer.reject", "plan.offer_checked"} <= kinds
    assert "plan.certificate_issued" in kinds
    assert all(report.ok for report in audit_verify_all(negotiation.pk))
    plan = negotiation_plan_build(negotiation)
    assert [line["id"] for line in plan["lines"]] == ["search", "social", "video"]
    video = plan["lines"][2]
    assert video["who"] == "Video team · Umbrella CTV"
    assert video["dependencies"] == ["search"]
    assert video["how_much"]["spend"]["value"] == negotiation.agreed_terms["spend__video"]
    assert plan["certificate"]["valid"] is True


def test_a_consensus_a_policy_refuses_escalates_to_a_person_with_the_checks_on_record():
    """Each acceptance meets the policy gate like any party's accept: a text the
    parties agree on but a policy refuses is not an agreement (fail closed)."""
    from negotiator.models import PolicyCheck

    document = marketing()
    document["policies"].append(STRICT_SPEND_POLICY)
    negotiation = play(negotiation_create(playbook=playbook_import(document), seed=7))
    assert negotiation.status == NegotiationStatus.ESCALATED
    assert "failed a policy" in negotiation.outcome_reason
    assert "rule does not hold: plan.spend.total <= 1000.0" in negotiation.outcome_reason
    assert negotiation.agreed_terms in (None, {})
    failed = PolicyCheck.objects.filter(negotiation=negotiation, passed=False, stage="accept")
    assert failed.exists()
    kinds = set(AuditEvent.objects.filter(negotiation=negotiation).values_list("kind", flat=True))
    assert "policy.checked" in kinds
    assert all(report.ok for report in audit_verify_all(negotiation.pk))

    # The same playbook without the rule agrees: the acceptances passed their checks.
    agreed = play(negotiation_create(playbook=playbook_import(marketing()), seed=7))
    assert agreed.status in (NegotiationStatus.PENDING_APPROVAL, NegotiationStatus.APPROVED)
    checks = PolicyCheck.objects.filter(negotiation=agreed, stage="accept")
    assert checks.exists() and all(c.passed for c in checks if c.severity == "block")


def test_an_infeasible_draft_is_refused_at_the_start_with_its_conflict_in_words():
    document = marketing()
    document["fixed_terms"]["product"] = "Kids cereal"
    playbook = playbook_import(document)
    negotiation = negotiation_create(playbook=playbook, seed=1)
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.DRAFT
    conflict = negotiation.engine_state["feasibility"]["conflict"]
    assert [c["text"] for c in conflict] == ["No social spend for a kids' product (brand safety)"]
    event = AuditEvent.objects.get(negotiation=negotiation, kind="plan.infeasible")
    assert json.loads(event.payload_json)["conflict"][0]["id"] == "brand-safety-kids"
    assert not Offer.objects.filter(negotiation=negotiation).exists()


def test_no_consensus_in_time_escalates_naming_who_blocks_on_which_issue():
    document = marketing(max_rounds=3, rule="unanimity")
    for role in document["roles"]:
        role["profile"]["reservation"] = 0.9
    negotiation = play(negotiation_create(playbook=playbook_import(document), seed=2))
    assert negotiation.status == NegotiationStatus.ESCALATED
    assert "blocks on" in negotiation.outcome_reason
    event = AuditEvent.objects.filter(negotiation=negotiation, kind="negotiation.status_changed")
    payload = json.loads(event.last().payload_json)
    assert payload["cause"] == "no_consensus" and payload["blockers"]


def test_a_later_fact_that_breaks_an_assumption_is_flagged_in_the_trail():
    negotiation = play(negotiation_create(playbook=playbook_import(marketing()), seed=7))
    start = negotiation.agreed_terms["flight__video__start"]
    checked = plan_fact_record(
        negotiation=negotiation, facts={"creative_delivered_week.video": start + 2}
    )
    video = next(a for a in checked if a["id"] == "creative-delivered.video")
    assert video["status"] == "broken" and video["bound"] == start - 1
    event = AuditEvent.objects.filter(negotiation=negotiation).last()
    assert event.kind == "plan.assumption_broken"
    with pytest.raises(ServiceError, match="must be a number"):
        plan_fact_record(negotiation=negotiation, facts={"creative_delivered_week.video": "soon"})
    # A fact no assumption reads (a typo) is refused, not stored as if it mattered.
    events = AuditEvent.objects.filter(negotiation=negotiation).count()
    with pytest.raises(ServiceError, match="creative_delivered_wek.video"):
        plan_fact_record(negotiation=negotiation, facts={"creative_delivered_wek.video": 3})
    assert AuditEvent.objects.filter(negotiation=negotiation).count() == events
    negotiation.refresh_from_db()
    assert "creative_delivered_wek.video" not in negotiation.engine_state["facts"]
    # The fact for every line of the window at once is known too.
    plan_fact_record(negotiation=negotiation, facts={"creative_delivered_week": 1})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"protocol": "alternating"}, "protocol must be mediated"),
        ({"assumption": {"term": "spend__radio"}}, "is not an issue of the plan"),
        ({"assumption": {"value": "lots"}}, "value must be a number"),
        ({"assumption": {"id": ""}}, "needs an id"),
        ({"fact": {"window": "nope"}}, "is not a window of the plan"),
        ({"fact": {"text": "by week {when}"}}, "only {item} and {bound}"),
        ({"fact": {"offset": 1.5}}, "offset must be a whole number"),
    ],
)
def test_a_plan_model_that_could_fail_later_is_refused_at_import(change, message):
    from negotiator.playbook_io import PlaybookImportError

    document = marketing()
    model = document["plan_model"]
    if "protocol" in change:
        model["coalition"]["protocol"] = change["protocol"]
    fact, term = model["assumptions"]
    fact.update(change.get("fact", {}))
    term.update(change.get("assumption", {}))
    with pytest.raises(PlaybookImportError) as caught:
        playbook_import(document)
    assert message in str(caught.value.errors)


def test_a_real_worker_plays_a_marketing_negotiation_to_a_certified_plan(worker_env, tmp_path):
    playbook = playbook_import(marketing())
    with celery_worker(tmp_path, worker_env) as worker:
        negotiation = negotiation_create(playbook=playbook, seed=11)

        def ended():
            negotiation.refresh_from_db()
            return negotiation.status != NegotiationStatus.RUNNING

        wait_for(ended, timeout=120, interval=0.3)
        log = worker.log()
    assert negotiation.engine_state["certificate"]["valid"] is True, log[-2000:]
    assert negotiation.status in (NegotiationStatus.PENDING_APPROVAL, NegotiationStatus.APPROVED)
    same = play(negotiation_create(playbook=playbook, seed=11, start=True))
    # the worker plays exactly what the in-process rounds play
    assert same.agreed_terms == negotiation.agreed_terms


def test_the_approved_plan_downloads_as_csv_with_one_row_per_line(client):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from approvals.services.decisions import approval_decide

    negotiation = play(negotiation_create(playbook=playbook_import(marketing()), seed=7))
    user = get_user_model().objects.create_user("mia", password="pw-12345-x")
    for group in ("Operators", "Marketing", "Approvers"):
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    early = client.get(f"/negotiations/{negotiation.pk}/plan.csv")
    assert early.status_code == 302  # login first
    client.force_login(user)
    assert client.get(f"/negotiations/{negotiation.pk}/plan.csv").status_code == 409
    approval_decide(request=negotiation.approval_requests.get(), user=user, decision="approve")
    response = client.get(f"/negotiations/{negotiation.pk}/plan.csv")
    assert response.status_code == 200, response.content[:300]
    lines = response.content.decode().splitlines()
    assert lines[0] == "line,who,what,start,end,unit,how_much,depends_on,assumptions"
    assert [row.split(",")[0] for row in lines[1:]] == ["search", "social", "video"]


def test_coalition_metrics_count_certified_plans_escalations_and_refused_starts():
    from negotiator.selectors.coalition_metrics import coalition_metrics

    playbook = playbook_import(marketing())
    play(negotiation_create(playbook=playbook, seed=7))
    kids = marketing()
    kids["fixed_terms"]["product"] = "Kids cereal"
    negotiation_create(playbook=playbook_import(kids), seed=1)
    stubborn = marketing(max_rounds=3, rule="unanimity")
    for role in stubborn["roles"]:
        role["profile"]["reservation"] = 0.9
    play(negotiation_create(playbook=playbook_import(stubborn), seed=2))
    metrics = coalition_metrics(playbook=playbook)
    assert metrics["negotiations"] == 3 and metrics["agreements"] == 1
    assert metrics["feasible_plan_rate"] == 1.0
    assert metrics["escalations"] == 1 and metrics["exception_rate"] == pytest.approx(
        1 / 3, abs=1e-4
    )
    assert metrics["infeasible_starts"] == 1
    assert metrics["cycle_time_seconds"]["median"] is not None
    assert metrics["consensus_time_seconds"]["mean"] >= 0
    assert metrics["mean_consensus_rounds"] >= 1


def test_the_plan_fact_command_flags_a_broken_assumption():
    from io import StringIO

    from django.core.management import CommandError, call_command

    negotiation = play(negotiation_create(playbook=playbook_import(marketing()), seed=7))
    late = negotiation.agreed_terms["flight__search__start"] + 3
    out = StringIO()
    call_command(
        "plan_fact",
        "--negotiation",
        str(negotiation.pk),
        "--fact",
        f"creative_delivered_week.search={late}",
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert any(line.startswith("broken") and "Search flight" in line for line in lines)
    assert any(line.startswith("open") and "Video flight" in line for line in lines)
    with pytest.raises(CommandError, match="NAME=NUMBER"):
        call_command("plan_fact", "--negotiation", str(negotiation.pk), "--fact", "oops")


def test_the_outcomes_page_reads_the_feasible_plan_rate_and_consensus_from_certificates():
    from django.contrib.auth import get_user_model

    from analytics.selectors.outcomes import OutcomeFilters
    from analytics.selectors.report import outcomes_report

    playbook = playbook_import(marketing())
    agreed = play(negotiation_create(playbook=playbook, seed=7))
    admin = get_user_model().objects.create_user("boss", password="pw", is_superuser=True)
    slots = {m.metric: m for m in outcomes_report(user=admin, filters=OutcomeFilters()).patterns}
    assert slots["Feasible-plan rate"].value == 1.0  # one agreed plan, certified
    assert slots["Feasible-plan rate"].text == "100.0%"
    issued = agreed.engine_state["certificate"]["issued_at"]
    from datetime import datetime

    expected = (datetime.fromisoformat(issued) - agreed.started_at).total_seconds()
    assert slots["Consensus time"].value == pytest.approx(expected)
