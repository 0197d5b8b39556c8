"""Bid-rigging and abuse screens: statistics over the bids of a tender, and across
a buyer's tenders, that flag possible collusion or abuse.

One module for every caller: live tenders (tenders.services) and past tenders
read from a CSV file (``manage.py screen_tenders``) get the same values, the same
thresholds and the same sentences. Pure Python: no Django, no I/O.

The distributional screens follow Imhof, Karagök and Rutz (2018), "Screening for
bid rigging: does it work?" and Huber and Imhof (2019), "Machine learning with
screens for detecting bid-rigging cartels": a cartel's designated winner bids
with a gap below cover bids that cluster together, so the coefficient of
variation falls, kurtosis rises, skewness turns negative, and the distance
between the two lowest bids grows relative to the spread of the losing bids.
The structural screens (identical bids, rotation, cover bidding, shared owners)
follow the OECD "Guidelines for fighting bid rigging in public procurement"
(2009, revised 2025) checklist of suspicious bidding patterns.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

WARN = "warn"
ESCALATE = "escalate"
BLOCK = "block"
SEVERITIES = (WARN, ESCALATE, BLOCK)
RD_CAP = 1000.0


@dataclass(frozen=True)
class Bid:
    supplier: str
    amount: float  # the price quoted (lower is better for the buyer)
    quantity: float = 1.0
    # Seconds before the tender closed when the bid arrived; None when unknown.
    seconds_before_close: float | None = None


@dataclass(frozen=True)
class TenderBids:
    """One tender's final bids (one per supplier) and what is known around it."""

    tender_id: str
    bids: tuple[Bid, ...]
    date: str = ""  # ISO date; orders tenders in a history
    item: str = ""
    region: str = ""
    winner: str | None = None  # None: the lowest bid won

    @property
    def winning_supplier(self) -> str | None:
        if self.winner:
            return self.winner
        if not self.bids:
            return None
        return min(self.bids, key=lambda b: (b.amount, b.supplier)).supplier


@dataclass(frozen=True)
class SupplierRecord:
    """What a supplier registry knows about who stands behind a supplier."""

    supplier: str
    owner: str = ""
    contact: str = ""  # e-mail, phone or address: anything two suppliers should not share


@dataclass(frozen=True)
class ScreenConfig:
    """Thresholds (and severities) of the screens. The defaults are the ones the
    benchmark measures (benchmarks/screens.py); a playbook may override them."""

    cv_below: float = 0.05
    kurtosis_above: float = 1.5
    skewness_below: float = -0.8
    relative_distance_above: float = 1.5
    percent_difference_above: float = 0.06
    near_identical_within: float = 0.00002  # two bids within 0.002 % of each other
    rotation_min_tenders: int = 4
    rotation_evenness_above: float = 0.9
    cover_min_bids: int = 5  # losses needed to judge a supplier
    cover_gap_above: float = 0.02  # its median bid above the winner's, as a share
    cover_spread_below: float = 0.15  # the gap's MAD, as a share of the median gap
    outlier_z_above: float = 3.5
    outlier_min_history: int = 5
    snipe_window_seconds: float = 60.0
    suspicion_above: float = 0.55
    severities: Mapping[str, str] = field(
        default_factory=lambda: {
            "suspicion": ESCALATE,
            "near_identical": ESCALATE,
            "rotation": ESCALATE,
            "cover_bidding": ESCALATE,
            "shared_owner": ESCALATE,
            "outlier": WARN,
            "sniping": WARN,
        }
    )

    def severity(self, name: str) -> str:
        return self.severities.get(name, WARN)


