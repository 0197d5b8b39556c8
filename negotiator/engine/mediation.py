"""The mediated coalition protocol for three or more parties: a single negotiation text.

A mediator holds one text (a complete, feasible plan). Each round it puts the text
and a few feasible variations of it to the parties; each party, privately,
votes on the text (accept or reject), ranks the text and the variations, and —
when it rejects — names the issue it objects to most. That is all the mediator
sees: never a utility, a weight or a reservation value. Then:

1. consensus on the text (the coalition rule below) → agreed;
2. else the mediator moves the text to the variation with the best weighted Borda
   score — each party's ranking counts with its role's priority, doubled for
   parties that rejected the text, so the text moves towards its blockers — and
   ties go to the ranking of the party first in the precedence order;
3. after ``max_rounds`` rounds without consensus → escalated to a person, naming
   who blocks and on which issue.

Consensus rules: ``unanimity`` (every party accepts), or ``weighted_majority``
(the accepting parties' priorities sum to at least ``threshold`` of the total and
no party holding a veto rejects).

Variations come from moves a planner would make: shift one step of an allocation
from one item to another, move a window's start or length, step one plain issue.
Each variation is screened by the constraint system's plain-Python checks, so the
text is feasible in every round. Randomness is seeded per round (``seed`` and
round number), so a stored state resumes exactly as an uninterrupted run.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .constraints import ConstraintSystem, check_one
from .offers import Offer, Performative
from .outcomes import CategoricalIssue, NumericIssue, OutcomeSpace
from .preferences import PreferenceProfile
from .structured import Allocation, Structured, Window, owner_of

RULES = ("unanimity", "weighted_majority")
RUNNING, AGREED, ESCALATED = "running", "agreed", "escalated"


@dataclass(frozen=True)
class CoalitionRules:
    rule: str = "unanimity"
    threshold: float = 2 / 3  # share of the total priority weight (weighted majority)
    veto: tuple[str, ...] = ()  # roles whose rejection blocks a weighted majority
    priorities: Mapping[str, float] = field(default_factory=dict)  # role -> weight (1)
    precedence: tuple[str, ...] = ()  # breaks ties; default: the parties' order
    max_rounds: int = 40
    candidates: int = 8  # variations the mediator puts to the parties each round

    def weight(self, party: str) -> float:
        return float(self.priorities.get(party, 1.0))


def rules_from_dict(data: Any, parties: Sequence[str]) -> CoalitionRules:
    """Read a playbook's ``coalition`` settings; ValueError names the fault."""
    data = dict(data or {})
    rule = data.get("rule", "unanimity")
    if rule not in RULES:
        raise ValueError(f"coalition.rule must be one of {', '.join(RULES)}, got {rule!r}")
    priorities = {str(k): float(v) for k, v in dict(data.get("priorities") or {}).items()}
    precedence = tuple(data.get("precedence") or ())
    veto = tuple(data.get("veto") or ())
    for key, names in (("priorities", priorities), ("precedence", precedence), ("veto", veto)):
        unknown = sorted(set(names) - set(parties))
        if unknown:
            raise ValueError(f"coalition.{key} names unknown roles {unknown}")
    if any(w <= 0 for w in priorities.values()):
        raise ValueError("coalition.priorities must be positive weights")
    threshold = float(data.get("threshold", 2 / 3))
    if not 0 < threshold <= 1:
        raise ValueError("coalition.threshold must lie in (0, 1]")
    max_rounds = int(data.get("max_rounds", 40))
    candidates = int(data.get("candidates", 8))
    if max_rounds < 1 or candidates < 1:
        raise ValueError("coalition.max_rounds and coalition.candidates must be at least 1")
    full_precedence = precedence + tuple(p for p in parties if p not in precedence)
    return CoalitionRules(
        rule, threshold, veto, priorities, full_precedence, max_rounds, candidates
    )


@dataclass(frozen=True)
class Ballot:
    """What one party discloses in one round."""

    party: str
    accept: bool
    ranking: tuple[int, ...]  # positions in the round's options, best first (0 = the text)
    objection: str = ""  # the issue it objects to most (only with a rejection)


@dataclass(frozen=True)
class MediationRound:
    round: int
    text: Mapping[str, Any]
    options: tuple[Mapping[str, Any], ...]  # options[0] is the text itself
    ballots: tuple[Ballot, ...]
    consensus: bool
    support: float  # share of the priority weight that accepted the text
    chosen: int  # the option that became the next text (0: unchanged)


