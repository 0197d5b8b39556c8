"""Which outcomes a party may offer or accept under its policies.

The policy gate checks every offer before it is sent; this module lets a
party's strategy know the rules up front, so it searches only outcomes that
pass. Without it a strategy whose best outcomes break a floor would burn its
block retries on near-identical offers and escalate at once.

Only policies whose verdict depends on the terms alone are folded in (caps,
floors, ranges, allowed values, SLAs, margins, CEL rules over terms). Disclosure
depends on the rationale and stays with the gate; approval thresholds are
consumed at agreement. Evaluation uses :func:`policies.check_one` itself, so
the mask and the gate can never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import product
from typing import Any

import numpy as np

from .outcomes import OutcomeSpace
from .policies import CheckContext, PolicyKind, PolicySpec, Severity, applies, check_one

TERM_KINDS = frozenset(
    {
        PolicyKind.CAP,
        PolicyKind.FLOOR,
        PolicyKind.RANGE,
        PolicyKind.ALLOWED_VALUES,
        PolicyKind.SLA,
        PolicyKind.MIN_MARGIN,
        PolicyKind.EXPRESSION,
    }
)
STOPPING = frozenset({Severity.BLOCK, Severity.ESCALATE})
_TERM_REF = re.compile(r"\bterms\.([A-Za-z_][A-Za-z0-9_]*)")
_PLAN_REF = re.compile(r"\bplan\.([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class _Terms:
    """The minimal offer shape policies read."""

    terms: Mapping[str, Any]
    rationale: str = ""
    assumptions: tuple[str, ...] = ()
    sender: str = ""
    performative: str = "propose"
    fixed_terms_hash: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def _issues_read(spec: PolicySpec, names: Sequence[str]) -> tuple[str, ...] | None:
    """The issues a policy's verdict depends on, or None when it may read any."""
    params = spec.parameters
    if spec.kind == PolicyKind.EXPRESSION:
        text = str(params.get("expression", ""))
        if "terms[" in text or re.search(r"\bterms\b(?!\.)", text):
            return None  # indexed or whole-map access: evaluate full outcomes
        if re.search(r"\bplan\b(?!\.)", text):
            return None
        groups = {f"{g}__" for g in _PLAN_REF.findall(text)}
        read = set(_TERM_REF.findall(text))
        return tuple(n for n in names if n in read or any(n.startswith(g) for g in groups))
    issue = params.get("issue")
    return (issue,) if issue in names else ()


def allowed_mask(
    space: OutcomeSpace,
    specs: Iterable[PolicySpec],
    context: CheckContext,
    *,
    severities: frozenset[Severity] = STOPPING,
    deal: Any = None,
) -> np.ndarray:
    """Boolean array over ``space.enumerate()``: True where no policy in scope for
    ``context.sender_role`` with a stopping severity fails.

    ``deal`` is an optional callable terms -> (value, risk) for CEL rules that
    read ``deal``; without it those rules see the context's values.
    """
    names = space.names
    sizes = space.sizes
    value_index = space.value_index()
    mask = np.ones(len(value_index), dtype=bool)
    for spec in specs:
        if spec.kind not in TERM_KINDS or spec.severity not in severities:
            continue
        if not applies(spec, context):
            continue
        read = _issues_read(spec, names)
        if read is None:
            read = names
        if not read:
            continue  # the policy reads no issue of this space: the gate decides
        positions = [names.index(n) for n in read]
        # Evaluate once per combination of the issues the policy reads.
        sub_ok = np.ones([sizes[p] for p in positions], dtype=bool)
        base = {n: space.issues[i].values[0] for i, n in enumerate(names)}
        for combo in product(*(range(sizes[p]) for p in positions)):
            terms = dict(base)
            for p, k in zip(positions, combo, strict=True):
                terms[names[p]] = space.issues[p].values[k]
            ctx = context
            if deal is not None:
                value, risk = deal(terms)
                ctx = replace(context, deal_value=value, deal_risk=risk)
            if not check_one(_Terms(terms), spec, ctx).passed:
                sub_ok[combo] = False
        mask &= sub_ok[tuple(value_index[:, p] for p in positions)]
    return mask
