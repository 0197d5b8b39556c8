"""Playbooks as code: one JSON document per playbook, with its issues, fixed
terms, roles (strategies and private profiles) and policies.

Import is all-or-nothing and declarative: the document becomes the playbook's
state; changed parts make new playbook and policy versions, old versions are
never edited. Errors name the path in the document (``policies[2].parameters.max``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from django.contrib.auth.models import Group
from django.db import DatabaseError, transaction

from negotiator.engine import policies as engine_policies
from negotiator.engine.plan_model import expanded_issues, flat_names, has_plan_model
from negotiator.models import (
    Playbook,
    Policy,
    PolicyScope,
)
from negotiator.services.errors import ServiceError
from negotiator.services.playbooks import (
    playbook_publish,
    playbook_rows_write,
    playbook_spec,
    playbook_spec_errors,
)
from negotiator.services.policies import issue_catalog, policy_save

FORMAT = "negotiator.playbook/1"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "playbook.schema.json"

# Input limits, checked before any parsing work that could explode: a playbook
# document is a few kilobytes; these leave room for big ones and nothing more.
MAX_DOCUMENT_BYTES = 1_000_000
# The parts of a document that describe the playbook itself (a clone copies these;
# global policies and approval routes are shared by every playbook).
PLAYBOOK_KEYS = frozenset(
    {
        "format",
        "name",
        "description",
        "team",
        "pattern",
        "currency",
        "limits",
        "value_expression",
        "risk_expression",
        "issues",
        "fixed_terms",
        "roles",
        "policies",
    }
)
MAX_DEPTH = 20  # nesting of objects and arrays (a playbook needs about 8)
MAX_MAGNITUDE = 1e15  # every number in a playbook lies within +-1e15
MAX_ERRORS = 20  # problems reported at once
MAX_MESSAGE = 300  # characters of one problem (a schema message quotes the value)


class PlaybookImportError(ValueError):
    """The document is not a valid playbook; `errors` holds (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = [(path, _short(message)) for path, message in errors[:MAX_ERRORS]]
        super().__init__("\n".join(f"{path}: {message}" for path, message in self.errors))


def _short(message: str) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


class _Refused:
    """A value the parser met that a playbook may not hold (reported with its path)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


class _Pairs(dict):
    """A JSON object whose text repeated keys (JSON parsers silently keep the last)."""

    repeated: tuple[str, ...] = ()


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out = _Pairs(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        out.repeated = tuple(k for k, _ in pairs if k in seen or seen.add(k))
    return out


def _number(text: str, value: float) -> Any:
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        return _Refused(f"the number {text[:30]} is out of range (at most ±{MAX_MAGNITUDE:g})")
    return value


def _parse_int(text: str) -> Any:
    # Decide by length first: int() of a 100,000-digit literal is slow (and refused).
    if len(text.lstrip("-")) > 16:
        return _Refused(f"the number {text[:30]}… is out of range (at most ±{MAX_MAGNITUDE:g})")
    value = int(text)
    return _number(text, value) if abs(value) > MAX_MAGNITUDE else value


def _parse_float(text: str) -> Any:
    return _number(text, float(text))


def _parse_constant(name: str) -> Any:
    return _Refused(f"{name} is not a number JSON allows; write a finite number")


def _depth_error(text: str) -> tuple[str, str] | None:
    """Where the nesting first goes deeper than MAX_DEPTH, scanning the text once
    (strings skipped) before the parser recurses into it."""
    depth, in_string, escaped, line, column = 0, False, False, 1, 0
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return (
                    "(document)",
                    f"nested deeper than {MAX_DEPTH} levels (line {line}, column {column})",
                )
        elif char in "]}":
            depth -= 1
    return None


def _text_problem(value: str) -> str:
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (\\ud800-\\udfff), which is not text"
    return ""


def _value_problems(value: Any, parts: tuple = ()) -> list[tuple[str, str]]:
    """Every refused value below ``value``, with its path (nesting is bounded)."""
    if isinstance(value, _Refused):
        return [(_path(parts), value.problem)]
    if isinstance(value, str):
        problem = _text_problem(value)
        return [(_path(parts), problem)] if problem else []
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A document parsed elsewhere (json.loads takes NaN and any integer).
        finite = isinstance(value, int) or math.isfinite(value)  # int: no float() overflow
        if not (finite and abs(value) <= MAX_MAGNITUDE):
            text = repr(value)[:30]
            return [
                (_path(parts), f"the number {text} is out of range (at most ±{MAX_MAGNITUDE:g})")
            ]
        return []
    problems: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key in getattr(value, "repeated", ()):
            problems.append((_path((*parts, key)), "this key appears twice in the object"))
        for key, item in value.items():
            problem = _text_problem(key)
            if problem:
                problems.append((_path(parts), f"a key {problem}"))
            problems.extend(_value_problems(item, (*parts, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems.extend(_value_problems(item, (*parts, index)))
    return problems


def document_parse(data: bytes) -> Any:
    """A playbook file's bytes as a JSON value, or PlaybookImportError naming each
    problem and its path: too big, not UTF-8, nested too deep, not JSON, NaN or
    infinities, numbers out of range, repeated keys, NUL characters or unpaired
    surrogates. Limits are checked before the parser does any work."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise PlaybookImportError(
            [
                (
                    "(document)",
                    f"the file has more than {MAX_DOCUMENT_BYTES:,} bytes, the limit for a playbook",
                )
            ]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlaybookImportError(
            [
                (
                    "(document)",
                    f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} "
                    "(save the file as UTF-8)",
                )
            ]
        ) from None
    deep = _depth_error(text)
    if deep is not None:
        raise PlaybookImportError([deep])
    try:
        document = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except json.JSONDecodeError as exc:
        raise PlaybookImportError(
            [("(document)", f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")]
        ) from None
    problems = _value_problems(document)
    if problems:
        raise PlaybookImportError(problems)
    return document


def json_text_parse(text: str) -> Any:
    """Any JSON text a person types (an admin field) under the same rules as a
    playbook file, but for its size: PlaybookImportError naming each problem."""
    deep = _depth_error(text)
    if deep is not None:
        raise PlaybookImportError([deep])
    return document_parse(text.encode("utf-8", "surrogatepass"))


def document_read(path: Path) -> Any:
    """A playbook file from disk (document_parse), refusing what is not a readable
    regular file of at most MAX_DOCUMENT_BYTES without reading more than that."""
    try:
        if path.is_dir():
            raise PlaybookImportError([("(file)", "is a directory, not a playbook file")])
        if not path.exists():
            raise PlaybookImportError([("(file)", "no such file")])
        if not path.is_file():
            raise PlaybookImportError([("(file)", "is not a regular file")])
        with path.open("rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except PermissionError:
        raise PlaybookImportError([("(file)", "cannot be read: permission denied")]) from None
    except OSError as exc:
        raise PlaybookImportError([("(file)", f"cannot be read: {exc.strerror}")]) from None
    return document_parse(data)


@cache
def playbook_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def document_errors(document: Any) -> list[tuple[str, str]]:
    """Schema errors first; if the shape is right, the engine's semantic checks."""
    if not isinstance(document, Mapping):
        return [("(document)", "expected a JSON object")]
    problems = _value_problems(document)
    if problems:
        return problems
    validator = jsonschema.Draft202012Validator(playbook_schema())
    errors = [
        (_path(e.absolute_path), e.message)
        for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path)))
    ]
    if errors:
        return errors
    spec = spec_of(document)
    errors.extend(playbook_spec_errors(spec))
    issues = issue_catalog(spec)
    roles = {r["name"] for r in document["roles"]}
    seen_roles: set[str] = set()
    for i, role in enumerate(document["roles"]):
        if role["name"] in seen_roles:
            errors.append((f"roles[{i}].name", f"duplicate role name '{role['name']}'"))
        seen_roles.add(role["name"])
    names: set[tuple[str, str]] = set()
    for i, policy in enumerate(document.get("policies", [])):
        prefix = f"policies[{i}]"
        scope = policy.get("scope", "playbook")
        key = (policy["name"], policy.get("role", ""))
        if key in names:
            errors.append((f"{prefix}.name", f"duplicate policy name '{policy['name']}'"))
        names.add(key)
        if scope == "role" and policy.get("role") not in roles:
            errors.append(
                (
                    f"{prefix}.role",
                    f"expected one of the roles {sorted(roles)}, got {policy.get('role')!r}",
                )
            )
        for path, message in engine_policies.validate_parameters(
            policy["kind"],
            policy["parameters"],
            issues=issues,
            fixed_terms=document.get("fixed_terms", {}),
        ):
            errors.append((f"{prefix}.{path}", message))
    errors.extend(_global_policy_errors(document))
    for key in ("approval_routes",):
        if document.get(key) and key not in _SECTIONS:
            errors.append((key, "this installation cannot import this part"))
    return errors