@dataclass(frozen=True)
class MediationState:
    text: Mapping[str, Any]
    seed: int = 0
    round: int = 0
    status: str = RUNNING
    rounds: tuple[MediationRound, ...] = ()
    reason: str = ""
    blockers: tuple[tuple[str, str], ...] = ()  # (party, issue it blocks on)

    @property
    def finished(self) -> bool:
        return self.status != RUNNING


@dataclass(frozen=True)
class VoterView:
    """What a party's voter sees: its own private profile and the public round."""

    name: str
    profile: PreferenceProfile
    space: OutcomeSpace
    options: tuple[Mapping[str, Any], ...]
    t: float  # relative time, 0 in the first round and 1 in the last


Voter = Callable[[VoterView], Ballot]


@dataclass(frozen=True)
class MediationSetup:
    space: OutcomeSpace
    system: ConstraintSystem
    parties: tuple[tuple[str, PreferenceProfile], ...]
    rules: CoalitionRules

    @property
    def party_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.parties)

    @property
    def structured(self) -> tuple[Structured, ...]:
        return self.system.structured


def worst_issue(profile: PreferenceProfile, space: OutcomeSpace, terms: Mapping[str, Any]) -> str:
    """The (structured) issue where ``terms`` cost the party the most weighted value."""
    losses: dict[str, float] = {}
    for crit, items in profile.criteria.items():
        total = sum(iv.weight for iv in items) or 1.0
        for iv in items:
            w = profile.weights[crit] * iv.weight / total
            lost = w * (1.0 - iv.function.evaluate(terms[iv.issue], space.issue(iv.issue)))
            key = owner_of(iv.issue)
            losses[key] = losses.get(key, 0.0) + lost
    return max(sorted(losses), key=lambda k: losses[k]) if losses else ""


def default_voter(view: VoterView, *, concession: float = 1.0) -> Ballot:
    """Accept the text when it is worth at least the party's aspiration, which falls
    from 1 to its reservation value over the rounds (``concession`` > 1 concedes
    early, < 1 holds out); rank the options by the party's own utility."""
    profile = view.profile
    parts = profile._terms()  # the weighted value functions, built once per ballot
    utilities = [
        min(1.0, max(0.0, sum(w * fn.evaluate(o[n], view.space.issue(n)) for n, fn, w in parts)))
        for o in view.options
    ]
    ranking = tuple(sorted(range(len(utilities)), key=lambda i: (-utilities[i], i)))
    r = profile.reservation
    aspiration = r + (1.0 - r) * (1.0 - view.t ** (1.0 / concession))
    accept = utilities[0] >= aspiration - 1e-12
    objection = "" if accept else worst_issue(profile, view.space, view.options[0])
    return Ballot(view.name, accept, ranking, objection)


def feasible(system: ConstraintSystem, terms: Mapping[str, Any]) -> bool:
    return all(check_one(system, c, terms).holds for c in system.constraints)


def _move(setup: MediationSetup, text: Mapping[str, Any], group: str, rng: random.Random):
    cand = dict(text)
    found = next((s for s in setup.structured if s.name == group), None)
    if isinstance(found, Allocation):
        a, b = (
            rng.sample(list(found.items), 2)
            if len(found.items) > 1
            else (
                found.items[0],
                found.items[0],
            )
        )
        if a is not b and rng.random() < 0.7:  # shift one step, total unchanged
            cand[found.flat_name(a.name)] -= found.step
            cand[found.flat_name(b.name)] += found.step
        else:
            cand[found.flat_name(a.name)] += found.step * rng.choice((-1, 1))
        return cand
    if isinstance(found, Window):
        it = rng.choice(found.items)
        part = rng.choice(("start", "length"))
        step = found.start_step if part == "start" else found.length_step
        cand[found.flat_name(it.name, part)] += step * rng.choice((-1, 1))
        return cand
    issue = setup.space.issue(group)
    if isinstance(issue, CategoricalIssue):
        cand[group] = rng.choice(issue.options)
    elif isinstance(issue, NumericIssue):
        values = issue.values
        pos = issue.position(text[group]) or 0
        cand[group] = values[max(0, min(len(values) - 1, pos + rng.choice((-1, 1))))]
    return cand


