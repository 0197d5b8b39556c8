"""Hard constraints of a plan, proved with OR-Tools CP-SAT and re-checked in plain Python.

A playbook declares constraints over its structured issues (see ``structured``);
each allocation's total bounds and each window's horizon are added as constraints
of their own. Three uses:

* :func:`prove_feasible` before a negotiation starts: CP-SAT finds a plan that
  meets every constraint (the witness), or the space is infeasible and the answer
  is a *minimal* conflicting set — the solver's infeasibility core over one
  assumption literal per constraint, shrunk by deletion until dropping any one
  member makes the rest feasible — listed in words.
* :func:`offer_check` on every counteroffer: constraints that are linear and
  simple are checked by plain arithmetic (the fast path); the rest (per-period
  capacity, where a window decides which periods an amount loads) by CP-SAT with
  the offer's values fixed.
* :func:`certify` at the end: the solver's status for the agreed plan, and an
  independent re-check of every constraint by plain Python (:func:`recheck`),
  which shares no code with the CP-SAT encoding.

The solver runs single-threaded with a fixed seed, so every answer is the same
on every run and machine load never changes a verdict.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .outcomes import OutcomeSpace, canonical_json
from .structured import Allocation, Structured, Window

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

SOLVER_NAME = "OR-Tools CP-SAT"
KINDS = (
    "total",
    "item_range",
    "exclusion",
    "window_range",
    "precedence",
    "lead_time",
    "capacity",
    "linear",
)
# Checked by arithmetic on every counteroffer; the others need the solver.
LINEAR_KINDS = frozenset(KINDS) - {"capacity"}
SOLVER_TIME_LIMIT_S = 10.0  # a guard only; verdicts come from the deterministic search


@dataclass(frozen=True)
class Constraint:
    id: str
    kind: str
    params: Mapping[str, Any]
    text: str = ""  # in words; generated when the playbook gives none
    category: str = ""  # budget, capacity, brand_safety, sla, schedule, ...


@dataclass(frozen=True)
class ConstraintSystem:
    space: OutcomeSpace
    structured: tuple[Structured, ...]
    constraints: tuple[Constraint, ...]
    fixed_terms: Mapping[str, Any] = field(default_factory=dict)

    def item(self, name: str) -> Structured:
        for s in self.structured:
            if s.name == name:
                return s
        raise KeyError(name)

    def only(self, ids: Sequence[str]) -> ConstraintSystem:
        keep = set(ids)
        kept = tuple(c for c in self.constraints if c.id in keep)
        return ConstraintSystem(self.space, self.structured, kept, self.fixed_terms)


# --- reading a playbook ----------------------------------------------------------------------


def system_from_dict(
    data: Any,
    *,
    space: OutcomeSpace,
    structured: Sequence[Structured],
    fixed_terms: Mapping[str, Any] | None = None,
) -> ConstraintSystem:
    """Declared constraints plus the implied ones; ValueError names the faulty entry."""
    if data is None:
        data = []
    if not isinstance(data, list):
        raise ValueError("constraints: expected a list")
    built = list(_implied(structured))
    for k, entry in enumerate(data):
        where = f"constraints[{k}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: expected an object")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ValueError(f"{where}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
        cid = str(entry.get("id") or f"{kind}-{k + 1}")
        params = {k2: v for k2, v in entry.items() if k2 not in ("id", "kind", "text", "category")}
        built.append(
            Constraint(
                cid, kind, params, str(entry.get("text", "")), str(entry.get("category", ""))
            )
        )
    system = ConstraintSystem(space, tuple(structured), tuple(built), dict(fixed_terms or {}))
    ids = [c.id for c in built]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"constraints: duplicate ids {duplicates}")
    for c in built:
        problem = _reference_problem(system, c)
        if problem:
            raise ValueError(f"constraint '{c.id}': {problem}")
    words = tuple(
        c if c.text else Constraint(c.id, c.kind, c.params, describe(system, c), c.category)
        for c in built
    )
    return ConstraintSystem(space, tuple(structured), words, system.fixed_terms)


def _implied(structured: Sequence[Structured]) -> list[Constraint]:
    out = []
    for s in structured:
        if isinstance(s, Allocation) and (s.total_min is not None or s.total_max is not None):
            params = {"allocation": s.name, "min": s.total_min, "max": s.total_max}
            out.append(Constraint(f"{s.name}.total", "total", params, "", "budget"))
        if isinstance(s, Window):
            params = {"window": s.name, "latest_end": s.horizon}
            out.append(Constraint(f"{s.name}.horizon", "window_range", params, "", "schedule"))
    return out


def _reference_problem(system: ConstraintSystem, c: Constraint) -> str:
    p = c.params
    for key, want in (
        ("allocation", Allocation),
        ("window", Window),
        ("units", Allocation),
    ):
        if key in p and p[key] is not None:
            try:
                found = system.item(p[key])
            except KeyError:
                return f"'{key}' names no structured issue {p[key]!r}"
            if not isinstance(found, want):
                return f"'{key}' {p[key]!r} is not a {want.kind}"
    owner = p.get("allocation") or p.get("window")
    for key in ("item", "before", "after"):
        if p.get(key) is not None and owner:
            names = {it.name for it in system.item(owner).items}
            if p[key] not in names:
                return f"'{key}' {p[key]!r} is not an item of {owner} ({', '.join(sorted(names))})"
    if c.kind == "linear":
        unknown = [n for n in (p.get("terms") or {}) if n not in system.space]
        if unknown or not p.get("terms"):
            return f"'terms' must map known issues to coefficients (unknown: {unknown})"
        if p.get("op") not in ("<=", ">=", "=="):
            return "'op' must be <=, >= or =="
    if c.kind == "capacity" and not isinstance(p.get("capacity"), int):
        return "'capacity' must be a whole number"
    return ""


def _fmt(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) else str(x)


def _label(system: ConstraintSystem, owner: str, item: str | None) -> str:
    s = system.item(owner)
    head = s.label or s.name
    if item is None:
        return head
    labels = {it.name: it.label or it.name for it in s.items}
    return f"{head} for {labels.get(item, item)}"


def describe(system: ConstraintSystem, c: Constraint) -> str:
    """The constraint in words, as a person reads it in a conflict set."""
    p = c.params
    if c.kind == "total":
        s = system.item(p["allocation"])
        unit = f" {s.unit}" if s.unit else ""
        parts = [f"at least {_fmt(p['min'])}" if p.get("min") is not None else ""]
        parts.append(f"at most {_fmt(p['max'])}" if p.get("max") is not None else "")
        return f"total {s.label or s.name} {' and '.join(x for x in parts if x)}{unit}"
    if c.kind == "item_range":
        s = system.item(p["allocation"])
        unit = f" {s.unit}" if s.unit else ""
        parts = [f"at least {_fmt(p['min'])}" if p.get("min") is not None else ""]
        parts.append(f"at most {_fmt(p['max'])}" if p.get("max") is not None else "")
        text = " and ".join(x for x in parts if x)
        return f"{_label(system, p['allocation'], p['item'])} {text}{unit}"
    if c.kind == "exclusion":
        cond = p.get("when") or {}
        why = " when " + ", ".join(f"{k} is {v!r}" for k, v in cond.items()) if cond else ""
        return f"no {_label(system, p['allocation'], p['item'])}{why}"
    if c.kind == "window_range":
        s = system.item(p["window"])
        parts = [
            f"start in {s.unit} {p['earliest_start']} or later"
            if p.get("earliest_start") is not None
            else ""
        ]
        parts.append(
            f"end by {s.unit} {p['latest_end']}" if p.get("latest_end") is not None else ""
        )
        which = (
            _label(system, p["window"], p.get("item"))
            if p.get("item")
            else f"every {s.label or s.name}"
        )
        return f"{which} must {' and '.join(x for x in parts if x)}"
    if c.kind == "precedence":
        s = system.item(p["window"])
        gap = int(p.get("gap", 0))
        after = _label(system, p["window"], p["after"])
        before = _label(system, p["window"], p["before"])
        if p.get("anchor", "start") == "end":
            return f"{after} starts at least {gap} {s.unit}(s) after {before} ends"
        return f"{after} starts at least {gap} {s.unit}(s) after {before} starts"
    if c.kind == "lead_time":
        s = system.item(p["window"])
        which = (
            _label(system, p["window"], p.get("item"))
            if p.get("item")
            else f"every {s.label or s.name}"
        )
        base = int(p.get("ready", 1)) + int(p.get("weeks", 0))
        per = p.get("per_unit")
        tail = f" plus {per} {s.unit}(s) per unit of {p['units']}" if per and p.get("units") else ""
        return f"{which} starts no earlier than {s.unit} {base}{tail} (lead time)"
    if c.kind == "capacity":
        s = system.item(p["window"])
        what = (
            f"{p['units']} in flight" if p.get("units") else f"{s.label or s.name}s running at once"
        )
        extra = ""
        if p.get("by_period"):
            extra = " (" + ", ".join(f"{s.unit} {k}: {v}" for k, v in p["by_period"].items()) + ")"
        resource = p.get("resource") or "capacity"
        return f"{resource}: at most {p['capacity']} {what} in any {s.unit}{extra}"
    terms = " + ".join(f"{v}×{k}" for k, v in p["terms"].items())
    return f"{terms} {p['op']} {_fmt(p['rhs'])}"


# --- plain-Python re-check (independent of the solver) ------------------------------------------


@dataclass(frozen=True)
class Check:
    constraint: Constraint
    holds: bool
    detail: str


def _starts(system: ConstraintSystem, window: str, terms: Mapping[str, Any], items=None):
    w = system.item(window)
    assert isinstance(w, Window)
    names = [it.name for it in w.items] if items is None else list(items)
    return {
        n: (int(terms[w.flat_name(n, "start")]), int(terms[w.flat_name(n, "length")]))
        for n in names
    }


def _applies(system: ConstraintSystem, c: Constraint) -> bool:
    cond = c.params.get("when") or {}
    return all(system.fixed_terms.get(k) == v for k, v in cond.items())


def check_one(system: ConstraintSystem, c: Constraint, terms: Mapping[str, Any]) -> Check:
    """Evaluate one constraint against a plan's flat terms by plain arithmetic."""
    p = c.params
    if c.kind == "total":
        a = system.item(p["allocation"])
        total = sum(int(terms[a.flat_name(it.name)]) for it in a.items)
        ok = (p.get("min") is None or total >= p["min"]) and (
            p.get("max") is None or total <= p["max"]
        )
        return Check(c, ok, f"total {_fmt(total)}")
    if c.kind == "item_range":
        v = int(terms[system.item(p["allocation"]).flat_name(p["item"])])
        ok = (p.get("min") is None or v >= p["min"]) and (p.get("max") is None or v <= p["max"])
        return Check(c, ok, f"{p['item']} {_fmt(v)}")
    if c.kind == "exclusion":
        v = int(terms[system.item(p["allocation"]).flat_name(p["item"])])
        if not _applies(system, c):
            return Check(c, True, "does not apply to these fixed terms")
        return Check(c, v == 0, f"{p['item']} {_fmt(v)}")
    if c.kind == "window_range":
        items = [p["item"]] if p.get("item") else None
        spans = _starts(system, p["window"], terms, items)
        bad = [
            n
            for n, (s, ln) in spans.items()
            if (p.get("earliest_start") is not None and s < p["earliest_start"])
            or (p.get("latest_end") is not None and s + ln - 1 > p["latest_end"])
        ]
        text = ", ".join(f"{n} {s}–{s + ln - 1}" for n, (s, ln) in spans.items())
        return Check(c, not bad, text + (f"; outside: {', '.join(bad)}" if bad else ""))
    if c.kind == "precedence":
        spans = _starts(system, p["window"], terms, [p["before"], p["after"]])
        (bs, bl), (a_s, _) = spans[p["before"]], spans[p["after"]]
        anchor = bs + bl if p.get("anchor", "start") == "end" else bs
        need = anchor + int(p.get("gap", 0))
        return Check(c, a_s >= need, f"{p['after']} starts {a_s}, needs {need} or later")
    if c.kind == "lead_time":
        return _check_lead_time(system, c, terms)
    if c.kind == "capacity":
        return _check_capacity(system, c, terms)
    total = sum(float(coef) * float(terms[name]) for name, coef in p["terms"].items())
    rhs = float(p["rhs"])
    ok = {"<=": total <= rhs, ">=": total >= rhs, "==": math.isclose(total, rhs)}[p["op"]]
    return Check(c, ok, f"left side {total:g}")


