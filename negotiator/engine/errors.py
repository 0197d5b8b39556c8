"""Exceptions raised by the engine; each message says what is wrong and where."""

from __future__ import annotations


class InvalidOffer(ValueError):
    """An offer breaks the outcome space, the fixed terms or its own expiry.

    ``problems`` lists every individual problem; ``str(exc)`` joins them.
    """

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("; ".join(self.problems))


class ScenarioError(ValueError):
    """A scenario, domain or profile description cannot be used.

    The message names the source (usually a file name) and the element at fault.
    """

    def __init__(self, source: str, element: str, problem: str):
        self.source = source
        self.element = element
        self.problem = problem
        super().__init__(f"{source}: {element}: {problem}")


class MoveRefused(InvalidOffer):
    """An outside party's move that the policy gate blocks: it is not played, and
    the party may send another. ``problems`` carries the gate's reason."""
