"""Rationales of built-in offers: what changed against our previous offer and why, in plain words.

A rationale travels to the other parties, so it is built only from public facts
(the terms of both offers, the share of rounds used) and the *direction* of our
own preferences, never a number from the private profile (reservation, weights,
utilities, private values). As a last guard, a sentence that happens to contain
a number matching one of those values within the disclosure check's tolerance is
rewritten without numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .disclosure import find_disclosures
from .outcomes import NumericIssue, Value

# ``strategies.PartyView`` (not imported: strategies imports this module)
PartyView = Any

_SAME = 1e-9


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
    """Per issue, how ``chosen`` differs from ``previous`` and whether that helps us."""
    space = view.space
    index = view.table.index
    old_idx = index.value_index[previous]
    new_idx = index.value_index[chosen]
    tables = _value_tables(view)
    out = []
    for k, issue in enumerate(space.issues):
        a, b = int(old_idx[k]), int(new_idx[k])
        if a == b:
            continue
        values = issue.values
        out.append(
            Change(
                issue=issue.name,
                old=values[a],
                new=values[b],
                gain=float(tables[k][b] - tables[k][a]),
                unit=issue.unit if isinstance(issue, NumericIssue) else "",
            )
        )
    return out


_TABLES: dict[int, tuple[Any, list]] = {}


def _value_tables(view: PartyView) -> list:
    """The profile's per-issue value tables (cached per profile and space)."""
    key = id(view.table)
    hit = _TABLES.get(key)
    if hit is not None and hit[0] is view.table:
        return hit[1]
    tables = view.profile.issue_value_tables(view.space)
    if len(_TABLES) > 256:
        _TABLES.clear()
    _TABLES[key] = (view.table, tables)
    return tables


def _time_phrase(view: PartyView, numbers: bool) -> str:
    if not numbers:
        return "as the deadline draws nearer"
    return f"{view.t:.0%} of the rounds used"


def schedule_reason(view: PartyView, schedule: str, numbers: bool) -> str:
    """Why we moved: the strategy's rule in words, with the public share of rounds used."""
    if schedule == "tit-for-tat":
        return "matching the counterpart's last step towards us"
    joiner = "; " if numbers else " "
    return f"a step on our {schedule} concession schedule{joiner}{_time_phrase(view, numbers)}"


def move_sentence(
    view: PartyView,
    chosen: int,
    *,
    schedule: str,
    favoured: str | None = None,
    numbers: bool = True,
) -> str:
    """The rationale of proposing outcome ``chosen`` (see the module docstring)."""
    why = schedule_reason(view, schedule, numbers)
    mine = view.proposal_outcomes[view.proposal_senders == view.party_index]
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
            "and our schedule allows no further step yet"
            + (f" ({_time_phrase(view, numbers)})." if numbers else ".")
        )
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
    theirs = view.proposal_outcomes[view.proposal_senders != view.party_index]
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


def explain_move(
    view: PartyView, chosen: int, *, schedule: str, favoured: str | None = None
) -> str:
    """:func:`move_sentence`, rewritten without numbers if it would reveal a private number
    (a step size that happens to equal a private value, say)."""
    text = move_sentence(view, chosen, schedule=schedule, favoured=favoured)
    if any(ch.isdigit() for ch in text) and find_disclosures(
        [("rationale", text)], private_numbers(view)
    ):
        return move_sentence(view, chosen, schedule=schedule, favoured=favoured, numbers=False)
    return text


__all__ = [
    "Change",
    "changes_between",
    "explain_move",
    "move_sentence",
    "private_numbers",
    "schedule_reason",
]