def _check_lead_time(system: ConstraintSystem, c: Constraint, terms: Mapping[str, Any]) -> Check:
    p = c.params
    items = [p["item"]] if p.get("item") else None
    spans = _starts(system, p["window"], terms, items)
    units = system.item(p["units"]) if p.get("units") else None
    bad, parts = [], []
    for n, (s, _) in spans.items():
        need = int(p.get("ready", 1)) + int(p.get("weeks", 0))
        if units is not None and p.get("per_unit"):
            need += int(p["per_unit"]) * int(terms[units.flat_name(n)])
        parts.append(f"{n} starts {s} (earliest {need})")
        if s < need:
            bad.append(n)
    return Check(c, not bad, "; ".join(parts))


def period_loads(
    system: ConstraintSystem, c: Constraint, terms: Mapping[str, Any]
) -> dict[int, int]:
    """Per period, the load a capacity constraint counts under a plan."""
    p = c.params
    w = system.item(p["window"])
    assert isinstance(w, Window)
    first, last = p.get("periods") or (1, w.horizon)
    units = system.item(p["units"]) if p.get("units") else None
    loads = dict.fromkeys(range(int(first), int(last) + 1), 0)
    for it in w.items:
        s = int(terms[w.flat_name(it.name, "start")])
        ln = int(terms[w.flat_name(it.name, "length")])
        amount = int(terms[units.flat_name(it.name)]) if units is not None else 1
        for period in range(s, s + ln):
            if period in loads:
                loads[period] += amount
    return loads