class ScreenResult(NamedTuple):
    """One screen's outcome (a named tuple: tens of thousands are built per second)."""

    name: str
    label: str
    value: float | None  # None: not enough data to compute
    threshold: float
    flagged: bool
    severity: str
    sentence: str

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "value": None if self.value is None else round(self.value, 6),
            "threshold": self.threshold,
            "flagged": self.flagged,
            "severity": self.severity,
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class TenderScreening:
    tender_id: str
    results: tuple[ScreenResult, ...]
    suspicion: float  # in [0, 1]

    @property
    def flags(self) -> tuple[ScreenResult, ...]:
        return tuple(r for r in self.results if r.flagged)

    @property
    def needs_person(self) -> bool:
        """A flag with severity escalate or block holds the award for a person."""
        return any(r.severity in (ESCALATE, BLOCK) for r in self.flags)

    def to_dict(self) -> dict:
        """Every screen in full (stored with a live tender)."""
        return {
            "tender_id": self.tender_id,
            "suspicion": round(self.suspicion, 4),
            "needs_person": self.needs_person,
            "flags": [r.name for r in self.flags],
            "screens": {r.name: r.to_dict() for r in self.results},
        }

    def to_row(self) -> dict:
        """Compact: every screen's value, the flags in full (screen_tenders --json)."""
        return {
            "tender_id": self.tender_id,
            "suspicion": round(self.suspicion, 4),
            "needs_person": self.needs_person,
            "values": {
                r.name: None if r.value is None else round(r.value, 6) for r in self.results
            },
            "flags": [r.to_dict() for r in self.flags],
        }


# --- per-tender statistics ---------------------------------------------------------------


def _moments(values: Sequence[float]) -> tuple[float, float, float, float]:
    """Mean, population standard deviation, skewness and excess kurtosis."""
    n = len(values)
    mean = sum(values) / n
    d = [v - mean for v in values]
    m2 = sum(x * x for x in d) / n
    if m2 <= 0:
        return mean, 0.0, 0.0, 0.0
    m3 = sum(x * x * x for x in d) / n
    m4 = sum(x * x * x * x for x in d) / n
    return mean, math.sqrt(m2), m3 / m2**1.5, m4 / (m2 * m2) - 3.0


@dataclass(frozen=True)
class BidStatistics:
    """The distributional screens' values (None where a tender has too few bids)."""

    cv: float | None
    skewness: float | None
    kurtosis: float | None
    relative_distance: float | None
    percent_difference: float | None
    closest_gap: float | None


def bid_statistics(amounts: Sequence[float]) -> BidStatistics:
    bids = sorted(a for a in amounts if a > 0)
    n = len(bids)
    if n < 2:
        return BidStatistics(None, None, None, None, None, None)
    low, second = bids[0], bids[1]
    diffp = (second - low) / low
    closest = min((b - a) / a for a, b in zip(bids, bids[1:], strict=False))
    if n < 3:
        return BidStatistics(None, None, None, None, diffp, closest)
    mean, sd, skew, kurt = _moments(bids)
    losers = bids[1:]
    sd_losers = _moments(losers)[1] if len(losers) >= 2 else 0.0
    # Imhof et al.'s RD: the gap between the two lowest bids over the spread of
    # the losing bids; a cartel's cover bids cluster above a clear gap. Capped so
    # that identical losing bids give a large finite number.
    if sd_losers > 0:
        rd = min((second - low) / sd_losers, RD_CAP)
    else:
        rd = RD_CAP if second > low else 0.0
    return BidStatistics(
        cv=sd / mean if mean else None,
        skewness=skew if n >= 4 else None,
        kurtosis=kurt if n >= 4 else None,
        relative_distance=rd if n >= 4 else None,
        percent_difference=diffp,
        closest_gap=closest,
    )


def _logistic(x: float) -> float:
    if x > 40:
        return 1.0
    if x < -40:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


# How much each distributional screen counts in the suspicion score. CV and
# skewness separate best on the benchmark's synthetic markets (ROC AUC about
# 0.84 each alone); relative distance, kurtosis and the percent difference add
# a little. Chosen on benchmark seed 7, reported on other seeds (docs/tenders.md).
SUSPICION_WEIGHTS = {
    "cv": 2.0,
    "relative_distance": 0.5,
    "percent_difference": 0.5,
    "kurtosis": 0.5,
    "skewness": 2.0,
}


