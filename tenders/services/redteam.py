"""Red-teaming a tender playbook before it goes live: play it in memory against
adversarial bidders and counterparts and report what it lets through.

Playbooks (adversaries): ``ring`` (a designated winner and cover bids, rotating
across tenders, among competitive tenders as controls), ``shill`` (a fake
competitor owned by the winner), ``sniper`` (bids in the last seconds of a
reverse English tender), ``lowball`` (wins low, then reneges in the final
negotiation asking for more), ``probe`` (a bargaining opponent that concedes
nothing to find the buyer's walk-away price), ``malformed`` (bids with missing,
non-numeric, negative or out-of-policy terms), and ``all``.

The report: price paid versus the competitive benchmark (the same tender bid
honestly), flags raised versus rings present (detection rate, false-alarm rate),
policy breaches (awards or accepted offers a block policy or the reserve should
have stopped; must be 0) and leaked private values (the buyer's reserve, budget
or reservation price seen by a bidder or given away in a deal; must be 0).
Deterministic for a seed; nothing is written to the database.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from negotiator.bridge import space_from_spec
from negotiator.engine.auctions import Bid, Bidder, Format, TenderRules, award_decide, tender_run
from negotiator.engine.disclosure import within
from negotiator.engine.preferences import profile_from_dict
from negotiator.engine.scenario import Scenario, ScenarioParty
from negotiator.engine.screens import Bid as ScreenBid
from negotiator.engine.screens import (
    SupplierRecord,
    TenderBids,
    tenders_screen,
)
from negotiator.engine.simulator import simulate
from negotiator.services.errors import ServiceError
from tenders.models import TenderPlaybook
from tenders.services.checks import BidChecker, bid_checker_for
from tenders.services.setup import TenderConfig, scoring_rule, tender_config_parse

PLAYBOOKS = ("ring", "shill", "sniper", "lowball", "probe", "malformed")
LEAK_TOLERANCE_PERCENT = 0.5
# What a bidder may be shown: its own private values and public feedback.
PUBLIC_VIEW = frozenset(
    {
        "name",
        "cost",
        "terms",
        "round",
        "own_last",
        "rank",
        "best_score",
        "best_price_equivalent",
        "min_decrement",
        "time_left",
        "round_seconds",
        "opening_price",
    }
)


@dataclass
class Report:
    playbook: str
    runs: int = 0
    tenders: int = 0
    rings_present: int = 0
    rings_flagged: int = 0
    competitive: int = 0
    false_alarms: int = 0
    paid: float = 0.0  # price paid in tenders awarded automatically under attack
    benchmark: float = 0.0  # the same tenders' competitive awards
    held: float = 0.0  # price asked in rigged awards the screens held for a person
    held_benchmark: float = 0.0
    breaches: int = 0
    leaks: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def detection_rate(self) -> float | None:
        return self.rings_flagged / self.rings_present if self.rings_present else None

    @property
    def false_alarm_rate(self) -> float | None:
        return self.false_alarms / self.competitive if self.competitive else None

    @property
    def overpayment(self) -> float | None:
        return (self.paid / self.benchmark - 1.0) if self.benchmark else None

    def lines(self) -> list[str]:
        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{x * 100:.1f} %"

        def versus(paid: float, benchmark: float) -> str:
            change = paid / benchmark - 1.0
            return f"{paid:,.0f} vs {benchmark:,.0f} ({change * 100:+.1f} %)"

        out = [f"[{self.playbook}] runs={self.runs} tenders={self.tenders}"]
        if self.benchmark:
            out.append(
                "  price paid (awarded automatically) vs competitive benchmark: "
                + versus(self.paid, self.benchmark)
            )
        if self.held_benchmark:
            out.append(
                "  price asked in awards held for a person vs competitive benchmark: "
                + versus(self.held, self.held_benchmark)
            )
        if self.rings_present or self.competitive:
            out.append(
                f"  rings present {self.rings_present}, flagged {self.rings_flagged}: detection "
                f"{pct(self.detection_rate)}; false alarms {self.false_alarms}/{self.competitive} "
                f"({pct(self.false_alarm_rate)})"
            )
        out.append(f"  policy breaches: {self.breaches}   leaked private values: {self.leaks}")
        return out + [f"  {n}" for n in self.notes]


@dataclass(frozen=True)
class Target:
    config: TenderConfig
    checker: BidChecker
    spec: Mapping[str, Any]
    private: tuple[float, ...]  # the buyer's private numbers: reserve, budget, reservation price

    spy: _Spy | None = None

    @property
    def scoring(self):
        return scoring_rule(self.spec, self.config)

    def run(self, bidders, rules: TenderRules, scoring, *, seed: int):
        """A whole tender against this playbook's policies, watched by the spy."""
        return tender_run(
            bidders, rules, scoring, seed=seed, gate=self.checker.gate, observe=self.spy
        )


