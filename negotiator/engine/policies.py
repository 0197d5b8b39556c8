"""Machine-checkable policies: check an offer, then turn the results into a gate decision.

Pure functions over plain values (no Django, no I/O). A service converts
PolicyVersion rows to :class:`PolicySpec`, builds a :class:`CheckContext` for the
sending party, calls :func:`check` and stores every :class:`CheckResult` (via
:func:`check_result_to_dict`) as a PolicyCheck. :func:`decide` makes the
protocol's gate verdict; failed approval-threshold results never stop an offer,
the approvals app reads them from the stored checks when a deal is agreed.

Every check fails closed: a missing issue, a missing private value, an unknown
deal measure, a rule that errors or runs out of time all count as failures.

Evidence dicts are JSON-safe. When they contain the sender's private values
(a cost, a disclosure finding, a rule that reads ``profile``) they carry
``"private": True`` so that whoever shows them can keep them from other parties.

CEL rules (``expression`` kind) and their bounds are described in
:mod:`negotiator.engine.cel`; the disclosure scanner in
:mod:`negotiator.engine.disclosure`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from .cel import DEFAULT_BOUNDS, Bounds, PolicyError, build_activation, compile_expression
from .disclosure import find_disclosures, within
from .outcomes import fixed_terms_hash

__all__ = [
    "Severity",
    "PolicyKind",
    "PolicySpec",
    "CheckContext",
    "CheckResult",
    "GateDecision",
    "PolicyError",
    "OfferLike",
    "check",
    "decide",
    "validate_parameters",
    "describe",
    "fixed_terms_digest",
    "policy_spec_to_dict",
    "policy_spec_from_dict",
    "check_result_to_dict",
    "check_result_from_dict",
]


class Severity(StrEnum):
    BLOCK = "block"
    ESCALATE = "escalate"
    WARN = "warn"


class PolicyKind(StrEnum):
    CAP = "cap"
    FLOOR = "floor"
    RANGE = "range"
    ALLOWED_VALUES = "allowed_values"
    MIN_MARGIN = "min_margin"
    SLA = "sla"
    REQUIRED_FIXED_TERM = "required_fixed_term"
    DISCLOSURE = "disclosure"
    APPROVAL_THRESHOLD = "approval_threshold"
    EXPRESSION = "expression"


class OfferLike(Protocol):
    """What the policy checks read from an offer (engine ``Offer`` satisfies it)."""

    @property
    def terms(self) -> Mapping[str, Any]: ...
    @property
    def rationale(self) -> str: ...
    @property
    def assumptions(self) -> Sequence[str]: ...
    @property
    def sender(self) -> str: ...
    @property
    def performative(self) -> Any: ...
    @property
    def fixed_terms_hash(self) -> str: ...


@dataclass(frozen=True)
class PolicySpec:
    policy_id: int | str
    version: int
    name: str
    category: str
    kind: PolicyKind
    parameters: Mapping[str, Any]
    severity: Severity
    scope_role: str | None = None  # None: every role; else only offers sent by that role

    def __post_init__(self) -> None:
        if not isinstance(self.kind, PolicyKind):
            object.__setattr__(self, "kind", PolicyKind(self.kind))
        if not isinstance(self.severity, Severity):
            object.__setattr__(self, "severity", Severity(self.severity))


@dataclass(frozen=True)
class CheckContext:
    fixed_terms: Mapping[str, Any]
    sender_role: str
    # The sender's OWN profile: {"weights": {...}, "reservation": float,
    # "private_values": {"reservation_price": ..., "unit_cost": ...}}
    sender_profile: Mapping[str, Any] = field(default_factory=dict)
    deal_value: float | None = None
    deal_risk: float | None = None
    stage: str = "send"  # "send" | "accept"
    issue_types: Mapping[str, str] = field(
        default_factory=dict
    )  # issue -> numeric|categorical|ordinal


@dataclass(frozen=True)
class CheckResult:
    policy_id: int | str
    policy_version: int
    policy_name: str
    kind: PolicyKind
    severity: Severity
    passed: bool
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    # A failed result that people agreed to let through (a reference to their
    # override): it stops nothing, and it is never reported as passed.
    waived_by: int | str | None = None


@dataclass(frozen=True)
class GateDecision:
    verdict: str  # "allow" | "block" | "escalate"
    reason: str = ""
    results: tuple[CheckResult, ...] = ()


# --- formatting -------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def fmt_number(value: Any) -> str:
    """88000 -> '88,000'; 0.25 -> '0.25'; 1234.5 -> '1,234.5'."""
    if not _is_number(value):
        return repr(value)
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.10g}"


def _plain(value: Any) -> Any:
    """JSON-safe copy of a value for evidence."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def fixed_terms_digest(mapping: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of the fixed terms (outcomes.fixed_terms_hash)."""
    return fixed_terms_hash(mapping)


