"""Prompts are versioned like policies: editing one in admin adds a version, the
versions stay, and exchanges are read-only for review."""

from __future__ import annotations

import pytest

from negotiator.llm.models import LLMExchange, Prompt, PromptPurpose, PromptVersion
from negotiator.llm.services import prompt_version_current
from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db


def _inline(prompt: Prompt) -> dict[str, str]:
    versions = list(prompt.versions.order_by("-number"))
    data = {
        "versions-TOTAL_FORMS": str(len(versions)),
        "versions-INITIAL_FORMS": str(len(versions)),
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    for k, v in enumerate(versions):
        data[f"versions-{k}-id"] = str(v.pk)
        data[f"versions-{k}-prompt"] = str(prompt.pk)
    return data


def test_saving_changed_text_adds_a_version(client):
    client.force_login(make_user("root", superuser=True))
    builtin = prompt_version_current(PromptPurpose.SEAT)
    prompt = builtin.prompt
    page = client.get(f"/admin/llm/prompt/{prompt.pk}/change/")
    assert page.status_code == 200 and "Choose exactly one candidate" in page.content.decode()
    data = {
        "text": "Pick the candidate closest to their last offer.",
        "note": "shorter",
        **_inline(prompt),
    }
    response = client.post(f"/admin/llm/prompt/{prompt.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    prompt.refresh_from_db()
    assert prompt.current_version.number == 2
    assert prompt.current_version.text == "Pick the candidate closest to their last offer."
    assert prompt.current_version.note == "shorter"
    assert PromptVersion.objects.get(pk=builtin.pk).text == builtin.text  # kept as it was
    # the same text again adds nothing
    client.post(f"/admin/llm/prompt/{prompt.pk}/change/", {**data, **_inline(prompt)})
    assert prompt.versions.count() == 2


def test_versions_and_exchanges_cannot_be_changed_in_admin(client):
    client.force_login(make_user("root", superuser=True))
    version = prompt_version_current(PromptPurpose.PORTAL)
    exchange = LLMExchange.objects.create(
        purpose="portal", model="m", request={"messages": []}, prompt_sha256="0" * 64
    )
    assert client.get(f"/admin/llm/promptversion/{version.pk}/change/").status_code == 200
    response = client.post(f"/admin/llm/promptversion/{version.pk}/change/", {"text": "changed"})
    assert response.status_code == 403
    assert client.get("/admin/llm/llmexchange/add/").status_code == 403
    response = client.post(f"/admin/llm/llmexchange/{exchange.pk}/change/", {"model": "x"})
    assert response.status_code == 403
    assert LLMExchange.objects.get(pk=exchange.pk).model == "m"


def test_staff_review_only_their_teams_calls(client, llm_playbook, llm_server):
    from django.contrib.auth.models import Permission

    from negotiator.services.lifecycle import negotiation_create
    from negotiator.services.rounds import negotiation_run_round

    negotiation = negotiation_create(
        playbook=llm_playbook, seed=1, strategies={"buyer": "llm-assisted"}
    )
    negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    view = Permission.objects.get(codename="view_llmexchange")
    for name, team in (("pat", "Procurement"), ("mark", "Marketing")):
        user = make_user(name, team)
        user.is_staff = True
        user.save()
        user.user_permissions.add(view)
    client.force_login(get_user("pat"))
    html = client.get("/admin/llm/llmexchange/").content.decode()
    assert "1 LLM exchange" in html
    client.force_login(get_user("mark"))
    html = client.get("/admin/llm/llmexchange/").content.decode()
    assert "0 LLM exchanges" in html


def get_user(name: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=name)
