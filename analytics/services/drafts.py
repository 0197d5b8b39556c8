"""Drafts for what-if replays: a playbook spec with its policies that is not (yet)
saved, from a playbook document (the playbook_io format), from changed policy
parameters, or from the playbook's published version. Validated like an import
or the admin form; a bad draft raises DraftError with every problem and changes
nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from negotiator import playbook_io
from negotiator.engine import policies as engine_policies
from negotiator.engine.policies import PolicySpec
from negotiator.models import Playbook, Policy, PolicyScope
from negotiator.services.playbooks import playbook_spec_errors
from negotiator.services.policies import (
    issue_catalog,
    playbook_policy_versions,
    policy_errors,
    policy_spec_of,
)


class DraftError(ValueError):
    """A draft that cannot be replayed: ``errors`` lists (where, what) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{where}: {what}" for where, what in errors[:8]))


@dataclass(frozen=True)
class Draft:
    spec: Mapping[str, Any]  # the playbook spec (PlaybookVersion.spec's shape)
    policies: tuple[PolicySpec, ...]
    label: str


def draft_current(playbook: Playbook) -> Draft:
    """What runs today: the published version and the policies in force."""
    if playbook.current_version_id is None:
        raise DraftError([("playbook", f"'{playbook.name}' has no published version")])
    specs = tuple(policy_spec_of(v) for v in playbook_policy_versions(playbook))
    return Draft(spec=playbook.current_version.spec, policies=specs, label="current")


def _global_policies(playbook: Playbook) -> tuple[PolicySpec, ...]:
    """Policies of every playbook: a playbook draft does not carry them, they still apply."""
    return tuple(
        policy_spec_of(v) for v in playbook_policy_versions(playbook) if v.scope == PolicyScope.ALL
    )


def policy_spec_from_row(policy: Policy, *, key: int | str | None = None) -> PolicySpec:
    """An (unsaved) policy row as the engine's spec."""
    return PolicySpec(
        policy_id=key if key is not None else (policy.pk or f"draft:{policy.name}"),
        version=0,
        name=policy.name,
        category=policy.category,
        kind=engine_policies.PolicyKind(policy.kind),
        parameters=dict(policy.parameters or {}),
        severity=engine_policies.Severity(policy.severity),
        scope_role=policy.role_name if policy.scope == PolicyScope.ROLE else None,
    )


def draft_from_document(document: Any, *, playbook: Playbook, label: str = "draft") -> Draft:
    """A whole playbook document, or ``{"policies": {NAME: {changes}}}`` for changed
    policy parameters of the current version."""
    if isinstance(document, Mapping) and "format" not in document and "policies" in document:
        return draft_from_policy_changes(document["policies"], playbook=playbook, label=label)
    errors = playbook_io.document_errors(document)
    if errors:
        raise DraftError(errors)
    specs = playbook_io.document_policy_specs(document, version=0)
    spec = playbook_io.spec_of(document)
    return Draft(spec=spec, policies=specs + _global_policies(playbook), label=label)


def draft_from_policy_changes(changes: Any, *, playbook: Playbook, label: str = "draft") -> Draft:
    """The current version with some policies changed: ``{name: {"parameters": {...},
    "severity": ..., "active": ...}}`` for policies that apply to this playbook."""
    current = draft_current(playbook)
    if not isinstance(changes, Mapping) or not changes:
        raise DraftError([("policies", "expected an object: policy name -> its changes")])
    rows = {
        p.name: p for p in Policy.objects.filter(pk__in=[s.policy_id for s in current.policies])
    }
    errors: list[tuple[str, str]] = []
    changed: list[Policy] = []
    for name, change in changes.items():
        where = f"policies.{name}"
        policy = rows.get(name)
        if policy is None:
            errors.append((where, f"no policy of this name applies; known: {sorted(rows)}"))
            continue
        if not isinstance(change, Mapping) or not set(change) <= {
            "parameters",
            "severity",
            "active",
        }:
            errors.append((where, "expected an object with parameters, severity and/or active"))
            continue
        policy.parameters = change.get("parameters", policy.parameters)
        policy.severity = change.get("severity", policy.severity)
        policy.active = bool(change.get("active", policy.active))
        changed.append(policy)
    if errors:
        raise DraftError(errors)
    return draft_with_policies(changed, playbook=playbook, label=label)


def draft_with_policies(
    policies: Iterable[Policy], *, playbook: Playbook, label: str = "draft"
) -> Draft:
    """The current version with these (unsaved) policy rows in place of their saved
    versions; a new row is added, an inactive one dropped. Validated like the form."""
    current = draft_current(playbook)
    errors: list[tuple[str, str]] = []
    replaced: dict[Any, PolicySpec | None] = {}
    added: list[PolicySpec] = []
    for policy in policies:
        if policy.severity not in engine_policies.Severity.__members__.values():
            errors.append((f"{policy.name}.severity", f"unknown severity {policy.severity!r}"))
            continue
        problems = policy_errors(policy)
        errors.extend((f"{policy.name}.{where}", what) for where, what in problems)
        if problems:
            continue
        spec = policy_spec_from_row(policy) if policy.active else None
        if policy.pk and any(s.policy_id == policy.pk for s in current.policies):
            replaced[policy.pk] = spec
        elif spec is not None and _applies(policy, playbook):
            added.append(spec)
    if errors:
        raise DraftError(errors)
    specs = [
        replaced.get(s.policy_id, s) if s.policy_id in replaced else s for s in current.policies
    ]
    kept = tuple(s for s in specs if s is not None) + tuple(added)
    return Draft(spec=current.spec, policies=kept, label=label)


def _applies(policy: Policy, playbook: Playbook) -> bool:
    if policy.scope == PolicyScope.ALL:
        return True
    return policy.scope in (PolicyScope.PLAYBOOK, PolicyScope.ROLE) and (
        policy.playbook_id == playbook.pk
    )


def draft_from_spec(
    spec: Mapping[str, Any], policies: Iterable[Policy], *, playbook: Playbook, label: str
) -> Draft:
    """A spec built from (unsaved) playbook rows with their policy rows: the admin's
    playbook form. The spec passes the same end-to-end checks as publishing."""
    errors = list(playbook_spec_errors(spec))
    issues = issue_catalog(spec)
    specs = []
    for policy in policies:
        if not policy.active:
            continue
        problems = engine_policies.validate_parameters(
            policy.kind, policy.parameters, issues=issues, fixed_terms=spec.get("fixed_terms", {})
        )
        errors.extend((f"policy {policy.name}.{where}", what) for where, what in problems)
        specs.append(policy_spec_from_row(policy))
    if errors:
        raise DraftError(errors)
    return Draft(spec=dict(spec), policies=tuple(specs) + _global_policies(playbook), label=label)
