"""Playbooks a person may start negotiations from (negotiator.selectors.visibility
.playbooks_startable_by), with what a caller needs to start one: roles, their
seat kinds and default strategies, issues and limits. Never a role's private
profile."""

from __future__ import annotations

from typing import Any

from negotiator.models import Playbook
from negotiator.selectors.visibility import playbooks_startable_by


def playbooks_for_api(*, user) -> list[dict[str, Any]]:
    return [
        playbook_document(p)
        for p in playbooks_startable_by(user).select_related("team").order_by("name")
    ]


def playbook_startable(pk: int, *, user) -> Playbook:
    """Playbook.DoesNotExist unless this person may start from it."""
    return playbooks_startable_by(user).get(pk=pk)


def playbook_document(playbook: Playbook) -> dict[str, Any]:
    version = playbook.current_version
    spec = version.spec
    return {
        "id": playbook.pk,
        "name": playbook.name,
        "description": playbook.description,
        "pattern": playbook.pattern,
        "team": playbook.team.name if playbook.team_id else None,
        "version": version.number,
        "currency": spec.get("currency", "USD"),
        "limits": spec.get("limits", {}),
        "issues": spec.get("issues", []),
        "fixed_terms": spec.get("fixed_terms", {}),
        "roles": [
            {
                "name": r["name"],
                "label": r.get("label") or r["name"],
                "strategy": r.get("strategy", "default"),
                "seats": r.get("seats") or ["builtin"],
            }
            for r in spec.get("roles", [])
        ],
    }
