"""What-if replay: past negotiations played again under a draft, nothing saved."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analytics.services.drafts import (
    DraftError,
    draft_current,
    draft_from_document,
    draft_from_policy_changes,
)
from analytics.services.whatif import _fit_e, whatif_replay
from negotiator.engine.strategies import concession_target
from negotiator.models import AuditEvent, Negotiation, Offer, Policy, PolicyCheck, PolicyVersion
from negotiator.services.lifecycle import negotiation_create
from tests.analytics.known_data import negotiation_write
from tests.negotiator.conftest import load_playbook_document, run_to_end

pytestmark = pytest.mark.django_db

TIGHT_CAP = 98000


@pytest.fixture
def played(procurement, auto_approval):
    """Six procurement negotiations played to the end by the engine (seeds 1..6)."""
    return [
        run_to_end(negotiation_create(playbook=procurement, title=f"Seed {s}", seed=s))
        for s in range(1, 7)
    ]


def counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count()
        for m in (Negotiation, Offer, PolicyCheck, AuditEvent, Policy, PolicyVersion)
    )


def tight_cap(procurement):
    return draft_from_policy_changes(
        {"Budget cap": {"parameters": {"issue": "price", "max": TIGHT_CAP}}},
        playbook=procurement,
    )


def test_the_current_replay_reproduces_what_was_recorded(procurement, played):
    current = draft_current(procurement)
    report = whatif_replay(playbook=procurement, current=current, draft=current, last=6)
    assert len(report.rows) == 6 and report.changed == []
    recorded = {n.pk: n.agreed_terms for n in played}
    assert {r.negotiation_id: r.current.terms for r in report.rows} == recorded


def test_a_tighter_cap_changes_the_known_negotiations_above_it(procurement, played):
    before = counts()
    report = whatif_replay(
        playbook=procurement,
        current=draft_current(procurement),
        draft=tight_cap(procurement),
        last=6,
    )
    above = {n.pk for n in played if n.agreed_terms and n.agreed_terms["price"] > TIGHT_CAP}
    assert above, "the seeds should give agreements above the tighter cap"
    changed = {r.negotiation_id for r in report.changed}
    assert above <= changed
    for row in report.rows:
        if row.draft.terms is not None:
            assert row.draft.terms["price"] <= TIGHT_CAP
    assert report.draft.policy_blocks >= report.current.policy_blocks
    # the same opening asks as baseline: paying at most the cap saves more
    assert report.draft.mean_savings > report.current.mean_savings
    assert counts() == before  # nothing saved


def test_the_command_prints_the_side_by_side_and_links_the_changed(procurement, played, tmp_path):
    draft = tmp_path / "draft.json"
    draft.write_text(
        json.dumps(
            {"policies": {"Budget cap": {"parameters": {"issue": "price", "max": TIGHT_CAP}}}}
        )
    )
    out = StringIO()
    call_command(
        "whatif", "--playbook", procurement.name, "--draft", str(draft), "--last", "6", stdout=out
    )
    text = out.getvalue()
    assert "agreement rate" in text and "policy blocks" in text and "approval load" in text
    assert "Outcome changes in" in text and "/negotiations/" in text
    out = StringIO()
    call_command(
        "whatif",
        "--playbook",
        procurement.name,
        "--draft",
        str(draft),
        "--last",
        "6",
        "--json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert data["current_summary"]["runs"] == 6
    changed = [n for n in data["negotiations"] if n["changed"]]
    assert changed and all(n["url"] == f"/negotiations/{n['negotiation']}/" for n in changed)


def test_a_whole_playbook_document_is_a_draft(procurement, played):
    document = load_playbook_document("procurement")
    for policy in document["policies"]:
        if policy["name"] == "Budget cap":
            policy["parameters"]["max"] = TIGHT_CAP
    draft = draft_from_document(document, playbook=procurement)
    report = whatif_replay(
        playbook=procurement, current=draft_current(procurement), draft=draft, last=6
    )
    via_policy = whatif_replay(
        playbook=procurement,
        current=draft_current(procurement),
        draft=tight_cap(procurement),
        last=6,
    )
    assert [r.draft.terms for r in report.rows] == [r.draft.terms for r in via_policy.rows]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"policies": {"No such policy": {"severity": "warn"}}}, "no policy of this name"),
        ({"policies": {"Budget cap": {"parameters": {"issue": "price", "max": "lots"}}}}, "max"),
        ({"policies": {"Budget cap": {"colour": "red"}}}, "expected an object with parameters"),
        ({"format": "negotiator.playbook/1", "name": "x"}, "required"),
    ],
)
def test_an_invalid_draft_is_a_clear_error_and_saves_nothing(
    procurement, played, document, message
):
    before = counts()
    with pytest.raises(DraftError) as caught:
        whatif_replay(
            playbook=procurement,
            current=draft_current(procurement),
            draft=draft_from_document(document, playbook=procurement),
            last=6,
        )
    assert message in str(caught.value)
    assert counts() == before


def test_the_command_refuses_bad_input_with_a_command_error(procurement, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="--draft"):
        call_command("whatif", "--playbook", procurement.name, "--draft", str(bad), "--last", "3")
    with pytest.raises(CommandError, match="no playbook named"):
        call_command("whatif", "--playbook", "Nope", "--draft", str(bad), "--last", "3")
    with pytest.raises(CommandError, match="--last"):
        call_command("whatif", "--playbook", procurement.name, "--draft", str(bad), "--last", "0")
    with pytest.raises(CommandError, match="no such file"):
        call_command("whatif", "--playbook", procurement.name, "--draft", str(tmp_path / "x.json"))


def test_the_fit_recovers_a_known_concession_exponent():
    points = [(t / 10, concession_target(t / 10, 0.5, 0.2, 1.0)) for t in range(8)]
    assert _fit_e(points, 0.2, 1.0) == pytest.approx(0.5, rel=0.03)


def test_an_outside_seat_is_modelled_from_its_recorded_offers_and_said_so(procurement):
    """A person played the seller: its offers are replayed by a fitted curve."""
    offers = [
        (
            r,
            "seller",
            "propose" if r == 0 else "counter",
            {"price": p, "delivery_days": 20, "warranty_months": 12},
            r,
        )
        for r, p in enumerate((124000, 122000, 119000, 115000))
    ]
    n = negotiation_write(procurement, status="failed", title="Person seller", offers=offers)
    n.participants.filter(role="seller").update(seat="person")
    current = draft_current(procurement)
    report = whatif_replay(playbook=procurement, current=current, draft=current, last=1)
    (row,) = report.rows
    (model,) = row.modelled
    assert model.role == "seller" and model.offers == 4
    assert "modelled from 4 recorded offers, fitted concession e =" in model.note
    assert row.current == row.draft  # same draft, same seeds: the same replay
