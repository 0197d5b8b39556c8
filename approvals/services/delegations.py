"""Delegation: an approver hands their decisions to a colleague for a period."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from approvals.models import Delegation
from approvals.services.errors import ApprovalDenied
from negotiator.audit import audit_append
from negotiator.services.errors import ServiceError
from negotiator.services.roles import actor_of


def delegation_create(
    *, delegator, delegate, starts_at: datetime, ends_at: datetime, note: str = ""
) -> Delegation:
    if delegate is None or not getattr(delegate, "is_active", False):
        raise ServiceError("Choose an active colleague to delegate to.")
    if delegate.pk == delegator.pk:
        raise ServiceError("You cannot delegate to yourself.")
    if ends_at <= starts_at:
        raise ServiceError("The delegation must end after it starts.")
    if ends_at <= timezone.now():
        raise ServiceError("The delegation would already be over; choose a later end.")
    if ends_at - starts_at > timedelta(days=366):
        raise ServiceError("Delegate for at most a year at a time.")
    with transaction.atomic():
        delegation = Delegation.objects.create(
            delegator=delegator,
            delegate=delegate,
            starts_at=starts_at,
            ends_at=ends_at,
            note=note[:200],
        )
        audit_append(
            kind="approval.delegated",
            actor=actor_of(delegator),
            user=delegator,
            payload={
                "delegation": delegation.pk,
                "delegator": delegator.get_username(),
                "delegate": delegate.get_username(),
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
            },
        )
    return delegation


def delegation_revoke(*, delegation: Delegation, user) -> Delegation:
    if delegation.delegator_id != user.pk and not user.is_superuser:
        raise ApprovalDenied("Only the person who delegated can revoke the delegation.")
    with transaction.atomic():
        now = timezone.now()
        updated = Delegation.objects.filter(pk=delegation.pk, revoked_at__isnull=True).update(
            revoked_at=now, ends_at=max(now, delegation.starts_at + timedelta(seconds=1))
        )
        if updated:
            audit_append(
                kind="approval.delegation_revoked",
                actor=actor_of(user),
                user=user,
                payload={"delegation": delegation.pk},
            )
    delegation.refresh_from_db()
    return delegation
