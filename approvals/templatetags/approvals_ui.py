"""Template helpers for pages outside the approvals app (the negotiator's home page
shows a Review button only to people who may decide the request)."""

from __future__ import annotations

from django import template

from approvals import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def waiting_request_ids(context) -> set[int]:
    """Ids of the requests waiting for this person's decision (one query per page)."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return set()
    return set(selectors.waiting_for(user).values_list("pk", flat=True))
