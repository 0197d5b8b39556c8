"""Bounded Common Expression Language (CEL) rules for ``expression`` policies.

A rule is CEL text (parsed and evaluated by cel-python, ``import celpy``) that
must evaluate to ``true`` for an offer to pass. Variables available to a rule:

``terms``   map of the offer's terms (issue name -> value)
``fixed``   map of the playbook's fixed (non-negotiable) terms
``profile`` the sender's own preference profile (``weights``, ``reservation``,
            ``private_values``)
``role``    the sender's role name (string)
``deal``    map ``{"value": double, "risk": double}`` (absent keys when unknown)
``stage``   ``"send"`` or ``"accept"``
``plan``    the structured view of ``terms``: allocation items and windows by their
            parts, e.g. ``plan.spend.search``, ``plan.spend.total``,
            ``plan.flight.video.start`` / ``.length`` / ``.end`` (see
            ``structured.nested_view``)

Numbers: every number handed to a rule is a CEL ``double`` (an offer's price may
be ``95000`` or ``95000.0`` depending on the issue; a rule must not behave
differently). Ordering comparisons with int literals work (``terms.price <
100000``), and equality is numeric across int and double (``terms.delivery_days
== 10`` is true for 10.0), as in current CEL's heterogeneous equality. Integer
arithmetic on a term needs ``int(terms.x)``; ``%`` is not defined for doubles.

Bounds, so that a bad rule cannot hang a worker (all configurable per call
through :class:`Bounds`):

* text at most ``MAX_LENGTH`` = 2,000 characters;
* parse tree at most ``MAX_NODES`` = 4,000 nodes and ``MAX_DEPTH`` = 200 levels
  (the evaluator recurses; deeper trees would hit Python's recursion limit);
* functions and methods from an allow-list only (``matches`` is allowed:
  cel-python runs it on RE2, which has no catastrophic backtracking, and the
  strings it sees are bounded below);
* evaluation is bounded by a cost budget, never by the clock, so the same offer
  always gets the same verdict whatever the machine's load: every parse-tree
  node visited costs one step, every list, map or string it produces costs one
  more step per ``COLLECTION_COST`` items, and ``MAX_STEPS`` = 20,000 steps (a
  few tens of milliseconds here; 4 µs a step) stop it. Any intermediate
  collection longer than ``MAX_COLLECTION`` = 10,000 items stops it too. A rule
  over budget *fails* (fail closed) with "rule exceeded its evaluation budget".
  Rules people write use a few dozen steps.

Parsed rules are cached by their text (``functools.lru_cache``): checking runs on
every offer.
"""

from __future__ import annotations

import math
import re
import sys
import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.evaluation import Activation, CELEvalError, Evaluator, base_functions

from .structured import SEPARATOR, nested_view

MAX_LENGTH = 2_000
MAX_NODES = 4_000
MAX_DEPTH = 200
MAX_STEPS = 20_000
MAX_COLLECTION = 10_000
COLLECTION_COST = 10  # items of a produced list, map or string that cost one step

VARIABLES = ("terms", "fixed", "profile", "role", "deal", "stage", "plan")
DEAL_FIELDS = ("value", "risk")
PROFILE_FIELDS = ("weights", "reservation", "private_values")
ALLOWED_FUNCTIONS = frozenset(
    {"has", "size", "int", "uint", "double", "string", "bool", "dyn", "type"}
)
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
ALLOWED_METHODS = MACROS | {"size", "contains", "startsWith", "endsWith", "matches"}


class PolicyError(ValueError):
    """A policy (or its CEL rule) cannot be used; the message says why."""


@dataclass(frozen=True)
class Bounds:
    max_length: int = MAX_LENGTH
    max_nodes: int = MAX_NODES
    max_depth: int = MAX_DEPTH
    max_steps: int = MAX_STEPS
    max_collection: int = MAX_COLLECTION


DEFAULT_BOUNDS = Bounds()


@dataclass(frozen=True)
class RuleOutcome:
    """What one evaluation produced. ``passed`` is true only for a boolean ``true``."""

    passed: bool
    value: Any = None  # the plain Python result (bool for a well-formed rule)
    error: str | None = None
    over_budget: bool = False


# --- evaluation -------------------------------------------------------------------------------


class _AnyGeneric:
    """Stands in for ``typing.Tuple`` & co. inside cel-python's ``cast(...)`` calls."""

    def __getitem__(self, item: Any) -> _AnyGeneric:
        return self


