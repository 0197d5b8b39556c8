"""Tender metrics: per tender, savings against the reserve and the median bid,
bidders, flags, and ROI (savings against the cost of running it, counting a
configurable cost per minute a person spends on an escalated award); per
playbook, the same summed over its closed tenders."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count

from tenders.models import Tender, TenderBid, TenderBidder, TenderStatus
from tenders.services.setup import tender_config_parse

DECIDED = (
    TenderStatus.AWARDED,
    TenderStatus.PENDING_APPROVAL,
    TenderStatus.ESCALATED,
    TenderStatus.REJECTED,
)


@dataclass(frozen=True)
class TenderMetrics:
    bidders: int
    bids: int
    price: float | None
    reserve: float | None
    median_bid: float | None
    savings_vs_reserve: float | None
    savings_vs_median: float | None
    flags: int
    flagged: bool
    cost: float
    roi: float | None  # savings against the reserve per unit of cost


def final_prices_of(tender_ids: list[int]) -> dict[int, list[float]]:
    """Each tender's bidders' last accepted prices (one query for many tenders)."""
    latest: dict[int, dict[int, float]] = defaultdict(dict)
    rows = (
        TenderBid.objects.filter(tender_id__in=tender_ids, accepted=True)
        .order_by("tender_id", "at", "id")
        .values_list("tender_id", "bidder_id", "price")
    )
    for tender_id, bidder_id, price in rows:
        latest[tender_id][bidder_id] = price
    return {tender_id: list(prices.values()) for tender_id, prices in latest.items()}


def tender_metrics(
    tender: Tender, final_prices: list[float] | None = None, bidders: int | None = None
) -> TenderMetrics:
    """One tender's figures; ``final_prices`` and ``bidders`` when the caller read
    them for many tenders at once."""
    config = tender_config_parse(tender.config)
    if final_prices is None:
        final_prices = final_prices_of([tender.pk]).get(tender.pk, [])
    price = (tender.award_terms or {}).get(config.price_issue)
    reserve = config.rules.reserve_price if config.rules.reserve_price < 1e15 else None
    median = statistics.median(final_prices) if final_prices else None
    cost = config.cost_per_run + tender.escalation_minutes * config.cost_per_escalation_minute
    vs_reserve = reserve - price if (reserve is not None and price is not None) else None
    return TenderMetrics(
        bidders=tender.bidders.count() if bidders is None else bidders,
        bids=len(final_prices),
        price=price,
        reserve=reserve,
        median_bid=median,
        savings_vs_reserve=vs_reserve,
        savings_vs_median=median - price if (median is not None and price is not None) else None,
        flags=len((tender.screening or {}).get("flags", [])),
        flagged=tender.flagged,
        cost=cost,
        roi=(vs_reserve / cost) if (vs_reserve is not None and cost > 0) else None,
    )


@dataclass(frozen=True)
class PlaybookMetrics:
    tenders: int
    awarded: int
    flag_rate: float | None
    mean_bidders: float | None
    savings_vs_reserve: float
    savings_vs_median: float
    cost: float
    roi: float | None


def playbook_metrics(tenders: Iterable[Tender]) -> PlaybookMetrics:
    decided = [t for t in tenders if t.status in DECIDED]
    ids = [t.pk for t in decided]
    finals = final_prices_of(ids)
    counts = dict(
        TenderBidder.objects.filter(tender_id__in=ids)
        .values("tender_id")
        .annotate(n=Count("id"))
        .values_list("tender_id", "n")
    )
    rows = [(t, tender_metrics(t, finals.get(t.pk, []), counts.get(t.pk, 0))) for t in decided]
    n = len(rows)
    cost = sum(m.cost for _, m in rows)
    savings = sum(m.savings_vs_reserve or 0.0 for _, m in rows)
    return PlaybookMetrics(
        tenders=n,
        awarded=sum(1 for t, _ in rows if t.status == TenderStatus.AWARDED),
        flag_rate=(sum(1 for _, m in rows if m.flagged) / n) if n else None,
        mean_bidders=(sum(m.bidders for _, m in rows) / n) if n else None,
        savings_vs_reserve=savings,
        savings_vs_median=sum(m.savings_vs_median or 0.0 for _, m in rows),
        cost=cost,
        roi=savings / cost if cost > 0 else None,
    )
