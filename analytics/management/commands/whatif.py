"""Replay the last N negotiations of a playbook under a draft and compare.

    python manage.py whatif --playbook NAME --draft FILE --last N [--json]

FILE is a playbook document (the `export_playbook` format) or changed policy
parameters of the current version: {"policies": {"Budget cap": {"parameters":
{"issue": "price", "max": 100000}}}}. Nothing is saved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services.drafts import DraftError, draft_current, draft_from_document
from analytics.services.whatif import MAX_LAST, WhatIfReport, whatif_replay
from negotiator import playbook_io
from negotiator.management.numbers import whole_number
from negotiator.models import Playbook


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def report_lines(report: WhatIfReport) -> list[str]:
    c, d = report.current, report.draft
    lines = [
        f"What-if: {report.playbook}, last {c.runs} negotiations, current vs {report.draft_label}",
        f"{'':24}{'current':>12}{'draft':>12}",
    ]
    for label, a, b in (
        ("agreement rate", _percent(c.agreement_rate), _percent(d.agreement_rate)),
        ("mean savings vs ask", _percent(c.mean_savings), _percent(d.mean_savings)),
        ("escalations", c.escalations, d.escalations),
        ("approval load", c.approval_load, d.approval_load),
        ("policy blocks", c.policy_blocks, d.policy_blocks),
    ):
        lines.append(f"{label:24}{a!s:>12}{b!s:>12}")
    changed = report.changed
    lines.append(f"Outcome changes in {len(changed)} of {c.runs} negotiations:")
    for row in changed:
        lines.append(
            f"  #{row.negotiation_id} {row.title} (/negotiations/{row.negotiation_id}/): "
            f"{row.current.text()} -> {row.draft.text()}"
        )
    for row in report.rows:
        for model in row.modelled:
            lines.append(f"  #{row.negotiation_id}: {model.note}")
    return lines


class Command(BaseCommand):
    help = "Replay a playbook's last negotiations under a draft playbook or policy change."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--playbook", required=True, help="the playbook's name")
        parser.add_argument(
            "--draft", required=True, help="a playbook JSON file, or policy changes"
        )
        parser.add_argument(
            "--last",
            type=whole_number(1, MAX_LAST),
            default=20,
            help=f"how many of the latest negotiations to replay (1-{MAX_LAST}, default 20)",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        playbook = Playbook.objects.filter(name=options["playbook"]).first()
        if playbook is None:
            names = ", ".join(Playbook.objects.values_list("name", flat=True)) or "none"
            raise CommandError(
                f"--playbook: no playbook named {options['playbook']!r}; known: {names}"
            )
        path = Path(options["draft"])
        try:
            document = playbook_io.document_read(path)
        except playbook_io.PlaybookImportError as exc:
            raise CommandError(f"--draft {path}: {_lines(exc.errors)}") from None
        try:
            report = whatif_replay(
                playbook=playbook,
                current=draft_current(playbook),
                draft=draft_from_document(document, playbook=playbook, label=path.name),
                last=options["last"],
            )
        except DraftError as exc:
            raise CommandError(f"--draft {path}: {_lines(exc.errors)}") from None
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict(), indent=2, default=str))
        else:
            self.stdout.write("\n".join(report_lines(report)))


def _lines(errors: list[tuple[str, str]]) -> str:
    return "; ".join(f"{where}: {what}" for where, what in errors[:8])
