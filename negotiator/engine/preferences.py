"""Private preference profiles: criteria weights, per-issue value functions, reservation.

Utility is linear-additive: ``u(x) = sum_c W_c * sum_{i in c} w_ci * f_ci(x_i) / sum_{i in c} w_ci``
with every value function in [0, 1] and the criterion weights ``W`` normalised to
sum to 1, so ``u`` lies in [0, 1]. The usual criteria are cost, speed, quality and
risk; any criterion name is accepted (the GENIUS importer uses one per issue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .outcomes import CategoricalIssue, NumericIssue, Outcome, OutcomeSpace, Value

STANDARD_CRITERIA = ("cost", "speed", "quality", "risk")


def _clip01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else float(x)


@dataclass(frozen=True)
class LinearValue:
    """Linear over the issue bounds: 0 at the worst bound, 1 at the best."""

    increasing: bool = True

    def evaluate(self, value: Value, issue: NumericIssue) -> float:
        span = issue.upper - issue.lower
        if span == 0:
            return 1.0
        frac = _clip01((float(value) - issue.lower) / span)
        return frac if self.increasing else 1.0 - frac

    def to_dict(self) -> dict[str, Any]:
        return {"type": "linear", "direction": "increasing" if self.increasing else "decreasing"}


@dataclass(frozen=True)
class PiecewiseLinearValue:
    """Linear interpolation between ``points`` (x ascending, y in [0, 1]); flat outside."""

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        pts = tuple(sorted((float(x), float(y)) for x, y in self.points))
        if len(pts) < 1:
            raise ValueError("a piecewise linear value function needs at least one point")
        if any(not 0.0 <= y <= 1.0 for _, y in pts):
            raise ValueError(f"piecewise linear values must lie in [0, 1]: {pts}")
        object.__setattr__(self, "points", pts)

    def evaluate(self, value: Value, issue: NumericIssue | None = None) -> float:
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        return float(np.interp(float(value), xs, ys))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "piecewise", "points": [list(p) for p in self.points]}


@dataclass(frozen=True)
class TableValue:
    """Option -> value in [0, 1] for categorical and ordinal issues (missing options: 0)."""

    table: Mapping[str, float]

    def __post_init__(self) -> None:
        table = {str(k): float(v) for k, v in dict(self.table).items()}
        bad = {k: v for k, v in table.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"table values must lie in [0, 1]: {bad}")
        object.__setattr__(self, "table", MappingProxyType(table))

    def evaluate(self, value: Value, issue: Any = None) -> float:
        return self.table.get(str(value), 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "table", "values": dict(self.table)}


ValueFunction = LinearValue | PiecewiseLinearValue | TableValue


def value_function_from_dict(data: Mapping[str, Any]) -> ValueFunction:
    kind = data.get("type")
    if kind == "linear":
        direction = data.get("direction", "increasing")
        if direction not in ("increasing", "decreasing"):
            raise ValueError(
                f"linear direction must be increasing or decreasing, got {direction!r}"
            )
        return LinearValue(increasing=direction == "increasing")
    if kind == "piecewise":
        return PiecewiseLinearValue(points=tuple(tuple(p) for p in data.get("points", ())))
    if kind == "table":
        return TableValue(table=data.get("values", {}))
    raise ValueError(f"unknown value function type {kind!r} (linear, piecewise or table)")


@dataclass(frozen=True)
class IssueValue:
    """A value function attached to one issue, with a weight inside its criterion."""

    issue: str
    function: ValueFunction
    weight: float = 1.0


@dataclass(frozen=True)
class PreferenceProfile:
    weights: Mapping[str, float]
    criteria: Mapping[str, tuple[IssueValue, ...]]
    reservation: float = 0.0
    discount: float | None = None
    private_values: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        weights = {str(k): float(v) for k, v in dict(self.weights).items()}
        if any(v < 0 for v in weights.values()):
            raise ValueError(f"criterion weights must not be negative: {weights}")
        total = sum(weights.values())
        if total <= 0:
            raise ValueError("criterion weights must sum to more than 0")
        if abs(total - 1.0) > 1e-12:  # keep already-normalised weights bit-identical
            weights = {k: v / total for k, v in weights.items()}
        criteria = {str(k): tuple(v) for k, v in dict(self.criteria).items()}
        unmapped = sorted(k for k, w in weights.items() if w > 0 and not criteria.get(k))
        if unmapped:
            raise ValueError(f"criteria with weight but no issues: {unmapped}")
        unweighted = sorted(set(criteria) - set(weights))
        if unweighted:
            raise ValueError(f"criteria without a weight: {unweighted}")
        if not 0.0 <= self.reservation <= 1.0:
            raise ValueError(f"reservation must lie in [0, 1], got {self.reservation}")
        if self.discount is not None and not 0.0 < self.discount <= 1.0:
            raise ValueError(f"discount must lie in (0, 1], got {self.discount}")
        object.__setattr__(self, "weights", MappingProxyType(weights))
        object.__setattr__(self, "criteria", MappingProxyType(criteria))
        object.__setattr__(self, "reservation", float(self.reservation))
        object.__setattr__(
            self,
            "private_values",
            MappingProxyType({str(k): v for k, v in dict(self.private_values).items()}),
        )

    def issue_weights(self) -> dict[str, float]:
        """Effective weight of each issue in the overall utility."""
        out: dict[str, float] = {}
        for crit, items in self.criteria.items():
            total = sum(iv.weight for iv in items)
            if total <= 0:
                continue
            for iv in items:
                out[iv.issue] = out.get(iv.issue, 0.0) + self.weights[crit] * iv.weight / total
        return out

    def _terms(self) -> list[tuple[str, ValueFunction, float]]:
        terms = []
        for crit, items in self.criteria.items():
            total = sum(iv.weight for iv in items)
            if total <= 0:
                continue
            for iv in items:
                terms.append((iv.issue, iv.function, self.weights[crit] * iv.weight / total))
        return terms

    def check_space(self, space: OutcomeSpace) -> None:
        """Raise ValueError if the profile names issues the space does not have."""
        unknown = sorted(
            {iv.issue for items in self.criteria.values() for iv in items} - set(space.names)
        )
        if unknown:
            raise ValueError(f"profile refers to unknown issues: {unknown}")
        for items in self.criteria.values():
            for iv in items:
                issue = space.issue(iv.issue)
                if isinstance(iv.function, TableValue) != isinstance(issue, CategoricalIssue):
                    raise ValueError(
                        f"issue '{iv.issue}': {type(iv.function).__name__} does not fit a "
                        f"{issue.kind} issue"
                    )

    def utility(self, terms: Mapping[str, Value], space: OutcomeSpace) -> float:
        """Undiscounted utility in [0, 1] of a terms mapping."""
        total = 0.0
        for issue_name, fn, w in self._terms():
            total += w * fn.evaluate(terms[issue_name], space.issue(issue_name))
        return _clip01(total)

    def discounted(self, utility: float, t: float) -> float:
        """GENIUS-style time discount ``u * d**t`` for relative time ``t`` in [0, 1]."""
        return utility if self.discount is None else utility * self.discount**t

    def utility_array(
        self, space: OutcomeSpace, value_index: np.ndarray | None = None
    ) -> np.ndarray:
        """Utility of every enumerated outcome (index order), as float64 array."""
        per_issue = self.issue_value_tables(space)
        if value_index is None:
            total = np.zeros(space.sizes, dtype=np.float64)
            for axis, table in enumerate(per_issue):
                shape = [1] * len(space.sizes)
                shape[axis] = len(table)
                total = total + table.reshape(shape)
            return np.clip(total.ravel(), 0.0, 1.0)
        total = np.zeros(value_index.shape[0], dtype=np.float64)
        for axis, table in enumerate(per_issue):
            total += table[value_index[:, axis]]
        return np.clip(total, 0.0, 1.0)

    def issue_value_tables(self, space: OutcomeSpace) -> list[np.ndarray]:
        """Per issue, the weighted value of each of its enumerated values."""
        tables = [np.zeros(size, dtype=np.float64) for size in space.sizes]
        position = {name: k for k, name in enumerate(space.names)}
        for issue_name, fn, w in self._terms():
            k = position[issue_name]
            issue = space.issues[k]
            tables[k] += w * np.array([fn.evaluate(v, issue) for v in issue.values])
        return tables

    def outcome_utility(self, outcome: Outcome, space: OutcomeSpace) -> float:
        return self.utility(space.terms_of(outcome), space)


def profile_to_dict(profile: PreferenceProfile) -> dict[str, Any]:
    return {
        "weights": dict(profile.weights),
        "criteria": {
            crit: [
                {"issue": iv.issue, "function": iv.function.to_dict(), "weight": iv.weight}
                for iv in items
            ]
            for crit, items in profile.criteria.items()
        },
        "reservation": profile.reservation,
        "discount": profile.discount,
        "private_values": dict(profile.private_values),
    }


def profile_from_dict(data: Mapping[str, Any]) -> PreferenceProfile:
    """Inverse of :func:`profile_to_dict`. Raises ValueError naming the bad part."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a profile must be an object, got {type(data).__name__}")
    if "weights" not in data or "criteria" not in data:
        raise ValueError("a profile needs 'weights' and 'criteria'")
    criteria: dict[str, tuple[IssueValue, ...]] = {}
    for crit, items in dict(data["criteria"]).items():
        if not isinstance(items, Sequence) or isinstance(items, str):
            raise ValueError(f"criterion '{crit}' must list issue value functions")
        built = []
        for item in items:
            if not isinstance(item, Mapping) or "issue" not in item or "function" not in item:
                raise ValueError(f"criterion '{crit}': each entry needs 'issue' and 'function'")
            try:
                fn = value_function_from_dict(item["function"])
            except ValueError as exc:
                raise ValueError(f"criterion '{crit}', issue '{item['issue']}': {exc}") from None
            built.append(
                IssueValue(
                    issue=str(item["issue"]), function=fn, weight=float(item.get("weight", 1.0))
                )
            )
        criteria[str(crit)] = tuple(built)
    discount = data.get("discount")
    return PreferenceProfile(
        weights=dict(data["weights"]),
        criteria=criteria,
        reservation=float(data.get("reservation", 0.0)),
        discount=None if discount is None else float(discount),
        private_values=dict(data.get("private_values") or {}),
    )
