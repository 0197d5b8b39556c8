"""Versions of policies and playbooks as people use them: publishing a draft,
restoring an old version (as a new one), and cloning a playbook."""

from __future__ import annotations

from django.db import transaction

from negotiator import playbook_io
from negotiator.audit import audit_append
from negotiator.models import Playbook, PlaybookVersion, PolicyVersion
from negotiator.services.errors import ServiceError
from negotiator.services.playbooks import playbook_publish, playbook_rows_write
from negotiator.services.policies import VERSIONED_FIELDS, policy_save
from negotiator.services.roles import actor_of


def policy_version_apply(*, version: PolicyVersion, user=None, note: str) -> PolicyVersion:
    """Make an old or draft version's fields the policy's in-force fields, as a new
    published version (history is never rewritten)."""
    with transaction.atomic():
        policy = version.policy
        for field in VERSIONED_FIELDS:
            setattr(policy, field, getattr(version, field))
        return policy_save(policy=policy, user=user, note=note)


def policy_draft_publish(*, version: PolicyVersion, user=None) -> PolicyVersion:
    """Put a draft in force; the publication is audited with both version numbers."""
    if not version.is_draft:
        raise ServiceError(f"version {version.number} is not a draft; it was published already")
    current = version.policy.current_version
    if current is not None and current.number > version.number:
        raise ServiceError(
            f"draft v{version.number} is older than the version in force "
            f"(v{current.number}); restore it instead if you still want it"
        )
    with transaction.atomic():
        published = policy_version_apply(
            version=version, user=user, note=_published_note(version.number, version.note)
        )
        audit_append(
            kind="policy.draft_published",
            actor=actor_of(user),
            user=user,
            negotiation=version.policy.negotiation_id,
            payload={
                "policy": published.name,
                "policy_id": version.policy_id,
                "draft": version.number,
                "version": published.number,
            },
        )
        return published


def playbook_version_apply(*, version: PlaybookVersion, user=None, note: str) -> PlaybookVersion:
    """Write a version's spec back into the playbook's rows and publish them as a new version."""
    with transaction.atomic():
        playbook = Playbook.objects.select_for_update().get(pk=version.playbook_id)
        playbook_rows_write(playbook=playbook, spec=version.spec)
        return playbook_publish(playbook=playbook, user=user, note=note)


def playbook_draft_publish(*, version: PlaybookVersion, user=None) -> PlaybookVersion:
    """Put a playbook draft in force (new negotiations run under it); audited."""
    if not version.is_draft:
        raise ServiceError(f"version {version.number} is not a draft; it was published already")
    current = version.playbook.current_version
    if current is not None and current.number > version.number:
        raise ServiceError(
            f"draft v{version.number} is older than the version in force "
            f"(v{current.number}); restore it instead if you still want it"
        )
    with transaction.atomic():
        published = playbook_version_apply(
            version=version, user=user, note=_published_note(version.number, version.note)
        )
        audit_append(
            kind="playbook.draft_published",
            actor=actor_of(user),
            user=user,
            payload={
                "playbook": version.playbook.name,
                "draft": version.number,
                "version": published.number,
                "digest": published.digest,
            },
        )
        return published


def _published_note(number: int, note: str) -> str:
    return f"Published draft v{number}" + (f": {note}" if note else "")


def playbook_clone(*, playbook: Playbook, name: str, user=None) -> Playbook:
    """A new playbook with the same rows, team and playbook policies, published as
    its version 1. Approval routes and global policies are shared, not copied."""
    name = name.strip()
    if not name:
        raise ServiceError("give the copy a name")
    if Playbook.objects.filter(name=name).exists():
        raise ServiceError(f"a playbook named {name!r} exists already; choose another name")
    document = playbook_io.playbook_export(playbook)
    document = {k: v for k, v in document.items() if k in playbook_io.PLAYBOOK_KEYS}
    document["name"] = name
    document["description"] = f"Copy of {playbook.name}. {document.get('description', '')}".strip()
    with transaction.atomic():
        copy = playbook_io.playbook_import(document, user=user, note=f"Cloned from {playbook.name}")
        audit_append(
            kind="playbook.cloned",
            actor=actor_of(user),
            user=user,
            payload={"playbook": copy.name, "from": playbook.name},
        )
    return copy