def _cap(c: Constraint, period: int) -> int:
    by_period = c.params.get("by_period") or {}
    return int(by_period.get(str(period), c.params["capacity"]))


def _check_capacity(system: ConstraintSystem, c: Constraint, terms: Mapping[str, Any]) -> Check:
    loads = period_loads(system, c, terms)
    over = [k for k, load in loads.items() if load > _cap(c, k)]
    peak = max(loads, key=lambda k: (loads[k], -k)) if loads else 0
    unit = system.item(c.params["window"]).unit
    detail = f"peak {loads.get(peak, 0)} of {_cap(c, peak)} in {unit} {peak}"
    if over:
        detail += f"; over in {unit}(s) {', '.join(map(str, over))}"
    return Check(c, not over, detail)


def recheck(system: ConstraintSystem, terms: Mapping[str, Any]) -> tuple[Check, ...]:
    """Every constraint checked by plain Python against a plan's flat terms."""
    return tuple(check_one(system, c, terms) for c in system.constraints)


# --- CP-SAT ----------------------------------------------------------------------------------


def _cp_model():
    """OR-Tools' CP-SAT module, imported on first use: it loads pandas, about 0.7 s of
    every process start (each web worker, Celery worker and manage.py command) that
    most never need."""
    from ortools.sat.python import cp_model

    return cp_model


