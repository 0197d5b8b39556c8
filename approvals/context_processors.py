from functools import cache

from django.http import HttpRequest

from approvals import selectors


def inbox(request: HttpRequest) -> dict[str, object]:
    """`approvals_pending_count`: requests waiting for this person (the nav badge).

    A callable, so pages that never show the badge never run the query; cached,
    so a template that reads it twice queries once."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"approvals_pending_count": 0}

    @cache
    def count() -> int:
        return selectors.inbox_count(user)

    return {"approvals_pending_count": count}
