"""The team rule as querysets: which negotiations a person sees and which
playbooks they may start from. Every page, export and poll that shows a
negotiation starts from negotiations_visible_to, so the rule lives in one place
(negotiator.permissions) and a negotiation outside it is a 404."""

from __future__ import annotations

from django.db.models import QuerySet

from negotiator import permissions
from negotiator.models import Negotiation, Playbook


def negotiations_visible_to(user) -> QuerySet[Negotiation]:
    """Negotiations of the user's teams; all of them for Auditors and superusers.

    One indexed filter (negotiation_team_idx); an empty team list makes Django
    skip the query altogether."""
    teams = permissions.visible_team_ids(user)
    negotiations = Negotiation.objects.all()
    if teams is None:
        return negotiations
    return negotiations.filter(team_id__in=sorted(teams))


def playbooks_visible_to(user) -> QuerySet[Playbook]:
    """Playbooks of the user's teams; all of them for Auditors and superusers."""
    teams = permissions.visible_team_ids(user)
    playbooks = Playbook.objects.all()
    if teams is None:
        return playbooks
    return playbooks.filter(team_id__in=sorted(teams))


def playbooks_startable_by(user) -> QuerySet[Playbook]:
    """Published playbooks of the user's teams (all of them for a superuser);
    nothing for someone who may not start negotiations."""
    playbooks = Playbook.objects.exclude(current_version=None).select_related("current_version")
    if not permissions.may_operate(user):
        return playbooks.none()
    if user.is_superuser:
        return playbooks
    return playbooks.filter(team_id__in=sorted(permissions.group_ids(user)))
