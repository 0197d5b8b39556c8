"""Policies: validating their parameters against the playbook's issues, saving them as
immutable versions, and converting a version into the engine's policy spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Q

from negotiator.audit import audit_append
from negotiator.engine import policies as engine_policies
from negotiator.models import Playbook, PlaybookVersion, Policy, PolicyScope, PolicyVersion
from negotiator.services.errors import ServiceError
from negotiator.services.playbooks import playbook_spec
from negotiator.services.roles import actor_of


def issue_catalog(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Issue descriptors for policy validation, from a playbook spec."""
    out: dict[str, dict[str, Any]] = {}
    for item in spec.get("issues", []):
        kind = item.get("type", "numeric")
        if kind == "numeric":
            out[item["name"]] = {
                "type": "numeric",
                "min": item.get("lower"),
                "max": item.get("upper"),
            }
        else:
            out[item["name"]] = {"type": kind, "options": list(item.get("options", []))}
    return out


def policy_errors(policy: Policy) -> list[tuple[str, str]]:
    """Validate a policy's parameters against the issues it can see."""
    errors: list[tuple[str, str]] = []
    if policy.scope in (PolicyScope.PLAYBOOK, PolicyScope.ROLE) and policy.playbook_id is None:
        errors.append(("playbook", "choose the playbook this policy applies to"))
    if policy.scope == PolicyScope.ROLE and not policy.role_name:
        errors.append(("role_name", "name the role this policy applies to"))
    if errors:
        return errors
    if policy.scope == PolicyScope.NEGOTIATION and policy.negotiation_id:
        spec = policy.negotiation.playbook_version.spec
    elif policy.playbook_id:
        playbook = policy.playbook
        spec = (
            playbook.current_version.spec
            if playbook.current_version_id
            else playbook_spec(playbook)
        )
    else:
        spec = None
    if spec is not None:
        issues = issue_catalog(spec)
        fixed = dict(spec.get("fixed_terms", {}))
        role_names = {r["name"] for r in spec.get("roles", [])}
        if policy.scope == PolicyScope.ROLE and policy.role_name not in role_names:
            errors.append(
                (
                    "role_name",
                    f"playbook has no role '{policy.role_name}'; roles: {', '.join(sorted(role_names))}",
                )
            )
    else:
        issues = _all_known_issues()
        fixed = _all_known_fixed_terms()
    errors.extend(
        engine_policies.validate_parameters(
            policy.kind, policy.parameters, issues=issues, fixed_terms=fixed
        )
    )
    return errors


def _all_known_issues() -> dict[str, dict[str, Any]]:
    """For policies on every playbook: the union of all playbooks' issues."""
    out: dict[str, dict[str, Any]] = {}
    for version in PlaybookVersion.objects.filter(
        pk__in=Playbook.objects.exclude(current_version=None).values("current_version")
    ):
        out.update(issue_catalog(version.spec))
    return out


def _all_known_fixed_terms() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for version in PlaybookVersion.objects.filter(
        pk__in=Playbook.objects.exclude(current_version=None).values("current_version")
    ):
        out.update(version.spec.get("fixed_terms", {}))
    return out


# A policy's fields that each PolicyVersion snapshots (and applying a version restores).
VERSIONED_FIELDS = (
    "name",
    "category",
    "scope",
    "playbook_id",
    "role_name",
    "kind",
    "parameters",
    "severity",
    "active",
)


def policy_save(*, policy: Policy, user=None, note: str = "", draft: bool = False) -> PolicyVersion:
    """Validate and save a policy; every change makes a new immutable version.

    A draft is a version that is not in force: the policy's head row and its
    current version stay as they are (a new policy saved as a draft gets a head
    with no current version, which no check reads)."""
    errors = policy_errors(policy)
    if errors:
        raise ServiceError("; ".join(f"{path}: {msg}" for path, msg in errors))
    with transaction.atomic():
        if policy.pk is None or not draft:
            policy.save()
        current = policy.current_version
        snapshot = {f: getattr(policy, f) for f in VERSIONED_FIELDS}
        if current is not None and all(getattr(current, f) == v for f, v in snapshot.items()):
            return current
        version = PolicyVersion.objects.create(
            policy=policy,
            number=policy_next_version_number(policy),
            created_by=user,
            note=note[:200],
            is_draft=draft,
            **snapshot,
        )
        if not draft:
            Policy.objects.filter(pk=policy.pk).update(current_version=version)
            policy.current_version = version
        audit_append(
            kind="policy.draft_saved" if draft else "policy.version_created",
            actor=actor_of(user),
            user=user,
            negotiation=policy.negotiation_id,
            payload={
                "policy": policy.name,
                "policy_id": policy.pk,
                "version": version.number,
                "kind": policy.kind,
                "severity": policy.severity,
                "active": policy.active,
                "parameters": policy.parameters,
                "note": version.note,
            },
        )
        return version


def policy_next_version_number(policy: Policy) -> int:
    """Drafts and published versions share one sequence, so a number names one version."""
    latest = PolicyVersion.objects.filter(policy=policy).order_by("-number").first()
    return (latest.number if latest else 0) + 1


def policy_spec_of(version: PolicyVersion) -> engine_policies.PolicySpec:
    return engine_policies.PolicySpec(
        policy_id=version.policy_id,
        version=version.number,
        name=version.name,
        category=version.category,
        kind=engine_policies.PolicyKind(version.kind),
        parameters=version.parameters,
        severity=engine_policies.Severity(version.severity),
        scope_role=version.role_name if version.scope == PolicyScope.ROLE else None,
    )


def playbook_policy_versions(playbook: Playbook) -> list[PolicyVersion]:
    """Active policies' current versions that apply to every negotiation of a playbook."""
    policies = (
        Policy.objects.filter(active=True, current_version__isnull=False)
        .filter(
            Q(scope=PolicyScope.ALL)
            | Q(scope__in=[PolicyScope.PLAYBOOK, PolicyScope.ROLE], playbook=playbook)
        )
        .select_related("current_version")
        .order_by("pk")
    )
    return [p.current_version for p in policies]