def _new_solver() -> cp_model.CpSolver:
    solver = _cp_model().CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = SOLVER_TIME_LIMIT_S
    # These models are small: presolve and symmetry detection cost more than they
    # save (150 ms → 50 ms a solve here), and without presolve the infeasibility
    # core refers to the assumption literals as posted.
    solver.parameters.cp_model_presolve = False
    solver.parameters.symmetry_level = 0
    return solver


def _variables(model: cp_model.CpModel, system: ConstraintSystem, fixed=None):
    out = {}
    for issue in system.space.issues:
        if issue.kind != "numeric":
            continue  # categorical issues carry no hard constraints here
        if fixed is not None and issue.name in fixed:
            value = int(fixed[issue.name])
            out[issue.name] = model.new_int_var(value, value, issue.name)
            continue
        values = [int(v) for v in issue.values]
        out[issue.name] = model.new_int_var_from_domain(
            _cp_model().Domain.from_values(values), issue.name
        )
    return out


def _post(model, system: ConstraintSystem, c: Constraint, v, lit) -> None:
    """Encode one constraint, enforced by ``lit`` (its assumption literal)."""
    p = c.params
    if c.kind == "total":
        a = system.item(p["allocation"])
        total = sum(v[a.flat_name(it.name)] for it in a.items)
        if p.get("min") is not None:
            model.add(total >= p["min"]).only_enforce_if(lit)
        if p.get("max") is not None:
            model.add(total <= p["max"]).only_enforce_if(lit)
    elif c.kind == "item_range":
        x = v[system.item(p["allocation"]).flat_name(p["item"])]
        if p.get("min") is not None:
            model.add(x >= p["min"]).only_enforce_if(lit)
        if p.get("max") is not None:
            model.add(x <= p["max"]).only_enforce_if(lit)
    elif c.kind == "exclusion":
        if _applies(system, c):
            model.add(v[system.item(p["allocation"]).flat_name(p["item"])] == 0).only_enforce_if(
                lit
            )
    elif c.kind == "window_range":
        w = system.item(p["window"])
        for n in [p["item"]] if p.get("item") else [it.name for it in w.items]:
            s, ln = v[w.flat_name(n, "start")], v[w.flat_name(n, "length")]
            if p.get("earliest_start") is not None:
                model.add(s >= p["earliest_start"]).only_enforce_if(lit)
            if p.get("latest_end") is not None:
                model.add(s + ln - 1 <= p["latest_end"]).only_enforce_if(lit)
    elif c.kind == "precedence":
        w = system.item(p["window"])
        before = v[w.flat_name(p["before"], "start")]
        if p.get("anchor", "start") == "end":
            before = before + v[w.flat_name(p["before"], "length")]
        after = v[w.flat_name(p["after"], "start")]
        model.add(after >= before + int(p.get("gap", 0))).only_enforce_if(lit)
    elif c.kind == "lead_time":
        w = system.item(p["window"])
        units = system.item(p["units"]) if p.get("units") else None
        for n in [p["item"]] if p.get("item") else [it.name for it in w.items]:
            need = int(p.get("ready", 1)) + int(p.get("weeks", 0))
            extra = 0
            if units is not None and p.get("per_unit"):
                extra = int(p["per_unit"]) * v[units.flat_name(n)]
            model.add(v[w.flat_name(n, "start")] >= need + extra).only_enforce_if(lit)
    elif c.kind == "capacity":
        _post_capacity(model, system, c, v, lit)
    else:
        lhs = sum(int(coef) * v[name] for name, coef in p["terms"].items())
        rhs = int(p["rhs"])
        rel = {"<=": lhs <= rhs, ">=": lhs >= rhs, "==": lhs == rhs}[p["op"]]
        model.add(rel).only_enforce_if(lit)