# --- checks -----------------------------------------------------------------------------------

_Outcome = tuple[bool, str, dict[str, Any]]

# Bounds for expression rules (see negotiator.engine.cel); a module value so a deployment can tune it.
EXPRESSION_BOUNDS: Bounds = DEFAULT_BOUNDS


def _numeric_term(offer: OfferLike, issue: str) -> tuple[float | None, str | None]:
    terms = offer.terms
    if issue not in terms:
        return None, f"the offer has no {issue!r} term"
    value = terms[issue]
    if not _is_number(value):
        return None, f"{issue} is {value!r}, not a number"
    return value, None


def _missing(issue: str, problem: str, rule: str) -> _Outcome:
    return False, problem, {"issue": issue, "value": None, "rule": rule}


def _check_cap(offer: OfferLike, p: Mapping[str, Any], ctx: CheckContext) -> _Outcome:
    issue, limit = p["issue"], p["max"]
    rule = f"{issue} <= {_plain(limit)}"
    value, problem = _numeric_term(offer, issue)
    if problem:
        return _missing(issue, problem, rule)
    evidence = {"issue": issue, "value": _plain(value), "rule": rule, "max": _plain(limit)}
    if value <= limit:
        return (
            True,
            f"{issue} {fmt_number(value)} is within the cap of {fmt_number(limit)}",
            evidence,
        )
    return False, f"{issue} {fmt_number(value)} is above the cap of {fmt_number(limit)}", evidence


def _check_floor(offer: OfferLike, p: Mapping[str, Any], ctx: CheckContext) -> _Outcome:
    issue, limit = p["issue"], p["min"]
    rule = f"{issue} >= {_plain(limit)}"
    value, problem = _numeric_term(offer, issue)
    if problem:
        return _missing(issue, problem, rule)
    evidence = {"issue": issue, "value": _plain(value), "rule": rule, "floor": _plain(limit)}
    if value >= limit:
        return (
            True,
            f"{issue} {fmt_number(value)} is at or above the floor of {fmt_number(limit)}",
            evidence,
        )
    return False, f"{issue} {fmt_number(value)} is below the floor of {fmt_number(limit)}", evidence


def _check_range(offer: OfferLike, p: Mapping[str, Any], ctx: CheckContext) -> _Outcome:
    issue, low, high = p["issue"], p["min"], p["max"]
    rule = f"{_plain(low)} <= {issue} <= {_plain(high)}"
    value, problem = _numeric_term(offer, issue)
    if problem:
        return _missing(issue, problem, rule)
    evidence = {
        "issue": issue,
        "value": _plain(value),
        "rule": rule,
        "min": _plain(low),
        "max": _plain(high),
    }
    span = f"{fmt_number(low)}–{fmt_number(high)}"
    if low <= value <= high:
        return True, f"{issue} {fmt_number(value)} is within the range {span}", evidence
    side = "below" if value < low else "above"
    return False, f"{issue} {fmt_number(value)} is {side} the range {span}", evidence


def _check_allowed_values(offer: OfferLike, p: Mapping[str, Any], ctx: CheckContext) -> _Outcome:
    issue, allowed = p["issue"], list(p["values"])
    rule = f"{issue} in {{{', '.join(str(v) for v in allowed)}}}"
    if issue not in offer.terms:
        return _missing(issue, f"the offer has no {issue!r} term", rule)
    value = offer.terms[issue]
    evidence = {"issue": issue, "value": _plain(value), "rule": rule, "values": _plain(allowed)}
    if value in allowed:
        return True, f"{issue} {value!r} is an allowed value", evidence
    options = ", ".join(str(v) for v in allowed)
    return False, f"{issue} {value!r} is not one of the allowed values: {options}", evidence


