from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from approvals import selectors


def inbox(request: HttpRequest) -> dict[str, object]:
    """`approvals_pending_count`: requests waiting for this person (the nav badge).

    One indexed count query, made only when the template shows the badge: partials
    such as the timeline poll never pay for it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"approvals_pending_count": 0}
    return {"approvals_pending_count": SimpleLazyObject(lambda: selectors.inbox_count(user))}
