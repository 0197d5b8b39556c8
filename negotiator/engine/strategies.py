"""Negotiation strategies: callables from a read-only :class:`PartyView` to an action.

A strategy sees only its own profile, the outcome space and the public offer
history (plus precomputed tables of its *own* utilities). It must never propose or
accept an outcome in ``view.forbidden`` and never go below its reservation
utility; when nothing acceptable is left it withdraws (walks away).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from .offers import Offer, Performative, Terms
from .opponent import regression_scores
from .outcomes import Outcome, OutcomeSpace
from .preferences import PreferenceProfile
from .rationale import explain_move

_EPS = 1e-12


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class SpaceIndex:
    """Public, per-space lookup arrays shared by every party of a negotiation."""

    space: OutcomeSpace
    value_index: np.ndarray  # (N, n_issues): position of each outcome's value per issue
    flat_index: np.ndarray  # value_index shifted so each (issue, value) has a unique column
    offsets: np.ndarray  # first flat column of each issue
    sizes: np.ndarray
    grid_index: np.ndarray  # value_index + issue * max_size: columns of a padded grid

    @classmethod
    def build(cls, space: OutcomeSpace) -> SpaceIndex:
        vi = space.value_index()
        sizes = np.array(space.sizes, dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        width = int(sizes.max())
        grid = vi + np.arange(sizes.size, dtype=np.int64) * width
        return cls(
            space=space,
            value_index=_frozen(vi),
            flat_index=_frozen(vi + offsets),
            offsets=_frozen(offsets),
            sizes=_frozen(sizes),
            grid_index=_frozen(grid),
        )

    @cached_property
    def grid_shape(self) -> tuple[int, int]:
        return int(self.sizes.size), int(self.sizes.max())

    @cached_property
    def total_values(self) -> int:
        return int(self.sizes.sum())

    @cached_property
    def values_per_issue(self) -> float:
        """The mean number of values an issue has."""
        return self.total_values / int(self.sizes.size)


@dataclass(frozen=True, eq=False)
class OwnTable:
    """One party's own utility of every enumerated outcome, sorted for fast lookups."""

    index: SpaceIndex
    utilities: np.ndarray  # (N,), enumeration order
    order: np.ndarray  # outcome indices by utility, best first (stable)
    neg_sorted: np.ndarray  # -utilities[order], ascending, for searchsorted
    max_utility: float
    min_utility: float
    allowed: np.ndarray | None = None  # what the party's policies let it offer; None: all

    @classmethod
    def build(
        cls, profile: PreferenceProfile, index: SpaceIndex, allowed: np.ndarray | None = None
    ) -> OwnTable:
        """``allowed`` (bool per outcome) marks what the party's policies let it offer:
        the others rank below every reachable target, so no strategy proposes them."""
        u = profile.utility_array(index.space)
        ranking = u if allowed is None or allowed.all() else np.where(allowed, u, -1.0)
        order = np.argsort(-ranking, kind="stable")
        reachable = ranking[ranking >= 0.0]
        return cls(
            index=index,
            utilities=_frozen(u),
            order=_frozen(order),
            neg_sorted=_frozen(-ranking[order]),
            max_utility=float(reachable.max()) if reachable.size else float(u.max()),
            min_utility=float(reachable.min()) if reachable.size else float(u.min()),
            allowed=None if allowed is None or allowed.all() else _frozen(allowed.astype(bool)),
        )

    def may_offer(self, outcome_index: int) -> bool:
        return self.allowed is None or bool(self.allowed[outcome_index])

    def count_at_least(self, target: float) -> int:
        """How many outcomes have utility >= target (they are ``order[:count]``)."""
        return int(np.searchsorted(self.neg_sorted, -target + _EPS, side="right"))