def _private_values(ctx: CheckContext) -> Mapping[str, Any]:
    values = ctx.sender_profile.get("private_values") if ctx.sender_profile else None
    return values if isinstance(values, Mapping) else {}


def _check_min_margin(offer: OfferLike, p: Mapping[str, Any], ctx: CheckContext) -> _Outcome:
    issue = p.get("issue", "price")
    cost_key = p.get("cost_key", "unit_cost")
    min_percent = float(p["min_percent"])
    rule = f"{issue} >= {cost_key} * (1 + {_plain(min_percent)}/100)"
    cost = _private_values(ctx).get(cost_key)
    if not _is_number(cost):
        return (
            False,
            f"the {ctx.sender_role} profile lacks the private value {cost_key!r}, "
            f"so the margin on {issue} cannot be checked",
            {"issue": issue, "rule": rule, "cost_key": cost_key, "cost": None},
        )
    value, problem = _numeric_term(offer, issue)
    if problem:
        return _missing(issue, problem, rule)
    required = float(cost) * (1 + min_percent / 100)
    margin = (float(value) - float(cost)) / float(cost) * 100 if cost else None
    evidence = {
        "private": True,
        "issue": issue,
        "value": _plain(value),
        "rule": rule,
        "cost_key": cost_key,
        "cost": _plain(cost),
        "min_percent": _plain(min_percent),
        "required_min": _plain(required),
        "margin_percent": None if margin is None else round(margin, 4),
    }
    gives = "" if margin is None else f" gives a margin of {margin:.1f}% over {cost_key}"
    minimum = f"the minimum margin of {fmt_number(min_percent)}%"
    if value >= required - 1e-9 * abs(required):
        return True, f"{issue} {fmt_number(value)}{gives}, meeting {minimum}", evidence
    return False, f"{issue} {fmt_number(value)}{gives}, below {minimum}", evidence


def _check_sla(offer: OfferLike, p: Mapping[str, Any], ctx: CheckContext) -> _Outcome:
    issue = p["issue"]
    high, low = p.get("max"), p.get("min")
    parts = ([f"{issue} >= {_plain(low)}"] if low is not None else []) + (
        [f"{issue} <= {_plain(high)}"] if high is not None else []
    )
    rule = " and ".join(parts)
    value, problem = _numeric_term(offer, issue)
    if problem:
        return _missing(issue, problem, rule)
    evidence = {
        "issue": issue,
        "value": _plain(value),
        "rule": rule,
        "min": _plain(low),
        "max": _plain(high),
    }
    if high is not None and value > high:
        return False, f"{issue} {fmt_number(value)} exceeds the SLA of {fmt_number(high)}", evidence
    if low is not None and value < low:
        return (
            False,
            f"{issue} {fmt_number(value)} is below the SLA minimum of {fmt_number(low)}",
            evidence,
        )
    return True, f"{issue} {fmt_number(value)} meets the SLA ({rule})", evidence


_NO_VALUE = object()


def _check_required_fixed_term(
    offer: OfferLike, p: Mapping[str, Any], ctx: CheckContext
) -> _Outcome:
    term = p["term"]
    expected = p.get("value", _NO_VALUE)
    rule = f"fixed {term} is set" if expected is _NO_VALUE else f"fixed {term} == {expected!r}"
    evidence: dict[str, Any] = {"term": term, "rule": rule}
    if expected is not _NO_VALUE:
        evidence["expected"] = _plain(expected)
    if term not in ctx.fixed_terms:
        evidence["value"] = None
        return False, f"fixed term {term!r} is missing from the playbook's fixed terms", evidence
    actual = ctx.fixed_terms[term]
    evidence["value"] = _plain(actual)
    if expected is not _NO_VALUE and actual != expected:
        return False, f"fixed term {term} is {actual!r}, expected {expected!r}", evidence
    offered_hash = getattr(offer, "fixed_terms_hash", "") or ""
    if offered_hash:
        digest = fixed_terms_digest(ctx.fixed_terms)
        evidence["offer_hash"] = offered_hash
        evidence["expected_hash"] = digest
        if offered_hash != digest:
            return (
                False,
                f"the offer's fixed terms differ from the playbook's (hash {offered_hash[:12]}… "
                f"instead of {digest[:12]}…)",
                evidence,
            )
    else:
        evidence["offer_hash"] = None
    return True, f"fixed term {term} is {actual!r} as required", evidence


