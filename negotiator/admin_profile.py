"""The structured editor for a role's private preference profile: criteria weights
with their normalised share, one row per issue valuation (with a value table per
option or points for a curve), the reservation value explained, and private
values. The JSON view stays available and round-trips with these fields."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput
from django.template import loader
from django.utils.safestring import mark_safe

from negotiator.forms import BoundedJSONField

FUNCTIONS = [
    ("linear_increasing", "more is better (linear)"),
    ("linear_decreasing", "less is better (linear)"),
    ("table", "value per option (table)"),
    ("piecewise", "curve through points"),
]
PROFILE_KEYS = {"weights", "criteria", "reservation", "discount", "private_values"}
SPARE_CRITERIA, SPARE_VALUATIONS, SPARE_PRIVATE, SPARE_POINTS = 1, 2, 2, 1
MAX_PAIRS = 200  # rows of one value table or curve read back from a form


def _num(text: str) -> float | int | str:
    """A number when the text is one (int when whole), else the text."""
    try:
        value = float(text)
    except ValueError:
        return text
    return (
        int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    )


def representable(profile: Any) -> bool:
    """True when the fields can show every part of the profile (else JSON is shown)."""
    if not isinstance(profile, dict) or set(profile) - PROFILE_KEYS:
        return False
    for items in (profile.get("criteria") or {}).values():
        for item in items if isinstance(items, list) else [None]:
            if not isinstance(item, dict) or set(item) - {"issue", "function", "weight"}:
                return False
            if (item.get("function") or {}).get("type") not in ("linear", "table", "piecewise"):
                return False
    return isinstance(profile.get("weights", {}), dict)


def _function_key(function: dict[str, Any]) -> str:
    if function.get("type") == "linear":
        return f"linear_{function.get('direction', 'increasing')}"
    return str(function.get("type", "linear_increasing"))


def editor_rows(profile: dict[str, Any], issues: list[dict[str, Any]]) -> dict[str, Any]:
    """The profile as rows for the template (with spare blank rows)."""
    weights = profile.get("weights") or {}
    criteria = profile.get("criteria") or {}
    names = list(weights) + [c for c in criteria if c not in weights]
    total = sum(float(w) for w in weights.values() if isinstance(w, int | float)) or 0.0
    crit_rows = [
        {"name": c, "weight": weights.get(c, ""), "share": _share(weights.get(c), total)}
        for c in names
    ] + [{"name": "", "weight": "", "share": ""}] * SPARE_CRITERIA
    options = {i["name"]: [str(o) for o in i.get("options", [])] for i in issues}
    valuations = []
    for criterion, items in criteria.items():
        for item in items:
            function = item.get("function") or {}
            valuations.append(
                {
                    "criterion": criterion,
                    "issue": item.get("issue", ""),
                    "function": _function_key(function),
                    "weight": item.get("weight", ""),
                    "pairs": _pairs(function, options.get(item.get("issue"), [])),
                }
            )
    blank = {
        "criterion": "",
        "issue": "",
        "function": "",
        "weight": "",
        "pairs": [("", "")] * 3,
    }
    private = list((profile.get("private_values") or {}).items()) + [("", "")] * SPARE_PRIVATE
    return {
        "criteria": crit_rows,
        "valuations": valuations + [blank] * SPARE_VALUATIONS,
        "reservation": profile.get("reservation", ""),
        "discount": profile.get("discount", ""),
        "private": private,
    }


def _pairs(function: dict[str, Any], options: list[str]) -> list[tuple[Any, Any]]:
    """Rows of the value table (option, value) or the curve (x, y), plus a spare row."""
    if function.get("type") == "piecewise":
        rows = [tuple(p) for p in function.get("points", [])]
    else:
        table = dict(function.get("values") or {})
        for option in options:
            table.setdefault(option, "")
        rows = list(table.items())
    return rows + [("", "")] * SPARE_POINTS


def _share(weight: Any, total: float) -> str:
    if not isinstance(weight, int | float) or total <= 0:
        return ""
    return f"{weight / total:.0%}"


def _indexed(data, prefix: str) -> list[int]:
    """Row indexes present in the POST for a row prefix, e.g. name__v3_issue -> 3."""
    found = set()
    for key in data:
        if key.startswith(prefix):
            head = key[len(prefix) :].split("_", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)


def profile_from_post(data, name: str) -> dict[str, Any]:
    """Read the editor's fields back into a profile document."""
    get = lambda key: (data.get(f"{name}__{key}") or "").strip()  # noqa: E731
    weights: dict[str, Any] = {}
    for i in _indexed(data, f"{name}__c"):
        crit, weight = get(f"c{i}_name"), get(f"c{i}_weight")
        if crit:
            weights[crit] = _num(weight) if weight else 0
    criteria: dict[str, list[dict[str, Any]]] = {}
    for j in _indexed(data, f"{name}__v"):
        issue, crit = get(f"v{j}_issue"), get(f"v{j}_criterion")
        if not issue:
            continue
        item: dict[str, Any] = {"issue": issue, "function": _function_from_post(get, j)}
        weight = get(f"v{j}_weight")
        if weight:
            item["weight"] = _num(weight)
        criteria.setdefault(crit or "value", []).append(item)
    profile: dict[str, Any] = {"weights": weights, "criteria": criteria}
    reservation = get("reservation")
    profile["reservation"] = _num(reservation) if reservation else 0.0
    if get("discount"):
        profile["discount"] = _num(get("discount"))
    private = {}
    for i in _indexed(data, f"{name}__pv"):
        key = get(f"pv{i}_key")
        if key:
            private[key] = _num(get(f"pv{i}_value"))
    if private:
        profile["private_values"] = private
    return profile


