"""Numeric command-line options that refuse what would break later: NaN,
infinities, and values outside the range the product (and the database) can
hold. argparse reports the refusal as one line naming the option and exits with
status 2, before anything is changed."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

# Ids and seeds are 64-bit signed integers in the database.
MAX_BIGINT = 2**63 - 1
_WHOLE = re.compile(r"[+-]?\d{1,25}")


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        if not _WHOLE.fullmatch(text.strip()):
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {low:,} to {high:,}, got {text[:40]!r}"
            )
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be between {low:,} and {high:,}, got {text[:40]}"
            )
        return value

    return parse


def finite_number(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a finite number from ``low`` to ``high`` (no NaN, no infinity)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(
                f"must be a finite number from {low:g} to {high:g}, got {text[:40]!r}"
            )
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be between {low:g} and {high:g}, got {text[:40]}"
            )
        return value

    return parse


def object_id(text: str) -> int:
    """An argparse type: a row id (1 to 2**63 - 1)."""
    return whole_number(1, MAX_BIGINT)(text)
