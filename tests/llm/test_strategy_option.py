"""The LLM-assisted strategy is offered only while a model is configured."""

from __future__ import annotations

import pytest

from negotiator.forms import NegotiationForm
from negotiator.models import Playbook

pytestmark = pytest.mark.django_db


def _choices(playbook) -> list[str]:
    form = NegotiationForm(playbooks=Playbook.objects.all(), playbook=playbook)
    return [value for value, _ in form.fields["strategy_buyer"].choices]


def test_the_option_shows_with_a_model_and_hides_without(llm_playbook, settings):
    assert "llm-assisted" in _choices(llm_playbook)
    settings.LLM_BASE_URL = ""
    choices = _choices(llm_playbook)
    assert "llm-assisted" not in choices and "default" in choices
