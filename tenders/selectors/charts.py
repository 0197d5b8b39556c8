"""The bid ladder: each bidder's bids over the tender's (logical) time as SVG
geometry for the tender page (hand-drawn, no chart library)."""

from __future__ import annotations

from dataclasses import dataclass

from tenders.models import Tender

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 78, 700, 16, 262
COLOURS = (
    "#2563eb",
    "#db2777",
    "#16a34a",
    "#ea580c",
    "#7c3aed",
    "#0891b2",
    "#ca8a04",
    "#dc2626",
    "#4b5563",
    "#0d9488",
    "#9333ea",
    "#65a30d",
)


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: list[tuple[float, float, str]]  # x, y, label
    path: str


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def bid_ladder(tender: Tender) -> dict:
    bids = list(
        tender.bids.filter(accepted=True).select_related("bidder__supplier").order_by("at", "id")
    )
    if not bids:
        return {"series": []}
    sealed = all(b.at == 0 for b in bids)
    if sealed:  # one bid each, no time: lay them out lowest price first
        bids.sort(key=lambda b: (b.price, b.pk))
        for i, bid in enumerate(bids):
            bid.at = i + 1
    t_max = len(bids) + 1 if sealed else max(tender.close_at, max(b.at for b in bids), 1.0)
    p_low, p_high = min(b.price for b in bids), max(b.price for b in bids)
    pad = max((p_high - p_low) * 0.08, p_high * 0.005, 1.0)
    p_low, p_high = p_low - pad, p_high + pad

    def x(at: float) -> float:
        return round(LEFT + (RIGHT - LEFT) * at / t_max, 1)

    def y(price: float) -> float:
        return round(BOTTOM - (BOTTOM - TOP) * (price - p_low) / (p_high - p_low), 1)

    by_bidder: dict[str, list] = {}
    for bid in bids:
        by_bidder.setdefault(bid.bidder.supplier.name, []).append(bid)
    series = []
    for i, (name, own) in enumerate(sorted(by_bidder.items())):
        points = [
            (
                x(b.at),
                y(b.price),
                f"{name}: {b.price:,.0f}" + ("" if sealed else f" at {b.at:.0f} s"),
            )
            for b in own
        ]
        path = "M " + " L ".join(f"{px} {py}" for px, py, _ in points)
        series.append(Series(name, COLOURS[i % len(COLOURS)], points, path))
    return {
        "series": series,
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": RIGHT,
        "top": TOP,
        "bottom": BOTTOM,
        "y_ticks": [(y(p), f"{p:,.0f}") for p in _ticks(p_low + pad, p_high - pad)],
        "x_ticks": [] if sealed else [(x(t), f"{t / 60:.0f} min") for t in _ticks(0, t_max)],
        "close_x": None if sealed else x(tender.close_at),
        "sealed": sealed,
    }
