"""The webhook signature, Stripe's scheme: HMAC-SHA256 of "<unix time>.<raw body>"
under the endpoint's secret, sent as ``Negotiator-Signature: t=<unix>,v1=<hex>``.
Receivers check it with the same few lines (README, "Checking a signature")."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Negotiator-Signature"
EVENT_ID_HEADER = "Negotiator-Event-Id"
EVENT_TYPE_HEADER = "Negotiator-Event-Type"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"
