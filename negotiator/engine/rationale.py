"""Rationales of built-in offers: what changed against our previous offer and why, in plain words.

A rationale travels to the other parties, so it is built only from public facts
(the terms of both offers, the share of rounds used) and the *direction* of our
own preferences, never a number from the private profile (reservation, weights,
utilities, private values). As a last guard, a sentence that happens to contain
a number matching one of those values within the disclosure check's tolerance is
rewritten without numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .disclosure import number_tokens, within
from .outcomes import NumericIssue, Value

# ``strategies.PartyView`` (not imported: strategies imports this module)
PartyView = Any

_SAME = 1e-9
DISCLOSURE_TOLERANCE = 1.0  # percent, the disclosure check's default


@dataclass(frozen=True)
class Change:
    """One issue's move between our previous offer and this one."""

    issue: str
    old: Value
    new: Value
    gain: float  # sign only is used: > 0 better for us, < 0 a concession
    unit: str = ""

    @property
    def label(self) -> str:
        return self.issue.replace("_", " ")

    def _amount(self, numbers: bool) -> str:
        if not numbers:
            return ""
        unit = self.unit.strip()
        suffix = "" if not unit or self.label.endswith(unit.lower()) else f" {unit}"
        return f" by {_number(abs(float(self.new) - float(self.old)))}{suffix}"

    @property
    def numeric(self) -> bool:
        return isinstance(self.new, int | float) and isinstance(self.old, int | float)

    def phrase(self, numbers: bool) -> str:
        """As something we did: "lowered price by 2,000 USD"."""
        if self.numeric:
            verb = "raised" if self.new > self.old else "lowered"
            return f"{verb} {self.label}{self._amount(numbers)}"
        return f"changed {self.label} from {self.old} to {self.new}"

    def counterpart_phrase(self, numbers: bool) -> str:
        """As what we ask in return: "delivery days going up by 10"."""
        if self.numeric:
            verb = "going up" if self.new > self.old else "going down"
            return f"{self.label} {verb}{self._amount(numbers)}"
        return f"{self.label} moving from {self.old} to {self.new}"


def _number(x: float) -> str:
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def changes_between(view: PartyView, previous: int, chosen: int) -> list[Change]:
    """Per issue, how ``chosen`` differs from ``previous`` and whether that helps us.

    The gain of one issue's move is read off our own utility table: utility is
    additive, so moving only that issue in ``previous`` changes it by exactly that."""
    space = view.space
    old_idx = view.table.index.value_index[previous].tolist()
    new_idx = view.table.index.value_index[chosen].tolist()
    utilities = view.table.utilities
    base = float(utilities[previous])
    out = []
    for k, (a, b) in enumerate(zip(old_idx, new_idx, strict=True)):
        if a == b:
            continue
        issue = space.issues[k]
        values = issue.values
        moved = previous + (b - a) * space._strides[k]
        out.append(
            Change(
                issue=issue.name,
                old=values[a],
                new=values[b],
                gain=float(utilities[moved]) - base,
                unit=issue.unit if isinstance(issue, NumericIssue) else "",
            )
        )
    return out


def _time_phrase(view: PartyView, numbers: bool) -> str:
    # words, not the share of rounds used: fewer numbers to check against the profile
    return "as the deadline draws nearer" if view.t < 0.75 else "with the deadline close"


def schedule_reason(view: PartyView, schedule: str, numbers: bool) -> str:
    """Why we moved: the strategy's rule in words, with the public share of rounds used."""
    if schedule == "tit-for-tat":
        return "matching the counterpart's last step towards us"
    return f"a step on our {schedule} concession schedule {_time_phrase(view, numbers)}"


