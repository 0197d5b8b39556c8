"""Playbooks as code: one JSON document per playbook, with its issues, fixed
terms, roles (strategies and private profiles) and policies.

Import is all-or-nothing and declarative: the document becomes the playbook's
state; changed parts make new playbook and policy versions, old versions are
never edited. Errors name the path in the document (``policies[2].parameters.max``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from django.contrib.auth.models import Group
from django.db import transaction

from negotiator.engine import policies as engine_policies
from negotiator.models import (
    FixedTerm,
    Playbook,
    PlaybookIssue,
    Policy,
    PolicyScope,
    Role,
)
from negotiator.services.errors import ServiceError
from negotiator.services.playbooks import playbook_publish, playbook_spec, playbook_spec_errors
from negotiator.services.policies import issue_catalog, policy_save

FORMAT = "negotiator.playbook/1"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "playbook.schema.json"


class PlaybookImportError(ValueError):
    """The document is not a valid playbook; `errors` holds (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("\n".join(f"{path}: {message}" for path, message in errors))


@cache
def playbook_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def document_errors(document: Any) -> list[tuple[str, str]]:
    """Schema errors first; if the shape is right, the engine's semantic checks."""
    if not isinstance(document, Mapping):
        return [("(document)", "expected a JSON object")]
    validator = jsonschema.Draft202012Validator(playbook_schema())
    errors = [
        (_path(e.absolute_path), e.message)
        for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path)))
    ]
    if errors:
        return errors
    spec = spec_of(document)
    errors.extend(playbook_spec_errors(spec))
    issues = issue_catalog(spec)
    roles = {r["name"] for r in document["roles"]}
    names: set[tuple[str, str]] = set()
    for i, policy in enumerate(document.get("policies", [])):
        prefix = f"policies[{i}]"
        scope = policy.get("scope", "playbook")
        key = (policy["name"], policy.get("role", ""))
        if key in names:
            errors.append((f"{prefix}.name", f"duplicate policy name '{policy['name']}'"))
        names.add(key)
        if scope == "role" and policy.get("role") not in roles:
            errors.append(
                (
                    f"{prefix}.role",
                    f"expected one of the roles {sorted(roles)}, got {policy.get('role')!r}",
                )
            )
        for path, message in engine_policies.validate_parameters(
            policy["kind"],
            policy["parameters"],
            issues=issues,
            fixed_terms=document.get("fixed_terms", {}),
        ):
            errors.append((f"{prefix}.{path}", message))
    return errors