def suspicion_score(stats: BidStatistics, config: ScreenConfig) -> float:
    """The distributional screens combined into one number in [0, 1]: each screen
    becomes a logistic score around its threshold (0.5 at the threshold), and the
    score is their weighted mean over the screens the tender has data for."""
    parts: dict[str, float] = {}
    if stats.cv is not None:
        parts["cv"] = _logistic((config.cv_below - stats.cv) / (config.cv_below * 0.25))
    if stats.relative_distance is not None:
        rd = min(stats.relative_distance, 50.0)
        parts["relative_distance"] = _logistic((rd - config.relative_distance_above) / 0.4)
    if stats.percent_difference is not None:
        gap = config.percent_difference_above
        parts["percent_difference"] = _logistic((stats.percent_difference - gap) / (gap * 0.3))
    if stats.kurtosis is not None:
        parts["kurtosis"] = _logistic((stats.kurtosis - config.kurtosis_above) / 0.8)
    if stats.skewness is not None:
        parts["skewness"] = _logistic((config.skewness_below - stats.skewness) / 0.5)
    if not parts:
        return 0.0
    total = math.fsum(SUSPICION_WEIGHTS[k] for k in parts)
    return math.fsum(SUSPICION_WEIGHTS[k] * v for k, v in parts.items()) / total


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "∞"
    return f"{value * 100:.1f} %" if percent else f"{value:.2f}"


def _result(
    name: str,
    label: str,
    value: float | None,
    threshold: float,
    flagged: bool,
    severity: str,
    sentence: str,
) -> ScreenResult:
    return ScreenResult(name, label, value, threshold, flagged, severity, sentence)


def distribution_screens(stats: BidStatistics, config: ScreenConfig) -> list[ScreenResult]:
    """CV, kurtosis, skewness, relative distance and percent difference: warnings
    each (they are weak alone); their combination is the suspicion screen."""
    few = "not enough bids to compute it"
    s = stats
    return [
        _result(
            "cv",
            "Coefficient of variation",
            s.cv,
            config.cv_below,
            s.cv is not None and s.cv < config.cv_below,
            WARN,
            f"The bids vary by {_fmt(s.cv, True)} of their mean; below {_fmt(config.cv_below, True)} "
            "bids are unusually alike, as when cover bids are arranged."
            if s.cv is not None
            else f"Coefficient of variation: {few}.",
        ),
        _result(
            "kurtosis",
            "Kurtosis",
            s.kurtosis,
            config.kurtosis_above,
            s.kurtosis is not None and s.kurtosis > config.kurtosis_above,
            WARN,
            f"Excess kurtosis {_fmt(s.kurtosis)} (flag above {config.kurtosis_above:g}): high "
            "values mean most bids sit in a tight cluster with one far away."
            if s.kurtosis is not None
            else f"Kurtosis: {few} (needs 4).",
        ),
        _result(
            "skewness",
            "Skewness",
            s.skewness,
            config.skewness_below,
            s.skewness is not None and s.skewness < config.skewness_below,
            WARN,
            f"Skewness {_fmt(s.skewness)} (flag below {config.skewness_below:g}): strongly "
            "negative means one low bid far below a cluster of higher ones."
            if s.skewness is not None
            else f"Skewness: {few} (needs 4).",
        ),
        _result(
            "relative_distance",
            "Relative distance",
            s.relative_distance,
            config.relative_distance_above,
            s.relative_distance is not None
            and s.relative_distance > config.relative_distance_above,
            WARN,
            f"The gap between the two lowest bids is {_fmt(s.relative_distance)} times the "
            f"spread of the losing bids (flag above {config.relative_distance_above:g}): "
            "losers bunched well above the winner look like cover bids."
            if s.relative_distance is not None
            else f"Relative distance: {few} (needs 4).",
        ),
        _result(
            "percent_difference",
            "Difference of the two lowest bids",
            s.percent_difference,
            config.percent_difference_above,
            s.percent_difference is not None
            and s.percent_difference > config.percent_difference_above,
            WARN,
            f"The second-lowest bid is {_fmt(s.percent_difference, True)} above the lowest "
            f"(flag above {_fmt(config.percent_difference_above, True)})."
            if s.percent_difference is not None
            else f"Difference of the two lowest bids: {few}.",
        ),
    ]


def _suspicion_result(score: float, config: ScreenConfig) -> ScreenResult:
    flagged = score >= config.suspicion_above
    return _result(
        "suspicion",
        "Suspicion score",
        score,
        config.suspicion_above,
        flagged,
        config.severity("suspicion"),
        f"The bid pattern scores {score:.2f} on a 0–1 scale built from the five screens above "
        f"(flag at {config.suspicion_above:g}): "
        + ("it looks like a designated winner with cover bids." if flagged else "no clear sign."),
    )