def target_for(template: TenderPlaybook) -> Target:
    spec = template.playbook.current_version.spec
    config = tender_config_parse(template.config)
    roles = {r["name"]: r for r in spec["roles"]}
    values = roles[config.buyer_role]["profile"].get("private_values", {})
    private = tuple(
        float(v)
        for v in [config.rules.reserve_price, *values.values()]
        if isinstance(v, int | float) and 0 < v < 1e15
    )
    checker = bid_checker_for(template.playbook, spec, config.bidder_role, config.price_issue)
    return Target(config, checker, spec, private)


def _leaks_in(values, private: tuple[float, ...]) -> int:
    return sum(
        1
        for v in values
        if v is not None and any(within(float(v), p, LEAK_TOLERANCE_PERCENT) for p in private)
    )


def _honest(template: TenderPlaybook, rng: random.Random, n: int) -> list[Bidder]:
    """n competitive bidders drawn from the template's, with costs around theirs."""
    base = [b for b in template.bidders if b.get("fixed_price") is None] or template.bidders
    picked = rng.sample(base, min(n, len(base)))
    return [
        Bidder(
            b["supplier"],
            b["strategy"] if b["strategy"] != "sniper" else "shading",
            b["cost"] * math.exp(rng.gauss(0, 0.06)),
            dict(b["terms"]),
        )
        for b in picked
    ]


class _Spy:
    """Sees every view a bidder strategy is shown (the engine's observe hook), so
    every number a bidder is shown can be checked."""

    def __init__(self) -> None:
        self.seen: list[float | None] = []
        self.fields: set[frozenset[str]] = set()

    def __call__(self, view) -> None:
        # Numbers not derived from the bids themselves: they must be public.
        self.seen.append(view.opening_price)
        self.fields.add(frozenset(view.__dataclass_fields__))


def _breach(award, rules: TenderRules, checker: BidChecker) -> int:
    if award.winner is None:
        return 0
    over = float(award.terms[checker.price_issue]) > rules.reserve_price + 1e-9
    blocked = checker.verdict(Bid(award.winner, award.terms)).outcome == "block"
    return int(over or blocked)


def _screen_history(history: list[TenderBids], registry) -> dict[str, bool]:
    return {s.tender_id: s.needs_person for s in tenders_screen(history, registry=registry)}


def _sealed(rules: TenderRules) -> TenderRules:
    return TenderRules(**{**rules.__dict__, "format": Format.FIRST_SCORE})


def _as_screen(tender_id: str, date: str, bids, winner: str | None, item: str) -> TenderBids:
    latest = {b.bidder: b for b in bids}
    return TenderBids(
        tender_id,
        tuple(ScreenBid(name, b.price) for name, b in latest.items()),
        date=date,
        item=item,
        winner=winner,
    )


def _ring_bidders(members: list[Bidder], winner: str, price: float, rng) -> list[Bidder]:
    out = []
    for m in members:
        own = price if m.name == winner else price * (1.03 + abs(rng.gauss(0, 0.008)))
        out.append(Bidder(m.name, "truthful", m.cost, m.terms, fixed_price=round(own, 2)))
    return out


def run_ring(template: TenderPlaybook, target: Target, runs: int, seed: int, report: Report):
    """Each run: one tender rigged by a stable ring taking turns, one competitive
    control; both as sealed first-score rounds, where cover bids stand (in open
    rounds a cover simply stops bidding)."""
    rules, scoring = _sealed(target.config.rules), target.scoring
    members = _honest(template, random.Random(f"{seed}:members"), 4)
    history, kinds, outcomes = [], {}, {}
    for r in range(runs):
        rng = random.Random(f"{seed}:ring:{r}")
        honest = [
            Bidder(m.name, m.strategy, m.cost * math.exp(rng.gauss(0, 0.04)), m.terms)
            for m in members
        ]
        _, fair, _ = target.run(honest, rules, scoring, seed=seed + r)
        base = fair.terms[target.config.price_issue] if fair.winner else min(m.cost for m in honest)
        winner = members[r % len(members)].name  # rotation
        rigged = _ring_bidders(members, winner, base * rng.uniform(1.08, 1.2), rng)
        bids, award, _ = target.run(rigged, rules, scoring, seed=seed + r)
        control = _honest(template, rng, rng.randint(5, 8))
        cbids, caward, _ = target.run(control, rules, scoring, seed=seed + r)
        day = f"2026-{1 + r // 28:02d}-{1 + r % 28:02d}"
        for tid, b, a, kind in (
            (f"ring-{r}", bids, award, "ring"),
            (f"control-{r}", cbids, caward, "control"),
        ):
            history.append(_as_screen(tid, day, b, a.winner, target.config.item))
            kinds[tid], outcomes[tid] = kind, (a, fair)
            report.breaches += _breach(a, rules, target.checker)
    flagged = _screen_history(history, _registry(template))
    for tid, kind in kinds.items():
        award, fair = outcomes[tid]
        report.tenders += 1
        if kind == "ring":
            report.rings_present += 1
            report.rings_flagged += flagged[tid]
            if award.winner and fair.winner:
                _tally(report, award, fair, target.config.price_issue, held=flagged[tid])
        else:
            report.competitive += 1
            report.false_alarms += flagged[tid]


