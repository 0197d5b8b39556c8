"""Small display helpers for the dashboard templates."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from negotiator.selectors.negotiations import PARTY_COLOURS

register = template.Library()

OUTCOME_LABELS = {
    "pass": "pass",
    "warn": "warn",
    "escalate": "escalate",
    "block": "block",
    "approval": "needs approval",
    "waived": "waived by override",
}


@register.filter
def outcome_label(outcome: str) -> str:
    return OUTCOME_LABELS.get(outcome, outcome)


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def age(value: datetime | None) -> str:
    """'12s', '5m', '3h', '2d' ago; short enough for a table cell."""
    if value is None:
        return "—"
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


@register.filter
def duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def money(value: float | int | None, currency: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{text} {currency}".strip()


@register.filter
def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


@register.filter
def utility(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@register.filter
def humanize_key(value: str) -> str:
    return str(value).replace("_", " ")


@register.inclusion_tag("negotiator/_status_badge.html")
def status_badge(negotiation) -> dict[str, Any]:
    return {"status": negotiation.status, "label": negotiation.get_status_display()}


# The Content-Security-Policy allows no inline style attributes, so a party's
# colour reaches the page as a class (app.css: .party-0 … .party-5 set --party).
_PARTY_CLASSES = {colour.lower(): f"party-{i}" for i, colour in enumerate(PARTY_COLOURS)}


@register.filter
def party_class(colour: str) -> str:
    """The class that gives an element a party's colour (--party); a colour
    outside the palette gets the neutral one."""
    return _PARTY_CLASSES.get(str(colour).lower(), "party-other")


@register.simple_tag
def progress_fill(percent: int) -> str:
    """A progress bar's fill as SVG geometry: a width attribute, not an inline
    style, so it needs no 'unsafe-inline' in the style policy."""
    value = max(0, min(100, int(percent or 0)))
    return format_html(
        '<svg class="progress-fill" viewBox="0 0 100 1" preserveAspectRatio="none" '
        'aria-hidden="true" focusable="false"><rect width="{}" height="1"/></svg>',
        value,
    )


@register.filter
def strategy_name(value: str) -> str:
    """'boulware' -> 'Tough, late concessions' (STRATEGY_HELP)."""
    from negotiator.selectors.strategies import strategy_label

    return strategy_label(value or "")


@register.filter
def strategy_help(value: str) -> str:
    from negotiator.selectors.strategies import STRATEGY_HELP

    return STRATEGY_HELP.get(value or "", ("", ""))[1]


@register.filter
def term_list(terms: Any, meta: Any = None) -> list:
    """An offer's terms as labelled, unit-formatted views (formatting.term_views)."""
    from negotiator.selectors.formatting import term_views

    return term_views(terms if isinstance(terms, dict) else {}, meta or {})


def _getter(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


@register.filter
def check_items(checks: Any) -> str:
    """An offer's policy checks as <li> items, built in Python: the negotiation page
    shows 30 offers of ~7 checks each, and this list was most of its render time."""
    items = []
    for c in checks or []:
        get = _getter
        evidence = get(c, "evidence")
        details = ""
        if evidence:
            details = format_html(
                '<details class="evidence"><summary class="small">Evidence</summary>'
                "<pre>{}</pre></details>",
                pretty_json(evidence),
            )
        items.append(
            format_html(
                '<li><span class="badge badge-{}">{}</span> <strong>{}</strong> '
                '<span class="small muted">({})</span>\n<div class="small">{}</div>{}</li>',
                get(c, "outcome"),
                outcome_label(get(c, "outcome")),
                get(c, "name"),
                get(c, "stage"),
                get(c, "message"),
                details,
            )
        )
    return mark_safe("".join(items))  # noqa: S308 - every part went through format_html
