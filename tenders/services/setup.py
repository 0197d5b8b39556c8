"""Tender templates: a playbook of pattern auction with its tender settings
(format, reserve, decrement, soft close, screens, costs), its default bidders and
the supplier registry, read from a tender file (playbooks/tender.json) and
turned into engine values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from negotiator.bridge import space_from_spec
from negotiator.engine.auctions import OUTSIDE, STRATEGIES, Feedback, Format, ScoringRule, SoftClose
from negotiator.engine.auctions import TenderRules as EngineRules
from negotiator.engine.preferences import profile_from_dict
from negotiator.engine.screens import ScreenConfig, config_from_dict
from negotiator.models import Pattern, Playbook
from negotiator.playbook_io import playbook_import
from negotiator.services.errors import ServiceError
from tenders.models import Supplier, TenderPlaybook

TENDER_FORMAT = "negotiator.tender/1"
_NUMBERS = {
    "reserve_price": (0.0, 1e15),
    "min_decrement": (0.0, 1e15),
    "opening_price": (0.0, 1e15),
    "round_seconds": (1.0, 86_400.0),
    "duration_seconds": (1.0, 30 * 86_400.0),
    "max_rounds": (1, 10_000),
    "pace_seconds": (0.0, 3_600.0),
    "outside_round_seconds": (10.0, 30 * 86_400.0),
    "quantity": (1e-9, 1e15),
    "cost_per_run": (0.0, 1e12),
    "cost_per_escalation_minute": (0.0, 1e9),
    "escalation_minutes": (0.0, 100_000.0),
}
_TEXTS = ("item", "buyer_role", "bidder_role", "price_issue")


@dataclass(frozen=True)
class TenderConfig:
    rules: EngineRules
    screens: ScreenConfig
    item: str = ""
    quantity: float = 1.0
    pace_seconds: float = 0.0
    outside_round_seconds: float = 600.0  # real seconds a round stays open for outsiders
    buyer_role: str = "buyer"
    bidder_role: str = "supplier"
    price_issue: str = "price"
    cost_per_run: float = 0.0
    cost_per_escalation_minute: float = 0.0
    escalation_minutes: float = 15.0


def _number(data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    low, high = _NUMBERS[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ServiceError(f"tender.{key} must be a number")
    if not low <= value <= high:
        raise ServiceError(f"tender.{key} must lie between {low:g} and {high:g}")
    return value


def tender_config_parse(data: Mapping[str, Any]) -> TenderConfig:
    """The tender settings of a playbook; ServiceError names the bad key."""
    if not isinstance(data, Mapping):
        raise ServiceError("tender settings must be an object")
    known = {*_NUMBERS, *_TEXTS, "format", "feedback", "soft_close", "screens"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ServiceError(f"tender.{unknown[0]} is not a tender setting")
    try:
        fmt, feedback = (
            Format(data.get("format", "first_score")),
            Feedback(data.get("feedback", "best_score")),
        )
    except ValueError:
        raise ServiceError(
            f"tender.format must be one of {', '.join(Format)}; "
            f"tender.feedback one of {', '.join(Feedback)}"
        ) from None
    soft = data.get("soft_close") or {}
    if not isinstance(soft, Mapping) or set(soft) - {"window", "extension", "max_extensions"}:
        raise ServiceError("tender.soft_close takes window, extension and max_extensions")
    for key in soft:
        value = soft[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1e6:
            raise ServiceError(f"tender.soft_close.{key} must be a number from 0 to 1,000,000")
    try:
        screens = config_from_dict(data.get("screens") or {})
    except ValueError as exc:
        raise ServiceError(f"tender.{exc}") from None
    texts = {k: str(data.get(k, "")) for k in _TEXTS if k in data}
    rules = EngineRules(
        format=fmt,
        reserve_price=_number(data, "reserve_price", 1e15),
        min_decrement=_number(data, "min_decrement", 0.0),
        opening_price=_number(data, "opening_price", 0.0) or None,
        feedback=feedback,
        round_seconds=_number(data, "round_seconds", 60.0),
        duration_seconds=_number(data, "duration_seconds", 600.0),
        soft_close=SoftClose(
            float(soft.get("window", 0)),
            float(soft.get("extension", 0)),
            int(soft.get("max_extensions", 0)),
        ),
        max_rounds=int(_number(data, "max_rounds", 50)),
    )
    return TenderConfig(
        rules=rules,
        screens=screens,
        quantity=_number(data, "quantity", 1.0),
        pace_seconds=_number(data, "pace_seconds", 0.0),
        outside_round_seconds=_number(data, "outside_round_seconds", 600.0),
        cost_per_run=_number(data, "cost_per_run", 0.0),
        cost_per_escalation_minute=_number(data, "cost_per_escalation_minute", 0.0),
        escalation_minutes=_number(data, "escalation_minutes", 15.0),
        **texts,
    )


def scoring_rule(spec: Mapping[str, Any], config: TenderConfig) -> ScoringRule:
    """The buyer role's weighted utility over the playbook's issues."""
    roles = {r["name"]: r for r in spec["roles"]}
    if config.buyer_role not in roles or config.bidder_role not in roles:
        raise ServiceError(
            f"the playbook needs the roles '{config.buyer_role}' and '{config.bidder_role}'"
        )
    space = space_from_spec(spec)
    if config.price_issue not in space.names:
        raise ServiceError(f"the playbook has no issue '{config.price_issue}' to price bids")
    rule = ScoringRule(profile_from_dict(roles[config.buyer_role]["profile"]), space)
    return ScoringRule(rule.profile, rule.space, config.price_issue)


OUTSIDE_KINDS = ("person", "remote_agent")


def bidders_parse(items: Any, spec: Mapping[str, Any], config: TenderConfig) -> list[dict]:
    """Bidder rows (ServiceError names the bad one): a built-in bidder has a
    strategy, a private cost and its non-price terms; an outside bidder (``kind``
    person, with an e-mail for the invite, or remote_agent) quotes every term itself."""
    if not isinstance(items, list) or not items:
        raise ServiceError("a tender needs a list of bidders")
    issues = {i["name"] for i in spec["issues"]} - {config.price_issue}
    out, seen = [], set()
    for n, item in enumerate(items):
        where = f"bidders[{n}]"
        if not isinstance(item, Mapping) or not str(item.get("supplier", "")).strip():
            raise ServiceError(f"{where}: needs a supplier")
        supplier = str(item["supplier"]).strip()[:120]
        if supplier in seen:
            raise ServiceError(f"{where}: {supplier} is listed twice")
        seen.add(supplier)
        kind = item.get("kind", "builtin")
        if kind in OUTSIDE_KINDS:
            out.append(_outside_bidder(where, supplier, kind, item))
            continue
        if kind != "builtin":
            raise ServiceError(f"{where}: kind must be builtin, {' or '.join(OUTSIDE_KINDS)}")
        strategy = item.get("strategy", "truthful")
        if strategy not in STRATEGIES:
            raise ServiceError(
                f"{where}: unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}"
            )
        cost = item.get("cost")
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not 0 < cost < 1e15:
            raise ServiceError(f"{where}: cost must be a positive number")
        terms = item.get("terms") or {}
        if not isinstance(terms, Mapping) or set(terms) != issues:
            raise ServiceError(f"{where}: terms must give exactly {', '.join(sorted(issues))}")
        fixed = item.get("fixed_price")
        if fixed is not None and (
            isinstance(fixed, bool) or not isinstance(fixed, int | float) or not 0 < fixed < 1e15
        ):
            raise ServiceError(f"{where}: fixed_price must be a positive number")
        out.append(
            {
                "supplier": supplier,
                "kind": "builtin",
                "strategy": strategy,
                "cost": float(cost),
                "terms": dict(terms),
                "fixed_price": None if fixed is None else float(fixed),
            }
        )
    return out


def _outside_bidder(where: str, supplier: str, kind: str, item: Mapping[str, Any]) -> dict:
    extra = sorted(set(item) - {"supplier", "kind", "name", "email"})
    if extra:
        raise ServiceError(
            f"{where}: an outside bidder has supplier, kind, name and email, not {extra[0]}"
        )
    email = str(item.get("email") or "").strip()
    if kind == "person":
        try:
            validate_email(email)
        except ValidationError:
            raise ServiceError(
                f"{where}: an outside person needs a valid e-mail address for the invite"
            ) from None
    return {
        "supplier": supplier,
        "kind": kind,
        "strategy": OUTSIDE,
        "cost": None,
        "terms": {},
        "fixed_price": None,
        "name": str(item.get("name") or "").strip()[:120],
        "email": email[:254],
    }


def supplier_records_save(items: Any) -> list[Supplier]:
    if not isinstance(items, list):
        raise ServiceError("suppliers must be a list")
    saved = []
    for n, item in enumerate(items):
        if not isinstance(item, Mapping) or not str(item.get("name", "")).strip():
            raise ServiceError(f"suppliers[{n}]: needs a name")
        supplier, _ = Supplier.objects.update_or_create(
            name=str(item["name"]).strip()[:120],
            defaults={
                "owner": str(item.get("owner", ""))[:200],
                "contact": str(item.get("contact", ""))[:200],
            },
        )
        saved.append(supplier)
    return saved


def tender_playbook_import(document: Any, *, user=None) -> TenderPlaybook:
    """Import a tender file: the playbook (pattern auction), its tender settings and
    default bidders, and the suppliers. All or nothing."""
    if not isinstance(document, Mapping) or document.get("format") != TENDER_FORMAT:
        raise ServiceError(f"a tender file has format {TENDER_FORMAT!r}")
    with transaction.atomic():
        playbook: Playbook = playbook_import(document.get("playbook"), user=user)
        if playbook.pattern != Pattern.AUCTION:
            raise ServiceError("a tender playbook has the pattern 'auction'")
        settings = document.get("tender") or {}
        config = tender_config_parse(settings)
        spec = playbook.current_version.spec
        scoring_rule(spec, config)
        bidders = bidders_parse(document.get("bidders"), spec, config)
        supplier_records_save(document.get("suppliers") or [])
        for b in bidders:
            Supplier.objects.get_or_create(name=b["supplier"])
        template, _ = TenderPlaybook.objects.update_or_create(
            playbook=playbook, defaults={"config": dict(settings), "bidders": bidders}
        )
    return template