def _in_space(space: OutcomeSpace, terms: Mapping[str, Any], text: Mapping[str, Any]) -> bool:
    """Whether the values a move changed stay on their issues' grids."""
    return all(space.issue(n).check(v) is None for n, v in terms.items() if v != text[n])


def variations(
    setup: MediationSetup, text: Mapping[str, Any], rng: random.Random, focus: Sequence[str]
) -> list[dict[str, Any]]:
    """Up to ``rules.candidates`` distinct feasible variations of the text, biased
    towards the issues the blockers named."""
    groups = sorted({owner_of(n) for n in setup.space.names})
    out: list[dict[str, Any]] = []
    seen = {tuple(sorted(text.items()))}
    for _ in range(setup.rules.candidates * 8):
        if len(out) >= setup.rules.candidates:
            break
        pool = list(focus) if focus and rng.random() < 0.6 else groups
        cand = _move(setup, text, rng.choice(pool), rng)
        if rng.random() < 0.3:  # a package: a second move on another issue
            cand = _move(setup, cand, rng.choice(groups), rng)
        key = tuple(sorted(cand.items()))
        if (
            key in seen
            or not _in_space(setup.space, cand, text)
            or not feasible(setup.system, cand)
        ):
            continue
        seen.add(key)
        out.append(cand)
    return out


def consensus(rules: CoalitionRules, ballots: Sequence[Ballot]) -> tuple[bool, float]:
    total = sum(rules.weight(b.party) for b in ballots) or 1.0
    support = sum(rules.weight(b.party) for b in ballots if b.accept) / total
    if rules.rule == "unanimity":
        return all(b.accept for b in ballots), support
    vetoed = any(not b.accept and b.party in rules.veto for b in ballots)
    return (support >= rules.threshold - 1e-12 and not vetoed), support


def borda_winner(rules: CoalitionRules, ballots: Sequence[Ballot], n_options: int) -> int:
    """The option with the best priority-weighted Borda score (rejecters count double)."""
    scores = [0.0] * n_options
    for b in ballots:
        weight = rules.weight(b.party) * (1.0 if b.accept else 2.0)
        for rank, option in enumerate(b.ranking):
            scores[option] += weight * (n_options - 1 - rank)
    best = max(scores)
    tied = [i for i, s in enumerate(scores) if s >= best - 1e-9]
    if len(tied) == 1:
        return tied[0]
    by_party = {b.party: b for b in ballots}
    for party in rules.precedence:
        if party in by_party:
            return min(tied, key=by_party[party].ranking.index)
    return tied[0]


def mediate_step(
    state: MediationState,
    setup: MediationSetup,
    voters: Mapping[str, Voter],
    *,
    limit: int | None = None,
) -> MediationState:
    """Play one round: put the text and its variations to the parties, then agree,
    move the text, or escalate. ``limit`` cuts the negotiation short of the
    coalition's ``max_rounds`` (an operator's round limit): the parties still
    concede over ``max_rounds``, so it may end before they would have agreed."""
    if state.finished:
        return state
    rules = setup.rules
    rng = random.Random(f"{state.seed}:{state.round}")
    last = state.rounds[-1] if state.rounds else None
    focus = [b.objection for b in last.ballots if b.objection] if last else []
    options = (dict(state.text), *variations(setup, state.text, rng, focus))
    t = state.round / (rules.max_rounds - 1) if rules.max_rounds > 1 else 1.0
    ballots = tuple(
        voters[name](VoterView(name, profile, setup.space, options, min(1.0, t)))
        for name, profile in setup.parties
    )
    _check_ballots(ballots, setup, len(options))
    agreed, support = consensus(rules, ballots)
    chosen = 0 if agreed else borda_winner(rules, ballots, len(options))
    record = MediationRound(
        state.round, dict(state.text), options, ballots, agreed, support, chosen
    )
    rounds = (*state.rounds, record)
    if agreed:
        who = ", ".join(b.party for b in ballots if b.accept)
        return replace(
            state,
            round=state.round + 1,
            status=AGREED,
            rounds=rounds,
            reason=f"consensus ({rules.rule}) in round {state.round + 1}: accepted by {who}",
        )
    last = rules.max_rounds if limit is None else min(rules.max_rounds, limit)
    if state.round + 1 >= last:
        return _escalate(state, setup, rounds, ballots, last)
    return replace(state, round=state.round + 1, text=dict(options[chosen]), rounds=rounds)


