"""Reads over policy and playbook versions: the history with its notes and status,
the pending draft, and a field-by-field diff of any two versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from negotiator.models import Playbook, PlaybookVersion, Policy, PolicyVersion


@dataclass(frozen=True)
class FieldChange:
    """One field that differs between two versions; a missing side is None."""

    path: str
    before: str | None
    after: str | None

    @property
    def change(self) -> str:
        if self.before is None:
            return "added"
        return "removed" if self.after is None else "changed"


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Leaf values by path. Lists of objects are keyed by their name or issue
    (issues[price].upper, criteria.cost[price].weight) so reordering is not a
    change, else by position; lists of plain values are one value."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key in value:
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out if out or not prefix else {prefix: "{}"}
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        key = _list_key(value)
        out = {}
        for index, item in enumerate(value):
            label = item[key] if key else index
            rest = {k: v for k, v in item.items() if k != key}
            out.update(flatten(rest, f"{prefix}[{label}]"))
        return out
    return {prefix: json.dumps(value, ensure_ascii=False, sort_keys=True)}


def _list_key(items: list[dict[str, Any]]) -> str | None:
    for key in ("name", "issue"):
        labels = [item.get(key) for item in items]
        if all(isinstance(label, str) for label in labels) and len(set(labels)) == len(labels):
            return key
    return None


def diff(before: Any, after: Any) -> list[FieldChange]:
    """Every path whose value differs, in the order the paths first appear."""
    old, new = flatten(before), flatten(after)
    paths = list(old) + [p for p in new if p not in old]
    return [
        FieldChange(path, old.get(path), new.get(path))
        for path in paths
        if old.get(path) != new.get(path)
    ]


def policy_version_fields(version: PolicyVersion) -> dict[str, Any]:
    """A policy version as the fields a person edits."""
    return {
        "name": version.name,
        "category": version.category,
        "scope": version.scope,
        "playbook": version.playbook.name if version.playbook_id else None,
        "role": version.role_name,
        "kind": version.kind,
        "severity": version.severity,
        "active": version.active,
        "parameters": version.parameters,
    }


def policy_versions_diff(a: PolicyVersion, b: PolicyVersion) -> list[FieldChange]:
    return diff(policy_version_fields(a), policy_version_fields(b))


def playbook_versions_diff(a: PlaybookVersion, b: PlaybookVersion) -> list[FieldChange]:
    return diff(a.spec, b.spec)


def version_status(version: PolicyVersion | PlaybookVersion, current_number: int | None) -> str:
    """in force · draft (pending) · superseded draft · earlier."""
    if version.is_draft:
        return "draft" if current_number is None or version.number > current_number else "old draft"
    return "in force" if version.number == current_number else "earlier"


def policy_history(policy: Policy) -> list[tuple[PolicyVersion, str]]:
    current = policy.current_version.number if policy.current_version_id else None
    versions = policy.versions.select_related("created_by", "playbook").order_by("-number")
    return [(v, version_status(v, current)) for v in versions]


def playbook_history(playbook: Playbook) -> list[tuple[PlaybookVersion, str]]:
    current = playbook.current_version.number if playbook.current_version_id else None
    versions = playbook.versions.select_related("created_by").order_by("-number")
    return [(v, version_status(v, current)) for v in versions]


def policy_pending_draft(policy: Policy) -> PolicyVersion | None:
    """The newest draft that is newer than the version in force, if any."""
    versions = policy.versions.filter(is_draft=True).order_by("-number")
    if policy.current_version_id:
        versions = versions.filter(number__gt=policy.current_version.number)
    return versions.first()


def playbook_pending_draft(playbook: Playbook) -> PlaybookVersion | None:
    versions = playbook.versions.filter(is_draft=True).order_by("-number")
    if playbook.current_version_id:
        versions = versions.filter(number__gt=playbook.current_version.number)
    return versions.first()
