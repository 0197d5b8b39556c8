"""The tenders block on the home page and the negotiation list (a template tag,
so the negotiator app's views need not know about tenders)."""

from __future__ import annotations

from django import template

from tenders.selectors.tenders import tenders_recent

register = template.Library()


@register.inclusion_tag("tenders/_recent.html", takes_context=True)
def recent_tenders(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"block": None}
    return {"block": tenders_recent(user)}
