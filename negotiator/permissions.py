"""Who may see what and do what. Pure checks over a user and rows already loaded;
the team rule as data that selectors turn into one filter
(negotiator.selectors.visibility.negotiations_visible_to).

The team rule: a negotiation belongs to a team (its playbook's owning group when
it was created). Members of that group see it and, if they are operators, act on
it; members of *Auditors* and superusers see every negotiation; anyone else is
told it does not exist (404), so ids of other teams' negotiations are never
confirmed. A negotiation without a team is seen by auditors and superusers only.

A user's groups are read once per request and cached on the user object, so a
page that asks about many participants still costs one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from negotiator.models import Negotiation, Participant

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


def group_ids(user) -> frozenset[int]:
    """The groups a user is in (any of them may be a team); empty when anonymous."""
    return frozenset(_groups(user))


def is_auditor(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_superuser or AUDITORS in _groups(user).values()


def visible_team_ids(user) -> frozenset[int] | None:
    """The teams whose negotiations this user sees; None means every negotiation
    (superusers and Auditors). Anonymous users see none."""
    if is_auditor(user):
        return None
    return group_ids(user)


def may_see_negotiation(user, negotiation: Negotiation) -> bool:
    teams = visible_team_ids(user)
    return teams is None or negotiation.team_id in teams


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
    """Start, resume and close negotiations (of the user's teams: may_act_on)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or OPERATORS in _groups(user).values():
        return True
    return user.has_perm("negotiator.add_negotiation") and user.has_perm(
        "negotiator.change_negotiation"
    )


class TeamOwned(Protocol):
    """A row that belongs to a team: a negotiation, a tender."""

    team_id: int | None


def may_act_on(user, owned: TeamOwned) -> bool:
    """Act on this negotiation (resume, close) or tender (start the final
    negotiation): an operator of its team, or a superuser. Auditors see every
    team's rows but act only on their own teams'."""
    if not may_operate(user):
        return False
    return user.is_superuser or owned.team_id in group_ids(user)
