"""The "test this rule" panel: compile a CEL policy rule against the playbook's issues
and evaluate it on sample terms, for the htmx panel on the policy form. Writes nothing."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from negotiator.admin_forms import field_name, playbook_context
from negotiator.engine import policies as engine_policies
from negotiator.engine.offers import Offer as EngineOffer
from negotiator.engine.outcomes import fixed_terms_hash
from negotiator.models import Playbook
from negotiator.services.plans import deal_measure

MAX_SAMPLE = 200  # characters of one sample value


def _playbook(raw: str) -> Playbook | None:
    return Playbook.objects.filter(pk=int(raw)).first() if raw.isdigit() else None


def _sample_terms(
    post: QueryDict, issues: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[str]]:
    terms: dict[str, Any] = {}
    problems: list[str] = []
    for item in issues:
        raw = post.get(f"sample_{item['name']}", "").strip()[:MAX_SAMPLE]
        if raw == "":
            continue
        if item.get("type", "numeric") == "numeric":
            try:
                number = float(raw)
            except ValueError:
                problems.append(f"{item['name']}: {raw!r} is not a number")
                continue
            terms[item["name"]] = int(number) if number.is_integer() else number
        else:
            terms[item["name"]] = raw
    return terms, problems


def rule_test_run(post: QueryDict) -> dict[str, Any]:
    """{"errors": [...]} when the rule or a sample is unusable, else the check result."""
    playbook = _playbook(post.get("playbook", ""))
    context = playbook_context(playbook)
    expression = post.get(field_name("expression", "expression"), "").strip()
    message = post.get(field_name("expression", "message"), "").strip()
    if not expression:
        return {"errors": ["Write a rule first, e.g. terms.price <= 100000.0"]}
    parameters = {"expression": expression} | ({"message": message} if message else {})
    issues = {i["name"]: i for i in context.issues}
    catalog = {
        name: {"type": i.get("type", "numeric"), "options": i.get("options")}
        for name, i in issues.items()
    }
    errors = engine_policies.validate_parameters(
        "expression", parameters, issues=catalog, fixed_terms=context.fixed_terms
    )
    terms, problems = _sample_terms(post, context.issues)
    if errors or problems:
        return {"errors": [f"{where}: {text}" for where, text in errors] + problems}
    role = post.get("sample_role", "") or (context.roles[0] if context.roles else "")
    spec = engine_policies.PolicySpec(
        policy_id="test",
        version=0,
        name="rule under test",
        category="operational",
        kind=engine_policies.PolicyKind.EXPRESSION,
        parameters=parameters,
        severity=engine_policies.Severity.BLOCK,
    )
    playbook_spec = (
        playbook.current_version.spec if playbook and playbook.current_version_id else {}
    )
    offer = EngineOffer(
        performative="propose",
        sender=role or "?",
        terms=terms,
        fixed_terms_hash=fixed_terms_hash(dict(context.fixed_terms)),
        round=0,
    )
    check = engine_policies.CheckContext(
        fixed_terms=context.fixed_terms,
        sender_role=role,
        sender_profile=_profile(playbook_spec, role),
        deal_value=deal_measure(playbook_spec.get("value_expression", ""), terms),
        deal_risk=deal_measure(playbook_spec.get("risk_expression", ""), terms),
        issue_types={name: i.get("type", "numeric") for name, i in issues.items()},
    )
    result = engine_policies.check_one(offer, spec, check)
    return {"errors": [], "result": result, "terms": terms, "role": role}


def _profile(spec: dict[str, Any], role: str) -> dict[str, Any]:
    return next((r.get("profile", {}) for r in spec.get("roles", []) if r["name"] == role), {})