def _post_capacity(model, system: ConstraintSystem, c: Constraint, v, lit) -> None:
    p = c.params
    w = system.item(p["window"])
    first, last = p.get("periods") or (1, w.horizon)
    units = system.item(p["units"]) if p.get("units") else None
    for period in range(int(first), int(last) + 1):
        load = []
        for it in w.items:
            s, ln = v[w.flat_name(it.name, "start")], v[w.flat_name(it.name, "length")]
            started = model.new_bool_var(f"{c.id}.{it.name}.{period}.started")
            model.add(s <= period).only_enforce_if(started)
            model.add(s > period).only_enforce_if(started.Not())
            running = model.new_bool_var(f"{c.id}.{it.name}.{period}.running")
            model.add(s + ln - 1 >= period).only_enforce_if(running)
            model.add(s + ln - 1 < period).only_enforce_if(running.Not())
            active = model.new_bool_var(f"{c.id}.{it.name}.{period}.active")
            model.add_multiplication_equality(active, [started, running])
            if units is None:
                load.append(active)
                continue
            x = v[units.flat_name(it.name)]
            amount = model.new_int_var(0, _upper(units), f"{c.id}.{it.name}.{period}.amount")
            model.add(amount == x).only_enforce_if(active)
            model.add(amount == 0).only_enforce_if(active.Not())
            load.append(amount)
        model.add(sum(load) <= _cap(c, period)).only_enforce_if(lit)


