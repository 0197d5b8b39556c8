"""Constraints an approver adds when requesting changes (`price <= 95,000`,
`sla_tier in [gold, platinum]`): parsing them, and turning them into block policies
on that one negotiation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from approvals.models import ApprovalRequest
from approvals.services.errors import ApprovalError
from negotiator.engine.policies import fmt_number
from negotiator.models import (
    Negotiation,
    Policy,
    PolicyCategory,
    PolicyKindChoice,
    PolicyScope,
    Severity,
)
from negotiator.services.policies import policy_save

MAX_CONSTRAINTS = 10


@dataclass(frozen=True)
class Constraint:
    text: str
    issue: str
    operator: str
    value: Any
    kind: str
    parameters: dict[str, Any]

    @property
    def label(self) -> str:
        shown = (
            "[" + ", ".join(str(v) for v in self.value) + "]"
            if isinstance(self.value, list)
            else fmt_number(self.value)
            if isinstance(self.value, int | float)
            else str(self.value)
        )
        return f"{self.issue} {self.operator} {shown}"


_CONSTRAINT = re.compile(
    r"^\s*(?:terms\.)?(?P<issue>[A-Za-z_][\w-]*)\s*(?P<op><=|>=|==|!=|<|>|=|≤|≥|\bin\b)\s*(?P<value>.+?)\s*$"
)


_NUMBER = re.compile(r"^[-+]?(?:\d{1,3}(?:[,_ ]\d{3})+|\d+)(?:\.\d+)?$")


_OPERATOR_ALIASES = {"=": "==", "≤": "<=", "≥": ">="}


def _parse_number(text: str) -> float | int | None:
    cleaned = text.strip().lstrip("$€£").strip()
    if not _NUMBER.match(cleaned):
        return None
    number = float(re.sub(r"[,_ ]", "", cleaned))
    return int(number) if number.is_integer() else number


def _parse_option(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def constraints_parse(text: str, *, spec: Mapping[str, Any]) -> list[Constraint]:
    """Parse one constraint a line (or separated by ';'):
    ``<issue> <= | >= | < | > | == <value>`` or ``<issue> in [a, b]``.

    Raises ApprovalError naming the line and what is wrong."""
    issues = {i["name"]: i for i in spec.get("issues", [])}
    lines = [part.strip() for line in (text or "").splitlines() for part in line.split(";")]
    lines = [line for line in lines if line]
    if len(lines) > MAX_CONSTRAINTS:
        raise ApprovalError(f"Add at most {MAX_CONSTRAINTS} constraints at a time.")
    return [_constraint_parse(line, issues) for line in lines]


def _constraint_parse(line: str, issues: Mapping[str, Mapping[str, Any]]) -> Constraint:
    match = _CONSTRAINT.match(line)
    if not match:
        raise ApprovalError(
            f"'{line[:80]}' is not a constraint; write e.g. 'price <= 95,000' or "
            "'sla_tier in [gold, platinum]'."
        )
    name, op, raw = match["issue"], match["op"], match["value"]
    op = _OPERATOR_ALIASES.get(op, op)
    issue = issues.get(name)
    if issue is None:
        raise ApprovalError(
            f"'{line[:80]}': there is no issue '{name}'; issues: {', '.join(issues)}."
        )
    if op == "!=":
        raise ApprovalError(f"'{line[:80]}': use <, >, == or in [...] instead of !=.")
    if issue.get("type", "numeric") == "numeric":
        value, kind, params = _numeric_constraint(line, name, op, raw)
    else:
        value, kind, params = _option_constraint(line, issue, op, raw)
    return Constraint(line, name, op, value, kind, params)


def _numeric_constraint(line: str, name: str, op: str, raw: str) -> tuple[Any, str, dict]:
    """A bound on a numeric issue as the policy that enforces it."""
    if op == "in":
        raise ApprovalError(f"'{line[:80]}': {name} is numeric; use <=, >=, <, > or ==.")
    value = _parse_number(raw)
    if value is None:
        raise ApprovalError(f"'{line[:80]}': '{raw[:40]}' is not a number.")
    if op == "<=":
        return value, PolicyKindChoice.CAP, {"issue": name, "max": value}
    if op == ">=":
        return value, PolicyKindChoice.FLOOR, {"issue": name, "min": value}
    if op == "==":
        return value, PolicyKindChoice.RANGE, {"issue": name, "min": value, "max": value}
    return (
        value,
        PolicyKindChoice.EXPRESSION,
        {
            "expression": f"terms.{name} {op} {float(value)!r}",
            "message": f"an approver requires {name} {op} {fmt_number(value)}",
        },
    )


def _option_constraint(
    line: str, issue: Mapping[str, Any], op: str, raw: str
) -> tuple[Any, str, dict]:
    """The options a categorical issue may take, as an allowed-values policy."""
    name = issue["name"]
    options = list(issue.get("options", []))
    if op == "in":
        body = raw.strip()
        if not (body.startswith("[") and body.endswith("]")):
            raise ApprovalError(f"'{line[:80]}': write the options as [a, b].")
        values = [_parse_option(v) for v in body[1:-1].split(",") if v.strip()]
    elif op == "==":
        values = [_parse_option(raw)]
    else:
        raise ApprovalError(f"'{line[:80]}': {name} is {issue.get('type')}; use == or in [...].")
    unknown = [v for v in values if v not in options]
    if unknown or not values:
        raise ApprovalError(
            f"'{line[:80]}': {', '.join(unknown) or 'nothing'} is not an option of "
            f"{name}; options: {', '.join(map(str, options))}."
        )
    value = values if op == "in" else values[0]
    return value, PolicyKindChoice.ALLOWED_VALUES, {"issue": name, "values": values}


def constraint_policies_create(
    *,
    negotiation: Negotiation,
    request: ApprovalRequest,
    constraints: Sequence[Constraint],
    comment: str,
    user,
) -> list[Policy]:
    created = []
    for constraint in constraints:
        policy = Policy(
            name=f"{constraint.label} (approval #{request.pk})"[:120],
            description=f"Added by {user.get_username()} when requesting changes: {comment}"[:2000],
            category=PolicyCategory.COMPLIANCE,
            scope=PolicyScope.NEGOTIATION,
            negotiation=negotiation,
            kind=constraint.kind,
            parameters=constraint.parameters,
            severity=Severity.BLOCK,
            active=True,
        )
        policy_save(policy=policy, user=user)
        created.append(policy)
    return created
