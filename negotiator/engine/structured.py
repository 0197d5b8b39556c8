"""Structured issues for plans: allocations (an amount split across named items) and
time windows (a start and a length per item), flattened into plain numeric issues.

A plan's structure never reaches the protocols: an allocation ``spend`` over items
``search`` and ``video`` becomes the numeric issues ``spend__search`` and
``spend__video``; a window ``flight`` over the same items becomes
``flight__search__start`` / ``flight__search__length`` and so on. Offers, value
functions and policies address those flat names; :func:`plan_view` groups a flat
terms mapping back into the nested shape CEL rules read as ``plan`` and plan
exports show (``plan.spend.search``, ``plan.spend.total``, ``plan.flight.video.end``).

Windows count in whole periods (weeks, hours): a window covers periods ``start``
to ``end = start + length - 1`` inclusive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .outcomes import NumericIssue, Value

SEPARATOR = "__"


@dataclass(frozen=True)
class Item:
    name: str
    label: str = ""
    lower: int = 0
    upper: int = 0


@dataclass(frozen=True)
class Allocation:
    """An amount split across ``items``, each on a ``step`` grid within its bounds;
    the total must lie in [``total_min``, ``total_max``] (None: unbounded)."""

    name: str
    items: tuple[Item, ...]
    step: int = 1
    unit: str = ""
    label: str = ""
    total_min: int | None = None
    total_max: int | None = None

    kind = "allocation"

    def flat_name(self, item: str) -> str:
        return f"{self.name}{SEPARATOR}{item}"

    def flat_issues(self) -> tuple[NumericIssue, ...]:
        return tuple(
            NumericIssue(
                name=self.flat_name(it.name),
                lower=it.lower,
                upper=it.upper,
                step=self.step,
                integer=True,
                unit=self.unit,
            )
            for it in self.items
        )


@dataclass(frozen=True)
class Window:
    """One time window per item: ``start`` on its grid, ``length`` on its grid, and
    every window must end by ``horizon`` (the last period of the plan)."""

    name: str
    items: tuple[Item, ...]
    start_lower: int
    start_upper: int
    length_lower: int
    length_upper: int
    horizon: int
    start_step: int = 1
    length_step: int = 1
    unit: str = "week"
    label: str = ""

    kind = "window"

    def flat_name(self, item: str, part: str) -> str:
        return f"{self.name}{SEPARATOR}{item}{SEPARATOR}{part}"

    def flat_issues(self) -> tuple[NumericIssue, ...]:
        out = []
        for it in self.items:
            out.append(
                NumericIssue(
                    name=self.flat_name(it.name, "start"),
                    lower=self.start_lower,
                    upper=self.start_upper,
                    step=self.start_step,
                    integer=True,
                    unit=self.unit,
                )
            )
            out.append(
                NumericIssue(
                    name=self.flat_name(it.name, "length"),
                    lower=self.length_lower,
                    upper=self.length_upper,
                    step=self.length_step,
                    integer=True,
                    unit=f"{self.unit}s",
                )
            )
        return tuple(out)


Structured = Allocation | Window


def _int(data: Mapping[str, Any], key: str, where: str, default: Any = ...) -> int:
    value = data.get(key, default)
    if value is ...:
        raise ValueError(f"{where}: '{key}' is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ValueError(f"{where}: '{key}' must be a whole number, got {value!r}")
    return int(value)


def _items(data: Mapping[str, Any], where: str, *, bounded: bool) -> tuple[Item, ...]:
    raw = data.get("items")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: 'items' must be a non-empty list")
    items = []
    for k, entry in enumerate(raw):
        at = f"{where}.items[{k}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping) or not str(entry.get("name", "")).isidentifier():
            raise ValueError(f"{at}: each item needs a 'name' made of letters, digits and _")
        if SEPARATOR in entry["name"]:
            raise ValueError(f"{at}: item names must not contain '{SEPARATOR}'")
        lower = _int(entry, "lower", at) if bounded else 0
        upper = _int(entry, "upper", at) if bounded else 0
        if upper < lower:
            raise ValueError(f"{at}: upper {upper} below lower {lower}")
        items.append(Item(entry["name"], str(entry.get("label", "")), lower, upper))
    names = [it.name for it in items]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: item names must be unique: {names}")
    return tuple(items)


def structured_from_dict(data: Any, *, where: str = "structured") -> Structured:
    """Build an allocation or a window from its playbook form; ValueError names the fault."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected an object")
    name = data.get("name")
    if not isinstance(name, str) or not name.isidentifier() or SEPARATOR in name:
        raise ValueError(f"{where}: 'name' must be an identifier without '{SEPARATOR}'")
    where = f"{where} ({name})"
    kind = data.get("type")
    label = str(data.get("label", ""))
    if kind == "allocation":
        total = data.get("total") or {}
        step = _int(data, "step", where, 1)
        if step < 1:
            raise ValueError(f"{where}: 'step' must be at least 1")
        return Allocation(
            name=name,
            items=_items(data, where, bounded=True),
            step=step,
            unit=str(data.get("unit", "")),
            label=label,
            total_min=_int(total, "min", where, None) if total.get("min") is not None else None,
            total_max=_int(total, "max", where, None) if total.get("max") is not None else None,
        )
    if kind == "window":
        start = data.get("start") or {}
        length = data.get("length") or {}
        window = Window(
            name=name,
            items=_items(data, where, bounded=False),
            start_lower=_int(start, "lower", f"{where}.start"),
            start_upper=_int(start, "upper", f"{where}.start"),
            start_step=_int(start, "step", f"{where}.start", 1),
            length_lower=_int(length, "lower", f"{where}.length"),
            length_upper=_int(length, "upper", f"{where}.length"),
            length_step=_int(length, "step", f"{where}.length", 1),
            horizon=_int(data, "horizon", where),
            unit=str(data.get("unit", "week")),
            label=label,
        )
        if window.start_upper < window.start_lower or window.length_upper < window.length_lower:
            raise ValueError(f"{where}: a range's upper bound is below its lower bound")
        if window.length_lower < 1 or window.start_step < 1 or window.length_step < 1:
            raise ValueError(f"{where}: lengths and steps must be at least 1")
        return window
    raise ValueError(f"{where}: unknown type {kind!r} (allocation or window)")


