"""Tenders as auctions: the buyer's scoring rule, the formats (sealed first-score,
second-score, reverse English with a minimum decrement and a soft close), the
award rule, and built-in bidder strategies with private costs.

Pure and deterministic: a tender is a value, a bidder sees only its own private
cost and the feedback the format allows (the best score, or only its rank), and
every random choice comes from a seeded generator. No Django, no I/O.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from negotiator.engine.outcomes import NumericIssue, OutcomeSpace
from negotiator.engine.preferences import PreferenceProfile


class Format(StrEnum):
    FIRST_SCORE = "first_score"  # sealed bids; the winner gets its own terms
    SECOND_SCORE = "second_score"  # sealed bids; the winner's terms match the second score
    REVERSE_ENGLISH = "reverse_english"  # open descending rounds


class Feedback(StrEnum):
    BEST_SCORE = "best_score"  # bidders see the current best score and their rank
    RANK_ONLY = "rank_only"  # bidders see only their own rank


@dataclass(frozen=True)
class ScoringRule:
    """The buyer's weighted utility over the quoted terms: a multi-attribute
    scoring auction. ``price_issue`` is the term the second-score rule adjusts."""

    profile: PreferenceProfile
    space: OutcomeSpace
    price_issue: str = "price"

    def score(self, terms: Mapping[str, Any]) -> float:
        return self.profile.utility(terms, self.space)

    @property
    def price(self) -> NumericIssue:
        issue = self.space.issue(self.price_issue)
        if not isinstance(issue, NumericIssue):
            raise ValueError(f"the price issue '{self.price_issue}' must be numeric")
        return issue

    def price_for_score(self, terms: Mapping[str, Any], target: float, cap: float) -> float:
        """The highest price (up to ``cap``) at which ``terms`` still score at least
        ``target``, holding the other terms fixed. Scores fall as price rises."""
        lo = float(terms[self.price_issue])
        hi = min(cap, self.price.upper)
        if hi <= lo or self.score({**terms, self.price_issue: hi}) >= target:
            return max(lo, hi)
        for _ in range(200):  # bisection to well below a cent
            mid = (lo + hi) / 2
            if self.score({**terms, self.price_issue: mid}) >= target:
                lo = mid
            else:
                hi = mid
            if hi - lo < 1e-9 * max(1.0, abs(hi)):
                break
        return lo


@dataclass(frozen=True)
class SoftClose:
    """A bid arriving less than ``window`` seconds before the close moves the close
    ``extension`` seconds later, at most ``max_extensions`` times."""

    window: float = 0.0
    extension: float = 0.0
    max_extensions: int = 0


def soft_close_apply(
    close_at: float, bid_at: float, rule: SoftClose, extensions_used: int
) -> tuple[float, int]:
    """The close after a bid at ``bid_at`` (accepted: ``bid_at <= close_at``), and the
    extensions used so far."""
    if (
        rule.window > 0
        and rule.extension > 0
        and extensions_used < rule.max_extensions
        and close_at - bid_at < rule.window
    ):
        return close_at + rule.extension, extensions_used + 1
    return close_at, extensions_used


@dataclass(frozen=True)
class TenderRules:
    format: Format = Format.FIRST_SCORE
    reserve_price: float = math.inf  # the buyer never pays more than this
    min_decrement: float = 0.0  # reverse English: the least price step an improving bid makes
    opening_price: float | None = None  # reverse English: the published starting price
    feedback: Feedback = Feedback.BEST_SCORE
    round_seconds: float = 60.0  # reverse English: logical length of one round
    duration_seconds: float = 600.0  # reverse English: scheduled close
    soft_close: SoftClose = field(default_factory=SoftClose)
    max_rounds: int = 50

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", Format(self.format))
        object.__setattr__(self, "feedback", Feedback(self.feedback))
        if self.min_decrement < 0 or self.round_seconds <= 0 or self.duration_seconds <= 0:
            raise ValueError("decrement must be >= 0; round and duration must be positive")


@dataclass(frozen=True)
class Bid:
    bidder: str
    terms: Mapping[str, Any]
    round: int = 0
    at: float = 0.0  # logical seconds since the tender opened
    price_issue: str = "price"  # the scoring rule's: the term that is the price

    @property
    def price(self) -> float:
        """The bid's price, NaN when missing or not a number (every comparison
        with NaN is false: callers that gate on a price must fail closed)."""
        try:
            return float(self.terms.get(self.price_issue, math.nan))
        except (TypeError, ValueError):
            return math.nan


@dataclass(frozen=True)
class Verdict:
    """A bid's policy verdict: allow, warn, escalate or block, with the reason."""

    outcome: str = "allow"
    reason: str = ""