def _check_ballots(ballots: Sequence[Ballot], setup: MediationSetup, n: int) -> None:
    for b, name in zip(ballots, setup.party_names, strict=True):
        if b.party != name or sorted(b.ranking) != list(range(n)):
            raise ValueError(f"ballot from {name!r} must rank each of the {n} options once")


def _escalate(state, setup: MediationSetup, rounds, ballots, last: int) -> MediationState:
    order = {p: k for k, p in enumerate(setup.rules.precedence)}
    blockers = tuple(
        (b.party, b.objection or "the text as a whole")
        for b in sorted(ballots, key=lambda b: order.get(b.party, 99))
        if not b.accept
    )
    named = "; ".join(f"{p} blocks on {issue}" for p, issue in blockers)
    reason = f"no consensus ({setup.rules.rule}) after {last} rounds: {named}"
    return replace(
        state,
        round=state.round + 1,
        status=ESCALATED,
        rounds=rounds,
        reason=reason,
        blockers=blockers,
    )


def ballot_id(party: str, round_number: int) -> str:
    """The id a party's ballot carries as an offer (accept or reject of the text)."""
    return f"{party}-r{round_number}"


def acceptances_refused(
    record: MediationRound, gate: Callable[[Offer, str], Any], *, fixed_terms_hash: str = ""
) -> list[str]:
    """Each party that accepted the round's text, its acceptance put through the
    policy gate like any accept: '<party>: <reason>' for each one a policy blocks
    or escalates (live rounds and the simulator both ask this)."""
    refused = []
    for ballot in record.ballots:
        if not ballot.accept:
            continue
        move = Offer(
            Performative.ACCEPT,
            ballot.party,
            dict(record.text),
            fixed_terms_hash,
            record.round,
            id=ballot_id(ballot.party, record.round),
        )
        decision = gate(move, ballot.party)
        if decision.verdict in ("block", "escalate"):
            refused.append(f"{ballot.party}: {decision.reason or decision.verdict}")
    return refused


def refusal_reason(refused: Sequence[str]) -> str:
    """Why a consensus is not an agreement: the policies that refused it (fail closed)."""
    return "the consensus text failed a policy: " + "; ".join(refused)


def mediate_run(
    setup: MediationSetup,
    start: Mapping[str, Any],
    voters: Mapping[str, Voter] | None = None,
    *,
    seed: int = 0,
) -> MediationState:
    """Play rounds from ``start`` until agreement or escalation."""
    chosen = voters or dict.fromkeys(setup.party_names, default_voter)
    state = MediationState(text=dict(start), seed=seed)
    while not state.finished:
        state = mediate_step(state, setup, chosen)
    return state


def state_to_dict(state: MediationState) -> dict[str, Any]:
    return {
        "text": dict(state.text),
        "seed": state.seed,
        "round": state.round,
        "status": state.status,
        "reason": state.reason,
        "blockers": [list(b) for b in state.blockers],
        "rounds": [
            {
                "round": r.round,
                "text": dict(r.text),
                "options": [dict(o) for o in r.options],
                "ballots": [
                    {
                        "party": b.party,
                        "accept": b.accept,
                        "ranking": list(b.ranking),
                        "objection": b.objection,
                    }
                    for b in r.ballots
                ],
                "consensus": r.consensus,
                "support": r.support,
                "chosen": r.chosen,
            }
            for r in state.rounds
        ],
    }


def state_from_dict(data: Mapping[str, Any]) -> MediationState:
    rounds = tuple(
        MediationRound(
            r["round"],
            dict(r["text"]),
            tuple(dict(o) for o in r["options"]),
            tuple(
                Ballot(b["party"], b["accept"], tuple(b["ranking"]), b.get("objection", ""))
                for b in r["ballots"]
            ),
            r["consensus"],
            r["support"],
            r["chosen"],
        )
        for r in data.get("rounds", [])
    )
    return MediationState(
        text=dict(data["text"]),
        seed=int(data.get("seed", 0)),
        round=int(data.get("round", 0)),
        status=str(data.get("status", RUNNING)),
        rounds=rounds,
        reason=str(data.get("reason", "")),
        blockers=tuple(tuple(b) for b in data.get("blockers", [])),
    )
