"""The approval gate's exceptions, mapped by type: ApprovalDenied is a 403,
ApprovalConflict a 409 (someone decided first), any other ApprovalError a 400."""

from __future__ import annotations

from negotiator.services.errors import Conflict, NotAllowed, ServiceError


class ApprovalError(ServiceError):
    """The decision cannot be recorded (bad input); the message says why."""


class ApprovalDenied(ApprovalError, NotAllowed):
    """This person may not decide this request (a 403)."""


class ApprovalConflict(ApprovalError, Conflict):
    """The request or this person's decision is already recorded (a 409)."""
