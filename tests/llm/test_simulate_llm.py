"""`simulate --llm`: one role LLM-assisted against the fake model (random picks)
keeps the deterministic seat's agreement rate and its policy compliance."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from negotiator.llm.fake import random_choice
from tests.conftest import REPO

pytestmark = pytest.mark.django_db
PLAYBOOK = str(REPO / "playbooks" / "procurement.json")


def _simulate(*extra: str) -> tuple[dict, dict]:
    out = StringIO()
    call_command("simulate", "--playbook", PLAYBOOK, "--runs", "6", "--json", *extra, stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    summary = next(line["summary"] for line in lines if "summary" in line)
    guardrails = next(line["guardrails"] for line in lines if "guardrails" in line)
    return summary, guardrails


def test_random_picks_keep_agreements_and_compliance(llm_server):
    llm_server.script = random_choice(0)
    plain, plain_guard = _simulate()
    assisted, guard = _simulate("--llm")
    assert assisted["agreement_rate"] == plain["agreement_rate"] == 1.0
    assert guard["policy_breaches"] == plain_guard["policy_breaches"] == 0
    assert guard["llm_calls"] == len(llm_server.requests) > 0
    assert guard["llm_fallbacks"] == {}
    assert len(guard["llm_picks"]) > 1, "the random model only ever took one id"


def test_the_llm_flag_needs_a_model(settings):
    settings.LLM_BASE_URL = ""
    with pytest.raises(CommandError, match="no model is configured"):
        call_command("simulate", "--playbook", PLAYBOOK, "--runs", "1", "--llm", stdout=StringIO())


def test_the_llm_role_must_exist(llm_server):
    with pytest.raises(CommandError, match="no such party"):
        call_command(
            "simulate", "--playbook", PLAYBOOK, "--runs", "1", "--llm", "nobody", stdout=StringIO()
        )
