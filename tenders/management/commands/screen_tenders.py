"""manage.py screen_tenders FILE.csv [--json]: screen a buyer's past tenders for
bid rigging with the same screens live tenders use (negotiator.engine.screens)."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from negotiator.engine.screens import TenderScreening, tenders_screen
from tenders.history_csv import HistoryError, history_parse


class Command(BaseCommand):
    help = (
        "Screen past tenders (CSV, one row per bid: tender_id, date, supplier, bid; "
        "optional item, region, winner, quantity, owner, contact) for bid rigging. Prints "
        "per tender its screen values, a suspicion score in [0, 1] and the flags."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="CSV file of past bids")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
        # Many small objects and no cycles: the collector's passes only cost time.
        gc.disable()
        try:
            self._screen(path, data, options)
        finally:
            gc.enable()

    def _screen(self, path: Path, data: bytes, options) -> None:
        try:
            history = history_parse(data)
        except HistoryError as exc:
            lines = [f"{path}: line {n}: {m}" if n else f"{path}: {m}" for n, m in exc.problems]
            raise CommandError(
                "nothing screened; fix these and run again:\n" + "\n".join(lines), returncode=2
            ) from None
        results = tenders_screen(history.tenders, registry=history.registry)
        by_id = {t.tender_id: t for t in history.tenders}
        write = self.stdout.write
        for screening in results:
            tender = by_id[screening.tender_id]
            if options["json"]:
                row = {
                    "tender_id": tender.tender_id,
                    "date": tender.date,
                    "item": tender.item,
                    "region": tender.region,
                    "bidders": len(tender.bids),
                    "winner": tender.winning_supplier,
                    **screening.to_row(),
                }
                write(json.dumps(row, sort_keys=True, allow_nan=False, default=str))
            else:
                write(_text(screening, tender))
        if not options["json"]:
            flagged = sum(1 for s in results if s.needs_person)
            write(f"{len(results)} tenders screened, {flagged} flagged for a person.")


def _text(screening: TenderScreening, tender) -> str:
    values = " ".join(
        f"{r.name}={r.to_dict()['value']}" for r in screening.results if r.value is not None
    )
    flags = ", ".join(r.name for r in screening.flags) or "none"
    head = f"{tender.tender_id} {tender.date} bidders={len(tender.bids)} "
    return f"{head}suspicion={screening.suspicion:.2f} flags: {flags}\n    {values}"
