from django.http import HttpRequest

from approvals import selectors


def inbox(request: HttpRequest) -> dict[str, object]:
    """`approvals_pending_count`: requests waiting for this person (the nav badge).

    One indexed count query per page for a logged-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"approvals_pending_count": 0}
    return {"approvals_pending_count": selectors.inbox_count(user)}
