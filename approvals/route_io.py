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


ROUTE_PERMISSIONS = ("approvals.add_approvalroute", "approvals.change_approvalroute")


def routes_write(
    items: list[Mapping[str, Any]], *, playbook: Playbook, user=None
) -> list[tuple[str, str]]:
    """Create or update each route by name through the route form; the problems, by
    path, or nothing. Runs inside the import's transaction.

    A route decides who approves (or that nobody does), so a file that creates or
    changes one needs the route permissions, not only the playbook ones (``user``
    None is the command line); a route that travels unchanged is left alone. A file carries this playbook's routes and site-wide ones: it
    cannot change, create or take over by name another playbook's route (one that
    travels unchanged in a copy is left alone); and a group it names must exist (a
    typo would otherwise create an empty approver group)."""
    may_write = user is None or user.has_perms(ROUTE_PERMISSIONS)
    problems: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        where = f"approval_routes[{i}]"
        route = ApprovalRoute.objects.filter(name=item["name"]).select_related("playbook").first()
        target = item.get("playbook")
        other = _other_playbook(route, target, playbook)
        data, unknown = _form_data(item, _target_pk(target, playbook, route))
        problems.extend((f"{where}.{field}", f"no group named {name!r}") for field, name in unknown)
        if unknown:
            continue
        form = ApprovalRouteForm(data, instance=route or ApprovalRoute())
        if other:
            # Another playbook's route travels in a copy of this file (a clone, or an
            # export imported under a new name): as it stands it is left alone; a
            # file that would change it, or create it, is refused.
            if route is None or form.has_changed():
                problems.append((f"{where}.playbook", f"the route belongs to {other!r}"))
            continue
        if route is not None and not form.has_changed():
            continue  # as it stands: nothing to write
        if not may_write:
            problems.append((where, "creating or changing a route needs the route permissions"))
            continue
        if not form.is_valid():
            for field, messages in form.errors.items():
                at = where + ("" if field == "__all__" else f".{field}")
                problems.extend((at, str(message)) for message in messages)
            continue
        form.save()
    return problems


def _other_playbook(route: ApprovalRoute | None, target: Any, playbook: Playbook) -> str:
    """The other playbook the route (as stored, or as the file names it) belongs to."""
    if route is not None and route.playbook_id and route.playbook_id != playbook.pk:
        return route.playbook.name
    if target and target != playbook.name:
        return str(target)
    return ""


def _target_pk(target: Any, playbook: Playbook, route: ApprovalRoute | None) -> int | None:
    if not target:
        return None
    if target == playbook.name:
        return playbook.pk
    return route.playbook_id if route is not None else None


def _form_data(
    item: Mapping[str, Any], playbook_pk: int | None
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The route form's data for one item, and the (field, name) of groups that do
    not exist."""
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
    unknown = []
    for field in ("approver_group", "escalation_group"):
        name = item.get(field)
        group = Group.objects.filter(name=name).first() if isinstance(name, str) else None
        if name and group is None:
            unknown.append((field, str(name)))
        data[field] = group.pk if group else ""
    return data, unknown
