"""Writes. Each function is <entity>_<action>(*, ...) with keyword-only arguments
and owns its transaction. Views, tasks and commands call these; nothing else
changes negotiation, playbook or policy rows.
"""

from __future__ import annotations

import hashlib
import logging
import random
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from negotiator import bridge, round_store
from negotiator.audit import audit_append, canonical_json
from negotiator.engine import governance, measures
from negotiator.engine import policies as engine_policies
from negotiator.engine.protocol import EventKind, Status, initial_state, step
from negotiator.engine.strategies import STRATEGIES, make_strategy
from negotiator.models import (
    FINAL_STATUSES,
    Negotiation,
    NegotiationStatus,
    Offer,
    Participant,
    Playbook,
    PlaybookVersion,
    Policy,
    PolicyScope,
    PolicyVersion,
    WorkerHeartbeat,
)

log = logging.getLogger(__name__)

HEARTBEAT_KEEP = 100


class ServiceError(Exception):
    """A request that cannot be carried out; the message says why and what to do."""


class TransitionError(ServiceError):
    pass


# --------------------------------------------------------------------------
# Worker heartbeat and roles
# --------------------------------------------------------------------------


def heartbeat_record(*, token: str = "") -> WorkerHeartbeat:
    with transaction.atomic():
        beat = WorkerHeartbeat.objects.create(token=token[:64], hostname=socket.gethostname())
        # Keep the table small: it is a liveness signal, not a log.
        stale = WorkerHeartbeat.objects.order_by("-created_at").values_list("pk", flat=True)[
            HEARTBEAT_KEEP : HEARTBEAT_KEEP + 1000
        ]
        WorkerHeartbeat.objects.filter(pk__in=list(stale)).delete()
    return beat


def heartbeat_latest_age_seconds() -> float | None:
    beat = WorkerHeartbeat.objects.order_by("-created_at").first()
    if beat is None:
        return None
    return (timezone.now() - beat.created_at).total_seconds()


ROLE_GROUPS = {
    "Approvers": "Decide escalated deals in the approval inbox.",
    "Policy owners": "Configure playbooks, policies and approval routes in admin.",
    "Operators": "Start, resume and close negotiations.",
    "Auditors": "Read every negotiation, its private profiles and audit trail.",
}


# Model permissions each role group gets (app_label.codename), so a person is
# useful as soon as an admin adds them to the group.
_CONFIG_MODELS = ("playbook", "playbookissue", "fixedterm", "role", "policy")
_READ_MODELS = ("playbookversion", "policyversion", "negotiation", "auditevent")
ROLE_PERMISSIONS: dict[str, list[str]] = {
    "Policy owners": [
        f"negotiator.{a}_{m}" for m in _CONFIG_MODELS for a in ("add", "change", "view")
    ]
    + [f"negotiator.view_{m}" for m in _READ_MODELS]
    + [f"approvals.{a}_approvalroute" for a in ("add", "change", "view")],
    "Auditors": [f"negotiator.view_{m}" for m in (*_CONFIG_MODELS, *_READ_MODELS)],
    "Operators": [
        "negotiator.add_negotiation",
        "negotiator.change_negotiation",
        "negotiator.view_negotiation",
    ],
    "Approvers": ["negotiator.view_negotiation"],
}


def roles_ensure() -> None:
    """Create the permission groups the product relies on, with their model
    permissions (idempotent)."""
    from django.contrib.auth.models import Permission

    for name in ROLE_GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        wanted = ROLE_PERMISSIONS.get(name, [])
        q = Q(pk__in=[])
        for dotted in wanted:
            app_label, codename = dotted.split(".", 1)
            q |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.add(*Permission.objects.filter(q))


def actor_of(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "system"
    return f"user:{user.get_username()}"


# --------------------------------------------------------------------------
# Playbooks
# --------------------------------------------------------------------------


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
        },
        "value_expression": playbook.value_expression,
        "risk_expression": playbook.risk_expression,
    }


def _num(value: float | None, integer: bool) -> float | int | None:
    if value is None:
        return None
    return int(value) if integer and float(value).is_integer() else value


