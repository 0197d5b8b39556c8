"""Find private numbers (reservation price, budget cap, ...) written into free text.

Every number-like token in a text is parsed into all the values it could mean,
and a token *reveals* a private value ``v`` when one of those readings ``x``
satisfies ``|x - v| <= tolerance_percent / 100 * |v|`` (exact match when ``v`` is 0).

Tolerance semantics: with the default 1 %, any rounding of the value to three or
more significant digits is always caught (the rounding error is at most 0.5 %),
and rounding to two significant digits is caught when it moves the value by 1 %
or less (94,750 -> "95k" is 0.26 % off and caught; 94,000 -> "95k" is 1.06 % off
and not).

Readings of one token (all are tried, so "95.000" is both 95 and 95,000):

* thousand separators ``,`` ``.`` space, no-break spaces, ``'`` and ``’`` between
  groups of exactly three digits; the last separator may instead be the decimal
  mark ("95,000.00", "94.999,50", "0,095");
* a scale suffix, with or without a space: k/K/thousand/grand (10^3),
  m/M/mn/mio/MM/million (10^6), b/bn/B/billion (10^9); the unscaled reading
  is tried too;
* currency symbols and codes around the number ("$95K", "USD 95,000.00",
  "€ 94.999") do not change the value and are simply skipped.

Numbers spelled out in words ("ninety-five thousand") are not detected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

_SEPARATORS = ",.'’ \u00a0\u202f\u2009"
_SCALES = {
    "k": 1e3,
    "thousand": 1e3,
    "thousands": 1e3,
    "grand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "mm": 1e6,
    "mio": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "billions": 1e9,
}
_SUFFIX = r"(?:\s?(?P<suffix>thousands?|grand|millions?|billions?|mio|mn|mm|bn|[kmb])(?![a-z]))?"
# A number with thousand groups and an optional decimal part ("1 234 567,89").
_GROUPED = re.compile(
    r"(?<![\d])(?P<body>\d+(?:[" + _SEPARATORS + r"]\d{3}(?!\d))*(?:[.,]\d+)?|[.,]\d+)" + _SUFFIX,
    re.IGNORECASE,
)
# A plain number, so that the parts of a grouped token are readings too ("12 300" -> 12, 300).
_PLAIN = re.compile(r"(?<![\d])(?P<body>\d+(?:[.,]\d+)?)" + _SUFFIX, re.IGNORECASE)


@dataclass(frozen=True)
class NumberToken:
    text: str  # exactly as written, e.g. "$95K" -> "95K"
    readings: tuple[float, ...]


def _body_readings(body: str) -> set[float]:
    seps = [i for i, ch in enumerate(body) if ch in _SEPARATORS]
    digits_only = "".join(ch for ch in body if ch.isdigit())
    readings: set[float] = set()
    if not seps:
        readings.add(float(body))
        return readings
    # Every separator is a thousands separator.
    if digits_only:
        readings.add(float(digits_only))
    # The last separator is the decimal mark, the others thousands separators.
    last = seps[-1]
    if body[last] in ".,":
        whole = "".join(ch for ch in body[:last] if ch.isdigit()) or "0"
        frac = "".join(ch for ch in body[last + 1 :] if ch.isdigit())
        if frac:
            readings.add(float(f"{whole}.{frac}"))
    return readings


def number_tokens(text: str) -> Iterator[NumberToken]:
    """Every number-like token in ``text`` with all the values it may stand for."""
    seen: set[tuple[int, int]] = set()
    for pattern in (_GROUPED, _PLAIN):
        for match in pattern.finditer(text):
            span = match.span()
            if span in seen:
                continue
            seen.add(span)
            body = match.group("body")
            try:
                base = _body_readings(body)
            except ValueError:
                continue
            readings = set(base)
            suffix = match.group("suffix")
            if suffix:
                scale = _SCALES.get(suffix.lower())
                if scale:
                    readings |= {value * scale for value in base}
            yield NumberToken(match.group(0).strip(), tuple(sorted(readings)))


def within(candidate: float, value: float, tolerance_percent: float) -> bool:
    if not (math.isfinite(candidate) and math.isfinite(value)):
        return False
    if value == 0:
        return candidate == 0
    return abs(candidate - value) <= abs(value) * tolerance_percent / 100.0


@dataclass(frozen=True)
class Finding:
    field: str  # "rationale", "assumptions[0]", "terms.notes", "terms.price"
    key: str  # the private value's name, e.g. "reservation_price"
    token: str  # the offending text, e.g. "95k"


def find_disclosures(
    texts: Iterable[tuple[str, str]],
    private_values: Mapping[str, object],
    *,
    tolerance_percent: float = 1.0,
    public_numbers: Iterable[float] = (),
) -> list[Finding]:
    """Which private values the (field, text) pairs reveal.

    ``public_numbers`` (e.g. the offer's own numeric terms) are never findings when
    a token equals one of them exactly: restating an offered price reveals nothing
    the terms do not. Non-numeric private values are found as case-insensitive
    substrings.
    """
    numeric = {
        key: float(value)
        for key, value in private_values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    textual = {
        key: value.strip().lower()
        for key, value in private_values.items()
        if isinstance(value, str) and value.strip()
    }
    public = {float(x) for x in public_numbers}
    findings: list[Finding] = []
    for field_name, text in texts:
        if not text:
            continue
        if numeric:
            for token in number_tokens(text):
                if public and any(r in public for r in token.readings):
                    continue
                for key, value in numeric.items():
                    if any(within(r, value, tolerance_percent) for r in token.readings):
                        findings.append(Finding(field_name, key, token.text))
        lowered = text.lower()
        for key, value in textual.items():
            if value in lowered:
                findings.append(
                    Finding(field_name, key, text[lowered.index(value) :][: len(value)])
                )
    return _dedupe(findings)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    unique: list[Finding] = []
    for finding in findings:
        marker = (finding.field, finding.key)
        if marker not in seen:
            seen.add(marker)
            unique.append(finding)
    return unique
