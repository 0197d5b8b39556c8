"""Playbooks: their rows as one specification, its end-to-end validation, and publishing
an immutable version."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from negotiator.audit import audit_append, canonical_json
from negotiator.engine import measures
from negotiator.engine.outcomes import OutcomeSpace, issue_from_dict
from negotiator.engine.plan_model import plan_model_from_spec
from negotiator.engine.preferences import profile_from_dict
from negotiator.engine.strategies import STRATEGIES, make_strategy
from negotiator.models import FixedTerm, Playbook, PlaybookIssue, PlaybookVersion, Role, SeatKind
from negotiator.services.errors import ServiceError
from negotiator.services.roles import actor_of


def playbook_spec(playbook: Playbook) -> dict[str, Any]:
    """The playbook's current rows as one JSON document (what a version freezes)."""
    issues = []
    for issue in playbook.issues.all():
        if issue.kind == "numeric":
            item: dict[str, Any] = {
                "name": issue.name,
                "type": "numeric",
                "lower": _num(issue.minimum, issue.integer),
                "upper": _num(issue.maximum, issue.integer),
            }
            if issue.step:
                item["step"] = _num(issue.step, issue.integer)
            if issue.integer:
                item["integer"] = True
            if issue.unit:
                item["unit"] = issue.unit
        else:
            item = {"name": issue.name, "type": issue.kind, "options": list(issue.options or [])}
        if issue.label:
            item["label"] = issue.label
        issues.append(item)
    return {
        "name": playbook.name,
        "pattern": playbook.pattern,
        "currency": playbook.currency,
        "issues": issues,
        "fixed_terms": {term.name: term.value for term in playbook.fixed_terms.all()},
        "roles": [
            {
                "name": role.name,
                "label": role.label or role.name,
                "strategy": role.strategy,
                "strategy_params": role.strategy_params or {},
                "profile": role.profile or {},
                "owner_group": role.owner_group.name if role.owner_group_id else None,
                "seats": list(role.seats or [SeatKind.BUILTIN]),
            }
            for role in playbook.roles.select_related("owner_group")
        ],
        "limits": {
            "max_rounds": playbook.max_rounds,
            "deadline_minutes": playbook.deadline_minutes,
            "offer_ttl_rounds": playbook.offer_ttl_rounds,
            "stall_threshold": playbook.stall_threshold,
            "stall_window": playbook.stall_window,
            "pace_seconds": playbook.pace_seconds,
            "turn_deadline_minutes": playbook.turn_deadline_minutes,
            "on_turn_timeout": playbook.on_turn_timeout,
            "on_limit": playbook.on_limit,
        },
        "value_expression": playbook.value_expression,
        "risk_expression": playbook.risk_expression,
    } | ({"plan_model": playbook.plan_model} if playbook.plan_model else {})


def _num(value: float | None, integer: bool) -> float | int | None:
    if value is None:
        return None
    return int(value) if integer and float(value).is_integer() else value