def playbook_spec_errors(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Check a playbook spec end to end with the engine; (path, message) pairs."""
    errors: list[tuple[str, str]] = []
    from negotiator.engine.outcomes import issue_from_dict
    from negotiator.engine.preferences import profile_from_dict

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
            from negotiator.engine.outcomes import OutcomeSpace

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
    return errors


def playbook_publish(*, playbook: Playbook, user=None) -> PlaybookVersion:
    """Freeze the playbook's rows into a new immutable version if they changed."""
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
        number = (current.number if current else 0) + 1
        version = PlaybookVersion.objects.create(
            playbook=playbook, number=number, spec=spec, digest=digest, created_by=user
        )
        Playbook.objects.filter(pk=playbook.pk).update(current_version=version)
        playbook.current_version = version
        audit_append(
            kind="playbook.version_published",
            actor=actor_of(user),
            user=user,
            payload={"playbook": playbook.name, "version": number, "digest": digest},
        )
        return version


# --------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------


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


_VERSIONED_FIELDS = (
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


def policy_save(*, policy: Policy, user=None) -> PolicyVersion:
    """Validate and save a policy; every change makes a new immutable version."""
    errors = policy_errors(policy)
    if errors:
        raise ServiceError("; ".join(f"{path}: {msg}" for path, msg in errors))
    with transaction.atomic():
        policy.save()
        current = policy.current_version
        snapshot = {f: getattr(policy, f) for f in _VERSIONED_FIELDS}
        if current is not None and all(getattr(current, f) == v for f, v in snapshot.items()):
            return current
        number = (current.number if current else 0) + 1
        version = PolicyVersion.objects.create(
            policy=policy, number=number, created_by=user, **snapshot
        )
        Policy.objects.filter(pk=policy.pk).update(current_version=version)
        policy.current_version = version
        audit_append(
            kind="policy.version_created",
            actor=actor_of(user),
            user=user,
            negotiation=policy.negotiation_id,
            payload={
                "policy": policy.name,
                "policy_id": policy.pk,
                "version": number,
                "kind": policy.kind,
                "severity": policy.severity,
                "active": policy.active,
                "parameters": policy.parameters,
            },
        )
        return version


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


def _keeps_rows() -> bool:
    """Whether a primary key names one row for the worker's lifetime: PostgreSQL
    sequences never hand an id out twice; SQLite reuses the ids of rolled-back
    inserts."""
    from django.db import connection

    return connection.vendor == "postgresql"


class _KeptRows(dict):
    """Rows a worker keeps between rounds, by primary key (at most ``limit``; a
    full cache starts over). Where ids can return (SQLite) nothing is kept."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def get_many(self, keys: list, load: Callable[[list], Mapping]) -> list:
        """Values for ``keys`` in order; ``load(missing)`` maps the ones not kept."""
        if not _keeps_rows():
            found = load(keys)
            return [found[k] for k in keys]
        if len(self) > self.limit:
            self.clear()
        missing = [k for k in keys if k not in self]
        if missing:
            self.update(load(missing))
        return [self[k] for k in keys]


# Policy and playbook versions never change once written. A negotiation's
# participants (with their private profile copies) never change either; a
# worker keeps those of the negotiations it runs and drops them when one ends.
_VERSION_CACHE = _KeptRows(limit=10_000)
_PLAYBOOK_VERSIONS = _KeptRows(limit=1_000)
_PARTICIPANTS = _KeptRows(limit=5_000)


def policy_versions_by_id(ids: Sequence[int]) -> list[PolicyVersion]:
    """Policy versions in the given order, from the worker's cache where it can."""
    return _VERSION_CACHE.get_many(list(ids), PolicyVersion.objects.in_bulk)


def _playbook_version(pk: int) -> PlaybookVersion:
    return _PLAYBOOK_VERSIONS.get_many([pk], PlaybookVersion.objects.in_bulk)[0]


def _participants_of(negotiation: Negotiation) -> list[Participant]:
    return _PARTICIPANTS.get_many(
        [negotiation.pk], lambda keys: {negotiation.pk: list(negotiation.participants.all())}
    )[0]


def worker_caches_clear() -> None:
    """Forget every row and engine setup a worker keeps (tests; a reset database)."""
    _VERSION_CACHE.clear()
    _PLAYBOOK_VERSIONS.clear()
    _PARTICIPANTS.clear()
    bridge.SETUPS.clear()


def applicable_policy_versions(negotiation: Negotiation) -> list[PolicyVersion]:
    """Active policies' current versions that apply to this negotiation (read
    every round, so a policy change applies from the next round on)."""
    return policy_versions_by_id(round_store.applicable_version_ids(negotiation))


# --------------------------------------------------------------------------
# Deal measures (value, risk)
# --------------------------------------------------------------------------


def deal_measure(expression: str, terms: Mapping[str, Any]) -> float | None:
    """Evaluate a playbook's value/risk rule: an issue name or a CEL expression."""
    return measures.deal_measure(expression, terms)


# --------------------------------------------------------------------------
# Negotiations: creation, transitions
# --------------------------------------------------------------------------

TRANSITIONS: dict[str, set[str]] = {
    NegotiationStatus.DRAFT: {NegotiationStatus.RUNNING, NegotiationStatus.CANCELLED},
    NegotiationStatus.RUNNING: {
        NegotiationStatus.ESCALATED,
        NegotiationStatus.PENDING_APPROVAL,
        NegotiationStatus.APPROVED,
        NegotiationStatus.FAILED,
        NegotiationStatus.TIMED_OUT,
        NegotiationStatus.CANCELLED,
    },
    NegotiationStatus.ESCALATED: {
        NegotiationStatus.RUNNING,
        NegotiationStatus.CANCELLED,
        NegotiationStatus.FAILED,
    },
    NegotiationStatus.PENDING_APPROVAL: {
        NegotiationStatus.APPROVED,
        NegotiationStatus.REJECTED,
        NegotiationStatus.RUNNING,  # changes requested: the parties negotiate again
        NegotiationStatus.TIMED_OUT,  # the approval expired
        NegotiationStatus.ESCALATED,
    },
}


def negotiation_transition(
    *,
    negotiation: Negotiation,
    to: str,
    reason: str = "",
    user=None,
    actor: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Negotiation:
    """The one place a negotiation's status changes. Call inside a transaction
    with the row locked (select_for_update)."""
    source = negotiation.status
    if to not in TRANSITIONS.get(source, set()):
        raise TransitionError(
            f"A {negotiation.get_status_display().lower()} negotiation cannot become "
            f"{NegotiationStatus(to).label.lower()}."
        )
    now = timezone.now()
    negotiation.status = to
    if reason:
        negotiation.outcome_reason = reason
    if to in FINAL_STATUSES:
        negotiation.ended_at = now
    negotiation.last_progress_at = now
    negotiation.save(
        update_fields=["status", "outcome_reason", "ended_at", "last_progress_at", "updated_at"]
    )
    audit_append(
        negotiation=negotiation,
        kind="negotiation.status_changed",
        actor=actor or actor_of(user),
        user=user,
        payload={"from": source, "to": to, "reason": reason, **(extra or {})},
    )
    return negotiation


@dataclass(frozen=True)
class LimitOverrides:
    max_rounds: int | None = None
    deadline_minutes: int | None = None
    pace_seconds: float | None = None


def negotiation_create(
    *,
    playbook: Playbook,
    user=None,
    title: str = "",
    overrides: LimitOverrides | None = None,
    strategies: Mapping[str, str] | None = None,
    seed: int | None = None,
    start: bool = True,
) -> Negotiation:
    """Create a negotiation under the playbook's current version and (by default)
    start it in the background."""
    overrides = overrides or LimitOverrides()
    version = playbook.current_version
    if version is None:
        raise ServiceError(
            f"Playbook '{playbook.name}' has no published version yet; save it in admin first."
        )
    spec = version.spec
    limits = spec["limits"]
    max_rounds = overrides.max_rounds or limits["max_rounds"]
    if not 1 <= max_rounds <= 10_000:
        raise ServiceError("Max rounds must be between 1 and 10,000.")
    pace = (
        limits.get("pace_seconds", 0.0)
        if overrides.pace_seconds is None
        else overrides.pace_seconds
    )
    if pace < 0:
        raise ServiceError("Pace must not be negative.")
    strategies = dict(strategies or {})
    unknown_roles = set(strategies) - {r["name"] for r in spec["roles"]}
    if unknown_roles:
        raise ServiceError(f"Unknown roles: {', '.join(sorted(unknown_roles))}.")
    for role, name in strategies.items():
        if name not in STRATEGIES:
            raise ServiceError(f"Unknown strategy '{name}' for role '{role}'.")
    with transaction.atomic():
        negotiation = Negotiation.objects.create(
            playbook=playbook,
            playbook_version=version,
            title=title or f"{playbook.name}",
            max_rounds=max_rounds,
            pace_seconds=pace,
            seed=seed if seed is not None else random.SystemRandom().randrange(2**31),
            started_by=user if getattr(user, "pk", None) else None,
        )
        deadline_minutes = overrides.deadline_minutes or limits.get("deadline_minutes")
        groups = {
            g.name: g
            for g in Group.objects.filter(
                name__in=[r["owner_group"] for r in spec["roles"] if r.get("owner_group")]
            )
        }
        Participant.objects.bulk_create(
            [
                Participant(
                    negotiation=negotiation,
                    role=role["name"],
                    label=role.get("label") or role["name"],
                    strategy=strategies.get(role["name"], role["strategy"]),
                    strategy_params=role.get("strategy_params") or {}
                    if role["name"] not in strategies
                    else {},
                    profile=role["profile"],
                    owner_group=groups.get(role.get("owner_group") or ""),
                    order=i,
                )
                for i, role in enumerate(spec["roles"])
            ]
        )
        audit_append(
            negotiation=negotiation,
            kind="negotiation.created",
            actor=actor_of(user),
            user=user,
            payload={
                "playbook": playbook.name,
                "playbook_version": version.number,
                "playbook_digest": version.digest,
                "max_rounds": max_rounds,
                "deadline_minutes": deadline_minutes,
                "pace_seconds": pace,
                "seed": negotiation.seed,
                "participants": [
                    {"role": r["name"], "strategy": strategies.get(r["name"], r["strategy"])}
                    for r in spec["roles"]
                ],
            },
        )
        if start:
            negotiation_start(negotiation=negotiation, user=user, deadline_minutes=deadline_minutes)
    return negotiation


def negotiation_start(
    *, negotiation: Negotiation, user=None, deadline_minutes: int | None = None
) -> Negotiation:
    from negotiator import tasks

    with transaction.atomic():
        negotiation = Negotiation.objects.select_for_update().get(pk=negotiation.pk)
        now = timezone.now()
        negotiation.started_at = now
        if deadline_minutes:
            negotiation.deadline = now + timedelta(minutes=deadline_minutes)
        negotiation.save(update_fields=["started_at", "deadline", "updated_at"])
        negotiation_transition(negotiation=negotiation, to=NegotiationStatus.RUNNING, user=user)
        tasks.enqueue_round(negotiation.pk, negotiation.current_round)
    return negotiation


def negotiation_resume(
    *,
    negotiation: Negotiation,
    user=None,
    extra_rounds: int = 0,
    extra_minutes: int = 0,
    reason: str = "",
) -> Negotiation:
    """Resume an escalated negotiation, optionally with extended limits."""
    from negotiator import tasks

    if extra_rounds < 0 or extra_minutes < 0:
        raise ServiceError("Extensions must not be negative.")
    with transaction.atomic():
        negotiation = Negotiation.objects.select_for_update().get(pk=negotiation.pk)
        if negotiation.status != NegotiationStatus.ESCALATED:
            raise TransitionError("Only an escalated negotiation can be resumed.")
        state = (
            bridge.state_from_dict(negotiation.engine_state) if negotiation.engine_state else None
        )
        max_rounds = negotiation.max_rounds + extra_rounds
        if state is not None and state.round >= max_rounds:
            raise ServiceError(
                f"The negotiation has used {state.round} of {negotiation.max_rounds} rounds; "
                "add rounds to resume it."
            )
        now = timezone.now()
        deadline = negotiation.deadline
        if extra_minutes:
            deadline = max(deadline or now, now) + timedelta(minutes=extra_minutes)
        if deadline is not None and deadline <= now:
            raise ServiceError("The deadline has passed; add minutes to resume it.")
        negotiation.max_rounds = max_rounds
        negotiation.deadline = deadline
        if state is not None:
            from dataclasses import replace

            # The engine stopped on escalation or stall; running again restarts
            # the stall window from this round.
            state = replace(state, status=Status.RUNNING, reason="", best_joint_round=state.round)
            negotiation.engine_state = {**negotiation.engine_state, **bridge.state_to_dict(state)}
        negotiation.save(update_fields=["max_rounds", "deadline", "engine_state", "updated_at"])
        negotiation_transition(
            negotiation=negotiation,
            to=NegotiationStatus.RUNNING,
            user=user,
            reason=reason or "resumed by a person",
            extra={"extra_rounds": extra_rounds, "extra_minutes": extra_minutes},
        )
        tasks.enqueue_round(negotiation.pk, negotiation.current_round)
    return negotiation


def negotiation_close(*, negotiation: Negotiation, user=None, reason: str = "") -> Negotiation:
    with transaction.atomic():
        negotiation = Negotiation.objects.select_for_update().get(pk=negotiation.pk)
        if negotiation.status in FINAL_STATUSES:
            raise TransitionError("This negotiation has already ended.")
        if negotiation.status == NegotiationStatus.PENDING_APPROVAL:
            raise TransitionError("Decide the open approval request instead of closing it.")
        negotiation_transition(
            negotiation=negotiation,
            to=NegotiationStatus.CANCELLED,
            user=user,
            reason=reason or f"closed by {getattr(user, 'username', 'a person')}",
        )
    return negotiation


# --------------------------------------------------------------------------
# One round
# --------------------------------------------------------------------------


def _version_key(version: PolicyVersion) -> tuple:
    """What a policy version contributes to a setup: its content, not just its id."""
    key = getattr(version, "_setup_key", None)
    if key is None:
        key = (
            version.pk,
            version.kind,
            version.severity,
            version.scope,
            version.role_name,
            canonical_json(version.parameters),
        )
        version._setup_key = key
    return key


def _setup_for(
    negotiation: Negotiation,
    participants: Sequence[Participant],
    versions: Sequence[PolicyVersion],
):
    """The engine setup for this negotiation. The costly part (utility tables and
    the outcomes each party's policies allow) is shared by every negotiation with
    the same playbook version, profiles and policy versions."""
    version = negotiation.playbook_version
    deadline = negotiation.deadline.isoformat() if negotiation.deadline else None
    key = (
        version.digest,
        tuple((p.role, canonical_json(p.profile)) for p in participants),
        tuple(_version_key(v) for v in versions),
    )

    def build():
        spec = version.spec
        allowed = governance.allowed_masks(
            bridge.space_from_spec(spec),
            [policy_spec_of(v) for v in versions],
            {p.role: p.profile for p in participants},
            fixed_terms=spec.get("fixed_terms", {}),
            issue_types={i["name"]: i.get("type", "numeric") for i in spec["issues"]},
            value_rule=spec.get("value_expression", ""),
            risk_rule=spec.get("risk_expression", ""),
        )
        return bridge.setup_from_spec(
            spec,
            [(p.role, p.profile) for p in participants],
            max_rounds=negotiation.max_rounds,
            deadline=None,
            allowed=allowed,
        )

    base = bridge.SETUPS.get(key, build)
    return bridge.with_limits(base, max_rounds=negotiation.max_rounds, deadline=deadline)


def policy_gate_for(
    negotiation: Negotiation, versions: Sequence[PolicyVersion], participants
) -> governance.PolicyGate:
    """The engine's policy gate for this negotiation's offers."""
    spec = negotiation.playbook_version.spec
    return governance.PolicyGate(
        specs=[policy_spec_of(v) for v in versions],
        profiles={p.role: p.profile for p in participants},
        fixed_terms=dict(spec.get("fixed_terms", {})),
        issue_types={i["name"]: i.get("type", "numeric") for i in spec["issues"]},
        value_rule=spec.get("value_expression", ""),
        risk_rule=spec.get("risk_expression", ""),
    )


def negotiation_run_round(*, negotiation_id: int, round_number: int) -> bool:
    """Run one round if it is still due. Returns False when there was nothing to do
    (already run, negotiation not running): a duplicate or late task is a no-op."""
    with transaction.atomic():
        cached = _PARTICIPANTS.get(negotiation_id)  # how many offers to reserve ids for
        claimed = round_store.round_claim(
            negotiation_id, round_number, offers_hint=len(cached) if cached else 2
        )
        if claimed is None:
            return False
        negotiation, reads = claimed
        negotiation.playbook_version = _playbook_version(negotiation.playbook_version_id)
        _play_round(negotiation, round_number, reads)
    return True


def _play_round(negotiation: Negotiation, round_number: int, reads) -> None:
    from negotiator import tasks

    participants = _participants_of(negotiation)
    by_role = {p.role: p for p in participants}
    versions = policy_versions_by_id(reads.policy_version_ids)
    setup = _setup_for(negotiation, participants, versions)
    previous_state = negotiation.engine_state or {}
    if previous_state:
        state = bridge.state_from_dict(previous_state)
    else:
        state = initial_state(setup, seed=negotiation.seed)
    strategies = {
        p.role: make_strategy(p.strategy, **(p.strategy_params or {})) for p in participants
    }
    gate = policy_gate_for(negotiation, versions, participants)
    versions_by_key = {(v.policy_id, v.number): v for v in versions}
    now = timezone.now()
    result = step(state, setup, strategies, gate=gate, now=now.isoformat())
    new_state = result.state

    # Offers that were sent (the new tail of the history). Offers reply to the
    # previous round's, whose row ids the stored state remembers.
    sent = list(new_state.history[len(state.history) :])
    offers: list[dict[str, Any]] = []
    for offer in sent:
        terms = dict(offer.terms)
        utilities = (
            {role: round(table_utility(setup, role, terms), 6) for role in by_role} if terms else {}
        )
        offers.append(
            {
                "negotiation_id": negotiation.pk,
                "round": round_number,
                "sender": offer.sender,
                "performative": str(offer.performative),
                "terms": terms,
                "fixed_terms_hash": offer.fixed_terms_hash,
                "expires_at_round": offer.expires_at_round,
                "expires_at": offer.expires_at,
                "assumptions": list(offer.assumptions),
                "dependencies": list(offer.dependencies),
                "in_reply_to_engine": offer.in_reply_to,
                "version": offer.version,
                "rationale": offer.rationale,
                "engine_id": offer.id,
                "utilities": utilities,
                "created_at": now,
            }
        )
    round_store.assign_offer_ids(reads, offers, known=previous_state.get("offer_pks", {}))
    offer_id_by_engine_id = {o["engine_id"]: o["id"] for o in offers}

    checks: list[dict[str, Any]] = []
    records = gate.take()
    for record in records:
        offer_id = offer_id_by_engine_id.get(record.offer.id) if record.verdict != "block" else None
        terms = dict(record.offer.terms)
        for res in record.results:
            checks.append(
                {
                    "negotiation_id": negotiation.pk,
                    "offer_id": offer_id,
                    "policy_version_id": versions_by_key[(res.policy_id, res.policy_version)].pk,
                    "round": round_number,
                    "sender": record.party,
                    "stage": record.stage,
                    "terms": terms,
                    "passed": res.passed,
                    "severity": str(res.severity),
                    "message": res.message,
                    "evidence": engine_policies.check_result_to_dict(res)["evidence"],
                    "created_at": now,
                }
            )

    # Audit: every check (with the offer it judged, blocked attempts included),
    # then every offer sent, appended to the chain in one go.
    entries = []
    for record in records:
        entries.append(
            {
                "kind": "offer.blocked" if record.verdict == "block" else "policy.checked",
                "actor": f"agent:{record.party}",
                "payload": {
                    "round": round_number,
                    "party": record.party,
                    "stage": record.stage,
                    "verdict": record.verdict,
                    "offer": {
                        "performative": str(record.offer.performative),
                        "terms": dict(record.offer.terms),
                        "rationale": record.offer.rationale,
                    },
                    "checks": [
                        {
                            "policy_id": r.policy_id,
                            "version": r.policy_version,
                            "passed": r.passed,
                            "severity": str(r.severity),
                            "message": r.message,
                        }
                        for r in record.results
                    ],
                },
            }
        )
    for offer in offers:
        entries.append(
            {
                "kind": f"offer.{offer['performative']}",
                "actor": f"agent:{offer['sender']}",
                "payload": {
                    "offer_id": offer["id"],
                    "engine_id": offer["engine_id"],
                    "round": offer["round"],
                    "performative": offer["performative"],
                    "terms": offer["terms"],
                    "fixed_terms_hash": offer["fixed_terms_hash"],
                    "expires_at_round": offer["expires_at_round"],
                    "in_reply_to": offer["in_reply_to_id"],
                    "rationale": offer["rationale"],
                },
            }
        )
    # A configuration change that affects this negotiation (a policy edited,
    # added or switched off) is recorded in its own chain when it takes effect.
    in_force = sorted(v.pk for v in versions)
    previous = previous_state.get("policy_versions")
    if previous != in_force:
        entries.insert(
            0,
            {
                "kind": "policy.versions_in_force",
                "actor": "system",
                "payload": {
                    "round": round_number,
                    "policies": [
                        {"policy_id": v.policy_id, "version": v.number, "name": v.name}
                        for v in versions
                    ],
                    "previous_version_ids": previous,
                },
            },
        )

    round_store.round_write(
        negotiation,
        reads,
        offers=offers,
        checks=checks,
        audit_entries=entries,
        engine_state={
            **bridge.state_to_dict(new_state),
            "offer_pks": dict(offer_id_by_engine_id),
            "policy_versions": in_force,
        },
        now=now,
    )

    if new_state.status == Status.RUNNING:
        tasks.enqueue_round(
            negotiation.pk, negotiation.current_round, countdown=negotiation.pace_seconds
        )
        return
    _finish(negotiation, new_state, result.events)


def table_utility(setup, role: str, terms: Mapping[str, Any]) -> float:
    for party in setup.parties:
        if party.name == role:
            return party.profile.utility(terms, setup.space)
    raise KeyError(role)


def _finish(negotiation: Negotiation, state, events) -> None:
    # The worker keeps participants only while a negotiation runs.
    _PARTICIPANTS.pop(negotiation.pk, None)
    reason = state.reason
    if state.status == Status.AGREED:
        agreed_terms = dict(state.agreement or {})
        agreed_row = (
            Offer.objects.filter(negotiation=negotiation, terms=agreed_terms)
            .exclude(performative="accept")
            .order_by("-id")
            .first()
        )
        spec = negotiation.playbook_version.spec
        negotiation.agreed_terms = agreed_terms
        negotiation.agreed_offer = agreed_row
        negotiation.deal_value = deal_measure(spec.get("value_expression", ""), agreed_terms)
        negotiation.deal_risk = deal_measure(spec.get("risk_expression", ""), agreed_terms)
        negotiation.save(
            update_fields=["agreed_terms", "agreed_offer", "deal_value", "deal_risk", "updated_at"]
        )
        audit_append(
            negotiation=negotiation,
            kind="negotiation.agreed",
            actor="system",
            payload={
                "terms": agreed_terms,
                "fixed_terms": spec.get("fixed_terms", {}),
                "deal_value": negotiation.deal_value,
                "deal_risk": negotiation.deal_risk,
                "reason": reason,
            },
        )
        approval_gate(negotiation=negotiation)
        return
    last_kinds = {e.kind for e in events}
    if state.status == Status.FAILED:
        to = NegotiationStatus.FAILED
    elif (
        state.status == Status.TIMED_OUT
        or EventKind.TIMED_OUT in last_kinds
        and "deadline" in reason
    ):
        to = NegotiationStatus.TIMED_OUT
    else:  # stalled or escalated by a policy: a person decides
        to = NegotiationStatus.ESCALATED
    negotiation_transition(negotiation=negotiation, to=to, reason=reason, actor="system")


# --------------------------------------------------------------------------
# The approval gate and the final plan
# --------------------------------------------------------------------------


def approval_gate(*, negotiation: Negotiation) -> None:
    """Every agreement passes here. The approvals app decides whether a person
    must approve; without a matching route the agreement is approved, and the
    audit trail names the rule that allowed it."""
    try:
        from approvals import services as approval_services
    except ImportError:  # pragma: no cover - the app is always installed
        approval_services = None
    opener = getattr(approval_services, "approval_request_open_if_needed", None)
    if opener is not None and opener(negotiation=negotiation):
        return
    negotiation_transition(
        negotiation=negotiation,
        to=NegotiationStatus.APPROVED,
        actor="system",
        reason="approved automatically: no approval route matched this agreement",
        extra={"rule": "no-matching-approval-route"},
    )
    negotiation_plan_record(negotiation=negotiation)


def negotiation_plan_build(negotiation: Negotiation) -> dict[str, Any]:
    """The final plan as structured terms: who, what, when, how much."""
    spec = negotiation.playbook_version.spec
    units = {i["name"]: i.get("unit", "") for i in spec["issues"]}
    terms = negotiation.agreed_terms or {}
    agreed = negotiation.agreed_offer
    when: dict[str, Any] = {
        "agreed_at": (negotiation.ended_at or timezone.now()).isoformat(),
        "started_at": negotiation.started_at.isoformat() if negotiation.started_at else None,
        "offer_expires_at": agreed.expires_at.isoformat() if agreed and agreed.expires_at else None,
        "offer_expires_at_round": agreed.expires_at_round if agreed else None,
    }
    timing = {
        name: {"value": value, "unit": units.get(name, "")}
        for name, value in terms.items()
        if units.get(name) in {"days", "weeks", "months", "hours", "date"}
        or any(w in name for w in ("date", "days", "delivery", "term", "window", "flight"))
    }
    if timing:
        when["schedule"] = timing
    return {
        "negotiation": negotiation.pk,
        "title": negotiation.title,
        "playbook": {"name": spec["name"], "version": negotiation.playbook_version.number},
        "who": [
            {"role": p.role, "label": p.label, "strategy": p.strategy}
            for p in negotiation.participants.all()
        ],
        "what": {
            "terms": {
                name: {"value": value, "unit": units.get(name, "")} for name, value in terms.items()
            },
            "fixed_terms": spec.get("fixed_terms", {}),
            "assumptions": agreed.assumptions if agreed else [],
            "dependencies": agreed.dependencies if agreed else [],
        },
        "when": when,
        "how_much": {
            "deal_value": negotiation.deal_value,
            "currency": spec.get("currency", "USD"),
            "deal_risk": negotiation.deal_risk,
        },
        "status": negotiation.status,
    }


def negotiation_plan_record(*, negotiation: Negotiation) -> dict[str, Any]:
    plan = negotiation_plan_build(negotiation)
    negotiation.plan = plan
    negotiation.save(update_fields=["plan", "updated_at"])
    audit_append(
        negotiation=negotiation, kind="negotiation.plan_recorded", actor="system", payload=plan
    )
    return plan


def plan_export(*, negotiation: Negotiation) -> dict[str, Any]:
    """The final plan for export; refuses negotiations that are not approved."""
    if negotiation.status != NegotiationStatus.APPROVED or not negotiation.plan:
        raise ServiceError(
            f"Negotiation #{negotiation.pk} is {negotiation.get_status_display().lower()}; "
            "only approved negotiations have a final plan."
        )
    return negotiation.plan


# --------------------------------------------------------------------------
# The sweeper
# --------------------------------------------------------------------------


def negotiations_sweep(*, stale_after_seconds: float = 60.0) -> list[int]:
    """Re-enqueue running negotiations that made no progress for a while, so a lost
    message or a killed worker never strands one. Returns the ids re-enqueued."""
    from negotiator import tasks

    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after_seconds)
    candidates = (
        Negotiation.objects.filter(status=NegotiationStatus.RUNNING)
        .filter(Q(last_progress_at__lt=cutoff) | Q(last_progress_at__isnull=True))
        .values_list("pk", "current_round", "pace_seconds", "last_progress_at")
    )
    requeued = []
    for pk, current_round, pace, last in candidates:
        # A paced negotiation legitimately waits `pace` seconds between rounds.
        if last is not None and last > cutoff - timedelta(seconds=pace or 0):
            continue
        # Touch the row so the next sweep does not enqueue the same round again
        # before this message had a chance to run.
        touched = Negotiation.objects.filter(
            pk=pk, status=NegotiationStatus.RUNNING, current_round=current_round
        ).update(last_progress_at=now)
        if touched:
            tasks.enqueue_round(pk, current_round)
            requeued.append(pk)
    if requeued:
        log.info("sweeper re-enqueued %d negotiations: %s", len(requeued), requeued)
    return requeued


def demo_data_load() -> str:
    """Load demo playbooks and negotiations once; return a one-line summary."""
    from negotiator import demo

    return demo.demo_load()


# --------------------------------------------------------------------------
# Approvals: changes requested
# --------------------------------------------------------------------------


def negotiation_reopen_after_changes(
    *, negotiation: Negotiation, user=None, reason: str = "", extra_rounds: int = 20
) -> Negotiation:
    """An approver sent the agreement back: the parties negotiate again from where
    they stopped, under any constraints the approver added, with room for more rounds."""
    from dataclasses import replace

    from negotiator import tasks

    if extra_rounds < 0:
        raise ServiceError("Extensions must not be negative.")
    with transaction.atomic():
        negotiation = Negotiation.objects.select_for_update().get(pk=negotiation.pk)
        if negotiation.status != NegotiationStatus.PENDING_APPROVAL:
            raise TransitionError("Only a negotiation waiting for approval can be sent back.")
        state = (
            bridge.state_from_dict(negotiation.engine_state) if negotiation.engine_state else None
        )
        now = timezone.now()
        used = state.round + 1 if state is not None else negotiation.current_round
        # Only a negotiation that used up its rounds gets more: the strategies concede
        # with elapsed time (round / max_rounds), and a longer horizon would make
        # them demand more again than what the approver just sent back.
        if used + 2 > negotiation.max_rounds:
            negotiation.max_rounds = used + extra_rounds
        if negotiation.deadline is not None and negotiation.deadline <= now + timedelta(minutes=5):
            minutes = negotiation.playbook_version.spec.get("limits", {}).get(
                "deadline_minutes", 60
            )
            negotiation.deadline = now + timedelta(minutes=minutes or 60)
        if state is not None:
            # The agreement is void: nothing stands on the table and the next engine
            # round gets a fresh number (offer ids embed it); the stall window restarts.
            state = replace(
                state,
                status=Status.RUNNING,
                reason="",
                agreement=None,
                agreement_outcome=None,
                standing=None,
                accepted_by=(),
                round=used,
                best_joint_round=used,
            )
            negotiation.engine_state = {**negotiation.engine_state, **bridge.state_to_dict(state)}
        negotiation.agreed_terms = None
        negotiation.agreed_offer = None
        negotiation.deal_value = None
        negotiation.deal_risk = None
        negotiation.save(
            update_fields=[
                "max_rounds",
                "deadline",
                "engine_state",
                "agreed_terms",
                "agreed_offer",
                "deal_value",
                "deal_risk",
                "updated_at",
            ]
        )
        negotiation_transition(
            negotiation=negotiation,
            to=NegotiationStatus.RUNNING,
            user=user,
            reason=reason or "changes requested by an approver",
            extra={"max_rounds": negotiation.max_rounds},
        )
        tasks.enqueue_round(negotiation.pk, negotiation.current_round)
    return negotiation