def _speed_up_celpy() -> None:
    """Make cel-python's interpreter ~1.5x faster without changing what it computes.

    Its node methods build typing generics on every visit (``cast(Tuple[List[Result],
    Result], ...)``) and hashing those Unions is a third of the evaluation time.
    ``typing.cast`` is a no-op at run time, so the module-level names used only inside
    such casts are replaced by a cheap stand-in. (``Sequence`` and ``Mapping`` are
    left alone: cel-python also uses them in ``isinstance``.)
    """
    import celpy.evaluation as evaluation

    stand_in = _AnyGeneric()
    for name in ("Tuple", "List", "Dict", "Iterable", "Union"):
        if hasattr(evaluation, name):
            setattr(evaluation, name, stand_in)
    evaluation.cast = lambda _type, value: value


_speed_up_celpy()


# --- bounded evaluation -----------------------------------------------------------------------------


class _BudgetExceeded(BaseException):
    """Raised inside the evaluator when a bound is hit.

    A BaseException so that cel-python's own ``except Exception`` handlers (e.g. in
    ``has()`` and short-circuit macros) cannot swallow it.
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class _Budget:
    __slots__ = ("steps", "max_steps", "max_collection")

    def __init__(self, max_steps: int, max_collection: int):
        self.steps = 0
        self.max_steps = max_steps
        self.max_collection = max_collection


_COLLECTIONS = (celtypes.ListType, celtypes.MapType, celtypes.StringType, list, dict, str)


class _BoundedEvaluator(Evaluator):
    """cel-python's interpreter with a step budget and a size limit per node."""

    def __init__(self, ast: lark.Tree, activation: Activation, budget: _Budget):
        super().__init__(ast, activation)
        self._budget = budget

    def sub_evaluator(self, ast: lark.Tree) -> Evaluator:
        return _BoundedEvaluator(ast, self.activation, self._budget)

    def _visit_tree(self, tree: lark.Tree) -> Any:
        budget = self._budget
        budget.steps += 1
        if budget.steps > budget.max_steps:
            raise _BudgetExceeded("steps")
        result = super()._visit_tree(tree)
        if isinstance(result, _COLLECTIONS):
            if len(result) > budget.max_collection:
                raise _BudgetExceeded("size")
            budget.steps += len(result) // COLLECTION_COST
        return result


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric_eq(a: Any, b: Any) -> Any:
    if _is_number(a) and _is_number(b):
        return celtypes.BoolType(float(a) == float(b))
    return base_functions["_==_"](a, b)


def _numeric_ne(a: Any, b: Any) -> Any:
    if _is_number(a) and _is_number(b):
        return celtypes.BoolType(float(a) != float(b))
    return base_functions["_!=_"](a, b)


_FUNCTIONS = {"_==_": _numeric_eq, "_!=_": _numeric_ne}


def to_cel(value: Any) -> Any:
    """Plain Python (JSON-like) value -> CEL value; every number becomes a double."""
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int | float):
        return celtypes.DoubleType(float(value))
    if isinstance(value, str):
        return celtypes.StringType(value)
    if value is None:
        return None
    if isinstance(value, Mapping):
        return celtypes.MapType({celtypes.StringType(str(k)): to_cel(v) for k, v in value.items()})
    if isinstance(value, list | tuple | set | frozenset):
        return celtypes.ListType([to_cel(v) for v in value])
    return celtypes.StringType(str(value))


def from_cel(value: Any) -> Any:
    """CEL value -> plain JSON-safe Python value (for evidence)."""
    if isinstance(value, celtypes.BoolType | bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): from_cel(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [from_cel(v) for v in value]
    return None if value is None else str(value)


def build_activation(
    *,
    terms: Mapping[str, Any],
    fixed: Mapping[str, Any] | None = None,
    profile: Mapping[str, Any] | None = None,
    role: str = "",
    deal: Mapping[str, Any] | None = None,
    stage: str = "send",
    names: Collection[str] | None = None,
) -> dict[str, Any]:
    """The variables a rule sees, as CEL values. ``deal`` drops unknown (None) measures.
    With ``names`` (a rule's identifiers), only those variables are converted."""
    makers = {
        "terms": lambda: to_cel(dict(terms)),
        "fixed": lambda: to_cel(dict(fixed or {})),
        "profile": lambda: to_cel(dict(profile or {})),
        "role": lambda: celtypes.StringType(role),
        "deal": lambda: to_cel({k: v for k, v in (deal or {}).items() if v is not None}),
        "stage": lambda: celtypes.StringType(stage),
        "plan": lambda: to_cel(nested_view(terms)),
    }
    wanted = makers if names is None else [n for n in makers if n in names]
    return {name: makers[name]() for name in wanted}


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, CELEvalError) and exc.args:
        text = str(exc.args[0])
    else:
        text = str(exc) or type(exc).__name__
    text = text.replace("Token('RULE', ", "").replace("')", "'")
    text = _CLASS_NAME.sub(lambda m: _TYPE_NAMES.get(m.group(1), m.group(1)), text)
    for rule_name, symbol in _OPERATORS.items():
        text = text.replace(f"'{rule_name}'", f"'{symbol}'")
    return text


