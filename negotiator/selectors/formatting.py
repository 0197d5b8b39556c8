"""Issue labels, units and term values as people read them (shared by every page)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IssueMeta:
    name: str
    label: str
    unit: str = ""
    kind: str = "numeric"


def issue_meta(issues: Iterable[Mapping[str, Any]] | None) -> dict[str, IssueMeta]:
    out = {}
    for item in issues or []:
        name = item.get("name", "")
        out[name] = IssueMeta(
            name=name,
            label=item.get("label") or name.replace("_", " ").capitalize(),
            unit=item.get("unit", ""),
            kind=item.get("type", "numeric"),
        )
    return out


def format_value(value: Any, unit: str = "") -> str:
    if isinstance(value, bool) or value is None:
        text = "—" if value is None else ("yes" if value else "no")
    elif isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            text = f"{value:,.2f}"
        else:
            text = f"{int(value):,}"
    else:
        text = str(value).replace("_", " ")
    if unit and value is not None:
        return f"{text} {unit}"
    return text


@dataclass(frozen=True)
class TermView:
    name: str
    label: str
    text: str
    changed: bool = False


def term_views(
    terms: Mapping[str, Any] | None,
    meta: Mapping[str, IssueMeta],
    previous: Mapping[str, Any] | None = None,
    limit: int | None = None,
) -> list[TermView]:
    items = list((terms or {}).items())
    order = {name: i for i, name in enumerate(meta)}
    items.sort(key=lambda kv: order.get(kv[0], len(order)))
    if limit is not None:
        items = items[:limit]
    out = []
    for name, value in items:
        m = meta.get(name) or IssueMeta(name, name.replace("_", " ").capitalize())
        changed = previous is not None and previous.get(name) != value
        out.append(TermView(name, m.label, format_value(value, m.unit), changed))
    return out


def progress_percent(current: int, maximum: int) -> int:
    if not maximum:
        return 0
    return max(0, min(100, round(100 * current / maximum)))


# Private values and deal measures have no playbook issue to take a unit from:
# names that speak of money take the playbook's currency.
_MONEY_WORDS = ("price", "cost", "budget", "cap", "value", "fee", "amount", "spend")


def label_of(name: str, meta: Mapping[str, IssueMeta] | None = None) -> str:
    """The label people read for an issue or a private value's key."""
    if meta and name in meta:
        return meta[name].label
    return name.replace("_", " ").strip().capitalize()


def unit_of(name: str, meta: Mapping[str, IssueMeta] | None = None, currency: str = "") -> str:
    if meta and name in meta:
        return meta[name].unit
    lowered = name.lower()
    return currency if any(word in lowered for word in _MONEY_WORDS) else ""


def format_named(
    name: str, value: Any, meta: Mapping[str, IssueMeta] | None = None, currency: str = ""
) -> tuple[str, str]:
    """(label, value with unit) for one named term, limit or measure."""
    return label_of(name, meta), format_value(value, unit_of(name, meta, currency))


def format_terms_text(
    terms: Mapping[str, Any] | None, meta: Mapping[str, IssueMeta] | None = None
) -> str:
    """Terms on one line (exports' human-readable column, e-mails): 'Price 93,000 USD · …'."""
    views = term_views(terms, meta or {})
    return " · ".join(f"{v.label} {v.text}" for v in views)