def spec_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document in the shape playbook_spec produces."""
    limits = {
        "max_rounds": 40,
        "deadline_minutes": 60,
        "offer_ttl_rounds": None,
        "stall_threshold": 0.0,
        "stall_window": None,
        "pace_seconds": 0.0,
        "turn_deadline_minutes": 60,
        "on_turn_timeout": "escalate",
        "on_limit": "end",
        **document.get("limits", {}),
    }
    return {
        "name": document["name"],
        "pattern": document.get("pattern", "concession"),
        "currency": document.get("currency", "USD"),
        "issues": document["issues"],
        "fixed_terms": document.get("fixed_terms", {}),
        "roles": document["roles"],
        "limits": limits,
        "value_expression": document.get("value_expression", ""),
        "risk_expression": document.get("risk_expression", ""),
    }


def playbook_import(document: Any, *, user=None) -> Playbook:
    """Create or update the playbook named in the document. All or nothing."""
    errors = document_errors(document)
    if errors:
        raise PlaybookImportError(errors)
    spec = spec_of(document)
    limits = spec["limits"]
    with transaction.atomic():
        playbook, _ = Playbook.objects.select_for_update().get_or_create(name=document["name"])
        playbook.description = document.get("description", "")
        # The owning team, by group name (created if new, like a role's owner
        # group); a document without one leaves the playbook without a team.
        playbook.team = (
            Group.objects.get_or_create(name=document["team"])[0] if document.get("team") else None
        )
        playbook.pattern = spec["pattern"]
        playbook.currency = spec["currency"]
        playbook.max_rounds = limits["max_rounds"]
        playbook.deadline_minutes = limits["deadline_minutes"]
        playbook.offer_ttl_rounds = limits["offer_ttl_rounds"]
        playbook.stall_threshold = limits["stall_threshold"]
        playbook.stall_window = limits["stall_window"]
        playbook.pace_seconds = limits["pace_seconds"]
        playbook.turn_deadline_minutes = limits["turn_deadline_minutes"]
        playbook.on_turn_timeout = limits["on_turn_timeout"]
        playbook.on_limit = limits["on_limit"]
        playbook.value_expression = spec["value_expression"]
        playbook.risk_expression = spec["risk_expression"]
        playbook.save()
        # The rows are the editable head; versions keep history, so replacing is safe.
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
                for i, item in enumerate(document["issues"])
            ]
        )
        FixedTerm.objects.bulk_create(
            [
                FixedTerm(playbook=playbook, name=name, value=value, order=i)
                for i, (name, value) in enumerate(document.get("fixed_terms", {}).items())
            ]
        )
        Role.objects.bulk_create(
            [
                Role(
                    playbook=playbook,
                    name=role["name"],
                    label=role.get("label", ""),
                    strategy=role["strategy"],
                    strategy_params=role.get("strategy_params", {}),
                    profile=role["profile"],
                    seats=role.get("seats", ["builtin"]),
                    owner_group=(
                        Group.objects.get_or_create(name=role["owner_group"])[0]
                        if role.get("owner_group")
                        else None
                    ),
                    order=i,
                )
                for i, role in enumerate(document["roles"])
            ]
        )
        playbook_publish(playbook=playbook, user=user)

        seen: set[int] = set()
        for item in document.get("policies", []):
            scope = PolicyScope.ROLE if item.get("scope") == "role" else PolicyScope.PLAYBOOK
            role_name = item.get("role", "") if scope == PolicyScope.ROLE else ""
            policy = Policy.objects.filter(
                playbook=playbook, name=item["name"], role_name=role_name
            ).first() or Policy(playbook=playbook, name=item["name"], role_name=role_name)
            policy.description = item.get("description", "")
            policy.category = item["category"]
            policy.scope = scope
            policy.kind = item["kind"]
            policy.parameters = item["parameters"]
            policy.severity = item["severity"]
            policy.active = item.get("active", True)
            try:
                policy_save(policy=policy, user=user)
            except ServiceError as exc:  # pragma: no cover - validated above
                raise PlaybookImportError([(f"policies[{item['name']}]", str(exc))]) from exc
            seen.add(policy.pk)
        # Declarative: a playbook policy missing from the document is switched off
        # (a new inactive version), never deleted, so its history stays.
        for policy in Policy.objects.filter(
            playbook=playbook, scope__in=[PolicyScope.PLAYBOOK, PolicyScope.ROLE], active=True
        ).exclude(pk__in=seen):
            policy.active = False
            policy_save(policy=policy, user=user)
    playbook.refresh_from_db()
    return playbook


def playbook_export(playbook: Playbook) -> dict[str, Any]:
    spec = playbook_spec(playbook)
    roles = []
    for role in spec["roles"]:
        item = {k: v for k, v in role.items() if k != "owner_group"}
        if role.get("owner_group"):
            item["owner_group"] = role["owner_group"]
        roles.append(item)
    policies = []
    for policy in Policy.objects.filter(
        playbook=playbook, scope__in=[PolicyScope.PLAYBOOK, PolicyScope.ROLE]
    ).order_by("pk"):
        item = {
            "name": policy.name,
            "description": policy.description,
            "category": policy.category,
            "scope": policy.scope,
            "kind": policy.kind,
            "parameters": policy.parameters,
            "severity": policy.severity,
            "active": policy.active,
        }
        if policy.scope == PolicyScope.ROLE:
            item["role"] = policy.role_name
        policies.append(item)
    document: dict[str, Any] = {
        "format": FORMAT,
        "name": playbook.name,
        "description": playbook.description,
    }
    if playbook.team_id:
        document["team"] = playbook.team.name
    return document | {
        "pattern": spec["pattern"],
        "currency": spec["currency"],
        "limits": spec["limits"],
        "value_expression": spec["value_expression"],
        "risk_expression": spec["risk_expression"],
        "issues": spec["issues"],
        "fixed_terms": spec["fixed_terms"],
        "roles": roles,
        "policies": policies,
    }