Gate = Callable[[Bid], Verdict]


def allow_all(bid: Bid) -> Verdict:
    return Verdict()


@dataclass(frozen=True)
class Standing:
    bidder: str
    score: float
    rank: int


def standings(bids: Sequence[Bid], scoring: ScoringRule) -> list[Standing]:
    """Each bidder's latest bid, best score first (ties: earlier bid, then name)."""
    latest: dict[str, tuple[int, Bid]] = {}
    for i, bid in enumerate(bids):
        latest[bid.bidder] = (i, bid)
    ordered = sorted(latest.values(), key=lambda ib: (-scoring.score(ib[1].terms), ib[0]))
    return [Standing(b.bidder, scoring.score(b.terms), r + 1) for r, (_, b) in enumerate(ordered)]


# --- award -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Award:
    """The award the rules give (before screens and the approval gate): the winner,
    the terms it gets, their score, and why; ``winner is None`` when no bid qualifies."""

    winner: str | None
    terms: Mapping[str, Any] | None
    score: float | None
    second_score: float | None
    reason: str
    excluded: Mapping[str, str] = field(default_factory=dict)  # bidder → why not eligible
    escalate: bool = False  # the winning bid needs a person (an escalate-severity policy)


def malformed(terms: Mapping[str, Any], scoring: ScoringRule) -> str:
    """What is wrong with a bid's terms for this scoring rule ('' when nothing)."""
    for issue in scoring.space.issues:
        value = terms.get(issue.name)
        if value is None:
            return f"{issue.name} is missing"
        if isinstance(issue, NumericIssue):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{issue.name} is not a number"
            if not math.isfinite(value) or not issue.lower <= value <= issue.upper:
                return f"{issue.name} {value!r} is outside {issue.lower:g}–{issue.upper:g}"
        elif value not in getattr(issue, "values", ()):
            return f"{issue.name} {value!r} is not one of the options"
    return ""


def outside_malformed(terms: Mapping[str, Any], scoring: ScoringRule) -> str:
    """What is wrong with an outside bidder's terms: :func:`malformed`, and no term
    the tender does not have (an outsider writes every key itself)."""
    unknown = sorted(str(k)[:40] for k in terms if k not in scoring.space.names)
    if unknown:
        return f"{unknown[0]!r} is not a term of this tender"
    return malformed(terms, scoring)


def _eligibility(bid: Bid, rules: TenderRules, scoring: ScoringRule, gate: Gate) -> str:
    """Why a bid cannot win, or '' when it can."""
    problem = malformed(bid.terms, scoring)
    if problem:
        return f"malformed bid: {problem}"
    price = float(bid.terms[scoring.price_issue])  # a finite number: malformed() checked
    if not price <= rules.reserve_price:
        return f"price {price:,.2f} above the reserve {rules.reserve_price:,.2f}"
    if scoring.score(bid.terms) < scoring.profile.reservation:
        return "scores below the buyer's walk-away score"
    verdict = gate(bid)
    if verdict.outcome == "block":
        return f"blocked by policy: {verdict.reason}"
    return ""