def _check_disclosure(offer: OfferLike, p: Mapping[str, Any], ctx: CheckContext) -> _Outcome:
    keys = list(p["keys"])
    tolerance = float(p.get("tolerance_percent", 1.0))
    include_numeric = bool(p.get("include_numeric_terms", False))
    private = dict(_private_values(ctx))
    profile = ctx.sender_profile or {}
    if "reservation" in keys and "reservation" not in private and "reservation" in profile:
        private["reservation"] = ctx.sender_profile["reservation"]
    watched = {k: private[k] for k in keys if k in private and private[k] is not None}
    missing = [k for k in keys if k not in watched]

    texts: list[tuple[str, str]] = [("rationale", offer.rationale or "")]
    texts += [(f"assumptions[{i}]", str(a)) for i, a in enumerate(offer.assumptions or ())]
    texts += [(f"terms.{k}", v) for k, v in offer.terms.items() if isinstance(v, str)]
    numeric_terms = {k: v for k, v in offer.terms.items() if _is_number(v)}
    findings = find_disclosures(
        texts,
        watched,
        tolerance_percent=tolerance,
        public_numbers=() if include_numeric else numeric_terms.values(),
    )
    messages = [f"{f.field} reveals the sender's {f.key} (as {f.token!r})" for f in findings]
    records = [{"field": f.field, "key": f.key, "token": f.token} for f in findings]
    if include_numeric:
        for name, value in numeric_terms.items():
            for key, secret in watched.items():
                if _is_number(secret) and within(float(value), float(secret), tolerance):
                    messages.append(f"term {name} reveals the sender's {key}")
                    records.append({"field": f"terms.{name}", "key": key, "token": None})
    evidence = {
        "private": True,
        "rule": f"no private value ({', '.join(keys)}) within {fmt_number(tolerance)}% in text"
        + (" or numeric terms" if include_numeric else ""),
        "keys": keys,
        "tolerance_percent": _plain(tolerance),
        "include_numeric_terms": include_numeric,
        "fields_checked": [name for name, _ in texts],
        "missing_keys": missing,
        "findings": records,
    }
    if messages:
        return False, "; ".join(messages), evidence
    return True, f"no private value ({', '.join(keys)}) is revealed", evidence


_MEASURES = {"value": "deal value", "risk": "deal risk"}


def _check_approval_threshold(
    offer: OfferLike, p: Mapping[str, Any], ctx: CheckContext
) -> _Outcome:
    measure, above = p["measure"], p["above"]
    label = _MEASURES.get(measure, f"deal {measure}")
    actual = ctx.deal_value if measure == "value" else ctx.deal_risk if measure == "risk" else None
    rule = f"deal.{measure} <= {_plain(above)}"
    evidence = {"measure": measure, "value": _plain(actual), "above": _plain(above), "rule": rule}
    if actual is None or not _is_number(actual):
        return False, f"{label} is unknown, so a person must approve", evidence
    if actual > above:
        return (
            False,
            f"{label} {fmt_number(actual)} is above the approval threshold of {fmt_number(above)}",
            evidence,
        )
    return (
        True,
        f"{label} {fmt_number(actual)} is within the approval threshold of {fmt_number(above)}",
        evidence,
    )


def _check_expression(offer: OfferLike, p: Mapping[str, Any], ctx: CheckContext) -> _Outcome:
    text = p["expression"]
    evidence: dict[str, Any] = {"rule": text}
    try:
        rule = compile_expression(text, bounds=EXPRESSION_BOUNDS)
    except PolicyError as exc:
        evidence["error"] = str(exc)
        return False, f"rule cannot be used: {exc}", evidence
    variables = build_activation(
        terms=offer.terms,
        fixed=ctx.fixed_terms,
        profile=ctx.sender_profile,
        role=ctx.sender_role,
        deal={"value": ctx.deal_value, "risk": ctx.deal_risk},
        stage=ctx.stage,
        names=rule.shape.identifiers,
    )
    outcome = rule.evaluate(variables, bounds=EXPRESSION_BOUNDS)
    evidence["terms"] = _plain(dict(offer.terms))
    evidence["result"] = outcome.value
    if rule.uses_profile:
        evidence["private"] = True
    if outcome.error:
        evidence["error"] = outcome.error
        evidence["over_budget"] = outcome.over_budget
        if outcome.over_budget:
            return False, outcome.error, evidence
        return False, f"rule could not be evaluated: {outcome.error}", evidence
    if outcome.passed:
        return True, f"rule holds: {text}", evidence
    return False, str(p.get("message") or f"rule does not hold: {text}"), evidence


