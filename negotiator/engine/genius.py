"""Import of GENIUS / ANAC XML domains and utility profiles (text in, engine values out).

The caller reads the files; these functions only parse text, so the engine does no I/O.
Discrete item evaluations are divided by the issue's largest evaluation, as GENIUS
does; integer and real issues use linear evaluators (``slope``/``offset`` or the
utilities at the issue bounds).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ScenarioError
from .outcomes import CategoricalIssue, Issue, NumericIssue, OutcomeSpace
from .preferences import IssueValue, PiecewiseLinearValue, PreferenceProfile, TableValue


@dataclass(frozen=True)
class GeniusDomain:
    name: str
    space: OutcomeSpace
    issue_indices: Mapping[str, str]  # issue name -> GENIUS index attribute


def _parse(xml_text: str, source: str) -> ET.Element:
    try:
        return ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise ScenarioError(source, "XML", f"malformed XML ({exc})") from None


def _describe(el: ET.Element) -> str:
    attrs = " ".join(f'{k}="{el.attrib[k]}"' for k in ("index", "name", "value") if k in el.attrib)
    return f"<{el.tag}{' ' + attrs if attrs else ''}>"


def _float(el: ET.Element, attr: str, source: str) -> float:
    raw = el.get(attr)
    if raw is None:
        raise ScenarioError(source, _describe(el), f"missing attribute '{attr}'")
    try:
        return float(raw)
    except ValueError:
        raise ScenarioError(
            source, _describe(el), f"attribute '{attr}'={raw!r} is not a number"
        ) from None


def _issue_kind(el: ET.Element) -> str:
    for attr in ("type", "vtype", "etype"):
        kind = el.get(attr)
        if kind in ("discrete", "integer", "real"):
            return kind
    return "discrete"


def _root_objective(root: ET.Element, source: str) -> ET.Element:
    objective = root.find(".//objective")
    if objective is None:
        raise ScenarioError(source, f"<{root.tag}>", "no <objective> element with issues")
    return objective


def parse_genius_domain(xml_text: str, *, source: str = "domain") -> GeniusDomain:
    """Parse a GENIUS domain (``negotiation_template`` or bare ``utility_space``)."""
    root = _parse(xml_text, source)
    objective = _root_objective(root, source)
    issues: list[Issue] = []
    indices: dict[str, str] = {}
    for el in objective.iter("issue"):
        name = el.get("name")
        if not name:
            raise ScenarioError(source, _describe(el), "issue without a 'name' attribute")
        kind = _issue_kind(el)
        if kind == "discrete":
            options = []
            for item in el.findall("item"):
                value = item.get("value")
                if value is None:
                    raise ScenarioError(
                        source, f"{_describe(el)} {_describe(item)}", "item without 'value'"
                    )
                options.append(value)
            if not options:
                raise ScenarioError(source, _describe(el), "discrete issue without <item> values")
            try:
                issues.append(CategoricalIssue(name=name, options=tuple(options)))
            except ValueError as exc:
                raise ScenarioError(source, _describe(el), str(exc)) from None
        else:
            lower = _float(el, "lowerbound", source)
            upper = _float(el, "upperbound", source)
            if upper < lower:
                raise ScenarioError(
                    source, _describe(el), f"upperbound {upper} below lowerbound {lower}"
                )
            if kind == "integer":
                issues.append(
                    NumericIssue(
                        name=name, lower=int(lower), upper=int(upper), step=1, integer=True
                    )
                )
            else:
                samples = int(el.get("numberofbins", el.get("samples", 11)))
                issues.append(
                    NumericIssue(name=name, lower=lower, upper=upper, samples=max(2, samples))
                )
        indices[name] = el.get("index", str(len(issues)))
    if not issues:
        raise ScenarioError(source, "<objective>", "no <issue> elements")
    try:
        space = OutcomeSpace(tuple(issues))
    except ValueError as exc:
        raise ScenarioError(source, "<objective>", str(exc)) from None
    return GeniusDomain(name=objective.get("name", source), space=space, issue_indices=indices)


def _linear_points(
    ev: ET.Element, issue: NumericIssue, element: str, source: str
) -> PiecewiseLinearValue:
    lo, hi = float(issue.lower), float(issue.upper)
    if ev.get("slope") is not None:
        slope = _float(ev, "slope", source)
        offset = float(ev.get("offset", "0"))
        ys = [slope * lo + offset, slope * hi + offset]
    else:
        ys = []
        for low_attr, high_attr in (
            ("utilitylowerbound", "utilityupperbound"),
            ("lowerbound", "upperbound"),
        ):
            if ev.get(low_attr) is not None and ev.get(high_attr) is not None:
                ys = [_float(ev, low_attr, source), _float(ev, high_attr, source)]
                break
        if not ys:
            raise ScenarioError(
                source, element, "linear evaluator needs slope/offset or utilities at the bounds"
            )
    ys = [min(1.0, max(0.0, y)) for y in ys]
    return PiecewiseLinearValue(points=((lo, ys[0]), (hi, ys[1])))


def parse_genius_profile(
    xml_text: str, domain: GeniusDomain | OutcomeSpace, *, source: str = "profile"
) -> PreferenceProfile:
    """Parse a GENIUS additive utility space against ``domain``.

    Each issue becomes its own criterion (named like the issue) weighted by the
    profile's ``<weight>``; reservation and discount factor are carried over.
    A bare :class:`OutcomeSpace` is accepted too (issue indices 1, 2, ... in order).
    """
    if isinstance(domain, OutcomeSpace):
        domain = GeniusDomain(
            name="domain",
            space=domain,
            issue_indices={name: str(k + 1) for k, name in enumerate(domain.names)},
        )
    root = _parse(xml_text, source)
    objective = _root_objective(root, source)
    by_index: dict[str, str] = {idx: name for name, idx in domain.issue_indices.items()}
    weights_by_index: dict[str, float] = {}
    for w in objective.findall("weight"):
        idx = w.get("index")
        if idx is None:
            raise ScenarioError(source, _describe(w), "weight without 'index'")
        weights_by_index[idx] = _float(w, "value", source)
    criteria: dict[str, tuple[IssueValue, ...]] = {}
    weights: dict[str, float] = {}
    for el in objective.iter("issue"):
        idx = el.get("index")
        name = el.get("name") or by_index.get(idx or "")
        element = _describe(el)
        if name is None or name not in domain.space:
            raise ScenarioError(source, element, f"issue not in domain {domain.name!r}")
        if idx is None:
            idx = domain.issue_indices[name]
        if idx not in weights_by_index:
            raise ScenarioError(source, element, f'no <weight index="{idx}"> for this issue')
        issue = domain.space.issue(name)
        if isinstance(issue, CategoricalIssue):
            evaluations: dict[str, float] = {}
            for item in el.findall("item"):  # direct children only: skip similarity functions
                value = item.get("value")
                if value is None:
                    raise ScenarioError(
                        source, f"{element} {_describe(item)}", "item without 'value'"
                    )
                if value not in issue.options:
                    raise ScenarioError(
                        source,
                        f"{element} {_describe(item)}",
                        f"value not in domain issue '{name}'",
                    )
                evaluation = (
                    _float(item, "evaluation", source)
                    if item.get("evaluation") is not None
                    else None
                )
                if evaluation is None:
                    raise ScenarioError(
                        source, f"{element} {_describe(item)}", "missing attribute 'evaluation'"
                    )
                if evaluation < 0:
                    raise ScenarioError(
                        source, f"{element} {_describe(item)}", "negative evaluation"
                    )
                evaluations[value] = evaluation
            if not evaluations:
                raise ScenarioError(source, element, "no <item> evaluations")
            top = max(evaluations.values())
            table = {k: (v / top if top > 0 else 0.0) for k, v in evaluations.items()}
            fn: TableValue | PiecewiseLinearValue = TableValue(table)
        else:
            ev = el.find("evaluator")
            if ev is None:
                raise ScenarioError(source, element, "numeric issue without <evaluator>")
            ftype = ev.get("ftype", "linear")
            if ftype != "linear":
                raise ScenarioError(
                    source, f"{element} <evaluator>", f"unsupported ftype {ftype!r}"
                )
            fn = _linear_points(ev, issue, f"{element} <evaluator>", source)
        criteria[name] = (IssueValue(issue=name, function=fn),)
        weights[name] = weights_by_index[idx]
    if not criteria:
        raise ScenarioError(source, "<objective>", "no <issue> elements")
    missing = sorted(set(domain.space.names) - set(criteria))
    if missing:
        raise ScenarioError(
            source, "<objective>", f"issues of the domain missing from the profile: {missing}"
        )
    if sum(weights.values()) <= 0:
        raise ScenarioError(source, "<weight>", "weights sum to 0")
    reservation = 0.0
    res = root.find(".//reservation")
    if res is not None:
        reservation = _float(res, "value", source)
    discount = None
    disc = root.find(".//discount_factor")
    if disc is not None:
        d = _float(disc, "value", source)
        discount = d if 0.0 < d < 1.0 else None
    try:
        return PreferenceProfile(
            weights=weights, criteria=criteria, reservation=reservation, discount=discount
        )
    except ValueError as exc:
        raise ScenarioError(source, "<utility_space>", str(exc)) from None


def is_genius_domain(xml_text: str) -> bool:
    """True if the text looks like a domain (items without evaluations and no weights)."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return False
    if root.tag == "negotiation_template":
        return True
    has_weights = root.find(".//weight") is not None
    has_evaluations = any(item.get("evaluation") is not None for item in root.iter("item"))
    return not has_weights and not has_evaluations
