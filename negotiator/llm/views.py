"""The page where owners judge the model: LLM-assisted against deterministic
negotiations of their teams, the model calls' fallbacks, and the prompt in force."""

from __future__ import annotations

from datetime import datetime, time

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from negotiator.llm.config import llm_enabled
from negotiator.llm.models import Prompt
from negotiator.llm.selectors import llm_comparison
from negotiator.models import Playbook
from negotiator.selectors.visibility import negotiations_visible_to


@require_GET
def comparison(request: HttpRequest) -> HttpResponse:
    visible = negotiations_visible_to(request.user)
    playbooks = Playbook.objects.filter(
        pk__in=visible.values_list("playbook_id", flat=True).distinct()
    ).order_by("name")
    playbook = _playbook(request.GET.get("playbook", ""), playbooks)
    since, since_error = _since(request.GET.get("since", ""))
    result = llm_comparison(playbook=playbook, since=since, negotiations=visible)
    context = {
        "result": result,
        "arms": [result.llm, result.deterministic],
        "playbooks": playbooks,
        "playbook": playbook,
        "since": request.GET.get("since", "") if since else "",
        "since_error": since_error,
        "llm_enabled": llm_enabled(),
        "prompts": Prompt.objects.select_related("current_version").order_by("purpose"),
        "nav_active": "llm_comparison",
    }
    return render(request, "llm/comparison.html", context)


def _playbook(value: str, playbooks) -> Playbook | None:
    """A playbook of the user's teams, or None (all): another team's id is ignored."""
    if not value.isdigit():
        return None
    return playbooks.filter(pk=int(value)).first()


def _since(value: str) -> tuple[datetime | None, str]:
    if not value:
        return None, ""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None, "Use a date like 2026-01-31; showing all dates."
    return timezone.make_aware(datetime.combine(day, time.min)), ""