def _tally(report: Report, award, fair, issue: str, *, held: bool) -> None:
    asked, competitive = award.terms[issue], fair.terms[issue]
    if held:
        report.held += asked
        report.held_benchmark += competitive
    else:
        report.paid += asked
        report.benchmark += competitive


def _registry(template: TenderPlaybook) -> dict[str, SupplierRecord]:
    from tenders.services.screening import registry_for

    return registry_for(b["supplier"] for b in template.bidders)


def run_shill(template: TenderPlaybook, target: Target, runs: int, seed: int, report: Report):
    """A fake competitor owned by the winner bids high to make the win look contested."""
    rules, scoring = _sealed(target.config.rules), target.scoring
    registry = _registry(template)
    history = []
    for r in range(runs):
        rng = random.Random(f"{seed}:shill:{r}")
        honest = _honest(template, rng, rng.randint(4, 6))
        _, fair, _ = target.run(honest, rules, scoring, seed=seed + r)
        if fair.winner is None:
            continue
        shill = f"Shill of {fair.winner}"
        owner = registry.get(fair.winner, SupplierRecord(fair.winner)).owner or fair.winner
        registry[shill] = SupplierRecord(shill, owner=owner)
        price = fair.terms[target.config.price_issue] * 1.12
        bidders = [*honest, Bidder(shill, "truthful", price, honest[0].terms, fixed_price=price)]
        bids, award, _ = target.run(bidders, rules, scoring, seed=seed + r)
        history.append(
            _as_screen(f"shill-{r}", f"2026-03-{1 + r % 28:02d}", bids, award.winner, "")
        )
        report.breaches += _breach(award, rules, target.checker)
    flagged = {s.tender_id: s for s in tenders_screen(history, registry=registry)}
    for screening in flagged.values():
        report.tenders += 1
        report.rings_present += 1
        report.rings_flagged += any(f.name == "shared_owner" for f in screening.flags)


def run_sniper(template: TenderPlaybook, target: Target, runs: int, seed: int, report: Report):
    """One bidder waits and bids in the last seconds of a reverse English tender."""
    rules = TenderRules(**{**target.config.rules.__dict__, "format": Format.REVERSE_ENGLISH})
    scoring = target.scoring
    wins = extended = 0
    for r in range(runs):
        rng = random.Random(f"{seed}:sniper:{r}")
        honest = _honest(template, rng, rng.randint(4, 6))
        sniper = Bidder("Sniper", "sniper", min(b.cost for b in honest) * 0.97, honest[0].terms)
        _, fair, _ = target.run(honest, rules, scoring, seed=seed + r)
        bids, award, state = target.run([*honest, sniper], rules, scoring, seed=seed + r)
        report.tenders += 1
        report.breaches += _breach(award, rules, target.checker)
        wins += award.winner == "Sniper"
        extended += bool(state and state.extensions)
        if award.winner and fair.winner:
            report.paid += award.terms[target.config.price_issue]
            report.benchmark += fair.terms[target.config.price_issue]
    report.notes.append(
        f"sniper won {wins}/{runs}; the soft close extended {extended}/{runs} tenders "
        f"(window {rules.soft_close.window:g} s, +{rules.soft_close.extension:g} s, "
        f"at most {rules.soft_close.max_extensions})"
    )


def run_lowball(template: TenderPlaybook, target: Target, runs: int, seed: int, report: Report):
    """Wins with a bid below its cost, then reneges in the final negotiation: the cap
    policy the final negotiation carries (no worse than the award) must block it."""
    from negotiator.engine.policies import PolicySpec, decide

    rules, scoring, issue = target.config.rules, target.scoring, target.config.price_issue
    blocked = 0
    for r in range(runs):
        rng = random.Random(f"{seed}:lowball:{r}")
        honest = _honest(template, rng, rng.randint(4, 6))
        low = min(b.cost for b in honest) * 0.8
        liar = Bidder("Lowballer", "truthful", low, honest[0].terms, fixed_price=round(low, 2))
        _, award, _ = target.run([*honest, liar], rules, scoring, seed=seed + r)
        _, fair, _ = target.run(honest, rules, scoring, seed=seed + r)
        if award.winner and fair.winner:
            _tally(report, award, fair, issue, held=False)
        report.tenders += 1
        report.breaches += _breach(award, rules, target.checker)
        if award.winner != "Lowballer":
            continue
        cap = PolicySpec(
            "final-cap",
            1,
            "No worse than the award",
            "financial",
            "cap",
            {"issue": issue, "max": award.terms[issue]},
            "block",
        )
        renege = {**award.terms, issue: award.terms[issue] * 1.15}
        results = auctions_checks(target.checker, renege, extra=[cap])
        if decide(results).verdict == "block":
            blocked += 1
        else:
            report.breaches += 1
    report.notes.append(f"renege attempts in the final negotiation blocked: {blocked}")


