"""Permission groups the product relies on, and how a user is named in the audit trail."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

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
    for name in ROLE_GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        wanted = ROLE_PERMISSIONS.get(name, [])
        q = Q(pk__in=[])
        for dotted in wanted:
            app_label, codename = dotted.split(".", 1)
            q |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.add(*Permission.objects.filter(q))


def actor_of(user) -> str:
    """How a person (or the system) is named in the audit trail."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "system"
    return f"user:{user.get_username()}"
