"""System checks for what settings alone cannot validate."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from negotiator.audit_key import checkpoint_key


@register(Tags.security)
def audit_checkpoint_key_check(app_configs, **kwargs) -> list:
    """A malformed key is an error everywhere; no key is a warning in production,
    where it leaves the audit trail open to an undetected cut or rewrite."""
    try:
        key = checkpoint_key()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="negotiator.E001")]
    if key is None and not settings.DEBUG:
        return [
            Warning(
                "No audit checkpoint key is configured: someone with access to the database "
                "can delete the end of an audit chain, or rewrite it with recomputed hashes, "
                "without detection.",
                hint="Set AUDIT_CHECKPOINT_KEY_FILE to an Ed25519 key kept off the database "
                "host (`manage.py audit_checkpoint --generate-key FILE`); see the README.",
                id="negotiator.W001",
            )
        ]
    return []
