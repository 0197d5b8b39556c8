"""Reading a buyer's past tenders from CSV (one row per bid) for
``manage.py screen_tenders``: every malformed row is reported with its line
number, and nothing is screened unless the whole file is good.

Columns: ``tender_id, date, supplier, bid`` (required) and ``item, region,
winner, quantity, owner, contact`` (optional); see docs/tenders.md.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from negotiator.engine.screens import Bid, SupplierRecord, TenderBids

REQUIRED = ("tender_id", "date", "supplier", "bid")
OPTIONAL = ("item", "region", "winner", "quantity", "owner", "contact")
TRUE = {"1", "true", "yes", "y", "x", "winner"}
FALSE = {"", "0", "false", "no", "n"}
MAX_BYTES = 200 * 1024 * 1024
MAX_ERRORS = 50


class HistoryError(ValueError):
    """The file cannot be screened; ``problems`` lists (line, message)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"line {n}: {m}" for n, m in problems[:5]))


@dataclass
class _Tender:
    line: int
    date: str
    item: str
    region: str
    bids: list[Bid] = field(default_factory=list)
    winner: str | None = None


@dataclass(frozen=True)
class History:
    tenders: list[TenderBids]
    registry: dict[str, SupplierRecord]


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {text!r}")
    return value


@functools.lru_cache(maxsize=4096)  # a history repeats its dates many times
def _date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"date {text!r} is not an ISO date (YYYY-MM-DD)") from None


def _winner(text: str, supplier: str) -> bool:
    value = text.strip().lower()
    if value in TRUE or (value and value == supplier.lower()):
        return True
    if value in FALSE:
        return False
    raise ValueError(f"winner {text!r} must be 1/0, yes/no, true/false or the supplier's name")


def _header_problems(header: list[str] | None) -> list[tuple[int, str]]:
    if not header:
        return [(1, "the file is empty; expected a header line: " + ", ".join(REQUIRED))]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    problems = []
    if missing:
        problems.append((1, "missing column(s): " + ", ".join(missing)))
    if unknown:
        problems.append((1, "unknown column(s): " + ", ".join(unknown)))
    if len(set(header)) != len(header):
        problems.append((1, "a column is named twice"))
    return problems


def _row(row: dict[str, str], line: int, tenders: dict[str, _Tender], registry: dict) -> None:
    """Add one bid; ValueError says what is wrong with the row."""
    tender_id, supplier = row["tender_id"].strip(), row["supplier"].strip()
    if not tender_id or not supplier:
        raise ValueError("tender_id and supplier must not be empty")
    day = _date(row["date"].strip())
    amount = _number(row["bid"].strip(), "bid")
    quantity = _number(row["quantity"].strip(), "quantity") if row.get("quantity") else 1.0
    item, region = (row.get("item") or "").strip(), (row.get("region") or "").strip()
    tender = tenders.setdefault(tender_id, _Tender(line, day, item, region))
    if (tender.date, tender.item, tender.region) != (day, item, region):
        raise ValueError(
            f"tender {tender_id} has another date, item or region on line {tender.line}"
        )
    if any(b.supplier == supplier for b in tender.bids):
        raise ValueError(f"{supplier} bids twice in tender {tender_id}")
    tender.bids.append(Bid(supplier, amount, quantity))
    if _winner(row.get("winner") or "", supplier):
        if tender.winner is not None:
            raise ValueError(f"tender {tender_id} already has a winner ({tender.winner})")
        tender.winner = supplier
    owner, contact = (row.get("owner") or "").strip(), (row.get("contact") or "").strip()
    if owner or contact:
        registry[supplier] = SupplierRecord(supplier, owner, contact)


def history_parse(data: bytes) -> History:
    """Every tender in the file, or HistoryError with each bad line."""
    if len(data) > MAX_BYTES:
        raise HistoryError([(0, f"the file is larger than {MAX_BYTES // 2**20} MB")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HistoryError([(0, f"the file is not UTF-8 text (byte {exc.start})")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        raise HistoryError([(1, f"not a CSV file: {exc}")]) from None
    problems = _header_problems(header)
    if problems:
        raise HistoryError(problems)
    tenders: dict[str, _Tender] = {}
    registry: dict[str, SupplierRecord] = {}
    width = len(header)
    try:
        for fields in reader:
            if not fields:
                continue  # a blank line
            try:
                if len(fields) != width:
                    raise ValueError("wrong number of fields")
                _row(dict(zip(header, fields, strict=True)), reader.line_num, tenders, registry)
            except ValueError as exc:
                problems.append((reader.line_num, str(exc)))
                if len(problems) >= MAX_ERRORS:
                    break
    except csv.Error as exc:
        problems.append((reader.line_num, f"not a CSV row: {exc}"))
    if not problems and not tenders:
        problems.append((2, "no bids in the file"))
    if problems:
        raise HistoryError(problems)
    return History(_tenders(tenders.items()), registry)


def _tenders(items: Iterable[tuple[str, _Tender]]) -> list[TenderBids]:
    return [TenderBids(tid, tuple(t.bids), t.date, t.item, t.region, t.winner) for tid, t in items]