def move_sentence(
    view: PartyView,
    chosen: int,
    *,
    schedule: str,
    favoured: str | None = None,
    numbers: bool = True,
    reason: str | None = None,
    changes: list[Change] | None = None,
) -> str:
    """The rationale of proposing outcome ``chosen`` (see the module docstring);
    ``reason`` replaces the schedule's as why we moved, ``changes`` (if given) are
    :func:`changes_between` our previous offer and ``chosen``."""
    why = reason or schedule_reason(view, schedule, numbers)
    mine = view.own_proposals
    if mine.size == 0:
        return (
            "Opening offer: the terms we prefer among those our policies allow; "
            "we will move as the counterpart's offers show what matters to it."
        )
    previous = int(mine[-1])
    if previous == chosen and schedule == "tit-for-tat":
        return "Kept our previous terms: we move when the counterpart moves towards us."
    if previous == chosen:
        return (
            "Kept our previous terms: the counterpart's offer is not yet good enough for us "
            "and our schedule allows no further step yet."
        )
    if changes is None:
        changes = changes_between(view, previous, chosen)
    gives = [c for c in changes if c.gain < -_SAME]
    takes = [c for c in changes if c.gain > _SAME]
    evens = [c.phrase(numbers) for c in changes if abs(c.gain) <= _SAME]
    delta = view.utility_of(chosen) - view.utility_of(previous)
    if delta > _SAME:  # moved back towards our side
        head = "Asked for more than in our previous offer: " + _join(
            [c.phrase(numbers) for c in takes] or evens
        )
        if gives:
            head += " while we " + _join([c.phrase(numbers) for c in gives])
        reason = _retreat_reason(view)
    else:
        head = _join([c.phrase(numbers) for c in gives] or evens)
        head = head[:1].upper() + head[1:]
        if takes:
            head += " in exchange for " + _join([c.counterpart_phrase(numbers) for c in takes])
        reason = why
    if evens and (gives or delta > _SAME) and takes:
        head += "; also " + _join(evens)
    sentence = f"{head} ({reason})"
    if favoured and delta <= _SAME:
        sentence += (
            f"; the counterpart's offers suggest it cares about {favoured.replace('_', ' ')}"
        )
    return sentence + "."


def _retreat_reason(view: PartyView) -> str:
    theirs = view.their_proposals
    if theirs.size >= 2 and view.utility_of(int(theirs[-1])) < view.utility_of(int(theirs[-2])):
        return "the counterpart's last offer moved away from ours, so we answer in kind"
    return "we rebalanced the terms towards options the counterpart's offers suggest it minds less"


def private_numbers(view: PartyView) -> dict[str, float]:
    """Every private number of our profile a rationale must not reveal."""
    profile = view.profile
    found: dict[str, float] = {"reservation": profile.reservation}
    for name, weight in profile.weights.items():
        found[f"weight:{name}"] = weight
    for name, weight in profile.issue_weights().items():
        found[f"issue_weight:{name}"] = weight
    for name, value in profile.private_values.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[f"private:{name}"] = float(value)
    return found


_NUMBER = re.compile(r"\d[\d,.]*(?:\s?%|\s?[A-Za-z]+)?")
_REVEALS: dict[int, tuple[Any, tuple[float, ...], dict[str, bool]]] = {}
_READINGS: dict[str, tuple[float, ...]] = {}


def _readings(fragment: str) -> tuple[float, ...]:
    """Every value the numbers in ``fragment`` may stand for (memoised: the same few
    fragments recur in every rationale)."""
    found = _READINGS.get(fragment)
    if found is None:
        if len(_READINGS) > 4096:
            _READINGS.clear()
        found = _READINGS[fragment] = tuple(
            r for token in number_tokens(fragment) for r in token.readings
        )
    return found


def _reveals(view: PartyView, fragment: str) -> bool:
    """Whether ``fragment`` (a number and the word after it) reveals a private number,
    as :func:`disclosure.find_disclosures` would find it; memoised per profile, whose
    object the cache holds so its id stays unique."""
    profile = view.profile
    hit = _REVEALS.get(id(profile))
    if hit is None or hit[0] is not profile:
        if len(_REVEALS) > 256:
            _REVEALS.clear()
        private = tuple(float(v) for v in private_numbers(view).values())
        hit = _REVEALS[id(profile)] = (profile, private, {})
    _, private, known = hit
    answer = known.get(fragment)
    if answer is None:
        readings = _readings(fragment)
        answer = known[fragment] = any(
            within(r, v, DISCLOSURE_TOLERANCE) for r in readings for v in private
        )
    return answer


def explain_move(
    view: PartyView,
    chosen: int,
    *,
    schedule: str,
    favoured: str | None = None,
    reason: str | None = None,
) -> str:
    """:func:`move_sentence`, rewritten without numbers if it would reveal a private number
    (a step size that happens to equal a private value, say)."""
    mine = view.own_proposals
    changes = (
        changes_between(view, int(mine[-1]), chosen) if mine.size and mine[-1] != chosen else None
    )
    text = move_sentence(
        view, chosen, schedule=schedule, favoured=favoured, reason=reason, changes=changes
    )
    if not changes or not any(c.numeric for c in changes):
        return text  # no amounts: the sentence without numbers would read the same
    if any(_reveals(view, m.group(0)) for m in _NUMBER.finditer(text)):
        return move_sentence(
            view,
            chosen,
            schedule=schedule,
            favoured=favoured,
            numbers=False,
            reason=reason,
            changes=changes,
        )
    return text


__all__ = [
    "Change",
    "changes_between",
    "explain_move",
    "move_sentence",
    "private_numbers",
    "schedule_reason",
]
