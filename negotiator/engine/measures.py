"""Deal measures: a playbook's value and risk rules, evaluated over agreed terms.

A rule is an issue name (``price``) or a CEL expression over ``terms`` that
yields a number (``terms.annual_price * terms.term_months / 12.0``); ``plan``
is the structured view of the terms (``plan.spend.total``, see
``structured.nested_view``). Every
numeric term is handed to CEL as a double, as for policy rules. Rules are
short (at most 500 characters) and have no loops, so evaluation is bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes
from celpy.evaluation import CELEvalError

from .cel import to_cel
from .structured import nested_view

MAX_LENGTH = 500


def _cel_terms(terms: Mapping[str, Any]) -> celtypes.MapType:
    out = {}
    for name, value in terms.items():
        if isinstance(value, bool):
            out[celtypes.StringType(name)] = celtypes.BoolType(value)
        elif isinstance(value, int | float):
            out[celtypes.StringType(name)] = celtypes.DoubleType(float(value))
        else:
            out[celtypes.StringType(name)] = celtypes.StringType(str(value))
    return celtypes.MapType(out)


@lru_cache(maxsize=256)
def _program(expression: str):
    if len(expression) > MAX_LENGTH:
        raise ValueError(f"expression is longer than {MAX_LENGTH} characters")
    env = celpy.Environment()
    try:
        ast = env.compile(expression)
    except celpy.CELParseError as exc:
        raise ValueError(
            f"not a valid CEL expression: {exc.args[0] if exc.args else exc}"
        ) from None
    return env.program(ast)


def evaluate_number_expression(expression: str, terms: Mapping[str, Any]) -> float:
    """Evaluate to a float; ValueError says why it could not."""
    program = _program(expression)
    try:
        result = program.evaluate({"terms": _cel_terms(terms), "plan": to_cel(nested_view(terms))})
    except CELEvalError as exc:
        raise ValueError(f"cannot evaluate: {exc.args[0] if exc.args else exc}") from None
    except Exception as exc:  # cel-python reports some problems as Python errors
        raise ValueError(f"cannot evaluate: {type(exc).__name__}: {exc}") from None
    if isinstance(result, CELEvalError):
        raise ValueError(f"cannot evaluate: {result.args[0] if result.args else result}")
    if isinstance(result, celtypes.BoolType | bool) or not isinstance(
        result, celtypes.DoubleType | celtypes.IntType | celtypes.UintType | int | float
    ):
        raise ValueError(f"must produce a number, got {type(result).__name__} {result!r}")
    return float(result)


def compile_number_expression(expression: str, *, issues: Mapping[str, str]) -> None:
    """Refuse a rule that does not parse, names an unknown issue, or is not numeric.

    ``issues`` maps issue name -> type (numeric, categorical, ordinal).
    """
    sample = {name: (1.0 if kind == "numeric" else "x") for name, kind in issues.items()}
    evaluate_number_expression(expression, sample)


def deal_measure(rule: str, terms: Mapping[str, Any]) -> float | None:
    """An issue name reads that term; anything else is a CEL rule. None if unknown."""
    rule = (rule or "").strip()
    if not rule:
        return None
    if rule in terms:
        value = terms[rule]
        return float(value) if isinstance(value, int | float) else None
    try:
        return evaluate_number_expression(rule, terms)
    except ValueError:
        return None