@dataclass(frozen=True, eq=False)
class PartyView:
    """What a strategy may see: its own profile and the public history. Read-only."""

    name: str
    party_index: int
    profile: PreferenceProfile
    space: OutcomeSpace
    table: OwnTable
    history: tuple[Offer, ...]
    proposal_senders: np.ndarray  # party index of each propose/counter in history
    proposal_outcomes: np.ndarray  # outcome index of each propose/counter in history
    standing: Offer | None  # the offer on the table from another party, if any
    standing_outcome: int | None
    round: int
    max_rounds: int
    t: float
    seed: int
    forbidden: frozenset[Outcome] = frozenset()
    fixed_terms_hash: str = ""
    offer_ttl_rounds: int | None = None
    attempt: int = 0

    @cached_property
    def rng(self) -> random.Random:
        """Deterministic per (seed, party, round, attempt)."""
        return random.Random(f"{self.seed}:{self.name}:{self.round}:{self.attempt}")

    @property
    def reservation(self) -> float:
        return self.profile.reservation

    @cached_property
    def own_proposals(self) -> np.ndarray:
        """Outcome index of each of our proposals and counters so far, in order."""
        return self.proposal_outcomes[self.proposal_senders == self.party_index]

    @cached_property
    def their_proposals(self) -> np.ndarray:
        """Outcome index of each of the other parties' proposals and counters so far."""
        return self.proposal_outcomes[self.proposal_senders != self.party_index]

    @property
    def near_deadline(self) -> bool:
        return self.round >= self.max_rounds - 1

    @cached_property
    def forbidden_indices(self) -> np.ndarray:
        found = [self.space.index_of(o) for o in self.forbidden]
        return np.array([i for i in found if i is not None], dtype=np.int64)

    def is_forbidden(self, outcome_index: int) -> bool:
        return bool(self.forbidden) and outcome_index in set(self.forbidden_indices.tolist())

    def utility_of(self, outcome_index: int) -> float:
        return float(self.table.utilities[outcome_index])

    def _message(self, performative: Performative, terms: Terms, rationale: str) -> Offer:
        ttl = self.offer_ttl_rounds
        return Offer(
            performative=performative,
            sender=self.name,
            terms=terms,
            fixed_terms_hash=self.fixed_terms_hash,
            round=self.round,
            expires_at_round=None
            if ttl is None or performative not in _PROPOSALS
            else self.round + ttl,
            in_reply_to=self.standing.id if self.standing is not None else None,
            version=self.attempt + 1,
            rationale=rationale,
        )

    def propose(self, outcome_index: int, rationale: str) -> Offer:
        outcome = self.space.outcome_at(int(outcome_index))
        performative = Performative.PROPOSE if self.standing is None else Performative.COUNTER
        return self._message(
            performative, Terms(tuple(zip(self.space.names, outcome, strict=True))), rationale
        )

    def accept(self, rationale: str) -> Offer:
        assert self.standing is not None
        return self._message(Performative.ACCEPT, self.standing.terms, rationale)

    def withdraw(self, rationale: str) -> Offer:
        return self._message(Performative.WITHDRAW, Terms(), rationale)

    def reject(self, rationale: str) -> Offer:
        return self._message(Performative.REJECT, Terms(), rationale)


_PROPOSALS = (Performative.PROPOSE, Performative.COUNTER)

Strategy = Callable[[PartyView], Offer]
StrategyFactory = Callable[..., Strategy]


# --- shared building blocks -------------------------------------------------------------


def concession_target(t: float, e: float, pmin: float, pmax: float, k: float = 0.0) -> float:
    """Faratin et al. (1998) time-dependent target: pmin + (pmax - pmin) * (1 - F(t)).

    ``F(t) = k + (1 - k) * t ** (1 / e)``; e < 1 is Boulware (holds out), e = 1 is
    linear, e > 1 is Conceder. Non-increasing in t for t in [0, 1].
    """
    t = min(1.0, max(0.0, t))
    f = k + (1.0 - k) * (t ** (1.0 / e) if t > 0 else 0.0)
    return pmin + (pmax - pmin) * (1.0 - f)


def _floor(view: PartyView) -> float:
    """Lowest target: the reservation (the same absolute scale for every party)."""
    return view.reservation


def _candidates(view: PartyView, target: float) -> np.ndarray:
    """Outcome indices with own utility >= target that are not forbidden, best first."""
    table = view.table
    count = table.count_at_least(target)
    cands = table.order[:count]
    if view.forbidden and cands.size:
        cands = cands[~np.isin(cands, view.forbidden_indices)]
    return cands