_CLASS_NAME = re.compile(r"<class '(?:celpy\.celtypes\.)?(\w+)'>")
_TYPE_NAMES = {
    "StringType": "string",
    "IntType": "int",
    "UintType": "uint",
    "DoubleType": "double",
    "BoolType": "bool",
    "ListType": "list",
    "MapType": "map",
    "NoneType": "null",
    "float": "double",
}
_OPERATORS = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_in": "in",
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}


# --- static analysis ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    nodes: int
    depth: int
    functions: frozenset[str]
    methods: frozenset[str]
    identifiers: frozenset[str]
    bound: frozenset[str]  # names bound by macros (x in list.all(x, ...))
    paths: frozenset[tuple[str, ...]]  # dotted member chains rooted at an identifier


def _token(node: Any) -> str | None:
    return str(node) if isinstance(node, lark.Token) else None


def _member_path(tree: lark.Tree) -> tuple[str, ...] | None:
    """``member`` / ``member_dot`` chain -> ("terms", "price"); None if not a plain chain."""
    parts: list[str] = []
    node: Any = tree
    while True:
        if node.data == "member":
            if len(node.children) != 1 or not isinstance(node.children[0], lark.Tree):
                return None
            node = node.children[0]
        elif node.data == "member_dot":
            inner, name = node.children[0], _token(node.children[1])
            if name is None or not isinstance(inner, lark.Tree):
                return None
            parts.append(name)
            node = inner
        elif node.data == "primary":
            child = node.children[0] if node.children else None
            if isinstance(child, lark.Tree) and child.data in ("ident", "dot_ident"):
                ident = _token(child.children[0])
                if ident is None:
                    return None
                parts.append(ident)
                return tuple(reversed(parts))
            return None
        else:
            return None


def _shape(ast: lark.Tree) -> _Shape:
    nodes = 0
    depth = 0
    functions: set[str] = set()
    methods: set[str] = set()
    identifiers: set[str] = set()
    bound: set[str] = set()
    paths: set[tuple[str, ...]] = set()
    stack: list[tuple[lark.Tree, int]] = [(ast, 1)]
    while stack:
        node, level = stack.pop()
        nodes += 1
        depth = max(depth, level)
        data = node.data
        if data in ("ident", "dot_ident"):
            name = _token(node.children[0])
            if name:
                identifiers.add(name)
        elif data == "ident_arg":
            name = _token(node.children[0])
            if name:
                functions.add(name)
        elif data == "member_dot_arg":
            name = _token(node.children[1])
            if name:
                methods.add(name)
                if name in MACROS and len(node.children) > 2:
                    args = node.children[2]
                    if isinstance(args, lark.Tree) and args.children:
                        first = args.children[0]
                        if isinstance(first, lark.Tree):
                            for ident in first.find_data("ident"):
                                bound.add(str(ident.children[0]))
        elif data == "member_dot":
            path = _member_path(node)
            if path:
                paths.add(path)
        for child in node.children:
            if isinstance(child, lark.Tree):
                stack.append((child, level + 1))
    return _Shape(
        nodes,
        depth,
        frozenset(functions),
        frozenset(methods),
        frozenset(identifiers),
        frozenset(bound),
        frozenset(paths),
    )


# --- compilation -------------------------------------------------------------------------------

_env_lock = threading.Lock()
_environment: celpy.Environment | None = None