_CHECKS: dict[PolicyKind, Callable[[OfferLike, Mapping[str, Any], CheckContext], _Outcome]] = {
    PolicyKind.CAP: _check_cap,
    PolicyKind.FLOOR: _check_floor,
    PolicyKind.RANGE: _check_range,
    PolicyKind.ALLOWED_VALUES: _check_allowed_values,
    PolicyKind.MIN_MARGIN: _check_min_margin,
    PolicyKind.SLA: _check_sla,
    PolicyKind.REQUIRED_FIXED_TERM: _check_required_fixed_term,
    PolicyKind.DISCLOSURE: _check_disclosure,
    PolicyKind.APPROVAL_THRESHOLD: _check_approval_threshold,
    PolicyKind.EXPRESSION: _check_expression,
}


def applies(spec: PolicySpec, context: CheckContext) -> bool:
    return spec.scope_role is None or spec.scope_role == context.sender_role


def check_one(offer: OfferLike, spec: PolicySpec, context: CheckContext) -> CheckResult:
    """Evaluate one policy. Never raises: a policy that cannot be evaluated fails."""
    try:
        passed, message, evidence = _CHECKS[spec.kind](offer, spec.parameters, context)
    except (KeyError, TypeError, ValueError) as exc:
        passed = False
        message = f"policy could not be evaluated ({type(exc).__name__}: {exc}); fix its parameters"
        evidence = {"error": str(exc), "parameters": _plain(dict(spec.parameters))}
    return CheckResult(
        policy_id=spec.policy_id,
        policy_version=spec.version,
        policy_name=spec.name,
        kind=spec.kind,
        severity=spec.severity,
        passed=passed,
        message=message,
        evidence=evidence,
    )


def check(
    offer: OfferLike, policies: Sequence[PolicySpec], context: CheckContext
) -> tuple[CheckResult, ...]:
    """Check an offer against every policy in scope for its sender's role, in order."""
    return tuple(check_one(offer, spec, context) for spec in policies if applies(spec, context))


def _stops(result: CheckResult) -> bool:
    return (
        not result.passed
        and result.kind != PolicyKind.APPROVAL_THRESHOLD
        and result.waived_by is None
    )


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w,.]+", text.lower())) - {"a", "an", "the", "is", "of"}


def cause_text(result: CheckResult) -> str:
    """One failed check as a cause: the policy's name, then its message only when
    the message says more than the name (a message that restates the name, as
    'accepting above 95,000 needs a person' does for the policy 'Accepting above
    95,000 needs a person', is said once), then the value it was given."""
    text = result.policy_name
    message = result.message.strip()
    said = _words(message)
    restated = len(said & _words(result.policy_name)) >= 0.8 * len(said)
    if message and not restated:
        text = f"{text}: {message}"
    value = (result.evidence or {}).get("value")
    if _is_number(value) and fmt_number(value) not in text:
        text += f" (value {fmt_number(value)})"
    return text


def decide(results: Iterable[CheckResult]) -> GateDecision:
    """block if any blocking policy failed, else escalate if any escalating one did, else allow.

    Warn failures never stop an offer (they are named in an allow's reason); approval
    threshold results never block or escalate an offer (they matter once a deal is agreed).
    """
    results = tuple(results)
    blocking = [r for r in results if _stops(r) and r.severity == Severity.BLOCK]
    escalating = [r for r in results if _stops(r) and r.severity == Severity.ESCALATE]
    warnings = [r for r in results if _stops(r) and r.severity == Severity.WARN]

    def listing(items: list[CheckResult]) -> str:
        return "; ".join(dict.fromkeys(cause_text(r) for r in items))

    if blocking:
        reason = "blocked by " + listing(blocking)
        if escalating:
            reason += " (would also escalate: " + listing(escalating) + ")"
        return GateDecision("block", reason, results)
    if escalating:
        return GateDecision("escalate", "needs a person: " + listing(escalating), results)
    reason = "allowed with warnings: " + listing(warnings) if warnings else ""
    return GateDecision("allow", reason, results)