def _upper(a: Allocation) -> int:
    return max(it.upper for it in a.items)


def _distance(model, system: ConstraintSystem, v, name: str, goal: float):
    issue = system.space.issue(name)
    step = int(getattr(issue, "step", None) or 1)
    gap = model.new_int_var(0, int(issue.upper - issue.lower) // step + 1, f"gap:{name}")
    goal_steps = round((goal - issue.lower) / step)
    model.add(step * gap >= v[name] - int(issue.lower) - goal_steps * step)
    model.add(step * gap >= int(issue.lower) + goal_steps * step - v[name])
    return gap


def centre(system: ConstraintSystem) -> dict[str, float]:
    """The middle of every numeric issue's range: where a mediator's first text aims."""
    return {i.name: (i.lower + i.upper) / 2 for i in system.space.issues if i.kind == "numeric"}


@dataclass(frozen=True)
class Solve:
    status: str  # OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, MODEL_INVALID
    values: dict[str, int] | None
    core: tuple[str, ...]  # constraint ids the solver named as sufficient for infeasibility


def solve(
    system: ConstraintSystem,
    *,
    fixed: Mapping[str, Any] | None = None,
    target: Mapping[str, float] | None = None,
) -> Solve:
    """One CP-SAT solve with every constraint behind an assumption literal. With
    ``target`` the solver looks for the feasible plan nearest to it (in grid steps)."""
    cp_model = _cp_model()
    model = cp_model.CpModel()
    v = _variables(model, system, fixed)
    if target:
        model.minimize(
            sum(_distance(model, system, v, name, goal) for name, goal in target.items())
        )
    literals = {}
    for c in system.constraints:
        lit = model.new_bool_var(f"assume:{c.id}")
        literals[lit.Index()] = c.id
        _post(model, system, c, v, lit)
    model.add_assumptions([model.get_bool_var_from_proto_index(i) for i in literals])
    solver = _new_solver()
    code = solver.solve(model)
    status = solver.status_name(code)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solve(status, {n: int(solver.value(x)) for n, x in v.items()}, ())
    core: tuple[str, ...] = ()
    if code == cp_model.INFEASIBLE:
        core = tuple(
            literals[i] for i in solver.sufficient_assumptions_for_infeasibility() if i in literals
        )
    return Solve(status, None, core)


@dataclass(frozen=True)
class FeasibilityReport:
    feasible: bool
    status: str
    witness: dict[str, int] | None = None
    conflict: tuple[Constraint, ...] = ()

    def conflict_words(self) -> list[str]:
        return [c.text for c in self.conflict]

    def to_dict(self) -> dict[str, Any]:
        return {
            "feasible": self.feasible,
            "status": self.status,
            "solver": SOLVER_NAME,
            "witness": self.witness,
            "conflict": [
                {"id": c.id, "kind": c.kind, "text": c.text, "category": c.category}
                for c in self.conflict
            ],
        }


def minimal_conflict(system: ConstraintSystem, core: Sequence[str]) -> tuple[str, ...]:
    """Shrink an infeasible set by deletion: the result is infeasible and dropping any
    one member makes it feasible (within the issues' own ranges)."""
    members = list(core) or [c.id for c in system.constraints]
    k = 0
    while k < len(members):
        trial = members[:k] + members[k + 1 :]
        if solve(system.only(trial)).status == "INFEASIBLE":
            members = trial
        else:
            k += 1
    return tuple(members)


def prove_feasible(
    system: ConstraintSystem, *, target: Mapping[str, float] | None = None
) -> FeasibilityReport:
    """A witness plan (the one nearest ``target`` when given), or a minimal set of
    conflicting constraints (in words)."""
    result = solve(system, target=target)
    if result.values is not None:
        return FeasibilityReport(True, result.status, result.values)
    if result.status != "INFEASIBLE":
        return FeasibilityReport(False, result.status)
    ids = minimal_conflict(system, result.core)
    by_id = {c.id: c for c in system.constraints}
    return FeasibilityReport(False, result.status, None, tuple(by_id[i] for i in ids))


@dataclass(frozen=True)
class OfferCheck:
    ok: bool
    violations: tuple[Check, ...]
    fast_path: tuple[str, ...]  # ids checked by arithmetic
    solver_path: tuple[str, ...]  # ids checked by CP-SAT with the offer's values fixed
    solver_status: str | None = None


def offer_check(system: ConstraintSystem, terms: Mapping[str, Any]) -> OfferCheck:
    """Check one counteroffer: linear constraints by arithmetic, the rest by CP-SAT."""
    fast = [c for c in system.constraints if c.kind in LINEAR_KINDS]
    slow = [c for c in system.constraints if c.kind not in LINEAR_KINDS]
    violations = [chk for chk in (check_one(system, c, terms) for c in fast) if not chk.holds]
    status = None
    if slow:
        plan = {n: terms[n] for n in system.space.names if n in terms}
        result = solve(system.only([c.id for c in slow]), fixed=plan)
        status = result.status
        if result.values is None:
            # Every violated constraint, by the plain-Python check (the plan is
            # fixed, so each one is violated on its own). Only if that finds none
            # while the solver refused (fail closed) does the core name them.
            found = [chk for chk in (check_one(system, c, terms) for c in slow) if not chk.holds]
            if not found:
                failing = set(minimal_conflict(system.only([c.id for c in slow]), result.core))
                found = [check_one(system, c, terms) for c in slow if c.id in failing]
            violations += found
    return OfferCheck(
        not violations,
        tuple(violations),
        tuple(c.id for c in fast),
        tuple(c.id for c in slow),
        status,
    )


def plan_digest(terms: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(terms)).encode("utf-8")).hexdigest()


def certify(system: ConstraintSystem, terms: Mapping[str, Any]) -> dict[str, Any]:
    """The certificate of an agreed plan: the solver's status with the plan fixed, every
    constraint checked, and the independent plain-Python re-check of each."""
    plan = {n: terms[n] for n in system.space.names if n in terms}
    result = solve(system, fixed=plan)
    checks = recheck(system, plan)
    solver_ok = result.values is not None
    failing = set(result.core)
    recheck_ok = all(chk.holds for chk in checks)
    return {
        "solver": SOLVER_NAME,
        "solver_version": _ortools_version(),
        "solver_status": result.status,
        "plan_digest": plan_digest(plan),
        "constraints": [
            {
                "id": chk.constraint.id,
                "kind": chk.constraint.kind,
                "category": chk.constraint.category,
                "text": chk.constraint.text,
                "solver": solver_ok or chk.constraint.id not in failing,
                "recheck": chk.holds,
                "detail": chk.detail,
            }
            for chk in checks
        ],
        "recheck_ok": recheck_ok,
        "valid": solver_ok and recheck_ok,
    }


def _ortools_version() -> str:
    from ortools import __version__

    return __version__