def playbook_spec_errors(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Check a playbook spec end to end with the engine; (path, message) pairs."""
    errors: list[tuple[str, str]] = []
    issues = []
    names = set()
    for i, item in enumerate(spec.get("issues", [])):
        try:
            issue = issue_from_dict(item)
        except (ValueError, TypeError) as exc:
            errors.append((f"issues[{i}]", str(exc)))
            continue
        if issue.name in names:
            errors.append((f"issues[{i}].name", f"duplicate issue name '{issue.name}'"))
        names.add(issue.name)
        issues.append(issue)
    if not spec.get("issues"):
        errors.append(("issues", "a playbook needs at least one negotiable issue"))
    space = None
    if issues and not errors:
        try:
            space = OutcomeSpace(tuple(issues))
        except ValueError as exc:
            errors.append(("issues", str(exc)))
    roles = spec.get("roles", [])
    if len(roles) < 2:
        errors.append(("roles", "a playbook needs at least two roles"))
    for i, role in enumerate(roles):
        strategy = role.get("strategy")
        if strategy not in STRATEGIES:
            errors.append(
                (
                    f"roles[{i}].strategy",
                    f"unknown strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}",
                )
            )
        else:
            try:
                make_strategy(strategy, **(role.get("strategy_params") or {}))
            except (TypeError, ValueError) as exc:
                errors.append((f"roles[{i}].strategy_params", str(exc)))
        errors.extend(_seat_errors(i, role.get("seats", [SeatKind.BUILTIN])))
        try:
            profile = profile_from_dict(role.get("profile") or {})
            if space is not None:
                profile.check_space(space)
        except (ValueError, TypeError, KeyError) as exc:
            errors.append((f"roles[{i}].profile", str(exc)))
    issue_types = {
        item.get("name"): item.get("type", "numeric")
        for item in spec.get("issues", [])
        if isinstance(item, Mapping)
    }
    for key in ("value_expression", "risk_expression"):
        expression = (spec.get(key) or "").strip()
        if expression and expression not in names:
            try:
                measures.compile_number_expression(expression, issues=issue_types)
            except ValueError as exc:
                errors.append((key, str(exc)))
    return errors + _plan_model_errors(spec)


def _plan_model_errors(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A plan model must read; an infeasible one is allowed (the start refuses it)."""
    if not spec.get("plan_model"):
        return []
    try:
        plan_model_from_spec(spec)
    except (ValueError, TypeError, KeyError) as exc:
        return [("plan_model", str(exc))]
    return []


def _seat_errors(index: int, seats: Any) -> list[tuple[str, str]]:
    path = f"roles[{index}].seats"
    if not isinstance(seats, list) or not seats:
        return [(path, 'list the seat kinds this role allows, e.g. ["builtin"]')]
    known = set(SeatKind.values)
    unknown = [str(s) for s in seats if s not in known]
    if unknown:
        return [
            (path, f"unknown seat kind {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        ]
    if len(set(seats)) != len(seats):
        return [(path, "a seat kind is listed twice")]
    return []


def playbook_publish(
    *, playbook: Playbook, user=None, note: str = "", draft: bool = False
) -> PlaybookVersion:
    """Freeze the playbook's rows into a new immutable version if they changed.

    A draft version is frozen the same way but is not made current, so no new
    negotiation runs under it until it is published."""
    with transaction.atomic():
        playbook = Playbook.objects.select_for_update().get(pk=playbook.pk)
        spec = playbook_spec(playbook)
        errors = playbook_spec_errors(spec)
        if errors:
            raise ServiceError("; ".join(f"{path}: {msg}" for path, msg in errors))
        digest = hashlib.sha256(canonical_json(spec).encode()).hexdigest()
        current = playbook.current_version
        if current is not None and current.digest == digest:
            return current
        latest = playbook.versions.order_by("-number").first()
        if draft and latest is not None and latest.is_draft and latest.digest == digest:
            return latest
        version = PlaybookVersion.objects.create(
            playbook=playbook,
            number=(latest.number if latest else 0) + 1,
            spec=spec,
            digest=digest,
            created_by=user,
            note=note[:200],
            is_draft=draft,
        )
        if not draft:
            Playbook.objects.filter(pk=playbook.pk).update(current_version=version)
            playbook.current_version = version
        audit_append(
            kind="playbook.draft_saved" if draft else "playbook.version_published",
            actor=actor_of(user),
            user=user,
            payload={
                "playbook": playbook.name,
                "version": version.number,
                "digest": digest,
                "note": version.note,
            },
        )
        return version


def playbook_rows_write(*, playbook: Playbook, spec: Mapping[str, Any]) -> None:
    """Replace the playbook's editable rows with a spec (as playbook_spec makes or a
    document holds). The name is kept; versions keep history, so replacing is safe."""
    limits = spec["limits"]
    for field in (
        "max_rounds",
        "deadline_minutes",
        "offer_ttl_rounds",
        "stall_threshold",
        "stall_window",
        "pace_seconds",
        "turn_deadline_minutes",
        "on_turn_timeout",
        "on_limit",
    ):
        if field in limits:
            setattr(playbook, field, limits[field])
    playbook.pattern = spec["pattern"]
    playbook.currency = spec["currency"]
    playbook.value_expression = spec.get("value_expression", "")
    playbook.risk_expression = spec.get("risk_expression", "")
    playbook.plan_model = spec.get("plan_model") or {}
    playbook.save()
    playbook.issues.all().delete()
    playbook.fixed_terms.all().delete()
    playbook.roles.all().delete()
    PlaybookIssue.objects.bulk_create(
        [
            PlaybookIssue(
                playbook=playbook,
                name=item["name"],
                label=item.get("label", ""),
                kind=item["type"],
                unit=item.get("unit", ""),
                minimum=item.get("lower"),
                maximum=item.get("upper"),
                step=item.get("step"),
                integer=bool(item.get("integer", False)),
                options=item.get("options", []),
                order=i,
            )
            for i, item in enumerate(spec["issues"])
        ]
    )
    FixedTerm.objects.bulk_create(
        [
            FixedTerm(playbook=playbook, name=name, value=value, order=i)
            for i, (name, value) in enumerate(spec.get("fixed_terms", {}).items())
        ]
    )
    Role.objects.bulk_create([_role_row(playbook, i, role) for i, role in enumerate(spec["roles"])])


def _role_row(playbook: Playbook, order: int, role: Mapping[str, Any]) -> Role:
    owner = role.get("owner_group")
    return Role(
        playbook=playbook,
        name=role["name"],
        label=role.get("label", ""),
        strategy=role["strategy"],
        strategy_params=role.get("strategy_params", {}),
        profile=role["profile"],
        seats=role.get("seats", ["builtin"]),
        owner_group=Group.objects.get_or_create(name=owner)[0] if owner else None,
        order=order,
    )