def award_decide(
    bids: Sequence[Bid], rules: TenderRules, scoring: ScoringRule, gate: Gate = allow_all
) -> Award:
    """Who wins and on which terms. Only a bidder's latest bid counts; a bid above the
    reserve, below the walk-away score or blocked by a policy never wins. In the
    second-score format the winner's price rises until its score equals the second
    best eligible score (or the reserve's score, when it is the only eligible bid)."""
    latest = {b.bidder: b for b in bids}
    excluded: dict[str, str] = {}
    eligible: list[tuple[float, int, Bid]] = []
    for order, bid in enumerate(latest.values()):
        why = _eligibility(bid, rules, scoring, gate)
        if why:
            excluded[bid.bidder] = why
        else:
            eligible.append((scoring.score(bid.terms), order, bid))
    if not eligible:
        return Award(None, None, None, None, "no bid qualifies", excluded)
    eligible.sort(key=lambda e: (-e[0], e[1]))
    best_score, _, best = eligible[0]
    second = eligible[1][0] if len(eligible) > 1 else None
    escalate = gate(best).outcome == "escalate"
    if rules.format != Format.SECOND_SCORE:
        reason = f"best score {best_score:.4f} from {best.bidder} at its own terms"
        return Award(best.bidder, dict(best.terms), best_score, second, reason, excluded, escalate)
    target = second if second is not None else scoring.profile.reservation
    price = scoring.price_for_score(best.terms, target, rules.reserve_price)
    terms = {**best.terms, scoring.price_issue: price}
    reason = (
        f"{best.bidder} scores best ({best_score:.4f}); it gets terms that score "
        f"{scoring.score(terms):.4f}, matching the "
        + ("second-best score" if second is not None else "buyer's walk-away score")
    )
    return Award(best.bidder, terms, scoring.score(terms), second, reason, excluded, escalate)


# --- bidders -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BidderView:
    """All a bidder may know: its own private values and the public feedback."""

    name: str
    cost: float  # private: the price below which it loses money
    terms: Mapping[str, Any]  # its non-price terms (delivery, warranty, …)
    round: int
    own_last: Bid | None
    rank: int | None  # its rank among the bidders (1 is best), None before bidding
    best_score: float | None  # None under rank-only feedback
    best_price_equivalent: float | None  # the price at which its terms match the best score
    min_decrement: float
    time_left: float  # logical seconds to the close
    round_seconds: float
    opening_price: float | None  # reverse English: where bidding starts; None: sealed


Observer = Callable[[BidderView], None]


@dataclass(frozen=True)
class Move:
    """A strategy's answer: a price (None: no bid this round) and when in the round."""

    price: float | None
    offset: float = 0.0  # seconds into the round


Strategy = Callable[[BidderView, random.Random], Move]


def _sealed_or_english(view: BidderView, floor: float, steps: int = 1) -> Move:
    """Bid ``floor`` once in a sealed tender. In rounds: open at the opening price,
    then, while not ranked first, undercut the best (or, under rank-only feedback,
    one's own last bid) by ``steps`` decrements, never below ``floor``."""
    if view.opening_price is None:
        return Move(round(floor, 2))
    if view.rank == 1:
        return Move(None)
    step = steps * max(view.min_decrement, 0.01)
    if view.best_price_equivalent is not None:
        # In cents: the equivalent comes from a bisection (92,499.9999… is 92,500).
        target = round(view.best_price_equivalent, 2) - step
    elif view.own_last is not None:
        target = view.own_last.price - step
    else:
        target = view.opening_price
    price = round(max(target, floor) if steps > 1 else target, 2)
    if view.own_last is not None and price >= view.own_last.price:
        return Move(None)
    return Move(price) if price >= round(floor, 2) else Move(None)


def truthful(view: BidderView, rng: random.Random) -> Move:
    """Bids its cost (the dominant strategy under second-score rules); in rounds it
    stays in until the price would fall below its cost."""
    return _sealed_or_english(view, view.cost)


def shading(view: BidderView, rng: random.Random, margin: float = 0.08) -> Move:
    """Keeps a margin over its cost (the usual first-score behaviour)."""
    return _sealed_or_english(view, view.cost * (1 + margin))


def aggressive(view: BidderView, rng: random.Random, margin: float = 0.02) -> Move:
    """Thin margin; in rounds it jumps by three decrements at once to scare others off."""
    return _sealed_or_english(view, view.cost * (1 + margin), steps=3)


def sniper(view: BidderView, rng: random.Random, margin: float = 0.03) -> Move:
    """Waits silently, then bids once in the last seconds before the close (in a
    sealed tender it simply bids)."""
    if view.opening_price is not None and view.time_left > view.round_seconds:
        return Move(None)
    move = _sealed_or_english(view, view.cost * (1 + margin))
    return replace(move, offset=max(0.0, view.time_left - 1.0))


STRATEGIES: dict[str, Strategy] = {
    "truthful": truthful,
    "shading": shading,
    "aggressive": aggressive,
    "sniper": sniper,
}

