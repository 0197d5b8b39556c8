"""The canonical offer message, its JSON form and its validation."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from .errors import InvalidOffer
from .outcomes import OutcomeSpace, Value, canonical_json, fixed_terms_hash


class Performative(StrEnum):
    PROPOSE = "propose"
    COUNTER = "counter"
    ACCEPT = "accept"
    REJECT = "reject"
    WITHDRAW = "withdraw"


class Terms(Mapping[str, Value]):
    """Read-only, hashable mapping issue name -> value (keeps insertion order)."""

    __slots__ = ("_items", "_dict")

    def __init__(self, items: Mapping[str, Value] | tuple[tuple[str, Value], ...] = ()):
        pairs = tuple(items.items()) if isinstance(items, Mapping) else tuple(items)
        self._items = pairs
        self._dict = dict(pairs)

    def __getitem__(self, key: str) -> Value:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __hash__(self) -> int:
        return hash(frozenset(self._items))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Terms):
            return self._dict == other._dict
        if isinstance(other, Mapping):
            return self._dict == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Terms({self._dict!r})"


@dataclass(frozen=True)
class Offer:
    performative: Performative
    sender: str  # party name/role
    terms: Mapping[str, int | float | str]  # issue name -> value, stored as read-only Terms
    fixed_terms_hash: str
    round: int
    expires_at_round: int | None = None
    expires_at: str | None = None  # ISO-8601 datetime
    assumptions: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    in_reply_to: str | None = None
    version: int = 1
    rationale: str = ""
    id: str = ""  # deterministic: f"{sender}-r{round}-v{version}" unless given

    def __post_init__(self) -> None:
        if not isinstance(self.terms, Terms):
            object.__setattr__(self, "terms", Terms(self.terms))
        if not isinstance(self.performative, Performative):
            object.__setattr__(self, "performative", Performative(self.performative))
        if not isinstance(self.assumptions, tuple):
            object.__setattr__(self, "assumptions", tuple(self.assumptions))
        if not isinstance(self.dependencies, tuple):
            object.__setattr__(self, "dependencies", tuple(self.dependencies))
        if not self.id:
            object.__setattr__(self, "id", f"{self.sender}-r{self.round}-v{self.version}")


def offer_to_dict(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "performative": str(offer.performative),
        "sender": offer.sender,
        "terms": dict(offer.terms),
        "fixed_terms_hash": offer.fixed_terms_hash,
        "round": offer.round,
        "expires_at_round": offer.expires_at_round,
        "expires_at": offer.expires_at,
        "assumptions": list(offer.assumptions),
        "dependencies": list(offer.dependencies),
        "in_reply_to": offer.in_reply_to,
        "version": offer.version,
        "rationale": offer.rationale,
    }


def offer_to_json(offer: Offer) -> str:
    """Canonical JSON (sorted keys, compact, non-ASCII kept)."""
    return canonical_json(offer_to_dict(offer))


def offer_from_dict(data: Mapping[str, Any]) -> Offer:
    """Inverse of :func:`offer_to_dict`; raises InvalidOffer on a malformed dict."""
    if not isinstance(data, Mapping):
        raise InvalidOffer(f"an offer must be an object, got {type(data).__name__}")
    missing = [
        k for k in ("performative", "sender", "terms", "fixed_terms_hash", "round") if k not in data
    ]
    if missing:
        raise InvalidOffer([f"offer field '{k}' missing" for k in missing])
    try:
        performative = Performative(data["performative"])
    except ValueError:
        raise InvalidOffer(
            f"performative {data['performative']!r} is not one of {[p.value for p in Performative]}"
        ) from None
    if not isinstance(data["terms"], Mapping):
        raise InvalidOffer("offer field 'terms' must be an object")
    return Offer(
        performative=performative,
        sender=str(data["sender"]),
        terms=Terms(dict(data["terms"])),
        fixed_terms_hash=str(data["fixed_terms_hash"]),
        round=int(data["round"]),
        expires_at_round=data.get("expires_at_round"),
        expires_at=data.get("expires_at"),
        assumptions=tuple(data.get("assumptions") or ()),
        dependencies=tuple(data.get("dependencies") or ()),
        in_reply_to=data.get("in_reply_to"),
        version=int(data.get("version", 1)),
        rationale=str(data.get("rationale", "")),
        id=str(data.get("id", "")),
    )


@cache
def offer_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :func:`offer_to_dict` output."""
    text = (
        resources.files("negotiator.engine")
        .joinpath("schemas/offer.schema.json")
        .read_text(encoding="utf-8")
    )
    return json.loads(text)


def _parse_when(value: str | datetime) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return when


def validate_offer(
    offer: Offer,
    space: OutcomeSpace,
    fixed_terms: Mapping[str, Any],
    *,
    now_round: int | None = None,
    now: str | datetime | None = None,
) -> None:
    """Raise :class:`InvalidOffer` listing everything wrong with ``offer``.

    Checks issue names and values (range, step, options), missing issues (for
    offers that carry terms: propose, counter, accept), fixed terms (by hash and
    by name, if the terms try to set a fixed term), and expiry against
    ``now_round`` / ``now``.
    """
    problems: list[str] = []
    carries_terms = offer.performative in (
        Performative.PROPOSE,
        Performative.COUNTER,
        Performative.ACCEPT,
    )
    for name, value in offer.terms.items():
        if name in fixed_terms:
            if value != fixed_terms[name]:
                problems.append(
                    f"'{name}' fixed term changed: {value!r} instead of {fixed_terms[name]!r}"
                )
            else:
                problems.append(f"'{name}' is a fixed term and cannot be negotiated")
            continue
        if name not in space:
            problems.append(f"unknown issue '{name}'")
            continue
        problem = space.issue(name).check(value)
        if problem:
            problems.append(problem)
    if carries_terms:
        for name in space.names:
            if name not in offer.terms:
                problems.append(f"missing issue '{name}'")
    expected = fixed_terms_hash(fixed_terms)
    if not offer.fixed_terms_hash:
        missing = ", ".join(f"'{k}'" for k in sorted(fixed_terms)) or "none"
        problems.append(f"fixed terms missing (no fixed_terms_hash; fixed terms: {missing})")
    elif offer.fixed_terms_hash != expected:
        names = ", ".join(f"'{k}'" for k in sorted(fixed_terms)) or "none"
        problems.append(
            f"fixed terms changed (hash mismatch: offer {offer.fixed_terms_hash[:12]}…, "
            f"expected {expected[:12]}… over {names})"
        )
    if offer.round < 0:
        problems.append(f"round {offer.round} is negative")
    if offer.version < 1:
        problems.append(f"version {offer.version} is below 1")
    if (
        now_round is not None
        and offer.expires_at_round is not None
        and now_round > offer.expires_at_round
    ):
        problems.append(f"offer expired at round {offer.expires_at_round} (now round {now_round})")
    if offer.expires_at is not None:
        try:
            expires = _parse_when(offer.expires_at)
        except ValueError:
            problems.append(f"expires_at {offer.expires_at!r} is not an ISO-8601 datetime")
        else:
            if now is not None:
                current = _parse_when(now)
                try:
                    if current > expires:
                        problems.append(
                            f"offer expired at {offer.expires_at} (now {current.isoformat()})"
                        )
                except TypeError:
                    problems.append(
                        "cannot compare expires_at with now: one has a time zone, the other not"
                    )
    if problems:
        raise InvalidOffer(problems)
