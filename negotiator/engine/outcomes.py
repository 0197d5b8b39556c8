"""Outcome spaces: the negotiable issues, their values, and the fixed terms.

An *outcome* is a tuple with one value per issue, in the space's issue order.
Numeric issues with a step (or integer issues) are discrete; continuous numeric
issues without a step are discretised into ``samples`` evenly spaced values
whenever the space must be enumerated.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import product
from typing import Any

import numpy as np

Value = int | float | str
Outcome = tuple[Value, ...]

_TOLERANCE = 1e-9


@dataclass(frozen=True)
class NumericIssue:
    """A number between ``lower`` and ``upper`` (inclusive), optionally on a step grid."""

    name: str
    lower: float
    upper: float
    step: float | None = None
    integer: bool = False
    unit: str = ""
    samples: int = 11  # grid size used to enumerate a continuous issue

    kind = "numeric"

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("issue name must not be empty")
        if self.upper < self.lower:
            raise ValueError(f"issue '{self.name}': upper {self.upper} below lower {self.lower}")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"issue '{self.name}': step must be positive, got {self.step}")
        if self.samples < 2:
            raise ValueError(f"issue '{self.name}': samples must be at least 2")

    @property
    def is_discrete(self) -> bool:
        return self.step is not None or self.integer

    @cached_property
    def values(self) -> tuple[Value, ...]:
        """Values used when the space is enumerated (ascending)."""
        if self.step is not None or self.integer:
            step = self.step if self.step is not None else 1
            count = int(math.floor((self.upper - self.lower) / step + _TOLERANCE)) + 1
            raw = [self.lower + k * step for k in range(count)]
        else:
            span = self.upper - self.lower
            raw = [self.lower + span * k / (self.samples - 1) for k in range(self.samples)]
            if span == 0:
                raw = [self.lower]
        whole_grid = (
            self.step is not None
            and float(self.lower).is_integer()
            and float(self.step).is_integer()
        )
        if self.integer or whole_grid:
            return tuple(int(round(v)) for v in raw)
        return tuple(round(v, 12) for v in raw)

    def check(self, value: Any) -> str | None:
        """Return a description of what is wrong with ``value``, or None when it is valid."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"'{self.name}' = {value!r} is not a number"
        if isinstance(value, float) and not math.isfinite(value):
            return f"'{self.name}' = {value!r} is not a finite number"
        if value < self.lower - _TOLERANCE or value > self.upper + _TOLERANCE:
            return f"'{self.name}' = {_fmt(value)} out of range [{_fmt(self.lower)}, {_fmt(self.upper)}]"
        if self.integer and not float(value).is_integer():
            return f"'{self.name}' = {_fmt(value)} is not a whole number"
        if self.step is not None:
            k = (value - self.lower) / self.step
            if abs(k - round(k)) > 1e-6:
                return f"'{self.name}' = {_fmt(value)} not on step {_fmt(self.step)} from {_fmt(self.lower)}"
        return None

    def position(self, value: Any) -> int | None:
        """Index of ``value`` in :attr:`values`, or None if it is not on the grid."""
        values = self.values
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if len(values) == 1:
            return 0 if abs(value - values[0]) <= 1e-6 else None
        if self.step is not None or self.integer:
            step = self.step if self.step is not None else 1
            k = round((value - self.lower) / step)
        else:
            k = round((value - self.lower) / (self.upper - self.lower) * (self.samples - 1))
        if 0 <= k < len(values) and abs(values[k] - value) <= 1e-6 * max(1.0, abs(value)):
            return k
        return None