def _near_identical(
    tender: TenderBids, closest: float | None, config: ScreenConfig
) -> ScreenResult:
    bids = sorted(tender.bids, key=lambda b: (b.amount, b.supplier))
    pairs = [
        (a.supplier, b.supplier)
        for a, b in zip(bids, bids[1:], strict=False)
        if a.amount > 0 and (b.amount - a.amount) / a.amount <= config.near_identical_within
    ]
    names = ", ".join(f"{a} and {b}" for a, b in pairs)
    return _result(
        "near_identical",
        "Identical or near-identical bids",
        closest,
        config.near_identical_within,
        bool(pairs),
        config.severity("near_identical"),
        f"{names} bid within {_fmt2(config.near_identical_within)} of each other: "
        "independent bidders rarely do."
        if pairs
        else f"No two bids within {_fmt2(config.near_identical_within)} of each other.",
    )


def _sniping(tender: TenderBids, config: ScreenConfig) -> ScreenResult:
    timed = [b for b in tender.bids if b.seconds_before_close is not None]
    if not timed:
        return _result(
            "sniping",
            "Late-bid sniping",
            None,
            config.snipe_window_seconds,
            False,
            config.severity("sniping"),
            "Late-bid sniping: bid times are not known.",
        )
    late = sorted(
        b.supplier for b in timed if b.seconds_before_close <= config.snipe_window_seconds
    )
    winner = tender.winning_supplier
    flagged = winner in late
    return _result(
        "sniping",
        "Late-bid sniping",
        float(len(late)),
        config.snipe_window_seconds,
        flagged,
        config.severity("sniping"),
        f"The winning bid from {winner} arrived in the last "
        f"{config.snipe_window_seconds:g} s before the close."
        if flagged
        else f"{len(late)} bid(s) in the last {config.snipe_window_seconds:g} s; the winner's was not.",
    )


def _shared_owner(tender: TenderBids, registry: Mapping[str, SupplierRecord]) -> tuple[int, str]:
    """How many pairs of this tender's bidders share an owner or contact, and who."""
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    for bid in tender.bids:
        record = registry.get(bid.supplier)
        if record is None:
            continue
        for kind, value in (("owner", record.owner), ("contact", record.contact)):
            if value.strip():
                by_key[(kind, value.strip().lower())].append(bid.supplier)
    shared = [(kind, sorted(set(names))) for (kind, _), names in by_key.items()]
    shared = [(k, n) for k, n in shared if len(n) > 1]
    article = {"owner": "an owner", "contact": "a contact"}
    text = "; ".join(f"{' and '.join(n)} share {article[k]}" for k, n in sorted(shared))
    return len(shared), text


def _shared_owner_result(
    tender: TenderBids, registry: Mapping[str, SupplierRecord], config: ScreenConfig
) -> ScreenResult:
    count, text = _shared_owner(tender, registry)
    return _result(
        "shared_owner",
        "Shared owner or contact",
        float(count),
        0.0,
        count > 0,
        config.severity("shared_owner"),
        f"{text}: their bids may not be independent."
        if count
        else "No two bidders share an owner or contact in the supplier registry.",
    )


# --- across tenders ----------------------------------------------------------------------


@dataclass(frozen=True)
class CoverRecord:
    """A supplier's losing bids relative to the winning bid, across tenders."""

    losses: int
    wins: int
    median_gap: float  # median of (its bid / winning bid - 1) over its losses
    spread: float  # median absolute deviation of that gap


@dataclass(frozen=True)
class History:
    """What the cross-tender screens know: built once from a buyer's tenders."""

    group_winners: Mapping[frozenset[str], tuple[str, ...]]  # bidder set → winners by date
    cover: Mapping[str, CoverRecord]
    unit_prices: Mapping[str, tuple[float, float, int]]  # item → (median, MAD, count)


def _median_mad(values: Sequence[float]) -> tuple[float, float]:
    median = statistics.median(values)
    return median, statistics.median([abs(v - median) for v in values])