# --- parameter validation ---------------------------------------------------------------------

_Errors = list[tuple[str, str]]


@dataclass(frozen=True)
class _Param:
    required: bool
    check: Callable[[Any], str | None]


def _number(value: Any) -> str | None:
    if _is_number(value):
        return None
    return f"expected a number, got {value!r}"


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return None
    return f"expected a non-empty text, got {value!r}"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {value!r}"


def _list(value: Any) -> str | None:
    if isinstance(value, list | tuple) and value:
        return None
    return f"expected a non-empty list, got {value!r}"


def _anything(value: Any) -> str | None:
    return None


def _measure(value: Any) -> str | None:
    if value in _MEASURES:
        return None
    return f"expected one of {', '.join(_MEASURES)}, got {value!r}"


_SCHEMAS: dict[PolicyKind, dict[str, _Param]] = {
    PolicyKind.CAP: {"issue": _Param(True, _text), "max": _Param(True, _number)},
    PolicyKind.FLOOR: {"issue": _Param(True, _text), "min": _Param(True, _number)},
    PolicyKind.RANGE: {
        "issue": _Param(True, _text),
        "min": _Param(True, _number),
        "max": _Param(True, _number),
    },
    PolicyKind.ALLOWED_VALUES: {"issue": _Param(True, _text), "values": _Param(True, _list)},
    PolicyKind.MIN_MARGIN: {
        "issue": _Param(True, _text),
        "cost_key": _Param(True, _text),
        "min_percent": _Param(True, _number),
    },
    PolicyKind.SLA: {
        "issue": _Param(True, _text),
        "max": _Param(False, _number),
        "min": _Param(False, _number),
    },
    PolicyKind.REQUIRED_FIXED_TERM: {
        "term": _Param(True, _text),
        "value": _Param(False, _anything),
    },
    PolicyKind.DISCLOSURE: {
        "keys": _Param(True, _list),
        "tolerance_percent": _Param(False, _number),
        "include_numeric_terms": _Param(False, _flag),
    },
    PolicyKind.APPROVAL_THRESHOLD: {
        "measure": _Param(True, _measure),
        "above": _Param(True, _number),
    },
    PolicyKind.EXPRESSION: {"expression": _Param(True, _text), "message": _Param(False, _text)},
}

_NUMERIC_KINDS = {
    PolicyKind.CAP,
    PolicyKind.FLOOR,
    PolicyKind.RANGE,
    PolicyKind.MIN_MARGIN,
    PolicyKind.SLA,
}


def _issue_info(spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"type": spec}
    if isinstance(spec, Mapping):
        return dict(spec)
    return {"type": "numeric"}