def _without(outcomes: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """``outcomes`` minus ``excluded``, order kept (a set lookup beats np.isin on short lists)."""
    if outcomes.size > 256:
        return outcomes[~np.isin(outcomes, excluded)]
    drop = set(excluded.tolist())
    return np.array([o for o in outcomes.tolist() if o not in drop], dtype=outcomes.dtype)


def _fallback(view: PartyView) -> np.ndarray:
    """Every allowed outcome at or above reservation (used when the target set is empty)."""
    return _candidates(view, view.reservation)


@dataclass(frozen=True)
class CounterpartModel:
    """Frequency-based estimate of the counterparts' (joint) utility.

    Each value's score is its recency-weighted count in counterpart proposals,
    scaled so the most proposed value of an issue scores 1; an issue's weight is
    proportional to the count of its most proposed value (issues the counterpart
    never moves on weigh most). Scores live in a
    padded (issue, value) grid flattened so ``SpaceIndex.grid_index`` indexes it.
    """

    value_scores: np.ndarray  # flattened (n_issues, max_size) grid, already issue-weighted
    issue_weights: np.ndarray
    observations: int

    def estimate(self, grid_index: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
        return self.value_scores[grid_index[outcomes]].sum(axis=1)


MODEL_DECAY = 0.05  # weight of the j-th counterpart proposal: 1 / (1 + MODEL_DECAY * j)
MODEL_SMOOTHING = 0.1
_DECAY_WEIGHTS = 1.0 / (1.0 + MODEL_DECAY * np.arange(4096, dtype=np.float64))


_REPEATED_WEIGHTS: dict[int, np.ndarray] = {}


def _proposal_counts(view: PartyView, outcomes: np.ndarray) -> np.ndarray:
    """Recency-weighted count of each (issue, value) in ``outcomes``, as a padded grid."""
    index = view.table.index
    n_issues, width = index.grid_shape
    m = outcomes.size
    if m <= _DECAY_WEIGHTS.size:
        repeated = _REPEATED_WEIGHTS.get(n_issues)
        if repeated is None:
            repeated = _REPEATED_WEIGHTS.setdefault(n_issues, np.repeat(_DECAY_WEIGHTS, n_issues))
        weights = repeated[: m * n_issues]
    else:
        weights = np.repeat(1.0 / (1.0 + MODEL_DECAY * np.arange(m, dtype=np.float64)), n_issues)
    return np.bincount(
        index.grid_index[outcomes].ravel(), weights=weights, minlength=n_issues * width
    ).reshape(n_issues, width)


def counterpart_model(view: PartyView) -> CounterpartModel | None:
    """Model the other parties from their proposals so far (None before the first)."""
    outcomes = view.their_proposals
    m = outcomes.size
    if m == 0:
        return None
    counts = _proposal_counts(view, outcomes)
    top = counts.max(axis=1)
    # an issue whose favourite value the counterpart keeps proposing matters to it
    issue_weights = top / top.sum()
    scale = issue_weights / (top + MODEL_SMOOTHING)
    scores = (counts + MODEL_SMOOTHING) * scale[:, None]
    return CounterpartModel(scores.ravel(), issue_weights, m)


def regression_model(view: PartyView, ridge: float) -> CounterpartModel | None:
    """The counterparts' utility fitted to their concessions (see ``opponent``); None
    before their first proposal."""
    outcomes = view.their_proposals
    if outcomes.size == 0:
        return None
    index = view.table.index
    # the frequency model's issue weights (how firmly it holds each issue) set the prior
    top = _proposal_counts(view, outcomes).max(axis=1)
    weights = top / top.sum()
    scores = regression_scores(
        index.grid_index, index.grid_shape, index.sizes, outcomes, view.max_rounds, ridge, weights
    )
    return CounterpartModel(scores, weights, int(outcomes.size))


def _favoured_issue(view: PartyView, model: CounterpartModel, chosen: int) -> str | None:
    """The issue on which ``chosen`` moves furthest towards the counterpart's likely wishes."""
    grid = view.table.index.grid_index
    gain = model.value_scores[grid[chosen]] - model.value_scores[grid[view.table.order[0]]]
    k = int(np.argmax(gain))
    if gain[k] <= 0:
        return None
    return view.space.names[k]


def _acceptance(
    view: PartyView, next_utility: float, accept_threshold: float | None
) -> tuple[bool, str]:
    """AC_next, or an absolute threshold, or anything above reservation at the deadline."""
    if view.standing is None or view.standing_outcome is None:
        return False, ""
    if view.is_forbidden(view.standing_outcome):
        return False, ""
    u = view.utility_of(view.standing_outcome)
    if u < view.reservation:
        return False, ""
    if u >= next_utility - _EPS:
        return (
            True,
            "Accepted: this offer is at least as good for us as what we would propose next.",
        )
    if accept_threshold is not None and u >= accept_threshold:
        return (
            True,
            "Accepted: this offer clears our acceptance threshold.",
        )
    if view.near_deadline:
        return True, "Accepted at the deadline: this offer is better for us than walking away."
    return False, ""


def _walk_away(view: PartyView) -> Offer:
    return view.withdraw(
        "Walked away: no outcome our policies allow is better for us than no deal."
    )


def _closest_to_target(view: PartyView, target: float) -> tuple[int, float] | None:
    cands = _candidates(view, target)
    if cands.size == 0:
        cands = _fallback(view)
        if cands.size == 0:
            return None
        return int(cands[0]), float(view.table.utilities[cands[0]])
    chosen = int(cands[-1])  # lowest own utility still >= target
    return chosen, float(view.table.utilities[chosen])


def _time_dependent_move(
    view: PartyView, target: float, label: str, accept_threshold: float | None
) -> Offer:
    target = max(target, view.reservation)
    pick = _closest_to_target(view, target)
    if pick is None:
        return _walk_away(view)
    chosen, u = pick
    accept, why = _acceptance(view, u, accept_threshold)
    if accept:
        return view.accept(why)
    return view.propose(chosen, explain_move(view, chosen, schedule=label))


# --- strategies ------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeDependent:
    """Faratin et al. (1998) time-dependent concession.

    The target utility falls from the best outcome to the reservation as
    ``pmin + (pmax - pmin) * (1 - (k + (1 - k) * t ** (1 / e))``; it offers the
    outcome whose own utility is closest above the target. e < 1 (Boulware) holds
    out until late, e = 1 concedes linearly, e > 1 (Conceder) gives ground early.
    Accepts by AC_next, an optional threshold, or at the deadline above reservation.
    """

    label: str = "linear"
    e: float = 1.0
    k: float = 0.0
    accept_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.e <= 0:
            raise ValueError(f"e must be positive, got {self.e}")
        if not 0.0 <= self.k < 1.0:
            raise ValueError(f"k must lie in [0, 1), got {self.k}")

    def target(self, view: PartyView) -> float:
        return concession_target(view.t, self.e, _floor(view), view.table.max_utility, self.k)

    def __call__(self, view: PartyView) -> Offer:
        return _time_dependent_move(view, self.target(view), self.label, self.accept_threshold)


@dataclass(frozen=True)
class Hardliner:
    """Never concedes: always offers its best allowed outcome and accepts only offers
    worth as much (or anything above reservation in the final round if ``deadline_accept``)."""

    deadline_accept: bool = False

    def __call__(self, view: PartyView) -> Offer:
        cands = _fallback(view)
        if cands.size == 0:
            return _walk_away(view)
        chosen = int(cands[0])
        u = float(view.table.utilities[chosen])
        if view.standing_outcome is not None and not view.is_forbidden(view.standing_outcome):
            su = view.utility_of(view.standing_outcome)
            if su >= u - _EPS and su >= view.reservation:
                return view.accept("Accepted: this offer matches our best offer.")
            if self.deadline_accept and view.near_deadline and su >= view.reservation:
                return view.accept(
                    "Accepted at the deadline: this offer is better for us than walking away."
                )
        return view.propose(
            chosen,
            "Held firm on our best offer: a hardliner never concedes."
            if view.own_proposals.size
            else explain_move(view, chosen, schedule="hardliner"),
        )


@dataclass(frozen=True)
class TitForTat:
    """Relative tit-for-tat (Faratin et al. 1998), in utility terms.

    Concedes in proportion to the counterpart's last concession measured in our own
    utility: ``target = my_last * u(their previous) / u(their last)``, with at least
    ``min_concession`` per round so two tit-for-tat agents do not deadlock. Offers
    the outcome closest above the target; accepts by AC_next or at the deadline.
    """

    min_concession: float = 0.005
    accept_threshold: float | None = None

    def target(self, view: PartyView) -> float:
        table = view.table
        floor = _floor(view)
        theirs, mine = view.their_proposals, view.own_proposals
        if mine.size == 0:
            return table.max_utility
        my_last = float(table.utilities[mine[-1]])
        if theirs.size < 2:
            return max(floor, my_last - self.min_concession)
        prev = float(table.utilities[theirs[-2]])
        last = float(table.utilities[theirs[-1]])
        ratio = prev / last if last > 0 else 1.0
        target = min(my_last * min(1.0, ratio), my_last - self.min_concession)
        return max(floor, min(table.max_utility, target))

    def __call__(self, view: PartyView) -> Offer:
        return _time_dependent_move(view, self.target(view), "tit-for-tat", self.accept_threshold)


@dataclass(frozen=True)
class Tradeoff:
    """Time-dependent concession on its own utility with opponent-model trade-offs.

    Each round it computes the Faratin target (exponent ``e``), takes the outcomes
    whose own utility lies within ``band`` above the target (its current iso-curve)
    and offers the one a frequency-based model of the counterparts predicts they
    like best. With ``band=None`` every outcome at or above the target is eligible;
    with ``fresh`` it prefers outcomes of the band it has not offered yet; with
    ``explore`` > 0 each value of a band outcome that no party has proposed yet adds
    ``explore`` to the model's score (an offer that shows new values teaches both
    sides' models something).
    Accepts by AC_next, an optional threshold, or at the deadline above reservation.
    """

    e: float = 0.5
    band: float | None = 0.05
    k: float = 0.0
    accept_threshold: float | None = None
    label: str = "tradeoff"
    nash_floor: bool = False
    nash_until: float = 0.9
    regression: float = 0.0  # > 0: ridge weight of the regression opponent model
    fresh: bool = False
    explore: float = 0.0

    def _model(self, view: PartyView) -> CounterpartModel | None:
        if self.regression <= 0:
            return counterpart_model(view)
        return regression_model(view, self.regression)

    def __post_init__(self) -> None:
        if self.e <= 0:
            raise ValueError(f"e must be positive, got {self.e}")
        if self.band is not None and self.band <= 0:
            raise ValueError(f"band must be positive, got {self.band}")
        if self.explore < 0:
            raise ValueError(f"explore must not be negative, got {self.explore}")

    def target(self, view: PartyView) -> float:
        return concession_target(view.t, self.e, _floor(view), view.table.max_utility, self.k)

    def _pick(self, view: PartyView, target: float) -> tuple[int | None, CounterpartModel | None]:
        """The outcome to offer at ``target`` (None: nothing acceptable is left) and the
        counterpart model used to choose it, if any."""
        table = view.table
        neg = table.neg_sorted
        hi = int(neg.searchsorted(-target + _EPS, "right"))  # outcomes with u >= target
        model = None
        if self.nash_floor and hi > 1 and view.t < self.nash_until:
            model = self._model(view)
        if model is not None:
            # do not concede past our estimate of the Nash bargaining point
            upper = table.order[:hi]
            est = model.estimate(table.index.grid_index, upper)
            own = table.utilities[upper]
            nash_u = float(own[int(((own - view.reservation) * est).argmax())])
            if nash_u > target:
                target = nash_u
                hi = int(neg.searchsorted(-target + _EPS, "right"))
        lo = 0
        if self.band is not None and hi:
            # outcomes with u > target + band come first in ``order``; skip them
            lo = int(neg.searchsorted(-(target + self.band) - _EPS, "left"))
            if lo >= hi:
                lo = 0
        cands = table.order[lo:hi]
        if view.forbidden and cands.size:
            cands = cands[~np.isin(cands, view.forbidden_indices)]
            if cands.size == 0 and lo:
                cands = _candidates(view, target)
        if cands.size == 0:
            cands = _fallback(view)
            if cands.size == 0:
                return None, model
            cands = cands[:1]
        if self.fresh and cands.size > 1:
            # an outcome the counterpart already turned down tells it nothing new
            # and is the least likely to be accepted; offer another of the band
            mine = view.own_proposals
            if mine.size:
                unseen = _without(cands, mine)
                if unseen.size:
                    cands = unseen
        if cands.size > 1 and model is None:
            model = self._model(view)
        if model is None or cands.size == 1:
            return int(cands[0]), model
        # ties go to the outcome better for us (cands are best-first)
        score = model.estimate(table.index.grid_index, cands)
        if self.explore:
            shown = _proposal_counts(view, view.proposal_outcomes).ravel() > 0
            score = score + self.explore * (~shown[table.index.grid_index[cands]]).sum(axis=1)
        return int(cands[int(score.argmax())]), model

    def __call__(self, view: PartyView) -> Offer:
        return self._move(view, max(self.target(view), view.reservation))

    def _move(
        self,
        view: PartyView,
        target: float,
        picked: tuple[int | None, CounterpartModel | None] | None = None,
    ) -> Offer:
        chosen, model = picked if picked is not None else self._pick(view, target)
        if chosen is None:
            return _walk_away(view)
        accept, why = _acceptance(view, view.utility_of(chosen), self.accept_threshold)
        if accept:
            return view.accept(why)
        # Rationales travel to the other parties: they explain the move without
        # numbers from our private profile (utilities, targets, reservation).
        favoured = _favoured_issue(view, model, chosen) if model is not None else None
        return view.propose(
            chosen, explain_move(view, chosen, schedule=self.label, favoured=favoured)
        )


def first_proposals(view: PartyView) -> tuple[np.ndarray, np.ndarray]:
    """The counterparts' distinct proposals in the order first made, and for each the
    position of that first proposal among all of theirs."""
    theirs = view.their_proposals
    first: dict[int, int] = {}
    for position, outcome in enumerate(theirs.tolist()):
        first.setdefault(outcome, position)
    return (
        np.fromiter(first.keys(), dtype=np.int64, count=len(first)),
        np.fromiter(first.values(), dtype=np.float64, count=len(first)),
    )


def _schedule_left(done: np.ndarray | int, rounds: int, e: float) -> np.ndarray | float:
    """Share of a Faratin schedule (exponent ``e``) still ahead of a party after
    ``done`` of its ``rounds`` proposals: its gain over its walk-away falls with it."""
    return 1.0 - (np.asarray(done, dtype=np.float64) / max(1, rounds)) ** (1.0 / e)


def _offer_products(view: PartyView, e: float) -> tuple[np.ndarray, np.ndarray] | None:
    """A single counterpart's distinct proposals (in the order first made) and the Nash
    product of each, up to one constant factor: our gain over our walk-away times the
    share of its schedule still ahead when it first made it. None with several
    counterparts (no one schedule to read, no one to return to)."""
    senders = view.proposal_senders[view.proposal_senders != view.party_index]
    if senders.size and (senders != senders[0]).any():
        return None
    outcomes, first = first_proposals(view)
    gain = view.table.utilities[outcomes] - view.reservation
    return outcomes, gain * _schedule_left(first, view.max_rounds, e)


_GIVE_BACK_UNTIL = 0.5  # share of the rounds after which give_back stays silent


def give_back(
    view: PartyView, target: float, margin: float, reach: float, near: float, e: float = 1.0
) -> int | None:
    """The counterpart's earlier offer to return to, if it has conceded past the Nash point.

    A counterpart conceding on a time schedule (Faratin exponent ``e``) values its j-th
    proposal at about ``r + (top - r) * (1 - (j / max_rounds) ** (1 / e))``: its gain
    over its walk-away falls with the share of its schedule still ahead. With our exact
    utility this gives the Nash product of each of its distinct proposals, up to a
    constant factor, without modelling it.
    Along its offers the product rises while it moves towards the Nash point and
    falls once it has gone past; then the fair move is to return to its best one
    (it offered it, so it accepts). Fires only near a meeting, when the standing
    offer lies within ``near`` of our target and the returned one within ``reach``,
    when the product fell by more than ``margin`` of its best, only in the first
    half of the negotiation (later a steady schedule is a poor guess: a Boulware
    counterpart concedes late), and never in the last round (the deadline
    acceptance decides there), and only against a single counterpart. Uses only
    public offers and our own utility; the result may be policy-blocked like any
    proposal.
    """
    if view.standing_outcome is None or view.near_deadline or view.t > _GIVE_BACK_UNTIL:
        return None
    table = view.table
    if table.utilities[view.standing_outcome] < target - near:
        return None
    offers = _offer_products(view, e)
    if offers is None or offers[0].size < 2:
        return None
    outcomes, product = offers
    own = table.utilities[outcomes]
    best = int(product.argmax())
    if best == outcomes.size - 1 or product[best] <= 0:
        return None
    if product[-1] >= product[best] * (1.0 - margin) or own[best] < target - reach:
        return None
    chosen = int(outcomes[best])
    if view.is_forbidden(chosen) or not table.may_offer(chosen):
        return None
    return chosen


def give_back_early(view: PartyView, target: float, until: float, e: float = 1.0) -> int | None:
    """The counterpart's earlier offer to return to before we concede further, if any.

    A counterpart conceding on the same schedule as ours (Faratin exponent ``e``)
    values its j-th distinct offer at about ``r + (top - r) * (1 - (j / max_rounds) **
    (1 / e))``, so ``(u - our reservation) * (1 - (j / max_rounds) ** (1 / e))`` ranks
    its offers by Nash product, up to one constant factor (see :func:`give_back`).
    Whatever we offer next it has not offered itself: it is worth at most its current
    level to it (its factor after all m of its offers) and ``target`` to us, which
    bounds that offer's product on the same scale. Once one of the counterpart's
    earlier offers beats the bound, no further concession of ours shares the gains
    better: we propose that offer again (it made it, so it accepts), or accept it if
    it is the standing offer. On a frontier both sides concede along, this returns to
    the Nash point no later than the two targets cross, whichever side the point
    favours. Guards: only while the schedule has covered less than ``until`` of its
    way (a counterpart that holds out, Boulware-like, would be misread later: its
    early offers would look generous), never in the last round, against a single
    counterpart only, never to an outcome below our reservation or one our policies
    block. Uses only public offers and our own utility.
    """
    if view.standing_outcome is None or view.near_deadline or view.t ** (1.0 / e) > until:
        return None
    table = view.table
    theirs = view.their_proposals
    bound = (target - view.reservation) * _schedule_left(theirs.size, view.max_rounds, e)
    if theirs.size < 2 or table.utilities[theirs].max() - view.reservation < bound:
        return None  # even the first offer's factor (1) could not beat the bound
    offers = _offer_products(view, e)
    if offers is None:
        return None
    outcomes, product = offers
    best = int(product.argmax())
    if product[best] <= 0 or product[best] < bound:
        return None
    chosen = int(outcomes[best])
    if view.is_forbidden(chosen) or not table.may_offer(chosen):
        return None
    return chosen


def _one_issue_variants(view: PartyView, outcome: int) -> np.ndarray:
    """Every outcome that differs from ``outcome`` on exactly one issue."""
    sizes = view.table.index.sizes
    strides = np.ones(sizes.size, dtype=np.int64)
    strides[:-1] = np.cumprod(sizes[::-1])[::-1][1:]  # last issue fastest
    values = view.table.index.value_index[outcome]
    parts = []
    for issue, size in enumerate(sizes.tolist()):
        shift = (np.arange(size, dtype=np.int64) - int(values[issue])) * strides[issue]
        parts.append(outcome + shift[shift != 0])
    return np.concatenate(parts)


def _stepped_already(view: PartyView) -> bool:
    """Whether we already answered a counterpart proposal with one that changed a single
    issue of it (a pareto step, or a band offer that happened to look like one)."""
    values = view.table.index.value_index
    senders, outcomes = view.proposal_senders, view.proposal_outcomes
    for k in np.flatnonzero(senders[1:] == view.party_index).tolist():
        before, ours = int(outcomes[k]), int(outcomes[k + 1])
        if senders[k] != view.party_index and int((values[ours] != values[before]).sum()) == 1:
            return True
    return False


def pareto_step(view: PartyView, model: CounterpartModel, tolerance: float) -> int | None:
    """A one-issue change to the standing offer that is better for us and, as far as
    the counterpart's own offers tell, about as good for it; None if there is none.

    Near a meeting the standing offer is rarely on the Pareto frontier: it lies on the
    counterpart's iso-utility band and the gains left are small changes it hardly
    cares about. The step looks only at outcomes that differ from the standing offer
    on one issue, whose new value the counterpart has proposed itself, and that the
    frequency model of the counterpart rates at most ``tolerance`` below the standing
    offer; of those it takes the best for us. At most one such answer per negotiation
    (after one, the counterpart's reply decides as usual), never in the last round. Uses
    only public offers and our own utility; policy-blocked outcomes are skipped.
    """
    standing = view.standing_outcome
    if standing is None or view.near_deadline or _stepped_already(view):
        return None
    table = view.table
    cands = _one_issue_variants(view, standing)
    keep = table.utilities[cands] > table.utilities[standing] + _EPS
    if table.allowed is not None:
        keep &= table.allowed[cands]
    cands = cands[keep]
    if view.forbidden and cands.size:
        cands = cands[~np.isin(cands, view.forbidden_indices)]
    if cands.size == 0:
        return None
    grid = table.index.grid_index
    theirs = view.their_proposals
    proposed = _proposal_counts(view, theirs).ravel() > 0
    cands = cands[proposed[grid[cands]].all(axis=1)]  # no value it never asked for
    if cands.size == 0:
        return None
    rated = model.estimate(grid, cands)
    floor = float(model.estimate(grid, np.array([standing]))[0]) - tolerance
    cands = cands[rated >= floor]
    if cands.size == 0:
        return None
    return int(cands[int(table.utilities[cands].argmax())])


@dataclass(frozen=True)
class Fair(Tradeoff):
    """:class:`Tradeoff` that aims at the Nash bargaining point, for the default.

    On top of the trade-offs on its iso-utility band (offering band outcomes it has
    not offered yet first): it accepts any offer it made itself earlier (above its
    reservation), and it returns to a single counterpart's best earlier offer when
    that offer's Nash product beats any concession of its own (early in the
    negotiation, see :func:`give_back_early`; ``early=None`` turns that off) or when
    the counterpart's offers have gone past the Nash point (see :func:`give_back`).
    Where it would accept, it first tries a one-issue change of the standing offer
    that is better for it and about as good for the counterpart (see
    :func:`pareto_step`; ``step=None`` turns that off).

    On issues with many values (``wide`` or more an issue on average; ``wide=None``
    turns this off) a dozen offers show only a fraction of them, and a model learned
    from offers knows nothing of a value nobody proposed. There it plays
    ``wide_e`` (concedes more slowly, so more offers are made before the sides
    meet), ``wide_explore`` (prefers band outcomes that show values nobody has
    proposed yet) and ``wide_regression`` (fits the counterpart's utility to its
    concessions, see :func:`regression_model`; a value it never proposed keeps the
    prior, half its favourite's score, where counting would rate it almost nil).
    """

    e: float = 0.85
    band: float | None = 0.02
    regression: float = 0.0
    label: str = "default"
    fresh: bool = True
    margin: float = 0.03
    reach: float = 0.15
    near: float = 0.05
    step: float | None = 0.05
    early: float | None = 0.25
    wide: float | None = 16.0
    wide_e: float = 0.5
    wide_explore: float = 0.02
    wide_regression: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.early is not None and not 0.0 <= self.early <= 1.0:
            raise ValueError(f"early must lie in [0, 1] or be None, got {self.early}")
        if self.wide is not None:
            if self.wide <= 0:
                raise ValueError(f"wide must be positive or None, got {self.wide}")
            self.on_wide_issues  # noqa: B018 - checks the wide settings now, not mid-negotiation

    @cached_property
    def on_wide_issues(self) -> Fair:
        """This strategy with the settings for issues with many values."""
        return replace(
            self,
            e=self.wide_e,
            explore=self.wide_explore,
            regression=self.wide_regression,
            wide=None,
        )

    def _step(self, view: PartyView, model: CounterpartModel | None) -> Offer | None:
        if self.step is None:
            return None
        chosen = pareto_step(view, model or self._model(view), self.step)
        if chosen is None:
            return None
        return view.propose(
            chosen,
            explain_move(
                view,
                chosen,
                schedule=self.label,
                reason="a small change to the counterpart's offer that should matter little to it",
            ),
        )

    def __call__(self, view: PartyView) -> Offer:
        if self.wide is not None and view.table.index.values_per_issue >= self.wide:
            return self.on_wide_issues.play(view)
        return self.play(view)

    def play(self, view: PartyView) -> Offer:
        standing = view.standing_outcome
        if (
            standing is not None
            and view.utility_of(standing) >= view.reservation
            and not view.is_forbidden(standing)
            and standing in view.own_proposals.tolist()
        ):
            step = self._step(view, None)
            if step is not None:
                return step
            return view.accept("Accepted: these are terms we proposed ourselves earlier.")
        target = max(self.target(view), view.reservation)
        back = None if self.early is None else give_back_early(view, target, self.early, self.e)
        if back is not None and back == standing:
            step = self._step(view, None)
            if step is not None:
                return step
            return view.accept(
                "Accepted: no offer we could still make would share the gains more evenly."
            )
        if back is None:
            back = give_back(view, target, self.margin, self.reach, self.near, self.e)
        if back is None:
            picked = None
            if self.step is not None and standing is not None and not view.near_deadline:
                picked = chosen, model = self._pick(view, target)
                if (
                    chosen is not None
                    and _acceptance(view, view.utility_of(chosen), self.accept_threshold)[0]
                ):
                    step = self._step(view, model)
                    if step is not None:
                        return step
            return self._move(view, target, picked)
        return view.propose(
            back,
            explain_move(
                view,
                back,
                schedule=self.label,
                reason="returning to terms the counterpart offered earlier, which share "
                "the gains more evenly than where its offers have gone since",
            ),
        )


def _default(**params: Any) -> Strategy:
    """Recommended: concedes steadily, trades off on its iso-utility band, aims at a fair split.

    Concedes on its own utility on a slightly Boulware schedule (Faratin e=0.85)
    and, among the outcomes whose own utility lies within band=0.02 above its
    target (a thin iso-utility band), offers the one a frequency model of the
    counterpart rates best (regression=0: no regression fit), preferring outcomes
    it has not offered yet. Before each concession it ranks the counterpart's
    earlier offers by Nash product, reading the counterpart's utility from its
    concession schedule, and proposes the best of them again as soon as that beats
    anything it could still offer itself, while the schedule has covered less than
    early=0.25 of its way. Later, once the counterpart's offers have gone past the
    Nash bargaining point (their product fell by more than margin=0.03 of its best)
    it proposes the counterpart's best earlier offer again, if that lies within
    reach=0.15 of its own target, the standing offer within near=0.05, and half the
    rounds are not yet used. Accepts an offer at least as good as its next one,
    terms it proposed itself earlier, or any offer above reservation in the last
    round; but where it would accept (once a negotiation, never in the last round)
    it first answers with a pareto step if there is one: the standing offer with
    one issue changed to a value the counterpart proposed itself, better for us and
    rated at most step=0.05 lower by the frequency model. On issues with many
    values (wide=16 or more an issue on average) it concedes more slowly
    (wide_e=0.5), prefers band outcomes that show values nobody proposed yet
    (wide_explore=0.02 of model score a value) and fits the counterpart's utility
    to its concessions (wide_regression=0.1). In self-play it lands on the Pareto
    frontier at or near the Nash point (benchmarks/engine_bench.py).
    """
    return Fair(**{**params, "label": "default"})


def _boulware(**params: Any) -> Strategy:
    """Time-dependent, holds out until late (Faratin e=0.2 by default)."""
    return TimeDependent(label="boulware", **{"e": 0.2, **params})


def _linear(**params: Any) -> Strategy:
    """Time-dependent, concedes at a constant rate (e=1)."""
    return TimeDependent(label="linear", **{"e": 1.0, **params})


def _conceder(**params: Any) -> Strategy:
    """Time-dependent, concedes early (Faratin e=2 by default)."""
    return TimeDependent(label="conceder", **{"e": 2.0, **params})


def _tit_for_tat(**params: Any) -> Strategy:
    """Relative tit-for-tat: mirrors the counterpart's concessions (see TitForTat)."""
    return TitForTat(**params)


def _tradeoff(**params: Any) -> Strategy:
    """Concedes over time; trades off within its iso-utility band (see Tradeoff)."""
    return Tradeoff(**params)


def _hardliner(**params: Any) -> Strategy:
    """Never concedes (see Hardliner)."""
    return Hardliner(**params)


STRATEGIES: dict[str, StrategyFactory] = {
    "default": _default,
    "boulware": _boulware,
    "linear": _linear,
    "conceder": _conceder,
    "tit-for-tat": _tit_for_tat,
    "tradeoff": _tradeoff,
    "hardliner": _hardliner,
}


def make_strategy(name: str, **params: Any) -> Strategy:
    """Build a registered strategy; unknown names or parameters raise ValueError."""
    try:
        factory = STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; choose one of {', '.join(sorted(STRATEGIES))}"
        ) from None
    try:
        return factory(**params)
    except TypeError as exc:
        raise ValueError(f"strategy {name!r}: bad parameters {params!r} ({exc})") from None


def describe_strategies() -> Mapping[str, str]:
    """Strategy name -> first docstring line (for help texts)."""
    return {name: (f.__doc__ or "").strip().splitlines()[0] for name, f in STRATEGIES.items()}


__all__ = [
    "STRATEGIES",
    "CounterpartModel",
    "Fair",
    "Hardliner",
    "OwnTable",
    "PartyView",
    "SpaceIndex",
    "Strategy",
    "StrategyFactory",
    "TimeDependent",
    "TitForTat",
    "Tradeoff",
    "concession_target",
    "counterpart_model",
    "describe_strategies",
    "first_proposals",
    "give_back",
    "give_back_early",
    "make_strategy",
]
