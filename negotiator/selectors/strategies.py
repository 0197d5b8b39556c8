"""Strategies as people read them: a name and one line on how each negotiates
(the engine's docstrings are written for developers)."""

from __future__ import annotations

from negotiator.engine.strategies import STRATEGIES

STRATEGY_HELP: dict[str, tuple[str, str]] = {
    "default": (
        "Balanced (recommended)",
        "Concedes steadily over time and trades issues off to find deals both sides like.",
    ),
    "boulware": ("Tough, late concessions", "Holds close to its best terms until near the end."),
    "linear": ("Steady concessions", "Gives ground at the same pace every round."),
    "conceder": ("Early concessions", "Gives ground quickly to reach a deal early."),
    "tit-for-tat": ("Mirror the other side", "Concedes as much as the other side just conceded."),
    "tradeoff": (
        "Trade-offs",
        "Concedes over time and swaps value between issues towards what the other side wants.",
    ),
    "hardliner": ("Never concedes", "Always asks for its best terms; agrees only to those."),
}


def strategy_label(name: str) -> str:
    label, _ = STRATEGY_HELP.get(name, (name.replace("-", " ").capitalize(), ""))
    return label


def strategy_choices() -> list[tuple[str, str]]:
    """Form choices: 'Balanced (recommended) — Concedes steadily …' for every strategy."""
    out = []
    for name in STRATEGIES:
        label, help_text = STRATEGY_HELP.get(name, (name, ""))
        out.append((name, f"{label} — {help_text}" if help_text else label))
    return out
