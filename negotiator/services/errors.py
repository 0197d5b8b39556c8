"""The exceptions services raise: one class per kind of failure, so callers map
them by type (a view picks 400, 403 or 409 from the class, never from the text)."""

from __future__ import annotations


class ServiceError(Exception):
    """A request that cannot be carried out; the message says why and what to do."""


class TransitionError(ServiceError):
    """The object is not in a state that allows this change."""


class Conflict(TransitionError):
    """Someone else got there first (already decided, already ended): a 409."""


class NotAllowed(ServiceError):
    """This person may not do this (a 403)."""
