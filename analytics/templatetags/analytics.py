"""Template helpers of the analytics app: percentages as the outcomes page shows
them, and an agreement's quality card for the negotiation page (an inclusion tag,
so the negotiation template includes it without negotiator importing analytics)."""

from __future__ import annotations

from django import template

from analytics.selectors.quality import agreement_quality

register = template.Library()


@register.filter
def percent(value) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value):.1%}"


@register.inclusion_tag("analytics/_quality.html", takes_context=True)
def quality_card(context, negotiation) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    quality = agreement_quality(user=user, negotiation=negotiation) if user else None
    return {"quality": quality, "negotiation": negotiation}
