"""Approval routes in playbook files: the ``approval_routes`` section that export
writes and import reads, matched by name and validated by the admin's route form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import Group

from approvals.models import ApprovalRoute
from approvals.route_forms import ApprovalRouteForm
from negotiator.models import Playbook

_FIELDS = (
    "description",
    "active",
    "order",
    "decision",
    "is_default",
    "condition_kind",
    "threshold",
    "expression",
    "approvers_required",
    "sla_hours",
    "on_expiry",
)


def routes_export(playbook: Playbook) -> list[dict[str, Any]]:
    """The routes that can apply to this playbook's deals: every route except those
    tied to another playbook."""
    routes = (
        ApprovalRoute.objects.exclude(playbook__isnull=False, playbook__in=_others(playbook))
        .select_related("playbook", "approver_group", "escalation_group")
        .order_by("order", "name")
    )
    return [
        {"name": route.name}
        | {field: getattr(route, field) for field in _FIELDS}
        | {
            "playbook": route.playbook.name if route.playbook_id else None,
            "approver_group": route.approver_group.name if route.approver_group_id else None,
            "escalation_group": route.escalation_group.name if route.escalation_group_id else None,
        }
        for route in routes
    ]


def _others(playbook: Playbook):
    return Playbook.objects.exclude(pk=playbook.pk)


def routes_write(
    items: list[Mapping[str, Any]], *, playbook: Playbook, user=None
) -> list[tuple[str, str]]:
    """Create or update each route by name through the route form; the problems, by
    path, or nothing. Runs inside the import's transaction."""
    problems: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        route = ApprovalRoute.objects.filter(name=item["name"]).first() or ApprovalRoute()
        target = item.get("playbook")
        target_pk = None
        if target:
            found = Playbook.objects.filter(name=target).first()
            if found is None:
                problems.append((f"approval_routes[{i}].playbook", f"no playbook named {target!r}"))
                continue
            target_pk = found.pk
        form = ApprovalRouteForm(_form_data(item, target_pk), instance=route)
        if not form.is_valid():
            for field, messages in form.errors.items():
                where = f"approval_routes[{i}]" + ("" if field == "__all__" else f".{field}")
                problems.extend((where, str(message)) for message in messages)
            continue
        form.save()
    return problems


def _form_data(item: Mapping[str, Any], playbook_pk: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {"name": item["name"], "playbook": playbook_pk or ""}
    defaults = {"active": True, "order": 100, "decision": "person", "approvers_required": 1}
    defaults |= {"sla_hours": 24, "on_expiry": "expire", "is_default": False}
    for field in _FIELDS:
        value = item.get(field, defaults.get(field))
        if isinstance(value, bool):
            if value:
                data[field] = "on"
            continue
        data[field] = "" if value is None else value
    for field in ("approver_group", "escalation_group"):
        name = item.get(field)
        data[field] = Group.objects.get_or_create(name=name)[0].pk if name else ""
    return data