def _env() -> celpy.Environment:
    global _environment
    if _environment is None:
        recursion_limit = sys.getrecursionlimit()
        _environment = celpy.Environment()
        # celpy.Environment() lowers/raises the process-wide limit to 2,500; keep the higher one.
        sys.setrecursionlimit(max(recursion_limit, sys.getrecursionlimit()))
    return _environment


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """A parsed, bounds-checked rule, ready to evaluate many times."""

    expression: str
    ast: lark.Tree = field(repr=False)
    shape: _Shape = field(repr=False)
    activation: Activation = field(repr=False)

    @property
    def uses_profile(self) -> bool:
        return "profile" in self.shape.identifiers

    def evaluate(
        self, variables: Mapping[str, Any], *, bounds: Bounds = DEFAULT_BOUNDS
    ) -> RuleOutcome:
        """Evaluate against CEL ``variables`` (see :func:`build_activation`). Never raises."""
        budget = _Budget(bounds.max_steps, bounds.max_collection)
        evaluator = _BoundedEvaluator(self.ast, self.activation, budget)
        try:
            value = evaluator.evaluate(dict(variables))
        except _BudgetExceeded as exc:
            if exc.reason == "size":
                why = (
                    f"rule built a list, map or string longer than {bounds.max_collection:,} items"
                )
            else:
                why = f"rule exceeded its evaluation budget of {bounds.max_steps:,} steps"
            return RuleOutcome(False, error=why, over_budget=True)
        except RecursionError:
            return RuleOutcome(False, error="rule is nested too deeply to evaluate")
        except CELEvalError as exc:
            return RuleOutcome(False, error=_error_text(exc))
        except Exception as exc:  # cel-python reports some problems as plain Python errors
            return RuleOutcome(False, error=f"{type(exc).__name__}: {exc}")
        if isinstance(value, CELEvalError):
            return RuleOutcome(False, error=_error_text(value))
        if not isinstance(value, celtypes.BoolType | bool):
            return RuleOutcome(
                False,
                value=from_cel(value),
                error=f"rule must produce true or false, got {_cel_type_name(value)} {from_cel(value)!r}",
            )
        return RuleOutcome(bool(value), value=bool(value))


def _cel_type_name(value: Any) -> str:
    for cel_type, name in (
        (celtypes.BoolType, "bool"),
        (celtypes.IntType, "int"),
        (celtypes.UintType, "uint"),
        (float, "double"),
        (str, "string"),
        (celtypes.ListType, "list"),
        (celtypes.MapType, "map"),
    ):
        if isinstance(value, cel_type):
            return name
    return type(value).__name__


@lru_cache(maxsize=512)
def _parse(expression: str, bounds: Bounds = DEFAULT_BOUNDS) -> CompiledRule:
    """Parse and bounds-check one rule text; the result is cached by text."""
    if not isinstance(expression, str) or not expression.strip():
        raise PolicyError("the rule is empty; write a CEL expression such as terms.price <= 100000")
    if len(expression) > bounds.max_length:
        raise PolicyError(
            f"the rule is {len(expression):,} characters long; the limit is {bounds.max_length:,}"
        )
    env = _env()
    try:
        with _env_lock:  # one shared lark parser
            ast = env.compile(expression)
    except Exception as exc:  # CELParseError and lark errors
        raise PolicyError(f"syntax error: {str(exc).strip()}") from None
    shape = _shape(ast)
    if shape.nodes > bounds.max_nodes:
        raise PolicyError(
            f"the rule is too complex ({shape.nodes:,} parse nodes; the limit is {bounds.max_nodes:,})"
        )
    if shape.depth > bounds.max_depth:
        raise PolicyError(
            f"the rule is nested too deeply ({shape.depth} levels; the limit is {bounds.max_depth})"
        )
    unknown_functions = sorted(shape.functions - ALLOWED_FUNCTIONS)
    if unknown_functions:
        raise PolicyError(
            f"unknown function {unknown_functions[0]!r}; allowed: {', '.join(sorted(ALLOWED_FUNCTIONS))}"
        )
    unknown_methods = sorted(shape.methods - ALLOWED_METHODS)
    if unknown_methods:
        raise PolicyError(
            f"unknown method {unknown_methods[0]!r}; allowed: {', '.join(sorted(ALLOWED_METHODS))}"
        )
    unknown_names = sorted(shape.identifiers - set(VARIABLES) - shape.bound)
    if unknown_names:
        raise PolicyError(f"unknown variable {unknown_names[0]!r}; known: {', '.join(VARIABLES)}")
    activation = Activation(functions=_FUNCTIONS)
    return CompiledRule(expression, ast, shape, activation)


def _issue_type(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Mapping):
        return str(spec.get("type", "numeric"))
    return "numeric"