def validate_parameters(
    kind: PolicyKind | str,
    parameters: Any,
    *,
    issues: Mapping[str, Any] | None = None,
    fixed_terms: Mapping[str, Any] | None = None,
    private_value_keys: Iterable[str] | None = None,
) -> _Errors:
    """Every problem with a policy's parameters as (path, message); empty when usable.

    ``issues`` maps issue name -> {"type": "numeric"|"categorical"|"ordinal", "min", "max",
    "options"} (a bare type string is accepted too); ``None`` skips issue checks.
    ``fixed_terms`` (the playbook's fixed terms) of None skips fixed-term checks.
    """
    try:
        kind = PolicyKind(kind)
    except ValueError:
        return [("kind", f"unknown kind {kind!r}; known: {', '.join(k.value for k in PolicyKind)}")]
    if not isinstance(parameters, Mapping):
        return [("parameters", f"expected an object of parameters, got {parameters!r}")]
    schema = _SCHEMAS[kind]
    errors: _Errors = []
    for key in parameters:
        if key not in schema:
            errors.append(
                (
                    f"parameters.{key}",
                    f"unknown parameter {key!r}; {kind} takes: {', '.join(schema)}",
                )
            )
    for key, param in schema.items():
        if key not in parameters:
            if param.required:
                errors.append((f"parameters.{key}", f"{kind} needs {key!r}"))
            continue
        problem = param.check(parameters[key])
        if problem:
            errors.append((f"parameters.{key}", problem))
    bad = {path for path, _ in errors}

    def ok(key: str) -> bool:
        return key in parameters and f"parameters.{key}" not in bad

    issue_map = {name: _issue_info(spec) for name, spec in (issues or {}).items()}
    if issues is not None and "issue" in schema and ok("issue"):
        name = parameters["issue"]
        if name not in issue_map:
            errors.append(
                (
                    "parameters.issue",
                    f"unknown issue {name!r}; known: {', '.join(issue_map) or 'none'}",
                )
            )
        else:
            issue_type = issue_map[name].get("type", "numeric")
            if kind in _NUMERIC_KINDS and issue_type != "numeric":
                errors.append(
                    ("parameters.issue", f"{kind} needs a numeric issue; {name!r} is {issue_type}")
                )
            if kind == PolicyKind.ALLOWED_VALUES and issue_type == "numeric":
                errors.append(
                    (
                        "parameters.issue",
                        f"{kind} needs a categorical or ordinal issue; {name!r} is numeric",
                    )
                )
            options = issue_map[name].get("options")
            if kind == PolicyKind.ALLOWED_VALUES and ok("values") and options:
                for i, value in enumerate(parameters["values"]):
                    if value not in options:
                        errors.append(
                            (f"parameters.values[{i}]", f"{value!r} is not an option of {name!r}")
                        )

    if (
        kind in (PolicyKind.RANGE, PolicyKind.SLA)
        and ok("min")
        and ok("max")
        and parameters["min"] > parameters["max"]
    ):
        errors.append(
            (
                "parameters.min",
                f"min {fmt_number(parameters['min'])} is greater than max {fmt_number(parameters['max'])}",
            )
        )
    if kind == PolicyKind.SLA and "min" not in parameters and "max" not in parameters:
        errors.append(("parameters.max", "sla needs 'max' (and optionally 'min')"))
    if kind == PolicyKind.MIN_MARGIN and ok("min_percent") and parameters["min_percent"] <= -100:
        errors.append(("parameters.min_percent", "must be greater than -100"))
    if kind == PolicyKind.DISCLOSURE:
        if ok("keys"):
            for i, key in enumerate(parameters["keys"]):
                if not isinstance(key, str) or not key.strip():
                    errors.append(
                        (f"parameters.keys[{i}]", f"expected a private value name, got {key!r}")
                    )
        if ok("tolerance_percent") and not 0 <= parameters["tolerance_percent"] <= 50:
            errors.append(
                (
                    "parameters.tolerance_percent",
                    f"expected 0 to 50, got {parameters['tolerance_percent']!r}",
                )
            )
    if kind == PolicyKind.REQUIRED_FIXED_TERM and ok("term") and fixed_terms is not None:
        term = parameters["term"]
        if term not in fixed_terms:
            errors.append(
                (
                    "parameters.term",
                    f"unknown fixed term {term!r}; known: {', '.join(fixed_terms) or 'none'}",
                )
            )
        elif "value" in parameters and fixed_terms[term] != parameters["value"]:
            errors.append(
                (
                    "parameters.value",
                    f"the playbook fixes {term} to {fixed_terms[term]!r}, not {parameters['value']!r}",
                )
            )
    if kind == PolicyKind.EXPRESSION and ok("expression"):
        try:
            compile_expression(
                parameters["expression"],
                issues=issue_map if issues is not None else None,
                fixed_terms=fixed_terms,
                private_value_keys=private_value_keys,
            )
        except PolicyError as exc:
            errors.append(("parameters.expression", str(exc)))
    return errors