def _function_from_post(get, j: int) -> dict[str, Any]:
    kind = get(f"v{j}_function") or "linear_increasing"
    if kind.startswith("linear_"):
        return {"type": "linear", "direction": kind.removeprefix("linear_")}
    rows = sorted({k for k in range(MAX_PAIRS) if get(f"v{j}_r{k}_key") or get(f"v{j}_r{k}_value")})
    if kind == "table":
        return {
            "type": "table",
            "values": {
                get(f"v{j}_r{k}_key"): _num(get(f"v{j}_r{k}_value"))
                for k in rows
                if get(f"v{j}_r{k}_key")
            },
        }
    points = [
        [_num(get(f"v{j}_r{k}_key")), _num(get(f"v{j}_r{k}_value"))]
        for k in rows
        if get(f"v{j}_r{k}_key") and get(f"v{j}_r{k}_value")
    ]
    return {"type": "piecewise", "points": points}


class ProfileWidget(forms.Textarea):
    """Fields for a profile, with the JSON textarea as the advanced view."""

    template_name = "admin/negotiator/widgets/profile.html"
    issues: list[dict[str, Any]] = []

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"rows": 10, "class": "code-box", **(attrs or {})})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        try:
            profile = json.loads(value) if isinstance(value, str) and value.strip() else {}
        except ValueError:
            profile = None
        fields_ok = profile is not None and representable(profile)
        context["widget"]["editor"] = {
            "mode": "fields" if fields_ok else "json",
            "rows": editor_rows(profile if fields_ok else {}, self.issues),
            "functions": FUNCTIONS,
            "issues": self.issues,
            "base": name,
        }
        return context

    def _render(self, template_name, context, renderer=None):
        # The project's template engine (the form renderer only sees app templates).
        return mark_safe(loader.render_to_string(template_name, context))

    def value_from_datadict(self, data, files, name: str) -> Any:
        if data.get(f"{name}__mode") == "fields":
            return json.dumps(profile_from_post(data, name))
        return super().value_from_datadict(data, files, name)


class ProfileField(BoundedJSONField):
    widget = ProfileWidget

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=1)