def _sample_value(spec: Any, *, high: bool) -> Any:
    kind = _issue_type(spec)
    if kind in ("categorical", "ordinal"):
        options = list(spec.get("options") or []) if isinstance(spec, Mapping) else []
        if options:
            return str(options[-1] if high else options[0])
        return "option"
    lo = spec.get("min") if isinstance(spec, Mapping) else None
    hi = spec.get("max") if isinstance(spec, Mapping) else None
    if _is_number(lo) and _is_number(hi):
        return float(hi) if high else (float(lo) + float(hi)) / 2
    return 2.0 if high else 1.0


def compile_expression(
    expression: str,
    *,
    issues: Mapping[str, Any] | None = None,
    fixed_terms: Iterable[str] | Mapping[str, Any] | None = None,
    private_value_keys: Iterable[str] | None = None,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> CompiledRule:
    """Parse, bounds-check and (when the playbook is known) type-check a rule.

    ``issues`` maps issue name -> type ("numeric" | "categorical" | "ordinal") or an
    issue dict ``{"type", "min", "max", "options"}``; ``fixed_terms`` are the fixed
    term names (or the mapping of them); ``private_value_keys`` are the names a
    profile's ``private_values`` may hold. With ``issues`` given, references to
    unknown fields are refused and the rule is evaluated against sample offers
    built from the issue types, so type errors (comparing a categorical string
    with a number) and non-boolean results are refused with the evaluator's message.

    Raises :class:`PolicyError`.
    """
    rule = _parse(expression, bounds)
    if issues is None:
        return rule
    fixed_map: dict[str, Any]
    if isinstance(fixed_terms, Mapping):
        fixed_map = dict(fixed_terms)
    else:
        fixed_map = dict.fromkeys(fixed_terms or (), "value")
    private_keys = None if private_value_keys is None else set(private_value_keys)
    referenced_private: set[str] = set()
    referenced_weights: set[str] = set()

    for path in sorted(rule.shape.paths):
        root, rest = path[0], path[1:]
        if root in rule.shape.bound or not rest:
            continue
        if root == "terms" and rest[0] not in issues:
            raise PolicyError(
                f"unknown field 'terms.{rest[0]}': no issue named {rest[0]!r} "
                f"(known: {', '.join(issues) or 'none'})"
            )
        if root == "plan" and not any(n.startswith(f"{rest[0]}{SEPARATOR}") for n in issues):
            groups = sorted({n.split(SEPARATOR)[0] for n in issues if SEPARATOR in n})
            raise PolicyError(
                f"unknown field 'plan.{rest[0]}': no allocation or window named {rest[0]!r} "
                f"(known: {', '.join(groups) or 'none'})"
            )
        if root == "fixed" and fixed_terms is not None and rest[0] not in fixed_map:
            raise PolicyError(
                f"unknown field 'fixed.{rest[0]}': no fixed term named {rest[0]!r} "
                f"(known: {', '.join(fixed_map) or 'none'})"
            )
        if root == "deal" and rest[0] not in DEAL_FIELDS:
            raise PolicyError(f"unknown field 'deal.{rest[0]}' (known: {', '.join(DEAL_FIELDS)})")
        if root == "profile":
            if rest[0] not in PROFILE_FIELDS:
                raise PolicyError(
                    f"unknown field 'profile.{rest[0]}' (known: {', '.join(PROFILE_FIELDS)})"
                )
            if rest[0] == "private_values" and len(rest) > 1:
                if private_keys is not None and rest[1] not in private_keys:
                    raise PolicyError(
                        f"unknown field 'profile.private_values.{rest[1]}' "
                        f"(known: {', '.join(sorted(private_keys)) or 'none'})"
                    )
                referenced_private.add(rest[1])
            if rest[0] == "weights" and len(rest) > 1:
                referenced_weights.add(rest[1])

    private_sample = dict.fromkeys((private_keys or set()) | referenced_private, 1.0)
    profile = {
        "weights": dict.fromkeys(set(issues) | referenced_weights, 0.5),
        "reservation": 0.5,
        "private_values": private_sample,
    }
    for high in (False, True):
        variables = build_activation(
            terms={name: _sample_value(spec, high=high) for name, spec in issues.items()},
            fixed=fixed_map,
            profile=profile,
            role="role",
            deal={"value": 1.0, "risk": 0.5},
            stage="send",
        )
        outcome = rule.evaluate(variables, bounds=bounds)
        if outcome.error:
            raise PolicyError(outcome.error)
    return rule
