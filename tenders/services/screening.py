"""Screening a live tender for bid rigging with the same module as
``manage.py screen_tenders`` (negotiator.engine.screens): the tender's final
bids, the buyer's history under the same playbook, and the supplier registry."""

from __future__ import annotations

from django.db.models import Prefetch

from negotiator.engine.screens import (
    Bid,
    ScreenConfig,
    SupplierRecord,
    TenderBids,
    TenderScreening,
    history_build,
    tender_screen,
)
from tenders.models import Supplier, Tender, TenderBid, TenderStatus

HISTORY_LIMIT = 500  # the buyer's most recent tenders the cross-tender screens see
_CLOSED = (
    TenderStatus.PENDING_APPROVAL,
    TenderStatus.ESCALATED,
    TenderStatus.AWARDED,
    TenderStatus.REJECTED,
)


def tender_bids(tender: Tender, bids: list[TenderBid], winner: str | None) -> TenderBids:
    """A tender's latest bid per bidder, timed against its close."""
    latest: dict[str, TenderBid] = {}
    for bid in sorted(bids, key=lambda b: (b.at, b.pk or 0)):
        latest[bid.bidder.supplier.name] = bid
    when = tender.opened_at or tender.created_at
    return TenderBids(
        tender_id=str(tender.pk),
        bids=tuple(
            Bid(name, b.price, tender.quantity, max(tender.close_at - b.at, 0.0))
            for name, b in latest.items()
        ),
        date=when.isoformat() if when else "",
        item=tender.item,
        winner=winner,
    )


def _history(tender: Tender) -> list[TenderBids]:
    others = (
        Tender.objects.filter(playbook=tender.playbook, status__in=_CLOSED)
        .exclude(pk=tender.pk)
        .exclude(award_supplier="")
        .order_by("-opened_at")[:HISTORY_LIMIT]
        .prefetch_related(
            Prefetch(
                "bids",
                queryset=TenderBid.objects.filter(accepted=True).select_related("bidder__supplier"),
            )
        )
    )
    return [tender_bids(t, list(t.bids.all()), t.award_supplier) for t in others]


def registry_for(names) -> dict[str, SupplierRecord]:
    return {
        s.name: SupplierRecord(s.name, s.owner, s.contact)
        for s in Supplier.objects.filter(name__in=set(names))
    }


def tender_screening(tender: Tender, winner: str | None, config: ScreenConfig) -> TenderScreening:
    bids = list(
        tender.bids.filter(accepted=True).select_related("bidder__supplier").order_by("at", "id")
    )
    current = tender_bids(tender, bids, winner)
    history = history_build([*_history(tender), current])
    registry = registry_for(b.supplier for b in current.bids)
    return tender_screen(current, history=history, registry=registry, config=config)