def describe(spec: PolicySpec) -> str:
    """A one-line human rule, e.g. 'price ≤ 100,000' or 'sla_tier in {gold, platinum}'."""
    p = spec.parameters
    try:
        match spec.kind:
            case PolicyKind.CAP:
                return f"{p['issue']} ≤ {fmt_number(p['max'])}"
            case PolicyKind.FLOOR:
                return f"{p['issue']} ≥ {fmt_number(p['min'])}"
            case PolicyKind.RANGE:
                return f"{fmt_number(p['min'])} ≤ {p['issue']} ≤ {fmt_number(p['max'])}"
            case PolicyKind.ALLOWED_VALUES:
                return f"{p['issue']} in {{{', '.join(str(v) for v in p['values'])}}}"
            case PolicyKind.MIN_MARGIN:
                return (
                    f"{p.get('issue', 'price')} ≥ {p.get('cost_key', 'unit_cost')} + "
                    f"{fmt_number(p['min_percent'])}% margin"
                )
            case PolicyKind.SLA:
                if p.get("min") is not None and p.get("max") is not None:
                    return f"{fmt_number(p['min'])} ≤ {p['issue']} ≤ {fmt_number(p['max'])}"
                if p.get("min") is not None:
                    return f"{p['issue']} ≥ {fmt_number(p['min'])}"
                return f"{p['issue']} ≤ {fmt_number(p['max'])}"
            case PolicyKind.REQUIRED_FIXED_TERM:
                if "value" in p:
                    return f"fixed term {p['term']} = {p['value']!r}"
                return f"fixed term {p['term']} is set"
            case PolicyKind.DISCLOSURE:
                tolerance = fmt_number(p.get("tolerance_percent", 1.0))
                where = "text or numeric terms" if p.get("include_numeric_terms") else "text"
                return f"{where} must not reveal {', '.join(p['keys'])} (±{tolerance}%)"
            case PolicyKind.APPROVAL_THRESHOLD:
                return f"{_MEASURES.get(p['measure'], p['measure'])} > {fmt_number(p['above'])} needs approval"
            case PolicyKind.EXPRESSION:
                return str(p["expression"])
    except (KeyError, TypeError):
        pass
    return f"{spec.kind} {dict(p)!r}"


# --- serialisation ----------------------------------------------------------------------------


def policy_spec_to_dict(spec: PolicySpec) -> dict[str, Any]:
    return {
        "policy_id": spec.policy_id,
        "version": spec.version,
        "name": spec.name,
        "category": spec.category,
        "kind": spec.kind.value,
        "parameters": _plain(dict(spec.parameters)),
        "severity": spec.severity.value,
        "scope_role": spec.scope_role,
    }


def policy_spec_from_dict(data: Mapping[str, Any]) -> PolicySpec:
    """Inverse of :func:`policy_spec_to_dict`; raises PolicyError naming the bad field."""
    missing = [
        k
        for k in ("policy_id", "version", "name", "kind", "parameters", "severity")
        if k not in data
    ]
    if missing:
        raise PolicyError(f"policy is missing {', '.join(missing)}")
    try:
        kind = PolicyKind(data["kind"])
    except ValueError:
        raise PolicyError(
            f"kind: unknown kind {data['kind']!r}; known: {', '.join(k.value for k in PolicyKind)}"
        ) from None
    try:
        severity = Severity(data["severity"])
    except ValueError:
        raise PolicyError(
            f"severity: unknown severity {data['severity']!r}; known: {', '.join(s.value for s in Severity)}"
        ) from None
    if not isinstance(data["parameters"], Mapping):
        raise PolicyError(f"parameters: expected an object, got {data['parameters']!r}")
    return PolicySpec(
        policy_id=data["policy_id"],
        version=int(data["version"]),
        name=str(data["name"]),
        category=str(data.get("category", "")),
        kind=kind,
        parameters=dict(data["parameters"]),
        severity=severity,
        scope_role=data.get("scope_role") or None,
    )


def check_result_to_dict(result: CheckResult) -> dict[str, Any]:
    out = {
        "policy_id": result.policy_id,
        "policy_version": result.policy_version,
        "policy_name": result.policy_name,
        "kind": result.kind.value,
        "severity": result.severity.value,
        "passed": result.passed,
        "message": result.message,
        "evidence": _plain(dict(result.evidence)),
    }
    if result.waived_by is not None:
        out["waived_by"] = result.waived_by
    return out


def check_result_from_dict(data: Mapping[str, Any]) -> CheckResult:
    return CheckResult(
        policy_id=data["policy_id"],
        policy_version=int(data["policy_version"]),
        policy_name=str(data["policy_name"]),
        kind=PolicyKind(data["kind"]),
        severity=Severity(data["severity"]),
        passed=bool(data["passed"]),
        message=str(data["message"]),
        evidence=dict(data.get("evidence") or {}),
        waived_by=data.get("waived_by"),
    )
