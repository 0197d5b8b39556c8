"""Who may see what and do what. Pure checks over a user and rows already loaded.

A user's groups are read once per request and cached on the user object, so a
page that asks about many participants still costs one query.
"""

from __future__ import annotations

from collections.abc import Iterable

from negotiator.models import Participant

AUDITORS = "Auditors"
OPERATORS = "Operators"


def _groups(user) -> dict[int, str]:
    cached = getattr(user, "_negotiator_groups", None)
    if cached is None:
        cached = (
            dict(user.groups.values_list("pk", "name"))
            if getattr(user, "is_authenticated", False)
            else {}
        )
        user._negotiator_groups = cached
    return cached


def is_auditor(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_superuser or AUDITORS in _groups(user).values()


def may_see_private(user, participant: Participant) -> bool:
    """A party's private profile, utilities and private check evidence: superusers,
    Auditors, and members of the participant's owner group."""
    if not getattr(user, "is_authenticated", False):
        return False
    if is_auditor(user):
        return True
    return participant.owner_group_id is not None and participant.owner_group_id in _groups(user)


def visible_roles(user, participants: Iterable[Participant]) -> frozenset[str]:
    """Roles whose private data this user may see."""
    return frozenset(p.role for p in participants if may_see_private(user, p))


def may_operate(user) -> bool:
    """Start, resume and close negotiations."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or OPERATORS in _groups(user).values():
        return True
    return user.has_perm("negotiator.add_negotiation") and user.has_perm(
        "negotiator.change_negotiation"
    )
