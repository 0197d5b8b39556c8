"""Teams: the group that owns a playbook owns its negotiations (who sees what is
in negotiator.permissions). A negotiation takes its playbook's team when it is
created (lifecycle.negotiation_create); this module gives a team to the ones
that have none yet, such as those created before playbooks had teams."""

from __future__ import annotations

from django.db import transaction

from negotiator.audit import audit_append
from negotiator.models import Negotiation
from negotiator.services.roles import actor_of


def negotiations_adopt_playbook_team(*, user=None) -> int:
    """Give every negotiation without a team its playbook's current team and
    record it in that negotiation's audit trail; returns how many changed. One
    that has a team keeps it, so running this again changes nothing."""
    with transaction.atomic():
        orphans = list(
            Negotiation.objects.select_for_update(of=("self",))
            .filter(team=None, playbook__team__isnull=False)
            .select_related("playbook__team")
            .only("pk", "playbook__team__name")
            .order_by("pk")
        )
        for negotiation in orphans:
            team = negotiation.playbook.team
            Negotiation.objects.filter(pk=negotiation.pk).update(team=team)
            audit_append(
                negotiation=negotiation,
                kind="negotiation.team_set",
                actor=actor_of(user),
                user=user,
                payload={"team": team.name, "from": "playbook"},
            )
    return len(orphans)