def _global_policy_errors(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Global policies see every playbook's issues: the document's and the installed ones'."""
    items = document.get("global_policies", [])
    if not items:
        return []
    issues = {**_installed_issues(), **issue_catalog(spec_of(document))}
    errors: list[tuple[str, str]] = []
    names: set[str] = set()
    for i, policy in enumerate(items):
        if policy["name"] in names:
            errors.append((f"global_policies[{i}].name", f"duplicate name '{policy['name']}'"))
        names.add(policy["name"])
        for path, message in engine_policies.validate_parameters(
            policy["kind"], policy["parameters"], issues=issues, fixed_terms=None
        ):
            errors.append((f"global_policies[{i}].{path}", message))
    return errors


def _installed_issues() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for playbook in Playbook.objects.exclude(current_version=None).select_related(
        "current_version"
    ):
        out.update(issue_catalog(playbook.current_version.spec))
    return out


@dataclass(frozen=True)
class DocumentSection:
    """A part of a playbook document another app owns (approvals: its routes), so a
    file moves a whole configuration while negotiator never imports that app.

    ``export(playbook)`` returns the section's items; ``write(items, playbook=,
    user=)`` runs inside the import's transaction and returns (path, message)
    problems, which roll the whole import back."""

    key: str
    export: Callable[[Playbook], list[dict[str, Any]]]
    write: Callable[..., list[tuple[str, str]]]


_SECTIONS: dict[str, DocumentSection] = {}


def document_section_register(section: DocumentSection) -> None:
    _SECTIONS[section.key] = section


def document_policy_specs(document: Mapping[str, Any], *, version: int) -> tuple:
    """The engine's PolicySpecs for a (valid) document's active policies, ids by path."""
    return tuple(
        engine_policies.PolicySpec(
            policy_id=f"policies[{i}]",
            version=version,
            name=item["name"],
            category=item["category"],
            kind=item["kind"],
            parameters=item["parameters"],
            severity=item["severity"],
            scope_role=item.get("role") if item.get("scope") == "role" else None,
        )
        for i, item in enumerate(document.get("policies", []))
        if item.get("active", True)
    )


def spec_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document in the shape playbook_spec produces."""
    limits = {
        "max_rounds": 40,
        "deadline_minutes": 60,
        "offer_ttl_rounds": None,
        "stall_threshold": 0.0,
        "stall_window": None,
        "pace_seconds": 0.0,
        "turn_deadline_minutes": 60,
        "on_turn_timeout": "escalate",
        "on_limit": "end",
        **document.get("limits", {}),
    }
    return {
        "name": document["name"],
        "pattern": document.get("pattern", "concession"),
        "currency": document.get("currency", "USD"),
        "issues": expanded_issues(document) if has_plan_model(document) else document["issues"],
        "fixed_terms": document.get("fixed_terms", {}),
        "roles": document["roles"],
        "limits": limits,
        "value_expression": document.get("value_expression", ""),
        "risk_expression": document.get("risk_expression", ""),
    } | ({"plan_model": document["plan_model"]} if document.get("plan_model") else {})


def playbook_import(
    document: Any, *, user=None, note: str = "Imported from a playbook file"
) -> Playbook:
    """Create or update the playbook named in the document. All or nothing."""
    errors = document_errors(document)
    if errors:
        raise PlaybookImportError(errors)
    spec = spec_of(document)
    try:
        return _playbook_write(document, spec, user=user, note=note)
    except DatabaseError as exc:
        # Fail closed: whatever validation missed, the database refused; the
        # transaction rolled back, so nothing was imported.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PlaybookImportError([("(document)", f"the database refused it: {reason}")]) from None


def _playbook_write(
    document: Mapping[str, Any], spec: dict[str, Any], *, user, note: str
) -> Playbook:
    with transaction.atomic():
        playbook, _ = Playbook.objects.select_for_update().get_or_create(name=document["name"])
        playbook.description = document.get("description", "")
        # The owning team, by group name (created if new, like a role's owner
        # group); a document without one leaves the playbook without a team.
        playbook.team = (
            Group.objects.get_or_create(name=document["team"])[0] if document.get("team") else None
        )
        playbook_rows_write(playbook=playbook, spec=spec)
        playbook_publish(playbook=playbook, user=user, note=note)

        seen: set[int] = set()
        for item in document.get("policies", []):
            scope = PolicyScope.ROLE if item.get("scope") == "role" else PolicyScope.PLAYBOOK
            role_name = item.get("role", "") if scope == PolicyScope.ROLE else ""
            policy = Policy.objects.filter(
                playbook=playbook, name=item["name"], role_name=role_name
            ).first() or Policy(playbook=playbook, name=item["name"], role_name=role_name)
            policy.description = item.get("description", "")
            policy.category = item["category"]
            policy.scope = scope
            policy.kind = item["kind"]
            policy.parameters = item["parameters"]
            policy.severity = item["severity"]
            policy.active = item.get("active", True)
            try:
                policy_save(policy=policy, user=user, note=note)
            except ServiceError as exc:  # pragma: no cover - validated above
                raise PlaybookImportError([(f"policies[{item['name']}]", str(exc))]) from exc
            seen.add(policy.pk)
        # Declarative: a playbook policy missing from the document is switched off
        # (a new inactive version), never deleted, so its history stays.
        for policy in Policy.objects.filter(
            playbook=playbook, scope__in=[PolicyScope.PLAYBOOK, PolicyScope.ROLE], active=True
        ).exclude(pk__in=seen):
            policy.active = False
            policy_save(policy=policy, user=user, note="Switched off: not in the imported file")
        _global_policies_write(document.get("global_policies", []), user=user)
        for key, section in _SECTIONS.items():
            if key in document:
                problems = section.write(document[key], playbook=playbook, user=user)
                if problems:
                    raise PlaybookImportError(problems)
    playbook.refresh_from_db()
    return playbook


def _global_policies_write(items: list[Mapping[str, Any]], *, user) -> None:
    for i, item in enumerate(items):
        policy = Policy.objects.filter(scope=PolicyScope.ALL, name=item["name"]).first() or Policy(
            scope=PolicyScope.ALL, name=item["name"]
        )
        policy.description = item.get("description", "")
        policy.category = item["category"]
        policy.kind = item["kind"]
        policy.parameters = item["parameters"]
        policy.severity = item["severity"]
        policy.active = item.get("active", True)
        try:
            policy_save(policy=policy, user=user, note="Imported from a playbook file")
        except ServiceError as exc:
            raise PlaybookImportError([(f"global_policies[{i}]", str(exc))]) from exc


def playbook_export(playbook: Playbook) -> dict[str, Any]:
    spec = playbook_spec(playbook)
    roles = []
    for role in spec["roles"]:
        item = {k: v for k, v in role.items() if k != "owner_group"}
        if role.get("owner_group"):
            item["owner_group"] = role["owner_group"]
        roles.append(item)
    policies = []
    for policy in Policy.objects.filter(
        playbook=playbook, scope__in=[PolicyScope.PLAYBOOK, PolicyScope.ROLE]
    ).order_by("pk"):
        item = {
            "name": policy.name,
            "description": policy.description,
            "category": policy.category,
            "scope": policy.scope,
            "kind": policy.kind,
            "parameters": policy.parameters,
            "severity": policy.severity,
            "active": policy.active,
        }
        if policy.scope == PolicyScope.ROLE:
            item["role"] = policy.role_name
        policies.append(item)
    document: dict[str, Any] = {
        "format": FORMAT,
        "name": playbook.name,
        "description": playbook.description,
    }
    if playbook.team_id:
        document["team"] = playbook.team.name
    return (
        document
        | {
            "pattern": spec["pattern"],
            "currency": spec["currency"],
            "limits": spec["limits"],
            "value_expression": spec["value_expression"],
            "risk_expression": spec["risk_expression"],
            "issues": [i for i in spec["issues"] if i["name"] not in flat_names(spec)],
            "fixed_terms": spec["fixed_terms"],
            "roles": roles,
            "policies": policies,
            "global_policies": [
                _policy_item(policy)
                for policy in Policy.objects.filter(scope=PolicyScope.ALL).order_by("pk")
            ],
        }
        | {key: section.export(playbook) for key, section in _SECTIONS.items()}
        | ({"plan_model": spec["plan_model"]} if spec.get("plan_model") else {})
    )


def _policy_item(policy: Policy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "description": policy.description,
        "category": policy.category,
        "kind": policy.kind,
        "parameters": policy.parameters,
        "severity": policy.severity,
        "active": policy.active,
    }
