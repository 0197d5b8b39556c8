"""Who hears about a negotiation's status changes, without negotiator importing
them: an app registers a listener in its AppConfig.ready (the api app's webhooks)
and negotiator.services.lifecycle.negotiation_transition, the one place a status
changes, calls every listener in the same transaction.

A registry rather than a Django signal: the listeners and what they receive are
explicit and typed, as with agreement_hooks, and a listener's failure is handled
in one place. A failing listener never blocks the status change (the negotiation
is the record; a lost notification is logged as an error): each runs in its own
savepoint, so its half-done writes are rolled back and the caller's transaction
stays usable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusChange:
    negotiation_id: int
    team_id: int | None
    source: str
    target: str
    reason: str
    actor: str
    at: datetime


Listener = Callable[[StatusChange], None]
_listeners: dict[str, Listener] = {}


def listener_register(name: str, listener: Listener) -> None:
    """Add (or replace, by name) a listener; registering twice keeps one."""
    _listeners[name] = listener


def listener_unregister(name: str) -> None:
    _listeners.pop(name, None)


def status_changed(*, negotiation, source: str, reason: str, actor: str) -> None:
    """Tell every listener; call inside the transaction that changed the status."""
    if not _listeners:
        return
    change = StatusChange(
        negotiation_id=negotiation.pk,
        team_id=negotiation.team_id,
        source=source,
        target=negotiation.status,
        reason=reason,
        actor=actor,
        at=timezone.now(),
    )
    for name, listener in list(_listeners.items()):
        try:
            with transaction.atomic():
                listener(change)
        except Exception:
            log.exception(
                "status listener %r failed for negotiation %s (%s → %s)",
                name,
                change.negotiation_id,
                source,
                change.target,
            )