def history_build(tenders: Iterable[TenderBids]) -> History:
    ordered = sorted(tenders, key=lambda t: (t.date, t.tender_id))
    groups: dict[frozenset[str], list[str]] = defaultdict(list)
    gaps: dict[str, list[float]] = defaultdict(list)
    wins: dict[str, int] = defaultdict(int)
    prices: dict[str, list[float]] = defaultdict(list)
    for tender in ordered:
        winner = tender.winning_supplier
        if winner is None:
            continue
        groups[frozenset(b.supplier for b in tender.bids)].append(winner)
        wins[winner] += 1
        best = next((b.amount for b in tender.bids if b.supplier == winner), None)
        for bid in tender.bids:
            if bid.supplier != winner and best:
                gaps[bid.supplier].append(bid.amount / best - 1.0)
            if tender.item and bid.quantity > 0:
                prices[tender.item].append(bid.amount / bid.quantity)
    cover = {}
    for supplier, values in gaps.items():
        median, mad = _median_mad(values)
        cover[supplier] = CoverRecord(len(values), wins.get(supplier, 0), median, mad)
    unit = {item: (*_median_mad(v), len(v)) for item, v in prices.items()}
    return History({k: tuple(v) for k, v in groups.items()}, cover, unit)


def rotation_evenness(winners: Sequence[str]) -> float:
    """How evenly, and in turn, a stable group shares its wins: 1.0 when the
    winners win equally often and nobody wins twice in a row; 0 for one winner.

    Normalised entropy of the wins over the members who won, times the share of
    consecutive tenders whose winner changed."""
    counts: dict[str, int] = defaultdict(int)
    for w in winners:
        counts[w] += 1
    if len(counts) < 2:
        return 0.0
    n = len(winners)
    entropy = -math.fsum(c / n * math.log(c / n) for c in counts.values())
    even = entropy / math.log(len(counts))
    changes = sum(1 for a, b in zip(winners, winners[1:], strict=False) if a != b) / (n - 1)
    return even * changes


def _rotation(tender: TenderBids, history: History, config: ScreenConfig) -> ScreenResult:
    suppliers = frozenset(b.supplier for b in tender.bids)
    winners = history.group_winners.get(suppliers, ())
    severity = config.severity("rotation")
    if len(winners) < config.rotation_min_tenders:
        return _result(
            "rotation",
            "Bid rotation",
            None,
            config.rotation_evenness_above,
            False,
            severity,
            f"Bid rotation: this group of bidders met in {len(winners)} tender(s); "
            f"it takes {config.rotation_min_tenders} to judge.",
        )
    value = rotation_evenness(winners)
    # A rotation needs several members to take turns, not one repeat winner.
    winners_seen = len(set(winners))
    flagged = value > config.rotation_evenness_above and winners_seen >= 2
    return _result(
        "rotation",
        "Bid rotation",
        value,
        config.rotation_evenness_above,
        flagged,
        severity,
        f"The same {len(suppliers)} bidders met in {len(winners)} tenders and {winners_seen} of "
        f"them took turns winning (evenness {value:.2f}, flag above "
        f"{config.rotation_evenness_above:g}): wins shared in turn suggest an arranged rotation."
        if flagged
        else f"The same bidders met in {len(winners)} tenders; wins do not rotate in turn "
        f"(evenness {value:.2f}).",
    )


def _is_cover_bidder(record: CoverRecord | None, config: ScreenConfig) -> bool:
    """Loses often, by a margin that hardly changes from tender to tender: a bid
    set relative to the winner's rather than to its own costs."""
    return (
        record is not None
        and record.losses >= config.cover_min_bids
        and record.median_gap > config.cover_gap_above
        and record.spread < config.cover_spread_below * max(record.median_gap, 1e-9)
    )


def _cover(tender: TenderBids, history: History, config: ScreenConfig) -> ScreenResult:
    winner = tender.winning_supplier
    covers = [
        (b.supplier, history.cover[b.supplier])
        for b in tender.bids
        if b.supplier != winner and _is_cover_bidder(history.cover.get(b.supplier), config)
    ]
    # One steady loser can be an expensive supplier; two or more in one tender,
    # each a steady margin above the winner, look like arranged cover bids.
    flagged = len(covers) >= 2
    names = ", ".join(
        f"{s} (lost {r.losses} times, by {_fmt(r.median_gap, True)} ± {_fmt(r.spread, True)})"
        for s, r in covers
    )
    return _result(
        "cover_bidding",
        "Cover bidding",
        float(len(covers)),
        2.0,
        flagged,
        config.severity("cover_bidding"),
        f"Bidders who keep losing by the same margin above the winner: {names}."
        if flagged
        else "No group of bidders who keep losing by the same margin.",
    )


