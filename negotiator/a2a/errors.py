"""Errors of our own in the A2A-specific JSON-RPC range (-32001…-32099), after
the specification's (-32001…-32009). Each carries a google.rpc.ErrorInfo detail
with its reason, as the specification asks of every error."""

from __future__ import annotations

from a2a.server.jsonrpc_models import JSONRPCError
from a2a.utils.errors import A2AError

ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
DOMAIN = "negotiator"


class SeatError(A2AError):
    code = -32099
    reason = "SEAT_ERROR"

    def as_jsonrpc(self) -> JSONRPCError:
        detail = {
            "@type": ERROR_INFO_TYPE,
            "reason": self.reason,
            "domain": DOMAIN,
            "metadata": dict(self.data or {}),
        }
        return JSONRPCError(code=self.code, message=self.message, data=[detail])


class Unauthenticated(SeatError):
    """No valid seat credential (HTTP 401)."""

    code = -32040
    reason = "UNAUTHENTICATED"
    message = "A valid seat token is required: 'Authorization: Bearer <token>'."


class NotYourTurn(SeatError):
    """The negotiation is running but waits for the other side (or a person)."""

    code = -32050
    reason = "NOT_YOUR_TURN"


class OfferBlocked(SeatError):
    """Our policies refuse the offer. Which policy and its limits stay private:
    the seat learns only that this offer cannot be played."""

    code = -32051
    reason = "OFFER_BLOCKED"
    message = (
        "Our policies do not allow this offer, so it was not played and it is still "
        "your turn. Send a different offer."
    )


class RateLimited(SeatError):
    """Too many requests with one credential (HTTP 429, Retry-After)."""

    code = -32052
    reason = "RATE_LIMITED"


class PayloadTooLarge(SeatError):
    """The body is over the size limit (HTTP 413); it was not read."""

    code = -32600
    reason = "PAYLOAD_TOO_LARGE"
