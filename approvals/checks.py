"""System checks for the approval gate's configuration (they read the database,
so Django runs them with ``check --database default`` and before ``migrate``)."""

from __future__ import annotations

from django.core.checks import Tags, Warning, register
from django.db import DatabaseError


@register(Tags.database)
def default_route_check(app_configs, databases=None, **kwargs) -> list:
    """Without a default route, a deal that needs a person and matches no route
    escalates instead of waiting in an approver's inbox."""
    if not databases:
        return []
    from approvals.models import ApprovalRoute

    try:
        exists = ApprovalRoute.objects.filter(active=True, is_default=True).exists()
    except DatabaseError:  # not migrated yet: nothing to say about routes
        return []
    if exists:
        return []
    return [
        Warning(
            "No default approval route: a deal that fails an approval threshold or an "
            "escalate-severity policy and matches no route escalates to a person instead of "
            "going to an approver's inbox.",
            hint="In admin, Approval routes: tick 'Default route' on one active route where a "
            "person decides (see the README, 'Approval rules').",
            id="approvals.W001",
        )
    ]