def structured_list(data: Any, *, where: str = "structured") -> tuple[Structured, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ValueError(f"{where}: expected a list of allocations and windows")
    out = tuple(structured_from_dict(d, where=f"{where}[{k}]") for k, d in enumerate(data))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: names must be unique: {names}")
    return out


def flat_issue_dicts(items: Sequence[Structured]) -> list[dict[str, Any]]:
    """The flat numeric issues of ``items`` in the playbook's issue form."""
    out = []
    for item in items:
        for issue in item.flat_issues():
            label = _flat_label(item, issue.name)
            out.append(
                {
                    "name": issue.name,
                    "label": label,
                    "type": "numeric",
                    "lower": int(issue.lower),
                    "upper": int(issue.upper),
                    "step": int(issue.step or 1),
                    "integer": True,
                    "unit": issue.unit,
                    "structured": item.name,
                }
            )
    return out


def _flat_label(item: Structured, flat: str) -> str:
    parts = flat.split(SEPARATOR)[1:]
    labels = {it.name: it.label or it.name for it in item.items}
    head = item.label or item.name
    return " · ".join([head, labels.get(parts[0], parts[0]), *parts[1:]])


def owner_of(flat_name: str) -> str:
    """The structured issue a flat issue belongs to (the name itself for plain issues)."""
    return flat_name.split(SEPARATOR, 1)[0]


def plan_view(terms: Mapping[str, Value], items: Sequence[Structured]) -> dict[str, Any]:
    """Flat terms → nested plan: allocations get their items and ``total``; windows get
    ``start``, ``length`` and ``end`` per item. Missing flat terms are left out."""
    out: dict[str, Any] = {}
    for item in items:
        if isinstance(item, Allocation):
            group = {
                it.name: terms[item.flat_name(it.name)]
                for it in item.items
                if item.flat_name(it.name) in terms
            }
            if len(group) == len(item.items):
                group["total"] = sum(group.values())
            out[item.name] = group
        else:
            group = {}
            for it in item.items:
                start = terms.get(item.flat_name(it.name, "start"))
                length = terms.get(item.flat_name(it.name, "length"))
                if start is None or length is None:
                    continue
                group[it.name] = {"start": start, "length": length, "end": start + length - 1}
            out[item.name] = group
    return out


def flat_terms(plan: Mapping[str, Any], items: Sequence[Structured]) -> dict[str, Value]:
    """Inverse of :func:`plan_view` for the structured part (``total``/``end`` ignored)."""
    out: dict[str, Value] = {}
    for item in items:
        group = plan.get(item.name) or {}
        for it in item.items:
            if isinstance(item, Allocation):
                if it.name in group:
                    out[item.flat_name(it.name)] = group[it.name]
            elif it.name in group:
                out[item.flat_name(it.name, "start")] = group[it.name]["start"]
                out[item.flat_name(it.name, "length")] = group[it.name]["length"]
    return out


def nested_view(terms: Mapping[str, Value]) -> dict[str, Any]:
    """Flat terms grouped by their ``__`` parts, without the playbook's definitions:
    what CEL rules read as ``plan``. A group of numbers gets its ``total``; a group
    with ``start`` and ``length`` gets its ``end``."""
    out: dict[str, Any] = {}
    for name, value in terms.items():
        parts = name.split(SEPARATOR)
        if len(parts) < 2:
            continue
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    for group in out.values():
        _complete(group)
    return out


def _complete(group: dict[str, Any]) -> None:
    leaves = list(group.values())
    if leaves and all(isinstance(v, int | float) and not isinstance(v, bool) for v in leaves):
        if "start" in group and "length" in group:
            group.setdefault("end", group["start"] + group["length"] - 1)
        else:
            group.setdefault("total", sum(leaves))
        return
    for value in leaves:
        if isinstance(value, dict):
            _complete(value)