def _outlier(tender: TenderBids, history: History, config: ScreenConfig) -> ScreenResult:
    stats = history.unit_prices.get(tender.item) if tender.item else None
    severity = config.severity("outlier")
    if stats is None or stats[2] < config.outlier_min_history or not tender.bids:
        return _result(
            "outlier",
            "Outlier bids",
            None,
            config.outlier_z_above,
            False,
            severity,
            "Outlier bids: not enough price history for this item.",
        )
    median, mad, _ = stats
    scale = 1.4826 * mad if mad > 0 else max(abs(median) * 1e-6, 1e-9)
    z = {b.supplier: (b.amount / b.quantity - median) / scale for b in tender.bids if b.quantity}
    worst = max(z, key=lambda s: (abs(z[s]), s))
    flagged = abs(z[worst]) > config.outlier_z_above
    return _result(
        "outlier",
        "Outlier bids",
        abs(z[worst]),
        config.outlier_z_above,
        flagged,
        severity,
        f"{worst}'s price per unit is {abs(z[worst]):.1f} robust standard deviations "
        f"{'above' if z[worst] > 0 else 'below'} this item's history (flag above "
        f"{config.outlier_z_above:g})."
        if flagged
        else f"Every price per unit is within {config.outlier_z_above:g} robust standard "
        "deviations of this item's history.",
    )


# --- the whole screening -----------------------------------------------------------------


def tender_screen(
    tender: TenderBids,
    *,
    history: History | None = None,
    registry: Mapping[str, SupplierRecord] | None = None,
    config: ScreenConfig | None = None,
) -> TenderScreening:
    """Every screen on one tender, given the buyer's history (which may include it)."""
    config = config or ScreenConfig()
    history = history or history_build([tender])
    stats = bid_statistics([b.amount for b in tender.bids])
    score = suspicion_score(stats, config)
    spread = [*distribution_screens(stats, config), _suspicion_result(score, config)]
    structure = [
        _near_identical(tender, stats.closest_gap, config),
        _rotation(tender, history, config),
        _cover(tender, history, config),
        _outlier(tender, history, config),
        _sniping(tender, config),
        _shared_owner_result(tender, registry or {}, config),
    ]
    if any(r.flagged and r.severity != WARN for r in structure):
        score = max(score, 0.75)  # a structural red flag: suspicious whatever the spread
    return TenderScreening(tender.tender_id, (*spread, *structure), score)


def tenders_screen(
    tenders: Sequence[TenderBids],
    *,
    registry: Mapping[str, SupplierRecord] | None = None,
    config: ScreenConfig | None = None,
) -> list[TenderScreening]:
    """Screen a buyer's history: the cross-tender screens see all of it."""
    history = history_build(tenders)
    return [tender_screen(t, history=history, registry=registry, config=config) for t in tenders]


def config_from_dict(data: Mapping[str, object] | None) -> ScreenConfig:
    """A playbook's overrides on the default thresholds; ValueError names a bad key."""
    if not data:
        return ScreenConfig()
    base = ScreenConfig()
    known = {f for f in base.__dataclass_fields__ if f != "severities"}
    changes: dict[str, object] = {}
    for key, value in data.items():
        if key == "severities":
            if not isinstance(value, Mapping) or any(v not in SEVERITIES for v in value.values()):
                raise ValueError(f"screens.severities: each must be one of {', '.join(SEVERITIES)}")
            changes["severities"] = {**base.severities, **value}
        elif key in known:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise ValueError(f"screens.{key} must be a finite number")
            current = getattr(base, key)
            changes[key] = int(value) if isinstance(current, int) else float(value)
        else:
            raise ValueError(f"screens.{key} is not a screen setting")
    return replace(base, **changes)


def _fmt2(share: float) -> str:
    return f"{share * 100:.2g} %"
