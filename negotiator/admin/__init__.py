"""Admin: where policy owners configure playbooks and policies.

Every save goes through services, so validation, versioning and the audit trail
are the same as for imports. Bad input re-renders the form with the reason;
nothing is half-saved (the admin wraps each save in one transaction)."""

from negotiator.admin import playbooks, policies, records  # noqa: F401  (registers the admins)
