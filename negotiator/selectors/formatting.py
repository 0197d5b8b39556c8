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