# An outside bidder (a supplier's person or agent): no strategy of ours and no
# private cost we know; its bid for a round arrives as a Submission.
OUTSIDE = "outside"


@dataclass(frozen=True)
class Submission:
    """An outside bidder's bid for the current round: all its terms (it quotes the
    non-price terms too), and when it arrived, in seconds into the round."""

    terms: Mapping[str, Any]
    offset: float = 0.0


@dataclass(frozen=True)
class Bidder:
    name: str
    strategy: str
    cost: float
    terms: Mapping[str, Any] = field(default_factory=dict)  # non-price terms it quotes
    fixed_price: float | None = None  # a scripted bid (red-team rings' cover bids)

    def __post_init__(self) -> None:
        if self.fixed_price is None and self.strategy not in (*STRATEGIES, OUTSIDE):
            raise ValueError(f"unknown bidder strategy {self.strategy!r}")

    @property
    def outside(self) -> bool:
        return self.fixed_price is None and self.strategy == OUTSIDE


def _view(
    bidder: Bidder,
    bids: Sequence[Bid],
    rules: TenderRules,
    scoring: ScoringRule,
    round_number: int,
    time_left: float,
) -> BidderView:
    table = standings(bids, scoring)
    mine = next((s for s in table if s.bidder == bidder.name), None)
    own_last = next((b for b in reversed(bids) if b.bidder == bidder.name), None)
    best_score = table[0].score if table and rules.feedback == Feedback.BEST_SCORE else None
    equivalent = None
    if best_score is not None:
        base = {**bidder.terms, scoring.price_issue: scoring.price.lower}
        equivalent = scoring.price_for_score(base, best_score, scoring.price.upper)
    return BidderView(
        name=bidder.name,
        cost=bidder.cost,
        terms=dict(bidder.terms),
        round=round_number,
        own_last=own_last,
        rank=mine.rank if mine else None,
        best_score=best_score,
        best_price_equivalent=equivalent,
        min_decrement=rules.min_decrement,
        time_left=time_left,
        round_seconds=rules.round_seconds,
        # The published opening price (or the top of the price range), never the
        # reserve: the reserve is the buyer's private walk-away price.
        opening_price=(rules.opening_price or scoring.price.upper)
        if rules.format == Format.REVERSE_ENGLISH
        else None,
    )


def bidder_move(
    bidder: Bidder,
    bids: Sequence[Bid],
    rules: TenderRules,
    scoring: ScoringRule,
    *,
    round_number: int,
    time_left: float,
    rng: random.Random,
    observe: Observer | None = None,
) -> Move:
    if bidder.fixed_price is not None:
        placed = any(b.bidder == bidder.name for b in bids)
        return Move(None) if placed else Move(bidder.fixed_price)
    if bidder.outside:  # its move is its Submission, if it sent one
        return Move(None)
    view = _view(bidder, bids, rules, scoring, round_number, time_left)
    if observe is not None:
        observe(view)
    return STRATEGIES[bidder.strategy](view, rng)


@dataclass(frozen=True)
class OutsideView:
    """What an outside bidder is shown: its own bids and the public feedback the
    format allows (sealed: nothing about the others; rank-only: its rank; best
    score: its rank and the best score). Never another bidder's name, price or
    terms, nor the buyer's reserve or walk-away score."""

    round: int
    own_last: Mapping[str, Any] | None  # its latest standing bid's terms
    rank: int | None
    bidders: int  # how many bidders take part (public in a tender notice)
    best_score: float | None
    best_price_equivalent: float | None  # the price at which its terms match the best
    price_to_stand: float | None  # the highest price at its last terms that would stand now
    min_decrement: float
    opening_price: float | None
    time_left: float


