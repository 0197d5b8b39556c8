"""A playbook's plan model read into engine values: structured issues, hard
constraints, coalition rules, assumptions and plan lines (who, what, when, how much).

A playbook spec carries ``plan_model`` next to its flat ``issues``:
``structured`` (allocations and windows), ``constraints``, ``assumptions``,
``lines`` and ``coalition``. :func:`plan_model_from_spec` reads them;
:func:`plan_lines` turns agreed flat terms into plan lines; :func:`assumptions_of`
states an offer's assumptions and checks them against the terms and later facts.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .constraints import ConstraintSystem, centre, prove_feasible, system_from_dict
from .mediation import CoalitionRules, MediationSetup, rules_from_dict
from .outcomes import OutcomeSpace, issue_from_dict
from .preferences import profile_from_dict
from .structured import Allocation, Structured, Window, flat_issue_dicts, structured_list

OPS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "<": operator.lt, ">": operator.gt}


@dataclass(frozen=True)
class PlanModel:
    space: OutcomeSpace
    structured: tuple[Structured, ...]
    system: ConstraintSystem
    rules: CoalitionRules
    roles: tuple[str, ...]
    assumptions: tuple[Mapping[str, Any], ...] = ()
    lines: Mapping[str, Any] = field(default_factory=dict)
    protocol: str = "mediated"
    offer_expiry_minutes: int | None = None

    def mediation_setup(self, profiles: Mapping[str, Mapping[str, Any]]) -> MediationSetup:
        parties = tuple((r, profile_from_dict(profiles[r])) for r in self.roles)
        return MediationSetup(self.space, self.system, parties, self.rules)

    def start_text(self) -> dict[str, Any] | None:
        """The mediator's first text: the feasible plan nearest the middle of every range."""
        report = prove_feasible(self.system, target=centre(self.system))
        if report.witness is None:
            return None
        # issues without hard constraints (options) open at their first option
        return {i.name: report.witness.get(i.name, i.values[0]) for i in self.space.issues}


def has_plan_model(spec: Mapping[str, Any]) -> bool:
    return bool((spec.get("plan_model") or {}).get("structured"))


