"""``manage.py simulate --playbook marketing``: mediated three-party runs, each agreed
plan certified, and the figures the marketing workflow is judged by."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from negotiator import playbook_io
from negotiator.playbook_io import playbook_export, playbook_import
from tests.conftest import REPO
from tests.negotiator.test_coalition import STRICT_SPEND_POLICY

pytestmark = pytest.mark.django_db


def simulate(*args: str) -> list[dict]:
    out = StringIO()
    call_command("simulate", *args, stdout=out, stderr=StringIO())
    return [json.loads(line) for line in out.getvalue().strip().splitlines()]


def test_the_shipped_marketing_playbook_simulates_by_name_with_certified_plans():
    lines = simulate("--playbook", "marketing", "--runs", "6", "--seed", "3", "--json")
    runs, summary = lines[:-1], lines[-1]["summary"]
    assert [r["seed"] for r in runs] == [3, 4, 5, 6, 7, 8]
    assert summary["runs"] == 6 and summary["parties"] == ["budget", "channel", "capacity"]
    assert summary["agreement_rate"] == 1.0
    assert summary["feasible_plan_rate"] == 1.0
    assert all(r["solver_status"] == "OPTIMAL" for r in runs)
    assert summary["mean_consensus_rounds"] == pytest.approx(
        sum(r["consensus_rounds"] for r in runs) / 6, abs=0.01
    )
    assert set(summary) >= {"median_ms", "mean_ms", "exception_rate", "median_cpu_ms"}


def test_the_same_seed_gives_the_same_plans():
    first = simulate("--playbook", "marketing", "--runs", "2", "--json")
    again = simulate("--playbook", "marketing", "--runs", "2", "--json")
    assert [r["terms"] for r in first[:-1]] == [r["terms"] for r in again[:-1]]


def test_simulate_applies_the_policies_to_the_consensus_as_live_rounds_do(tmp_path):
    """What a policy owner tries offline is what runs live: a consensus text the
    playbook's policies refuse escalates in the simulator too."""
    document = json.loads((REPO / "playbooks" / "marketing.json").read_text())
    document["policies"].append(STRICT_SPEND_POLICY)
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(document))
    lines = simulate("--playbook", str(path), "--runs", "3", "--json")
    runs, summary = lines[:-1], lines[-1]["summary"]
    assert summary["agreement_rate"] == 0.0 and summary["exception_rate"] == 1.0
    for run in runs:
        assert run["status"] == "escalated" and run["terms"] is None
        assert "failed a policy" in run["reason"] and "plan.spend.total <= 1000.0" in run["reason"]


def test_an_infeasible_playbook_is_refused_with_its_conflict_in_words(tmp_path):
    document = json.loads((REPO / "playbooks" / "marketing.json").read_text())
    document["fixed_terms"]["product"] = "Kids cereal"
    path = tmp_path / "kids.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="No social spend for a kids' product"):
        simulate("--playbook", str(path), "--runs", "1", "--json")


def test_the_marketing_playbook_imports_exports_and_reimports_unchanged():
    document = playbook_io.document_read(REPO / "playbooks" / "marketing.json")
    playbook = playbook_import(document)
    spec = playbook.current_version.spec
    assert "spend__video" in [i["name"] for i in spec["issues"]]
    assert spec["plan_model"]["coalition"]["rule"] == "weighted_majority"
    exported = playbook_export(playbook)
    assert [i["name"] for i in exported["issues"]] == ["measurement"]
    again = playbook_import(exported)
    assert again.current_version.pk == playbook.current_version.pk  # same digest
    lines = simulate("--playbook", playbook.name, "--runs", "1", "--json")
    assert lines[-1]["summary"]["agreements"] == 1