def outside_view(
    name: str,
    bids: Sequence[Bid],
    rules: TenderRules,
    scoring: ScoringRule,
    *,
    round_number: int,
    time_left: float,
    bidders: int,
) -> OutsideView:
    english = rules.format == Format.REVERSE_ENGLISH
    own = next((b for b in reversed(bids) if b.bidder == name), None)
    table = standings(bids, scoring) if english else []
    mine = next((s for s in table if s.bidder == name), None)
    show_best = english and rules.feedback == Feedback.BEST_SCORE and bool(table)
    best = table[0].score if show_best else None
    equivalent = least = None
    if best is not None and own is not None:
        equivalent = scoring.price_for_score(own.terms, best, scoring.price.upper)
    target = _score_to_beat(name, bids, rules, scoring) if english and own else None
    if target is not None and own is not None:
        # the highest price at its own last terms that would stand (whole cents)
        base = {**own.terms, scoring.price_issue: scoring.price.lower}
        if scoring.score(base) >= target[0]:
            least = math.floor(scoring.price_for_score(base, target[0], own.price) * 100) / 100
    return OutsideView(
        round=round_number,
        own_last=dict(own.terms) if own else None,
        rank=mine.rank if mine else None,
        bidders=bidders,
        best_score=best,
        best_price_equivalent=equivalent,
        price_to_stand=None if least is None else max(least, 0.0),
        min_decrement=rules.min_decrement if english else 0.0,
        opening_price=(rules.opening_price or scoring.price.upper) if english else None,
        time_left=time_left,
    )


def submission_refused(
    name: str,
    terms: Mapping[str, Any],
    bids: Sequence[Bid],
    rules: TenderRules,
    scoring: ScoringRule,
) -> str:
    """Why an outside bid would be refused as it arrives ('' when it would stand
    now): malformed terms, or in rounds not beating what the feedback shows by the
    minimum decrement. Never the reserve: a bid above it is taken and cannot win,
    so the reserve stays private."""
    problem = outside_malformed(terms, scoring)
    if problem:
        return problem
    if rules.format == Format.REVERSE_ENGLISH:
        return _improves(Bid(name, terms, price_issue=scoring.price_issue), bids, rules, scoring)
    return ""