def expanded_issues(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The spec's plain issues followed by the flat issues of its structured ones
    (those already listed are kept once)."""
    plain = [dict(i) for i in spec.get("issues", [])]
    known = {i.get("name") for i in plain}
    items = structured_list((spec.get("plan_model") or {}).get("structured"))
    flat = [
        {k: v for k, v in i.items() if k != "structured"}
        for i in flat_issue_dicts(items)
        if i["name"] not in known
    ]
    return plain + flat


def flat_names(spec: Mapping[str, Any]) -> set[str]:
    """The flat issue names the spec's structured issues expand into."""
    items = structured_list((spec.get("plan_model") or {}).get("structured"))
    return {i["name"] for i in flat_issue_dicts(items)}


def plan_model_from_spec(spec: Mapping[str, Any]) -> PlanModel:
    """Read a spec's plan model; ValueError names the faulty part."""
    data = spec.get("plan_model") or {}
    structured = structured_list(data.get("structured"), where="plan_model.structured")
    issues = [issue_from_dict(i) for i in expanded_issues(spec)]
    space = OutcomeSpace(tuple(issues))
    system = system_from_dict(
        data.get("constraints"),
        space=space,
        structured=structured,
        fixed_terms=spec.get("fixed_terms", {}),
    )
    roles = tuple(r["name"] for r in spec.get("roles", []))
    coalition = dict(data.get("coalition") or {})
    rules = rules_from_dict(coalition, roles)
    protocol = coalition.get("protocol", "mediated")
    if protocol != "mediated":
        # The mediated protocol is the one that checks every text against the
        # constraints; a plan played any other way would not be proven.
        raise ValueError("plan_model.coalition.protocol must be mediated")
    assumptions = tuple(data.get("assumptions") or ())
    for k, a in enumerate(assumptions):
        problem = _assumption_problem(a, space, structured)
        if problem:
            raise ValueError(f"plan_model.assumptions[{k}]: {problem}")
    expiry = coalition.get("offer_expiry_minutes")
    return PlanModel(
        space=space,
        structured=structured,
        system=system,
        rules=rules,
        roles=roles,
        assumptions=assumptions,
        lines=dict(data.get("lines") or {}),
        protocol=protocol,
        offer_expiry_minutes=None if expiry is None else int(expiry),
    )


def _assumption_problem(a: Any, space: OutcomeSpace, structured) -> str:
    """What is wrong with one assumption ('' when nothing), so that stating it for
    an agreed plan can never fail later."""
    if not isinstance(a, Mapping):
        return "must be an object"
    if a.get("kind") not in ("term", "fact") or a.get("op") not in OPS:
        return f"kind must be term or fact and op one of {', '.join(OPS)}"
    if not isinstance(a.get("id"), str) or not a["id"].strip():
        return "needs an id"
    if not isinstance(a.get("text"), str):
        return "needs a text"
    if a["kind"] == "term":
        if a.get("term") not in space.names:
            return f"term {a.get('term')!r} is not an issue of the plan"
        value = a.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "value must be a number"
        return ""
    if not isinstance(a.get("fact"), str) or not a["fact"].strip():
        return "needs the name of the fact"
    windows = [w for w in structured if isinstance(w, Window)]
    if not any(a.get("window") in (None, w.name) for w in windows):
        return f"window {a.get('window')!r} is not a window of the plan"
    offset = a.get("offset", 0)
    if isinstance(offset, bool) or not isinstance(offset, int):
        return "offset must be a whole number"
    try:
        a["text"].format(item="x", bound=1)
    except (KeyError, IndexError, ValueError):
        return "text may use only {item} and {bound}"
    return ""


def _window(model: PlanModel, name: str | None) -> Window | None:
    for s in model.structured:
        if isinstance(s, Window) and (name is None or s.name == name):
            return s
    return None


def assumptions_of(
    model: PlanModel, terms: Mapping[str, Any], facts: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Each assumption the terms rely on, stated for these terms, with its status:
    ``holds``, ``broken`` or ``open`` (a fact not known yet)."""
    facts = facts or {}
    out = []
    for a in model.assumptions:
        op = OPS[a["op"]]
        if a["kind"] == "term":
            value = terms.get(a["term"])
            status = "open" if value is None else ("holds" if op(value, a["value"]) else "broken")
            out.append({"id": a["id"], "text": a["text"], "status": status, "line": None})
            continue
        window = _window(model, a.get("window"))
        for it in window.items if window else ():
            bound = int(terms[window.flat_name(it.name, "start")]) + int(a.get("offset", 0))
            text = a["text"].format(item=it.label or it.name, bound=bound)
            fact = facts.get(f"{a['fact']}.{it.name}", facts.get(a["fact"]))
            status = "open" if fact is None else ("holds" if op(fact, bound) else "broken")
            out.append(
                {
                    "id": f"{a['id']}.{it.name}",
                    "text": text,
                    "status": status,
                    "line": it.name,
                    "fact": f"{a['fact']}.{it.name}",
                    "bound": bound,
                    "observed": fact,
                }
            )
    return out


def dependencies_of(model: PlanModel) -> dict[str, list[str]]:
    """Plan line -> the lines it needs first, from the precedence constraints."""
    out: dict[str, list[str]] = {}
    for c in model.system.constraints:
        if c.kind == "precedence":
            out.setdefault(c.params["after"], []).append(c.params["before"])
    return out


def _amounts(model: PlanModel, names: Sequence[str], item: str, terms) -> dict[str, Any]:
    out = {}
    for s in model.structured:
        if isinstance(s, Allocation) and s.name in names and s.flat_name(item) in terms:
            out[s.name] = {"value": terms[s.flat_name(item)], "unit": s.unit, "label": s.label}
    return out


def plan_lines(model: PlanModel, terms: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One line per item of the playbook's ``lines.items_of`` window: who, what,
    when (the window), how much (the named allocations), with its dependencies."""
    spec = model.lines
    window = _window(model, spec.get("items_of"))
    if window is None:
        return []
    deps = dependencies_of(model)
    lines = []
    for it in window.items:
        start = int(terms[window.flat_name(it.name, "start")])
        length = int(terms[window.flat_name(it.name, "length")])
        how_much = _amounts(model, spec.get("how_much", []), it.name, terms)
        fill = {"label": it.label or it.name, "item": it.name}
        fill |= {k: v["value"] for k, v in how_much.items()}
        lines.append(
            {
                "id": it.name,
                "who": (spec.get("who") or {}).get(it.name, it.label or it.name),
                "what": str(spec.get("what", "{label}")).format(**fill),
                "when": {
                    "start": start,
                    "end": start + length - 1,
                    "length": length,
                    "unit": window.unit,
                },
                "how_much": how_much,
                "dependencies": deps.get(it.name, []),
            }
        )
    return lines