@dataclass(frozen=True)
class CategoricalIssue:
    """One of a set of unordered options."""

    name: str
    options: tuple[str, ...]

    kind = "categorical"

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("issue name must not be empty")
        object.__setattr__(self, "options", tuple(str(o) for o in self.options))
        if not self.options:
            raise ValueError(f"issue '{self.name}' has no options")
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"issue '{self.name}' has duplicate options")

    is_discrete = True

    @property
    def values(self) -> tuple[Value, ...]:
        return self.options

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {o: i for i, o in enumerate(self.options)}

    def check(self, value: Any) -> str | None:
        if not isinstance(value, str) or value not in self._positions:
            return f"'{self.name}' = {value!r} not one of {list(self.options)!r}"
        return None

    def position(self, value: Any) -> int | None:
        return self._positions.get(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class OrdinalIssue(CategoricalIssue):
    """One of a set of options listed from lowest to highest."""

    kind = "ordinal"


Issue = NumericIssue | CategoricalIssue | OrdinalIssue


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def canonical_json(data: Any) -> str:
    """Canonical JSON: sorted keys, compact separators, UTF-8 text kept as is."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fixed_terms_hash(fixed_terms: Mapping[str, Any]) -> str:
    """sha256 hex digest of the canonical JSON of the fixed (non-negotiable) terms."""
    return hashlib.sha256(canonical_json(dict(fixed_terms)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class OutcomeSpace:
    """The negotiable issues, in a fixed order."""

    issues: tuple[Issue, ...]
    _by_name: dict[str, Issue] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "issues", tuple(self.issues))
        if not self.issues:
            raise ValueError("an outcome space needs at least one issue")
        names = [i.name for i in self.issues]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate issue names: {duplicates}")
        object.__setattr__(self, "_by_name", {i.name: i for i in self.issues})

    def __hash__(self) -> int:
        return hash(self.issues)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.issues)

    def issue(self, name: str) -> Issue:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @cached_property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(i.values) for i in self.issues)

    @property
    def cardinality(self) -> int:
        return math.prod(self.sizes)

    @property
    def is_discrete(self) -> bool:
        return all(i.is_discrete for i in self.issues)

    @cached_property
    def _strides(self) -> tuple[int, ...]:
        strides = []
        acc = 1
        for size in reversed(self.sizes):
            strides.append(acc)
            acc *= size
        return tuple(reversed(strides))

    def enumerate(self) -> Iterator[Outcome]:
        """All outcomes (continuous issues discretised), in index order."""
        return product(*(i.values for i in self.issues))

    def value_index(self) -> np.ndarray:
        """(N, n_issues) array: the position of each outcome's value on each issue.

        Row k is outcome k of :meth:`enumerate` (mixed-radix, last issue fastest).
        """
        grids = np.indices(self.sizes, dtype=np.int32)
        return grids.reshape(len(self.issues), -1).T.copy()

    def index_of(self, outcome: Outcome) -> int | None:
        """Index of an outcome tuple in enumeration order, or None if off the grid."""
        if len(outcome) != len(self.issues):
            return None
        index = 0
        for issue, value, stride in zip(self.issues, outcome, self._strides, strict=True):
            pos = issue.position(value)
            if pos is None:
                return None
            index += pos * stride
        return index

    def outcome_at(self, index: int) -> Outcome:
        values = []
        for issue, stride, size in zip(self.issues, self._strides, self.sizes, strict=True):
            values.append(issue.values[(index // stride) % size])
        return tuple(values)

    def outcome_of(self, terms: Mapping[str, Value]) -> Outcome:
        """Terms mapping -> outcome tuple (KeyError if an issue is missing)."""
        return tuple(terms[name] for name in self.names)

    def terms_of(self, outcome: Outcome) -> dict[str, Value]:
        return dict(zip(self.names, outcome, strict=True))

    def sample(self, rng, count: int) -> list[Outcome]:
        """``count`` random outcomes; continuous issues drawn uniformly from their range."""
        out = []
        for _ in range(count):
            values: list[Value] = []
            for issue in self.issues:
                if isinstance(issue, NumericIssue) and not issue.is_discrete:
                    values.append(rng.uniform(issue.lower, issue.upper))
                else:
                    values.append(rng.choice(issue.values))
            out.append(tuple(values))
        return out


def issue_to_dict(issue: Issue) -> dict[str, Any]:
    if isinstance(issue, NumericIssue):
        data: dict[str, Any] = {
            "name": issue.name,
            "type": "numeric",
            "lower": issue.lower,
            "upper": issue.upper,
        }
        if issue.step is not None:
            data["step"] = issue.step
        if issue.integer:
            data["integer"] = True
        if issue.unit:
            data["unit"] = issue.unit
        if not issue.is_discrete:
            data["samples"] = issue.samples
        return data
    return {"name": issue.name, "type": issue.kind, "options": list(issue.options)}


def issue_from_dict(data: Mapping[str, Any]) -> Issue:
    """Build an issue from its dict form (see docs/scenario-format.md). Raises ValueError."""
    if not isinstance(data, Mapping):
        raise ValueError(f"an issue must be an object, got {data!r}")
    kind = data.get("type", "numeric")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"issue without a name: {dict(data)!r}")
    if kind in ("numeric", "integer", "real", "continuous"):
        try:
            lower, upper = data["lower"], data["upper"]
        except KeyError as exc:
            raise ValueError(f"numeric issue '{name}' needs {exc.args[0]!r}") from None
        return NumericIssue(
            name=name,
            lower=lower,
            upper=upper,
            step=data.get("step"),
            integer=bool(data.get("integer", kind == "integer")),
            unit=str(data.get("unit", "")),
            samples=int(data.get("samples", 11)),
        )
    if kind in ("categorical", "ordinal"):
        options = data.get("options")
        if not isinstance(options, list | tuple) or not options:
            raise ValueError(f"{kind} issue '{name}' needs a non-empty 'options' list")
        cls = OrdinalIssue if kind == "ordinal" else CategoricalIssue
        return cls(name=name, options=tuple(options))
    raise ValueError(f"issue '{name}': unknown type {kind!r} (numeric, categorical or ordinal)")