# --- rounds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundState:
    """A reverse English tender between rounds (what the service stores)."""

    round: int = 0
    close_at: float = 0.0
    extensions: int = 0
    bids: tuple[Bid, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()  # (bidder, why) of refused bids
    finished: bool = False
    reason: str = ""


def round_start(rules: TenderRules) -> RoundState:
    return RoundState(close_at=rules.duration_seconds)


def _score_to_beat(
    name: str, bids: Sequence[Bid], rules: TenderRules, scoring: ScoringRule
) -> tuple[float, str] | None:
    """The score an English bid from ``name`` must reach to stand, and what it must
    beat; None when anything stands. With the best score shown it must beat the best
    score by the score worth of the minimum decrement; under rank-only feedback, the
    bidder's own last bid (it does not know the best)."""
    if rules.feedback == Feedback.RANK_ONLY:
        reference = next((b for b in reversed(bids) if b.bidder == name), None)
        if reference is None:
            return None
        what = "its own last bid"
    else:
        table = standings(bids, scoring)
        if not table:
            return None
        reference = next(b for b in reversed(bids) if b.bidder == table[0].bidder)
        what = "the best score"
    current = scoring.score(reference.terms)
    price = float(reference.terms[scoring.price_issue])
    # A cent of slack: bids are in cents, the best's price equivalent is not.
    stepped = {**reference.terms, scoring.price_issue: price - rules.min_decrement + 0.01}
    needed = scoring.score(stepped) if rules.min_decrement > 0 else current + 1e-12
    return max(needed, current + 1e-12), what


def _improves(bid: Bid, bids: Sequence[Bid], rules: TenderRules, scoring: ScoringRule) -> str:
    """Why an English bid is refused ('' when it stands)."""
    target = _score_to_beat(bid.bidder, bids, rules, scoring)
    if target is None:
        return ""
    needed, what = target
    # Written to fail closed: a NaN anywhere refuses the bid.
    if not scoring.score(bid.terms) + 1e-12 >= needed:
        return f"does not beat {what} by the minimum decrement"
    return ""


def round_play(
    state: RoundState,
    bidders: Sequence[Bidder],
    rules: TenderRules,
    scoring: ScoringRule,
    *,
    seed: int,
    observe: Observer | None = None,
    submitted: Mapping[str, Submission] | None = None,
) -> RoundState:
    """One round of a reverse English tender: every bidder may bid once, in order of
    its offset within the round; the soft close may move the close. An outside
    bidder's bid is its entry in ``submitted`` and meets the same checks (malformed
    terms, the minimum decrement, the close). The tender ends when the close passes
    or the rounds run out (not when a round is quiet: a sniper may still be waiting)."""
    if state.finished:
        return state
    rng = random.Random(f"{seed}:{state.round}")
    start = state.round * rules.round_seconds
    bids, rejected = list(state.bids), list(state.rejected)
    close_at, extensions = state.close_at, state.extensions
    moves = []
    for bidder in bidders:
        move = bidder_move(
            bidder,
            bids,
            rules,
            scoring,
            round_number=state.round,
            time_left=close_at - start,
            rng=rng,
            observe=observe,
        )
        if move.price is not None:
            offset = min(max(move.offset, 0.0), rules.round_seconds)
            terms = {**bidder.terms, scoring.price_issue: move.price}
            moves.append((start + offset, bidder.name, terms, False))
    moves.extend((*m, True) for m in _submitted_moves(bidders, submitted, rules, start))
    for at, name, terms, outside in sorted(moves, key=lambda m: (m[0], m[1])):
        if at > close_at:
            rejected.append((name, "arrived after the close"))
            continue
        bid = Bid(name, terms, state.round, at, scoring.price_issue)
        problem = outside_malformed(terms, scoring) if outside else ""
        why = f"malformed bid: {problem}" if problem else _improves(bid, bids, rules, scoring)
        if why:
            rejected.append((name, why))
            continue
        bids.append(bid)
        close_at, extensions = soft_close_apply(close_at, at, rules.soft_close, extensions)
    next_round = state.round + 1
    reason = ""
    if next_round * rules.round_seconds >= close_at:
        reason = "the close passed"
    elif next_round >= rules.max_rounds:
        reason = "the last round was played"
    return RoundState(
        next_round, close_at, extensions, tuple(bids), tuple(rejected), bool(reason), reason
    )


def _submitted_moves(
    bidders: Sequence[Bidder],
    submitted: Mapping[str, Submission] | None,
    rules: TenderRules,
    start: float,
) -> list[tuple[float, str, dict[str, Any]]]:
    """The outside bidders' submissions as timed moves (others' entries are ignored:
    only an outside bidder's seat can submit)."""
    out = []
    for bidder in bidders:
        sub = (submitted or {}).get(bidder.name)
        if bidder.outside and sub is not None:
            offset = min(max(float(sub.offset), 0.0), rules.round_seconds)
            out.append((start + offset, bidder.name, dict(sub.terms)))
    return out


def sealed_collect(
    bidders: Sequence[Bidder],
    rules: TenderRules,
    scoring: ScoringRule,
    *,
    seed: int,
    observe: Observer | None = None,
    submitted: Mapping[str, Submission] | None = None,
) -> tuple[Bid, ...]:
    """Sealed formats: each bidder bids once, not seeing the others; an outside
    bidder's bid is its entry in ``submitted`` (a malformed one is left out: it can
    never win)."""
    rng = random.Random(f"{seed}:sealed")
    out = []
    for bidder in bidders:
        move = bidder_move(
            bidder,
            (),
            rules,
            scoring,
            round_number=0,
            time_left=rules.duration_seconds,
            rng=rng,
            observe=observe,
        )
        if move.price is not None:
            terms = {**bidder.terms, scoring.price_issue: move.price}
            out.append(Bid(bidder.name, terms, price_issue=scoring.price_issue))
    for _, name, terms in _submitted_moves(bidders, submitted, rules, 0.0):
        if not outside_malformed(terms, scoring):
            out.append(Bid(name, terms, price_issue=scoring.price_issue))
    return tuple(out)


def tender_run(
    bidders: Sequence[Bidder],
    rules: TenderRules,
    scoring: ScoringRule,
    *,
    seed: int,
    gate: Gate = allow_all,
    observe: Observer | None = None,
) -> tuple[tuple[Bid, ...], Award, RoundState | None]:
    """A whole tender in memory (the simulator and red-team use it; the product plays
    reverse English rounds one task at a time with round_play). ``observe`` sees
    every view a bidder strategy is shown (the red team checks them for leaks)."""
    if rules.format != Format.REVERSE_ENGLISH:
        bids = sealed_collect(bidders, rules, scoring, seed=seed, observe=observe)
        return bids, award_decide(bids, rules, scoring, gate), None
    state = round_start(rules)
    while not state.finished:
        state = round_play(state, bidders, rules, scoring, seed=seed, observe=observe)
    return state.bids, award_decide(state.bids, rules, scoring, gate), state