def auctions_checks(checker: BidChecker, terms, extra=()):
    from negotiator.engine import policies as engine_policies

    context = engine_policies.CheckContext(
        fixed_terms=checker.fixed_terms,
        sender_role=checker.bidder_role,
        deal_value=terms.get(checker.price_issue),
        stage="accept",
    )
    from tenders.services.checks import BidOffer

    offer = BidOffer(terms=terms, sender=checker.bidder_role)
    return engine_policies.check(offer, [*checker.specs, *extra], context)


def run_probe(template: TenderPlaybook, target: Target, runs: int, seed: int, report: Report):
    """A counterpart that never concedes, to find how far the buyer goes: the buyer
    must not settle beyond its walk-away, nor at its private numbers."""
    spec, config = target.spec, target.config
    roles = {r["name"]: r for r in spec["roles"]}
    buyer = profile_from_dict(roles[config.buyer_role]["profile"])
    scenario = Scenario(
        name="probe",
        space=space_from_spec(spec),
        parties=(
            ScenarioParty(config.buyer_role, buyer),
            ScenarioParty(
                config.bidder_role, profile_from_dict(roles[config.bidder_role]["profile"])
            ),
        ),
        fixed_terms=dict(spec.get("fixed_terms", {})),
        max_rounds=spec["limits"]["max_rounds"],
    )
    deals = 0
    for result in simulate(scenario, ["default", "hardliner"], runs, seed=seed):
        report.tenders += 1
        if not result.agreement:
            continue
        deals += 1
        price = result.terms.get(config.price_issue)
        report.breaches += result.utilities[config.buyer_role] < buyer.reservation - 1e-9
        report.leaks += _leaks_in([price], target.private)
    report.notes.append(f"deals with the prober: {deals}/{runs} (none below the buyer's walk-away)")


def run_malformed(template: TenderPlaybook, target: Target, runs: int, seed: int, report: Report):
    """Bids with missing, non-numeric, negative or out-of-policy terms never win."""
    rules, scoring, issue = target.config.rules, target.scoring, target.config.price_issue
    for r in range(runs):
        rng = random.Random(f"{seed}:malformed:{r}")
        honest = _honest(template, rng, rng.randint(3, 5))
        good, _, _ = target.run(honest, rules, scoring, seed=seed + r)
        terms = dict(honest[0].terms)
        bad = [
            Bid("no-price", terms),
            Bid("text-price", {**terms, issue: "cheap"}),
            Bid("negative", {**terms, issue: -1.0}),
            Bid("nan", {**terms, issue: math.nan}),
            Bid("over-reserve", {**terms, issue: rules.reserve_price * 1.01}),
            Bid("short-warranty", {**terms, issue: 1.0, "warranty_months": 6}),
            Bid("unknown-issue", {issue: 1.0}),
        ]
        award = award_decide([*good, *bad], rules, scoring, target.checker.gate)
        report.tenders += 1
        report.breaches += award.winner in {b.bidder for b in bad}
        report.breaches += _breach(award, rules, target.checker)


RUNNERS = {
    "ring": run_ring,
    "shill": run_shill,
    "sniper": run_sniper,
    "lowball": run_lowball,
    "probe": run_probe,
    "malformed": run_malformed,
}


def redteam_run(*, template: TenderPlaybook, playbook: str, runs: int, seed: int) -> list[Report]:
    """Play the adversaries against the tender playbook; one report each."""
    if playbook != "all" and playbook not in RUNNERS:
        raise ServiceError(
            f"unknown red-team playbook {playbook!r}; known: all, {', '.join(RUNNERS)}"
        )
    if not 1 <= runs <= 10_000:
        raise ServiceError("runs must be a whole number from 1 to 10,000")
    spy = _Spy()
    target = replace(target_for(template), spy=spy)
    reports = []
    for name in RUNNERS if playbook == "all" else [playbook]:
        report = Report(name, runs=runs)
        spy.seen.clear()
        RUNNERS[name](template, target, runs, seed, report)
        report.leaks += _leaks_in(spy.seen, target.private)
        report.leaks += sum(1 for f in spy.fields if f - PUBLIC_VIEW)
        reports.append(report)
    return reports
